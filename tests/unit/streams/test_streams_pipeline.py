"""The worker's record path: events for a closed entity reach opsradar_events_after_close_total,
the engine's other counters opsradar_feed_anomalies_total."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from models.catalogue import load_catalogue
from models.events import Admission, WardCapacity
from sinks.prometheus import FEED_ANOMALY_KINDS, PrometheusExporter
from streams.engine import Engine, ScopeState
from streams.engine.scope import COUNTERS
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


def _samples(exporter: PrometheusExporter) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in exporter.registry.collect()
        for sample in metric.samples
    }


def test_a_batch_leaves_the_exporter_as_its_records_one_by_one_do() -> None:
    """``process_batch`` hands the exporter its counts and event times once: every series
    (events, rejections, duplicates, after-close, redeliveries, newest event time, lag at the
    last record's clock) ends as processing the same records one at a time leaves it."""
    s = b.Stream()
    late_coding = b.coded_after_discharge(s, reasons_at_hours=(3, 4))
    events = s.events()
    records = [msgspec.json.encode(event) for event in events[:3]]
    records += [
        msgspec.json.encode(late_coding),
        msgspec.json.encode(events[1]),  # a duplicate of the admission
        b"{not json",
        msgspec.json.encode([events[2], events[0]]),  # duplicates, out of time order
    ]

    def pipeline(exporter: PrometheusExporter, table: dict[str, bytes]) -> EventPipeline:
        ticks = iter(range(1000))
        return EventPipeline(
            catalogue=load_catalogue(),
            topics={TOPIC: "nhs.bedflow.v1"},
            past_horizon=None,
            table=table,
            exporter=exporter,
            clock=lambda: b.T0 + timedelta(hours=5, seconds=next(ticks)),
            lateness=timedelta(hours=1),
        )

    one_by_one, batched = (
        PrometheusExporter(CollectorRegistry()),
        PrometheusExporter(CollectorRegistry()),
    )
    single_table: dict[str, bytes] = {}
    single = pipeline(one_by_one, single_table)
    outcomes = [single.process(TOPIC, 0, offset, value) for offset, value in enumerate(records)]
    batch_table: dict[str, bytes] = {}
    batch = pipeline(batched, batch_table)
    batch_outcomes = batch.process_batch(
        [(TOPIC, 0, offset, value) for offset, value in enumerate(records)]
    )
    assert batch_outcomes == outcomes
    assert _samples(batched) == _samples(one_by_one)
    assert _after_close(batched)  # the late coding and the resent discharge

    # a redelivery after a save: counted as redelivered, once per event, in both ways
    single.save()
    batch.save()
    single.process(TOPIC, 0, 2, records[2])
    batch.process_batch([(TOPIC, 0, 2, records[2]), (TOPIC, 0, 3, records[3])])
    single.process(TOPIC, 0, 3, records[3])
    assert _samples(batched) == _samples(one_by_one)


class _WriteOnlyTable(dict[str, bytes]):
    """A table whose reads fail: every read must go to the pipeline's ``stored``."""

    def __getitem__(self, key: str) -> bytes:
        raise AssertionError(f"read {key!r} through the table")

    def get(self, key: str, default: object = None) -> bytes:  # type: ignore[override]
        raise AssertionError(f"read {key!r} through the table")


def test_states_are_read_back_through_the_store_when_one_is_given() -> None:
    """A Faust table's ``[]`` and ``get`` test for the key first: in RocksDB a second read of
    the value. The worker reads through the table's store; the states it reads back are the
    ones a plain table gives."""
    s = b.Stream()
    b.bedflow(s, 3, nctr_days=b.const(2.0), beds=b.const(40))
    records = [msgspec.json.encode(event) for event in s.events(3)]

    def run(table: dict[str, bytes], stored: Mapping[str, bytes] | None) -> list[object]:
        pipeline = EventPipeline(
            catalogue=load_catalogue(),
            topics={TOPIC: "nhs.bedflow.v1"},
            past_horizon=None,
            table=table,
            stored=None if stored is None else (lambda: stored),
            exporter=PrometheusExporter(CollectorRegistry()),
            clock=lambda: b.T0 + timedelta(days=4),
            lateness=timedelta(hours=1),
        )
        outcomes: list[object] = []
        for offset, value in enumerate(records):
            outcomes.append(pipeline.process(TOPIC, 0, offset, value))
            if offset % 25 == 24:
                pipeline.save()  # frozen shards are read back when next touched
            if offset % 100 == 99:
                pipeline.reload_states()  # the next record reads its whole state back
        return outcomes

    plain = run({}, None)
    write_only = _WriteOnlyTable()
    assert run(write_only, _StoreOf(write_only)) == plain


class _StoreOf(Mapping[str, bytes]):
    """The table's own entries, read without its ``[]`` (as a Faust table's ``data``)."""

    def __init__(self, table: dict[str, bytes]) -> None:
        self._table = table

    def __getitem__(self, key: str) -> bytes:
        return dict.__getitem__(self._table, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


def _feed_anomalies(exporter: PrometheusExporter, kind: str) -> float | None:
    return exporter.registry.get_sample_value(
        "opsradar_feed_anomalies_total", {"topic": "nhs.bedflow.v1", "kind": kind}
    )


def _more_patients_than_beds() -> b.Stream:
    """12 admissions onto 8 beds, then a capacity snapshot an hour for 5 hours: every one of
    those evaluations is clamped."""
    s = b.Stream()
    s.add(WardCapacity, b.T0, ward_code="W1", beds_open=8, beds_escalation=0)
    for minute in range(12):
        s.add(
            Admission,
            b.T0 + timedelta(minutes=1 + minute),
            spell_ref=s.ref(),
            ward_code="W1",
            specialty_code="300",
            admission_method="emergency",
        )
    for hour in range(1, 6):
        s.add(WardCapacity, b.T0 + timedelta(hours=hour), ward_code="W1", beds_open=8)
    return s


def test_the_engines_feed_anomaly_counters_reach_prometheus_as_analyse_counts_them() -> None:
    """More patients than open beds (lost discharges): each clamped evaluation is counted in
    ``opsradar_feed_anomalies_total`` as ``opsradar analyse`` counts ``occupancy_clamped``."""
    s = _more_patients_than_beds()
    events = s.events()
    exporter = PrometheusExporter(CollectorRegistry())
    exporter.declare_topic("nhs.bedflow.v1")
    pipeline = EventPipeline(
        catalogue=load_catalogue(),
        topics={TOPIC: "nhs.bedflow.v1"},
        past_horizon=None,
        table={},
        exporter=exporter,
        clock=lambda: b.T0 + timedelta(hours=6),
        lateness=timedelta(hours=1),
    )
    assert _feed_anomalies(exporter, "occupancy_clamped") == 0
    pipeline.process_batch(
        [(TOPIC, 0, offset, msgspec.json.encode(event)) for offset, event in enumerate(events)]
    )
    engine = Engine(load_catalogue())
    for event in events:
        engine.process(event)
    clamped = engine.scopes[(b.TRUST, b.SITE, "nhs.bedflow.v1")].counters["occupancy_clamped"]
    assert clamped >= 4
    assert _feed_anomalies(exporter, "occupancy_clamped") == clamped
    assert _feed_anomalies(exporter, "expired") == 0


def test_every_engine_counter_has_a_prometheus_series() -> None:
    own_series = {"accepted", "duplicate", "late", "after_close"}
    assert set(FEED_ANOMALY_KINDS) == set(COUNTERS) - own_series


def test_a_failed_record_in_a_batch_keeps_the_earlier_records_feed_anomalies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record that raises puts its states back; the batch's earlier (and later) records'
    clamped evaluations are still counted, as record by record, and the failed one's are not."""
    s = _more_patients_than_beds()
    bad = s.add(WardCapacity, b.T0 + timedelta(hours=6, minutes=5), ward_code="W1", beds_open=8)
    for hour in (7, 8):
        s.add(WardCapacity, b.T0 + timedelta(hours=hour, minutes=10), ward_code="W1", beds_open=8)
    records = [
        (TOPIC, 0, offset, msgspec.json.encode(event)) for offset, event in enumerate(s.events())
    ]
    apply = ScopeState.apply

    def failing(state: ScopeState, event: Any) -> Any:
        if event.event_id == bad.event_id:
            raise RuntimeError("a bug")
        return apply(state, event)

    monkeypatch.setattr(ScopeState, "apply", failing)

    def exporter_after(batched: bool) -> PrometheusExporter:
        exporter = PrometheusExporter(CollectorRegistry())
        exporter.declare_topic("nhs.bedflow.v1")
        pipeline = EventPipeline(
            catalogue=load_catalogue(),
            topics={TOPIC: "nhs.bedflow.v1"},
            past_horizon=None,
            table={},
            exporter=exporter,
            clock=lambda: b.T0 + timedelta(hours=9),
            lateness=timedelta(hours=1),
        )
        if batched:
            pipeline.process_batch(records)
        else:
            for record in records:
                pipeline.process(*record)
        return exporter

    one_by_one = _feed_anomalies(exporter_after(False), "occupancy_clamped")
    assert one_by_one is not None and one_by_one >= 6
    assert _feed_anomalies(exporter_after(True), "occupancy_clamped") == one_by_one
