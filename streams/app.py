"""The Faust application: topics, the scope-state table, and the three agents.

- ``process_events`` reads the four input topics, runs :class:`EventPipeline` per record and sends
  metrics, opportunity updates and dead letters to the output topics.
- ``sink_metrics`` and ``sink_opportunities`` read the output topics and write Postgres (idempotent
  upserts) and the worker's Prometheus gauges.

The consistency rule (README, "Consistency"): a record's outputs are acknowledged by the broker
before its state is written, and its state is written before its input offset can be committed
(Faust flushes the producer before every commit). Every agent acks a record itself, only once
that is done: Faust's own acking (``events()``, ``take_events()``) acks a record whose handler
raised, which committed failed writes before.

Agents run with ``concurrency=1``: with more, Faust can commit past an in-flight record (faust
issue #606) and lose it on a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import faust
import faust.streams as faust_streams
import msgspec
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faust.events import Event
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types.tuples import Message
from prometheus_client import CollectorRegistry

from models.catalogue import load_catalogue
from models.events import INPUT_TOPICS
from models.outputs import (
    DEADLETTER_TOPIC,
    METRICS_TOPIC,
    OPPORTUNITIES_TOPIC,
    MetricPoint,
    OpportunityUpdate,
)
from sinks.database import OpportunityStore, write_until_done
from sinks.prometheus import PrometheusExporter
from streams.database_security import database_connect_args
from streams.faust_sensors import KeptChildrenPrometheusMonitor
from streams.held import HeldRecords
from streams.holes import HoleReader, MissingRecord
from streams.kafka_security import aiokafka_options, faust_broker_options
from streams.offsets import OffsetGuard
from streams.pipeline import EventPipeline, RecordOutcome
from streams.settings import Settings

log = logging.getLogger(__name__)

#: input records handled between two deliveries and saves (fewer when fewer have come)
WORKER_BATCH = 500
WORKER_BATCH_WITHIN_SECONDS = 0.1
#: longest a full batch waits for a save (never longer than the commit interval, which would
#: only hold back commits; a longer commit interval still gets its state saved this often)
MAX_HOLD_SECONDS = 1.0
SINK_BATCH = 2000
#: a producer batch per partition (aiokafka's default 16 KiB); within the broker's 1 MiB limit
PRODUCER_BATCH_BYTES = 256 * 1024
SINK_WITHIN_SECONDS = 0.1
# A record replaying months of history (a trust's waiting list) passes thousands of hour
# boundaries; its outputs are split so no message nears Kafka's 1 MB default record limit.
METRICS_PER_MESSAGE = 1000  # ~200 B each
UPDATES_PER_MESSAGE = 100  # ~2 kB each with their evidence
SINKS = ("metrics", "opportunities")
#: how long an agent waits to learn where a partition resumes before its first record
RESUME_OFFSET_TIMEOUT_SECONDS = 10.0
#: how long an agent must have had nothing to do, while the broker holds records of one of its
#: partitions past the last one handed over, before that partition is sought back to them
TAIL_HOLE_AFTER_SECONDS = 5.0

_encoder = msgspec.json.Encoder()
_metrics_decoder = msgspec.json.Decoder(list[MetricPoint])
_updates_decoder = msgspec.json.Decoder(list[OpportunityUpdate])


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def handling(event: Any) -> Iterator[None]:
    """Make ``event`` the one Faust thinks is being handled. A table write goes to the
    changelog partition of that event (``faust.streams.current_event()``), and a batch saves
    its states after its loop, when Faust's iteration has moved on. Faust keeps it in a private
    context variable: check this on any Faust upgrade (the worker tests fail without it)."""
    token = faust_streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)


def rocksdb_options(settings: Settings) -> dict[str, int]:
    """The scope table's RocksDB memory (the memory store ignores them). Faust's defaults are
    sized for a dedicated host: a 2 GiB block cache and three 64 MiB memtables per partition
    (each partition is its own database). The engine keeps the states it works on in memory,
    so RocksDB is read only on a state's first record and on restore: a small cache costs
    little."""
    mib = 1024 * 1024
    return {
        "write_buffer_size": settings.rocksdb_write_buffer_mb * mib,
        "max_write_buffer_number": 2,
        "block_cache_size": settings.rocksdb_block_cache_mb * mib,
        "block_cache_compressed_size": settings.rocksdb_block_cache_mb * mib,
    }


def faust_app_options(settings: Settings) -> dict[str, Any]:
    """The ``faust.App`` settings of the worker (the benchmarks' decode-only agent takes them
    too, so the two differ only in what their agents do)."""
    return {
        **faust_broker_options(settings),
        "store": settings.store,
        "datadir": str(settings.data_dir),
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "topic_partitions": settings.topic_partitions,
        "stream_buffer_maxsize": settings.stream_buffer_records,
        "topic_replication_factor": 1,
        "table_standby_replicas": settings.standby_replicas,
        "consumer_auto_offset_reset": "earliest",
        "key_serializer": "raw",
        "value_serializer": "raw",
        "broker_commit_interval": settings.commit_interval_seconds,
        "broker_session_timeout": settings.session_timeout_seconds,
        # a third of the session timeout, as Kafka advises, and never above Faust's 3 s default
        "broker_heartbeat_interval": min(3.0, settings.session_timeout_seconds / 3),
        "producer_linger_ms": 5,
        # Table writes reach the changelog through Faust's producer buffer, and while it holds
        # over 100 messages Faust stops handing any fetched record to any agent (the metrics
        # sink's included). aiokafka appends to one open batch per partition and waits for it
        # to be sent once it is full: at the 16 KiB default, a few state parts a round trip,
        # so the buffer drained slower than an hour boundary's saves filled it (README,
        # Benchmarks, "Event to row").
        "producer_max_batch_size": PRODUCER_BATCH_BYTES,
    }


def create_app(settings: Settings) -> faust.App:
    """Build the worker's app from settings; nothing here reads the environment."""
    app = faust.App(settings.app_id, **faust_app_options(settings))
    registry = CollectorRegistry(auto_describe=True)
    setup_prometheus_sensors(app, registry=registry, name_prefix="opsradar")
    # the same series on the same registry, without a labels() lookup per event
    app.monitor = KeptChildrenPrometheusMonitor(metrics=cast(Any, app.monitor)._metrics)
    exporter = PrometheusExporter(registry)

    partitions = settings.topic_partitions
    wire = {settings.topic(name): name for name in INPUT_TOPICS}
    input_topic = app.topic(*wire, key_type=bytes, value_type=bytes, partitions=partitions)
    metrics_topic = app.topic(
        settings.topic(METRICS_TOPIC), key_type=bytes, value_type=bytes, partitions=partitions
    )
    opportunities_topic = app.topic(
        settings.topic(OPPORTUNITIES_TOPIC), key_type=bytes, value_type=bytes, partitions=partitions
    )
    deadletter_topic = app.topic(
        settings.topic(DEADLETTER_TOPIC), key_type=bytes, value_type=bytes, partitions=1
    )
    scope_table = app.Table(
        "scope_state", default=None, key_type=str, value_type=bytes, partitions=partitions,
        options=rocksdb_options(settings),
    )  # fmt: skip

    @scope_table.on_recover
    async def restored() -> None:
        # Faust logs the recovery's progress; this says what it ended with (after a lost
        # state directory, everything comes from the changelog).
        log.info("scope_state restored from its changelog: %d keys", len(scope_table))

    horizon = timedelta(days=settings.past_horizon_days) if settings.past_horizon_days else None
    pipeline = EventPipeline(
        catalogue=load_catalogue(settings.catalogue_file),
        topics=wire,
        past_horizon=horizon,
        table=scope_table,
        # the table's store, created when first asked for (after the app is configured)
        stored=lambda: scope_table.data,
        exporter=exporter,
        clock=_wall_clock,
        lateness=timedelta(seconds=settings.lateness_seconds),
    )
    sink_scopes: dict[tuple[str, int], set[str]] = defaultdict(set)
    guard = OffsetGuard()

    holes = HoleReader(
        bootstrap=settings.kafka_bootstrap, client_options=aiokafka_options(settings)
    )

    def as_event(record: MissingRecord) -> Any:
        """A record read from the broker, as Faust would have handed it over: current while
        the states it advanced are written, and acked through the consumer (as Faust acks a
        record an agent acks) so that the commit moves past it."""
        message = Message(
            topic=record.topic, partition=record.partition, offset=record.offset,
            timestamp=0.0, timestamp_type=0, headers=None, key=record.key, value=record.value,
            checksum=None,
        )  # fmt: skip
        return Event(app, record.key, record.value, None, message)

    async def read_missing(tp: Any, *, start: int, end: int) -> list[Any]:
        """The records of ``tp`` from ``start`` to ``end`` that Faust did not hand over, read
        from the broker, as events; the guard then expects ``end``."""
        missing = await holes.read(topic=tp.topic, partition=tp.partition, start=start, end=end)
        guard.expect(tp, end)
        return [as_event(record) for record in missing]

    async def with_holes_filled(batch: list[Any]) -> list[Any]:
        """The batch with, before any record that shows a hole, the records the hole held."""
        ordered: list[Any] = []
        for event in batch:
            tp, offset = event.message.tp, event.message.offset
            back = await admit(tp, offset)
            if back is not None:
                log.warning(
                    "%s: record %d handed over before %d; reading %d-%d from the broker",
                    tp, offset, back, back, offset - 1,
                )  # fmt: skip
                ordered += await read_missing(tp, start=back, end=offset)
                guard.admit(tp, offset)
            ordered.append(event)
        return ordered

    def with_streams(
        events: list[Any], stream: Any, handed_over: Sequence[Any]
    ) -> list[tuple[Any, Any]]:
        """Each event with the stream that handed it over (None: read from the broker)."""
        from_stream = {id(event) for event in handed_over}
        return [(event, stream if id(event) in from_stream else None) for event in events]

    async def ack_each(events: list[tuple[Any, Any]]) -> None:
        for event, stream in events:
            if stream is not None:
                await stream.ack(event)
            else:
                app.consumer.ack(event.message)

    async def resume_offset(tp: Any) -> int:
        """Where ``tp`` resumes in this generation: its committed offset, else its earliest."""
        consumer = cast(Any, app.consumer)
        # Faust keeps the committed offsets it sought to at assignment (or committed since) in
        # a private map, None for a partition with nothing committed; a partition missing from
        # it is asked of the broker, on the thread that owns the aiokafka consumer.
        if tp in consumer._committed_offset:
            committed = consumer._committed_offset[tp]
        else:
            thread = consumer._thread
            committed = await thread.call_thread(
                thread._ensure_consumer().committed, TopicPartition(tp.topic, tp.partition)
            )
        if committed is not None and committed > 0:
            return int(committed)
        return int((await app.consumer.earliest_offsets(tp)).get(tp, 0))

    async def admit(tp: Any, offset: int) -> int | None:
        """None if the record may be handled, else the first offset of the hole before it."""
        await learn_resume_offset(tp)
        return guard.admit(tp, offset)

    async def learn_resume_offset(tp: Any) -> None:
        """Tell the guard where ``tp`` resumes, once per generation."""
        if not guard.knows(tp):
            try:
                guard.expect(
                    tp, await asyncio.wait_for(resume_offset(tp), RESUME_OFFSET_TIMEOUT_SECONDS)
                )
            except (TimeoutError, KafkaError) as error:
                # The broker is unreachable or rebalancing: the first record sets the position,
                # as before this check; the record is never skipped, only left unchecked.
                log.warning(
                    "%s: resume offset unknown (%s); not checked for a hole at the start",
                    tp, type(error).__name__,
                )  # fmt: skip

    #: per agent, since when it has had nothing to do (None: handling a batch)
    idle_since: dict[str, float | None] = dict.fromkeys(("events", *SINKS), time.monotonic())

    #: held by an agent while it handles a batch, and by the tail filler (never both)
    agent_locks = {agent: asyncio.Lock() for agent in idle_since}

    @contextlib.asynccontextmanager
    async def busy(agent: str) -> AsyncIterator[None]:
        async with agent_locks[agent]:
            idle_since[agent] = None
            try:
                yield
            finally:
                idle_since[agent] = time.monotonic()

    store_holder: dict[str, OpportunityStore] = {}

    async def store() -> OpportunityStore:
        if "store" not in store_holder:
            opened = OpportunityStore(
                settings.database_url, connect_args=database_connect_args(settings)
            )
            await opened.__aenter__()
            store_holder["store"] = opened
        return store_holder["store"]

    for contract_topic in wire.values():
        exporter.declare_topic(contract_topic)
    for sink in SINKS:
        exporter.declare_sink(sink)

    async def send_outputs(outcomes: list[RecordOutcome]) -> list[Awaitable[Any]]:
        """Hand a batch's outputs to the producer, each scope's in record order and in as few
        messages as fit; the futures resolve once the broker has acknowledged each message."""
        metrics: dict[str, list[MetricPoint]] = defaultdict(list)
        updates: dict[str, list[OpportunityUpdate]] = defaultdict(list)
        for outcome in outcomes:
            for scope, points in outcome.metrics.items():
                metrics[scope] += points
            for scope, scope_updates in outcome.updates.items():
                updates[scope] += scope_updates
        pending: list[Awaitable[Any]] = []
        for scope, points in metrics.items():
            for start in range(0, len(points), METRICS_PER_MESSAGE):
                chunk = points[start : start + METRICS_PER_MESSAGE]
                pending.append(
                    await metrics_topic.send(key=scope.encode(), value=_encoder.encode(chunk))
                )
        for scope, scope_updates in updates.items():
            for start in range(0, len(scope_updates), UPDATES_PER_MESSAGE):
                chunk_u = scope_updates[start : start + UPDATES_PER_MESSAGE]
                pending.append(
                    await opportunities_topic.send(
                        key=scope.encode(), value=_encoder.encode(chunk_u)
                    )
                )
        for outcome in outcomes:
            for letter in outcome.deadletters:
                pending.append(await deadletter_topic.send(key=None, value=_encoder.encode(letter)))
        return pending

    async def delivered(pending: list[Awaitable[Any]], records: int) -> bool:
        """Wait until the broker has acknowledged every output in ``pending``. False if they
        could not be delivered (the worker is stopping)."""
        if pending:
            try:
                await asyncio.gather(*pending)
            except Exception as error:
                # The producer gave up (after its own retries for producer_request_timeout):
                # the state must not be written past outputs that are not in Kafka. Stop the
                # worker; it resumes from the committed offsets and the saved state.
                log.critical("outputs of %d records could not be delivered: stopping", records)
                await app.crash(error)
                return False
        return True

    #: records whose outputs are sent, until the states they advanced are saved
    held = HeldRecords(max_hold_seconds=min(settings.commit_interval_seconds, MAX_HOLD_SECONDS))

    @app.agent(input_topic, concurrency=1)
    async def process_events(stream: Any) -> None:
        """Records in batches (as many as have come, up to ``WORKER_BATCH``): each is run
        through the pipeline in order and the batch's outputs are handed to the producer. A
        batch that was not full (the worker has caught up) is then saved at once: its outputs
        delivered, the states it advanced saved once each, and only then its records acked. A
        full batch means more records are waiting: it is held, and the next batches with it,
        until the oldest has waited a commit interval (at most ``MAX_HOLD_SECONDS``) or no
        batch has come for a take window (:func:`save_when_quiet`); so a backlog writes each
        state once per commit interval instead of once per batch, and a batch need not wait
        for the acknowledgements of the one before."""
        records = stream.noack()
        saver = asyncio.ensure_future(save_when_quiet())
        try:
            async for batch in records.noack_take(WORKER_BATCH, within=WORKER_BATCH_WITHIN_SECONDS):
                async with busy("events"):
                    events = await with_holes_filled(batch)
                    await process_in_order(events, stream=records, handed_over=batch)
                    if len(batch) < WORKER_BATCH or held.due():
                        await save_held()
        finally:
            saver.cancel()

    async def save_when_quiet() -> None:
        """Save held records once the agent has had nothing to do for a take window: the
        backlog that held them has ended, or a rebalance or a stop, which wait for every record
        handed over to be acked, has stopped the batches. A task of the agent, not an app
        timer: timers end when the app starts stopping, before it waits for those acks."""
        while True:
            await asyncio.sleep(WORKER_BATCH_WITHIN_SECONDS)
            since = idle_since["events"]
            if not held or since is None:
                continue
            if time.monotonic() - since >= WORKER_BATCH_WITHIN_SECONDS or held.due():
                async with agent_locks["events"]:
                    await save_held()

    async def process_in_order(
        events: list[Any], *, stream: Any = None, handed_over: Sequence[Any] = ()
    ) -> None:
        """Run the events through the pipeline, hand their outputs to the producer and hold
        them until :func:`save_held`. ``handed_over``: the events ``stream`` handed over, to be
        acked through it (the others were read from the broker)."""
        generation = pipeline.generation
        last_of_source: dict[str, Any] = {}
        records: list[tuple[str, int, int, bytes]] = []
        for event in events:
            message = event.message
            last_of_source[f"{message.topic}/{message.partition}"] = event
            value = event.value if event.value is not None else b""  # a tombstone: malformed
            records.append((message.topic, message.partition, message.offset, value))
        outcomes = pipeline.process_batch(records)
        held.hold(
            generation=generation,
            events=with_streams(events, stream, handed_over),
            deliveries=await send_outputs(outcomes),
            last_of_source=last_of_source,
        )

    async def save_held() -> bool:
        """Wait until the broker has acknowledged the held records' outputs, save the states
        they advanced, then ack the records. False if they may not be acked: their outputs
        could not be delivered (the worker is stopping), or a rebalance dropped the cached
        states meanwhile (the records then come again from the committed offsets, onto the
        states as last saved)."""
        batch = held.release()
        if batch is None:
            return True
        if not await delivered(batch.deliveries, len(batch.events)):
            return False
        if pipeline.generation != batch.generation:
            log.info("a rebalance interrupted %d records: not acked", len(batch.events))
            return False
        pipeline.save(writing_for=lambda source: handling(batch.last_of_source[source]))
        await ack_each(batch.events)
        return True

    # next output-topic offset to write, per partition and sink, for the backlog gauge
    next_to_write: dict[str, dict[Any, int]] = {sink: {} for sink in SINKS}

    async def sink_batches(stream: Any, sink: str) -> None:
        """Write each batch until it succeeds, then ack it: a database outage holds the sink at
        the batch (its backlog grows) instead of acking unwritten records."""
        records = stream.noack()
        async for batch in records.noack_take(SINK_BATCH, within=SINK_WITHIN_SECONDS):
            async with busy(sink):
                events = await with_holes_filled(batch)
                await write_in_order(events, sink)
                await ack_each(with_streams(events, records, batch))

    async def write_in_order(events: list[Any], sink: str) -> None:
        """Write the events' records to Postgres, retrying until it takes them."""
        if events:
            await write_until_done(
                functools.partial(sink_writers[sink], events),
                what=f"{len(events)} {sink} messages",
                on_failure=lambda _error: exporter.count_sink_failure(sink),
                max_wait_seconds=settings.sink_retry_max_seconds,
            )
        for event in events:
            tp = event.message.tp
            next_to_write[sink][tp] = max(next_to_write[sink].get(tp, 0), event.message.offset + 1)

    def decoded_outputs(events: list[Any], decoder: msgspec.json.Decoder[list[Any]]) -> list[Any]:
        """Every output the events' records carry; each record's scope noted for its partition."""
        outputs: list[Any] = []
        for event in events:
            outputs.extend(decoder.decode(event.value or b"[]"))
            sink_scopes[(event.message.topic, event.message.partition)].add(
                (event.key or b"").decode()
            )
        return outputs

    async def write_metric_events(events: list[Any]) -> int:
        points: list[MetricPoint] = decoded_outputs(events, _metrics_decoder)
        written = await (await store()).write_metrics(points)
        for point in points:
            exporter.observe_metric(point)
        return written

    async def write_update_events(events: list[Any]) -> int:
        updates: list[OpportunityUpdate] = decoded_outputs(events, _updates_decoder)
        written = await (await store()).write_updates(updates)
        for update in updates:
            exporter.observe_opportunity(update.opportunity)
        return written

    sink_writers: dict[str, Callable[[list[Any]], Awaitable[int]]] = {
        "metrics": write_metric_events,
        "opportunities": write_update_events,
    }

    @app.agent(metrics_topic, concurrency=1)
    async def sink_metrics(stream: Any) -> None:
        await sink_batches(stream, "metrics")

    @app.agent(opportunities_topic, concurrency=1)
    async def sink_opportunities(stream: Any) -> None:
        await sink_batches(stream, "opportunities")

    sink_topics = {"metrics": metrics_topic, "opportunities": opportunities_topic}

    @app.timer(interval=settings.lag_refresh_seconds)
    async def refresh_gauges() -> None:
        # Event-time lag must grow while feeds are silent, not only when an event arrives.
        exporter.refresh_lag(_wall_clock())
        assigned = app.consumer.assignment()
        for sink, topic in sink_topics.items():
            name = topic.get_topic_name()
            backlog = 0
            for tp in assigned:
                if tp.topic != name:
                    continue
                highwater = app.consumer.highwater(tp)
                written = next_to_write[sink].get(tp)
                if highwater is not None and written is not None:
                    backlog += max(highwater - written, 0)
            exporter.set_sink_backlog(sink, backlog)

    agent_of_topic = {name: "events" for name in wire} | {
        topic.get_topic_name(): sink for sink, topic in sink_topics.items()
    }

    @app.timer(interval=TAIL_HOLE_AFTER_SECONDS / 2)
    async def fill_tail_holes() -> None:
        """A hole at the end of a partition has no later record to show it: its records (and
        the partition's commit) would wait for the partition's next record, which for a quiet
        feed may be hours. When an agent has had nothing to do for a while although the broker
        holds records of one of its partitions past the last one handed over, they are read
        from the broker and handled as the agent would, holding the agent's lock."""
        if app.in_recovery:
            return
        now = time.monotonic()
        quiet = [
            tp
            for tp in app.consumer.assignment()
            if tp.topic in agent_of_topic  # not a changelog: recovery reads those
            and (since := idle_since[agent_of_topic[tp.topic]]) is not None
            and now - since >= TAIL_HOLE_AFTER_SECONDS
        ]
        if not quiet:
            return
        try:
            ends = await asyncio.wait_for(
                holes.end_offsets([(tp.topic, tp.partition) for tp in quiet]),
                RESUME_OFFSET_TIMEOUT_SECONDS,
            )
        except (TimeoutError, KafkaError):
            return  # the broker is away: the next tick asks again
        for tp in quiet:
            agent = agent_of_topic[tp.topic]
            highwater = ends.get((tp.topic, tp.partition), 0)
            if not highwater:
                continue
            await learn_resume_offset(tp)
            async with busy(agent):
                expected = guard.expected(tp)
                if expected is None or expected >= highwater:
                    continue
                log.warning(
                    "%s: records %d-%d are in the log but were never handed over; reading them",
                    tp, expected, highwater - 1,
                )  # fmt: skip
                events = await read_missing(tp, start=expected, end=highwater)
                if agent == "events":
                    # held with them: the agent's own held records, which it would ack
                    await process_in_order(events)
                    await save_held()
                    continue
                await write_in_order(events, agent)
                for event in events:
                    app.consumer.ack(event.message)

    # Faust rebalances eagerly: every partition is revoked, then the new set is assigned. A
    # scope's series must disappear from this worker's /metrics once another worker owns it (or
    # Grafana would show two values for one site, one stale), but only then: dropping them for
    # partitions that come straight back would blank the dashboards at every rebalance.
    revoked_pending: set[Any] = set()

    # mode types `connect` with a union of receiver types that no async def satisfies.
    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def note_revoked(sender: Any, *args: Any, signal: Any, **_: Any) -> None:
        revoked_pending.update(args[0])

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def forget_lost(sender: Any, *args: Any, signal: Any, **_: Any) -> None:
        lost = revoked_pending - set(args[0])
        revoked_pending.clear()
        for positions in next_to_write.values():
            for tp in lost:
                positions.pop(tp, None)
        gone: set[str] = set()
        for tp in lost:
            gone |= pipeline.forget_partition(tp.topic, tp.partition)
            gone |= sink_scopes.pop((tp.topic, tp.partition), set())
        # Every state is read again from the table, which the recovery that follows brings to
        # the changelog's latest: a partition kept through a rebalance may have been processed
        # meanwhile by a worker that held it for one generation.
        pipeline.reload_states()
        guard.reset()
        now = time.monotonic()
        for agent, since in idle_since.items():
            if since is not None:
                idle_since[agent] = now
        if gone:
            exporter.remove_scopes(gone)
        if lost:
            log.info(
                "partitions lost in a rebalance: %d partitions, dropped %d scopes",
                len(lost), len(gone),
            )  # fmt: skip

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def close_store(sender: Any, *_args: Any, signal: Any, **_: Any) -> None:
        await holes.stop()
        if "store" in store_holder:
            await store_holder.pop("store").__aexit__(None, None, None)

    return app
