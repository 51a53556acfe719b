"""The worker's record path: events for a closed entity reach opsradar_events_after_close_total."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from models.catalogue import load_catalogue
from sinks.prometheus import PrometheusExporter
from streams.pipeline import EventPipeline
from tests.unit.engine import builders as b

pytestmark = pytest.mark.unit

TOPIC = "nhs.bedflow.v1.t0123abcd"


def _after_close(exporter: PrometheusExporter) -> float | None:
    return exporter.registry.get_sample_value(
        "opsradar_events_after_close_total", {"topic": "nhs.bedflow.v1"}
    )


def test_an_event_for_a_discharged_spell_is_counted_after_close_per_record() -> None:
    s = b.Stream()
    late_coding = b.coded_after_discharge(s, reasons_at_hours=(3, 4))
    exporter = PrometheusExporter(CollectorRegistry())
    pipeline = EventPipeline(
        catalogue=load_catalogue(),
        topics={TOPIC: "nhs.bedflow.v1"},
        past_horizon=None,
        table={},
        exporter=exporter,
        clock=lambda: b.T0 + timedelta(hours=5),
        lateness=timedelta(hours=1),
    )
    # capacity, admission, discharge one record each; then the two reasons as one batch record
    for offset, event in enumerate(s.events()[:3]):
        pipeline.process(TOPIC, 0, offset, msgspec.json.encode(event))
    assert not _after_close(exporter)  # nothing closed had been touched yet
    pipeline.process(TOPIC, 0, 3, msgspec.json.encode(late_coding))
    assert _after_close(exporter) == 2
