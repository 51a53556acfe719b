"""The Faust application: topics, the scope-state table, and the three agents.

- ``process_events`` reads the four input topics, runs :class:`EventPipeline` per record and sends
  metrics, opportunity updates and dead letters to the output topics.
- ``sink_metrics`` and ``sink_opportunities`` read the output topics and write Postgres (idempotent
  upserts) and the worker's Prometheus gauges.

Agents run with ``concurrency=1``: with more, Faust can commit past an in-flight record (faust
issue #606) and lose it on a crash.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import msgspec
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
from sinks.database import OpportunityStore
from sinks.prometheus import PrometheusExporter
from streams.database_security import database_connect_args
from streams.kafka_security import faust_broker_options
from streams.pipeline import EventPipeline
from streams.settings import Settings

log = logging.getLogger(__name__)

SINK_BATCH = 2000
SINK_WITHIN_SECONDS = 0.5
# A record replaying months of history (a trust's waiting list) passes thousands of hour
# boundaries; its outputs are split so no message nears Kafka's 1 MB default record limit.
METRICS_PER_MESSAGE = 1000  # ~200 B each
UPDATES_PER_MESSAGE = 100  # ~2 kB each with their evidence

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
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        broker_commit_interval=1.0,
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
    store_holder: dict[str, OpportunityStore] = {}

    async def store() -> OpportunityStore:
        if "store" not in store_holder:
            opened = OpportunityStore(
                settings.database_url, connect_args=database_connect_args(settings)
            )
            await opened.__aenter__()
            store_holder["store"] = opened
        return store_holder["store"]

    @app.agent(input_topic, concurrency=1)
    async def process_events(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            outcome = pipeline.process(
                message.topic, message.partition, message.offset, event.value
            )
            for scope, points in outcome.metrics.items():
                for start in range(0, len(points), METRICS_PER_MESSAGE):
                    chunk = points[start : start + METRICS_PER_MESSAGE]
                    await metrics_topic.send(key=scope.encode(), value=_encoder.encode(chunk))
            for scope, updates in outcome.updates.items():
                for start in range(0, len(updates), UPDATES_PER_MESSAGE):
                    chunk_u = updates[start : start + UPDATES_PER_MESSAGE]
                    await opportunities_topic.send(
                        key=scope.encode(), value=_encoder.encode(chunk_u)
                    )
            for letter in outcome.deadletters:
                await deadletter_topic.send(key=None, value=_encoder.encode(letter))

    @app.agent(metrics_topic, concurrency=1)
    async def sink_metrics(stream: Any) -> None:
        async for events in stream.take_events(SINK_BATCH, within=SINK_WITHIN_SECONDS):
            points: list[MetricPoint] = []
            for event in events:
                batch = _metrics_decoder.decode(event.value)
                points.extend(batch)
                sink_scopes[(event.message.topic, event.message.partition)].add(event.key.decode())
            await (await store()).write_metrics(points)
            for point in points:
                exporter.observe_metric(point)

    @app.agent(opportunities_topic, concurrency=1)
    async def sink_opportunities(stream: Any) -> None:
        async for events in stream.take_events(SINK_BATCH, within=SINK_WITHIN_SECONDS):
            updates: list[OpportunityUpdate] = []
            for event in events:
                updates.extend(_updates_decoder.decode(event.value))
                sink_scopes[(event.message.topic, event.message.partition)].add(event.key.decode())
            await (await store()).write_updates(updates)
            for update in updates:
                exporter.observe_opportunity(update.opportunity)

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
        gone: set[str] = set()
        for tp in lost:
            gone |= pipeline.forget_partition(tp.topic, tp.partition)
            gone |= sink_scopes.pop((tp.topic, tp.partition), set())
        if gone:
            exporter.remove_scopes(gone)
            log.info("partitions lost in a rebalance: dropped %d scopes", len(gone))

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def close_store(sender: Any, *_args: Any, signal: Any, **_: Any) -> None:
        if "store" in store_holder:
            await store_holder.pop("store").__aexit__(None, None, None)

    return app
