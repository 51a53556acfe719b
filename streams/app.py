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
import functools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import faust
import msgspec
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faust.sensors.prometheus import setup_prometheus_sensors
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
from streams.holes import HoleReader, MissingRecord
from streams.kafka_security import aiokafka_options, faust_broker_options
from streams.offsets import OffsetGuard
from streams.pipeline import EventPipeline
from streams.settings import Settings

log = logging.getLogger(__name__)

SINK_BATCH = 2000
SINK_WITHIN_SECONDS = 0.5
# A record replaying months of history (a trust's waiting list) passes thousands of hour
# boundaries; its outputs are split so no message nears Kafka's 1 MB default record limit.
METRICS_PER_MESSAGE = 1000  # ~200 B each
UPDATES_PER_MESSAGE = 100  # ~2 kB each with their evidence
SINKS = ("metrics", "opportunities")
#: how long an agent waits to learn where a partition resumes before its first record
RESUME_OFFSET_TIMEOUT_SECONDS = 10.0

_encoder = msgspec.json.Encoder()
_metrics_decoder = msgspec.json.Decoder(list[MetricPoint])
_updates_decoder = msgspec.json.Decoder(list[OpportunityUpdate])


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings) -> faust.App:
    """Build the worker's app from settings; nothing here reads the environment."""
    app = faust.App(
        settings.app_id,
        **faust_broker_options(settings),
        store=settings.store,
        datadir=str(settings.data_dir),
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        table_standby_replicas=settings.standby_replicas,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        broker_commit_interval=settings.commit_interval_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        # a third of the session timeout, as Kafka advises, and never above Faust's 3 s default
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        producer_linger_ms=5,
    )
    registry = CollectorRegistry(auto_describe=True)
    setup_prometheus_sensors(app, registry=registry, name_prefix="opsradar")
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
        "scope_state", default=None, key_type=str, value_type=bytes, partitions=partitions
    )

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
        exporter=exporter,
        clock=_wall_clock,
        lateness=timedelta(seconds=settings.lateness_seconds),
    )
    sink_scopes: dict[tuple[str, int], set[str]] = defaultdict(set)
    guard = OffsetGuard()

    holes = HoleReader(
        bootstrap=settings.kafka_bootstrap, client_options=aiokafka_options(settings)
    )

    async def read_hole(tp: Any, *, start: int, end: int) -> list[MissingRecord]:
        """The records of ``tp`` from ``start`` to ``end`` that Faust did not hand over, read
        from the broker; once the record at ``end`` is acked Faust may commit past them all."""
        log.warning(
            "%s: record %d handed over before %d; reading %d-%d from the broker",
            tp, end, start, start, end - 1,
        )  # fmt: skip
        missing = await holes.read(topic=tp.topic, partition=tp.partition, start=start, end=end)
        # Faust commits an offset only past a run of acked ones; these were never handed over,
        # so they are entered as Faust enters a compacted gap (a private method: check it on
        # any Faust upgrade; the restart drills fail without it).
        await cast(Any, app.consumer)._add_gap(tp, start, end - 1)
        guard.expect(tp, end)
        return missing

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
        return guard.admit(tp, offset)

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

    async def send_outputs(outcome: Any) -> list[Awaitable[Any]]:
        """Hand the record's outputs to the producer; the futures resolve once the broker has
        acknowledged each message."""
        pending: list[Awaitable[Any]] = []
        for scope, points in outcome.metrics.items():
            for start in range(0, len(points), METRICS_PER_MESSAGE):
                chunk = points[start : start + METRICS_PER_MESSAGE]
                pending.append(
                    await metrics_topic.send(key=scope.encode(), value=_encoder.encode(chunk))
                )
        for scope, updates in outcome.updates.items():
            for start in range(0, len(updates), UPDATES_PER_MESSAGE):
                chunk_u = updates[start : start + UPDATES_PER_MESSAGE]
                pending.append(
                    await opportunities_topic.send(
                        key=scope.encode(), value=_encoder.encode(chunk_u)
                    )
                )
        for letter in outcome.deadletters:
            pending.append(await deadletter_topic.send(key=None, value=_encoder.encode(letter)))
        return pending

    async def handle(topic: str, partition: int, offset: int, value: bytes) -> bool:
        """Process one input record: outputs acknowledged by the broker, then its state saved.
        False if the outputs could not be delivered (the worker is stopping)."""
        outcome = pipeline.process(topic, partition, offset, value)
        pending = await send_outputs(outcome)
        if pending:
            try:
                await asyncio.gather(*pending)
            except Exception as error:
                # The producer gave up (after its own retries for producer_request_timeout):
                # the state must not be written past outputs that are not in Kafka. Stop the
                # worker; it resumes from the committed offsets and the saved state.
                log.critical("outputs of %s-%d could not be delivered: stopping", topic, partition)
                await app.crash(error)
                return False
        pipeline.save(outcome)
        return True

    @app.agent(input_topic, concurrency=1)
    async def process_events(stream: Any) -> None:
        records = stream.noack()
        async for event in records.events():
            message = event.message
            back = await admit(message.tp, message.offset)
            if back is not None:
                for missing in await read_hole(message.tp, start=back, end=message.offset):
                    if not await handle(
                        missing.topic, missing.partition, missing.offset, missing.value or b""
                    ):
                        return
                guard.admit(message.tp, message.offset)
            value = event.value if event.value is not None else b""  # a tombstone: malformed
            if not await handle(message.topic, message.partition, message.offset, value):
                return
            await records.ack(event)

    # next output-topic offset to write, per partition and sink, for the backlog gauge
    next_to_write: dict[str, dict[Any, int]] = {sink: {} for sink in SINKS}

    async def sink_batches(
        stream: Any, sink: str, write: Callable[[list[MissingRecord]], Awaitable[int]]
    ) -> None:
        """Write each batch until it succeeds, then ack it: a database outage holds the sink at
        the batch (its backlog grows) instead of acking unwritten records."""
        records = stream.noack()
        async for batch in records.noack_take(SINK_BATCH, within=SINK_WITHIN_SECONDS):
            to_write: list[MissingRecord] = []
            for event in batch:
                message = event.message
                back = await admit(message.tp, message.offset)
                if back is not None:
                    to_write.extend(await read_hole(message.tp, start=back, end=message.offset))
                    guard.admit(message.tp, message.offset)
                to_write.append(
                    MissingRecord(
                        topic=message.topic, partition=message.partition, offset=message.offset,
                        key=event.key, value=event.value,
                    )
                )  # fmt: skip
            if to_write:
                await write_until_done(
                    functools.partial(write, to_write),
                    what=f"{len(to_write)} {sink} messages",
                    on_failure=lambda _error: exporter.count_sink_failure(sink),
                    max_wait_seconds=settings.sink_retry_max_seconds,
                )
            for event in batch:
                tp = event.message.tp
                next_to_write[sink][tp] = max(
                    next_to_write[sink].get(tp, 0), event.message.offset + 1
                )
                await records.ack(event)

    async def write_metric_events(messages: list[MissingRecord]) -> int:
        points: list[MetricPoint] = []
        for message in messages:
            points.extend(_metrics_decoder.decode(message.value or b"[]"))
            sink_scopes[(message.topic, message.partition)].add((message.key or b"").decode())
        written = await (await store()).write_metrics(points)
        for point in points:
            exporter.observe_metric(point)
        return written

    async def write_update_events(messages: list[MissingRecord]) -> int:
        updates: list[OpportunityUpdate] = []
        for message in messages:
            updates.extend(_updates_decoder.decode(message.value or b"[]"))
            sink_scopes[(message.topic, message.partition)].add((message.key or b"").decode())
        written = await (await store()).write_updates(updates)
        for update in updates:
            exporter.observe_opportunity(update.opportunity)
        return written

    @app.agent(metrics_topic, concurrency=1)
    async def sink_metrics(stream: Any) -> None:
        await sink_batches(stream, "metrics", write_metric_events)

    @app.agent(opportunities_topic, concurrency=1)
    async def sink_opportunities(stream: Any) -> None:
        await sink_batches(stream, "opportunities", write_update_events)

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
