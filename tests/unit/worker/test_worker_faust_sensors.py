"""The worker's Faust sensor exports what Faust's own Prometheus sensor exports."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest

from streams.faust_sensors import KeptChildrenPrometheusMonitor

pytestmark = pytest.mark.unit


def monitor(kind: type[PrometheusMonitor]) -> tuple[PrometheusMonitor, CollectorRegistry]:
    registry = CollectorRegistry()
    return kind(metrics=FaustMetrics.create(registry, "opsradar")), registry


def samples(registry: CollectorRegistry) -> set[str]:
    # timings (latency and runtime histograms) differ between two runs; counts and offsets not
    return {
        line
        for line in generate_latest(registry).decode().splitlines()
        if not line.startswith("#")
        and not any(t in line for t in ("latency", "runtime", "_created"))
    }


class Stream:
    """What the sensors read of a stream (Faust keys a weak map by it)."""

    shortlabel = "Stream: topic.nhs-bedflow"

    def __init__(self) -> None:
        self.task_owner = Stream  # any object Faust can weakly reference


def traffic(sensor: PrometheusMonitor) -> None:
    stream = Stream()
    table = SimpleNamespace(name="scope_state")
    for offset in range(3):
        for tp in (TP("nhs.bedflow.v1", 0), TP("nhs.bedflow.v1", 1), TP("nhs.ed.v1", 0)):
            message = SimpleNamespace()
            sensor.on_message_in(tp, offset, message)  # type: ignore[arg-type]
            state = sensor.on_stream_event_in(tp, offset, stream, None)  # type: ignore[arg-type]
            sensor.on_table_set(table, "key", b"v")  # type: ignore[arg-type]
            sensor.on_table_get(table, "key")  # type: ignore[arg-type]
            sensor.on_send_initiated(None, "opsradar.metrics.v1", None, 1, 2)  # type: ignore[arg-type]
            sensor.track_tp_end_offset(tp, offset + 10)
            sensor.on_stream_event_out(tp, offset, stream, None, state)  # type: ignore[arg-type]
            sensor.on_message_out(tp, offset, message)  # type: ignore[arg-type]
    sensor.on_table_del(table, "key")  # type: ignore[arg-type]


def test_the_same_series_as_fausts_sensor() -> None:
    faust_sensor, faust_registry = monitor(PrometheusMonitor)
    ours, our_registry = monitor(KeptChildrenPrometheusMonitor)
    traffic(faust_sensor)
    traffic(ours)
    assert samples(our_registry) == samples(faust_registry)
    assert any("opsradar_topic_partition_end_offset" in line for line in samples(our_registry))


def test_partition_series_come_back_after_faust_clears_them_at_a_rebalance() -> None:
    # Faust removes the partition-labelled series at each rebalance: a child kept past that
    # would update a series no longer exported, and the lag panel would stay empty
    faust_sensor, faust_registry = monitor(PrometheusMonitor)
    ours, our_registry = monitor(KeptChildrenPrometheusMonitor)
    sensors: list[Any] = [faust_sensor, ours]
    for sensor in sensors:
        traffic(sensor)
        sensor._clear_partition_related_metrics()
        sensor.track_tp_end_offset(TP("nhs.ed.v1", 0), 99)
        sensor.on_message_in(TP("nhs.ed.v1", 0), 98, SimpleNamespace())
    assert samples(our_registry) == samples(faust_registry)
    assert 'opsradar_topic_partition_end_offset{partition="0",topic="nhs.ed.v1"} 99.0' in samples(
        our_registry
    )
