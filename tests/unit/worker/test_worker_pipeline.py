"""The worker's record pipeline keeps state so that a crash anywhere gives the same outputs.

A crash is simulated by cutting the table's write log at some point (what reached the changelog)
and redelivering records from an earlier offset (what was committed): the outputs of the first
run up to the crash plus those of the restarted run must equal a run without a crash, and no
redelivered event may count as a duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from models.catalogue import load_catalogue
from models.events import BEDFLOW_TOPIC
from sinks.prometheus import PrometheusExporter
from streams.engine import ScopeState
from streams.pipeline import (
    INLINE_MAX_BYTES,
    PROCESSING_FAILED,
    EventPipeline,
    RecordOutcome,
    StateIndex,
)
from tests.worker_support import envelope

pytestmark = pytest.mark.unit

START = datetime(2026, 3, 2, tzinfo=UTC)
CATALOGUE = load_catalogue()


class LoggedTable(dict[str, bytes]):
    """A table that remembers every set and delete in order, like a changelog."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, bytes | None]] = []

    def __setitem__(self, key: str, value: bytes) -> None:
        self.log.append((key, value))
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.log.append((key, None))
        super().__delitem__(key)


def _restored(log: list[tuple[str, bytes | None]]) -> dict[str, bytes]:
    """The table a restart rebuilds from a changelog holding ``log``."""
    table: dict[str, bytes] = {}
    for key, value in log:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return table


def _records(hours: int = 40) -> list[bytes]:
    """One site's bed flow: capacity every hour and a few admissions, one event per record."""
    events: list[dict[str, Any]] = []
    for hour in range(hours):
        at = START + timedelta(hours=hour)
        events.append(envelope("RZ6", "RZ6A1", "ward_capacity", at, ward_code="W1", beds_open=20))
        events += [
            envelope("RZ6", "RZ6A1", "admission", at + timedelta(minutes=10 + i),
                     spell_ref=uuid.uuid4().hex, ward_code="W1", specialty_code="300",
                     admission_method="emergency")
            for i in range(2)
        ]  # fmt: skip
    return [msgspec.json.encode(event) for event in events]


def _pipeline(table: dict[str, bytes]) -> tuple[EventPipeline, CollectorRegistry]:
    registry = CollectorRegistry()
    pipeline = EventPipeline(
        catalogue=CATALOGUE,
        topics={BEDFLOW_TOPIC: BEDFLOW_TOPIC},
        past_horizon=None,
        table=table,
        exporter=PrometheusExporter(registry),
        clock=lambda: START + timedelta(days=30),
        lateness=timedelta(hours=2),
    )
    return pipeline, registry


def _outputs(outcome: RecordOutcome) -> list[Any]:
    return [p for ps in outcome.metrics.values() for p in ps] + [
        u for us in outcome.updates.values() for u in us
    ]


def _run(pipeline: EventPipeline, records: list[bytes], first: int = 0) -> Iterator[list[Any]]:
    for offset in range(first, len(records)):
        outcome = pipeline.process(BEDFLOW_TOPIC, 0, offset, records[offset])
        yield _outputs(outcome)
        pipeline.save()


def _counter(registry: CollectorRegistry, name: str) -> float:
    return registry.get_sample_value(name, {"topic": BEDFLOW_TOPIC}) or 0.0


RECORDS = _records()
STRAIGHT = [o for outs in _run(_pipeline({})[0], RECORDS) for o in outs]


def test_the_straight_run_emits_outputs() -> None:
    assert len(STRAIGHT) > 40


@pytest.mark.parametrize("crash_at", [5, 31, 62, 100])
@pytest.mark.parametrize("written", ["none", "part", "all_but_index", "all"])
def test_crash_in_a_save_restores_a_consistent_state(crash_at: int, written: str) -> None:
    """The worker dies while saving record ``crash_at``: the changelog holds none, some, all but
    the index, or all of that save's writes; the committed offset is two records back."""
    table = LoggedTable()
    pipeline, _ = _pipeline(table)
    before: list[Any] = []
    for offset, outs in enumerate(_run(pipeline, RECORDS[:crash_at])):
        before += outs
        assert offset < crash_at
    # the crashed record's outputs were delivered (they always are before its save starts)
    crashed = pipeline.process(BEDFLOW_TOPIC, 0, crash_at, RECORDS[crash_at])
    before += _outputs(crashed)
    mark = len(table.log)
    pipeline.save()
    save_log = table.log[mark:]
    keep = {"none": 0, "part": 1, "all_but_index": len(save_log) - 1, "all": len(save_log)}
    changelog = table.log[:mark] + save_log[: keep[written]]

    restarted, registry = _pipeline(_restored(changelog))
    committed = crash_at - 2
    after = [o for outs in _run(restarted, RECORDS, first=committed) for o in outs]

    def key(output: Any) -> Any:
        return msgspec.json.encode(output)

    # outputs up to the crash may be emitted again (the sinks are idempotent), none may be lost
    assert {key(o) for o in before + after} == {key(o) for o in STRAIGHT}
    tail = [key(o) for o in after if key(o) not in {key(b) for b in before}]
    assert tail == [key(o) for o in STRAIGHT[len(before) :]]
    assert _counter(registry, "opsradar_events_duplicate_total") == 0
    assert _counter(registry, "opsradar_events_late_total") == 0


def test_small_parts_are_saved_inside_the_index_and_restore_the_same() -> None:
    """At a live feed's pace every record changes a state's core counters, its head and an
    hour's dedupe ids: held in the index (written by every save anyway), they cost no table
    write of their own. Only parts that were over ``INLINE_MAX_BYTES`` get slots."""
    table = LoggedTable()
    pipeline, _ = _pipeline(table)
    half = len(RECORDS) // 2
    outputs = [o for outs in _run(pipeline, RECORDS[:half]) for o in outs]
    restarted, _ = _pipeline(table)  # its states are read back from the table
    outputs += [o for outs in _run(restarted, RECORDS, first=half) for o in outs]
    assert outputs == STRAIGHT
    first_written: dict[str, bytes] = {}
    for key, value in table.log:
        if value is not None:
            first_written.setdefault(key.split("#")[0], value)
    parts = {key: value for key, value in first_written.items() if "/" in key}
    assert parts  # the quality profile at least outgrows the limit
    assert all(len(value) > INLINE_MAX_BYTES for value in parts.values())
    index = msgspec.msgpack.decode(table["RZ6A1@" + BEDFLOW_TOPIC], type=StateIndex)
    assert {"core", "dedupe"} <= {name.split("/")[0] for name in index.inline}
    assert not index.inline.keys() & index.slots.keys()
    # fewer table writes than saves of small parts would have made: one index a save, and slots
    writes = sum(1 for _key, value in table.log if value is not None)
    assert writes < 2 * len(RECORDS)


def test_a_redelivered_record_the_state_covers_is_skipped_not_counted_as_duplicate() -> None:
    table: dict[str, bytes] = {}
    pipeline, _ = _pipeline(table)
    list(_run(pipeline, RECORDS[:30]))
    restarted, registry = _pipeline(dict(table))
    redelivered = list(_run(restarted, RECORDS[:30], first=20))
    assert redelivered == [[]] * 10
    assert _counter(registry, "opsradar_events_redelivered_total") == 10
    assert _counter(registry, "opsradar_events_duplicate_total") == 0


def test_a_record_whose_processing_raises_is_dead_lettered_with_a_reason() -> None:
    table: dict[str, bytes] = {}
    pipeline, _ = _pipeline(table)
    list(_run(pipeline, RECORDS[:10]))
    # a corrupt state: its index names a part that is not in the table
    for key in [k for k in table if "/" in k]:
        del table[key]
    restarted, registry = _pipeline(table)
    outcome = restarted.process(BEDFLOW_TOPIC, 0, 10, RECORDS[10])
    assert outcome.deadletters == [
        {
            "reason": PROCESSING_FAILED,
            "topic": BEDFLOW_TOPIC,
            "partition": 0,
            "offset": 10,
            "event_id": None,
            "field": "KeyError",
        }
    ]
    assert not outcome.metrics and not outcome.updates and not outcome.touched
    assert _counter(registry, "opsradar_records_failed_total") == 1
    assert (
        registry.get_sample_value(
            "opsradar_events_rejected_total",
            {"topic": BEDFLOW_TOPIC, "reason": PROCESSING_FAILED},
        )
        == 1
    )


def _batched(pipeline: EventPipeline, records: list[bytes], batch: int) -> list[Any]:
    """As the worker runs: records processed in batches, the states saved after each batch."""
    outputs: list[Any] = []
    for start in range(0, len(records), batch):
        for offset in range(start, min(start + batch, len(records))):
            outputs += _outputs(pipeline.process(BEDFLOW_TOPIC, 0, offset, records[offset]))
        pipeline.save()
    return outputs


def test_a_batch_saves_each_state_once_and_restores_the_same() -> None:
    per_record, batched = LoggedTable(), LoggedTable()
    list(_run(_pipeline(per_record)[0], RECORDS))
    assert _batched(_pipeline(batched)[0], RECORDS, batch=40) == STRAIGHT
    # each part written once per batch of 40 records, not once per record (7x fewer here)
    assert len(batched.log) * 5 < len(per_record.log)
    restarted, registry = _pipeline(_restored(batched.log))
    assert list(_run(restarted, RECORDS[:60], first=50)) == [[]] * 10
    assert _counter(registry, "opsradar_events_redelivered_total") == 10


def test_a_record_failing_mid_batch_leaves_the_states_where_the_batch_had_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Record 10 of a batch raises in the engine: it is dead-lettered, and the records before
    it in the same batch (never saved) still count, so the outputs are a run without it."""
    failing = 10
    records = list(RECORDS)
    poisoned = msgspec.json.decode(records[failing])
    poisoned["ward_code"] = "BOOM"
    records[failing] = msgspec.json.encode(poisoned)
    apply = ScopeState.apply

    def apply_or_raise(state: ScopeState, event: Any) -> list[Any]:
        if getattr(event, "ward_code", None) == "BOOM":
            apply(state, event)  # half-advances the state, then fails
            raise RuntimeError("engine bug")
        return apply(state, event)

    monkeypatch.setattr(ScopeState, "apply", apply_or_raise)
    pipeline, registry = _pipeline({})
    outputs = _batched(pipeline, records, batch=40)
    without = _batched(_pipeline({})[0], records[:failing] + records[failing + 1 :], batch=40)
    assert outputs == without
    assert _counter(registry, "opsradar_records_failed_total") == 1
