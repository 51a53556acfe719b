"""The daily sweep of ended shifts reads only the hours that fell out of the keep window (an
index of shifts by the hour they end), yet drops exactly what a scan of every planned shift
drops: the same outputs and the same persisted parts, through re-planned shifts and a restore."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.events import Event, ShiftPlanned
from streams.engine import Output, ScopeState
from streams.engine.rostering import ENDED_SHIFT_KEEP_HOURS, Rostering
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE

pytestmark = pytest.mark.unit

SCOPE = CATALOGUE.for_scope(b.TRUST, b.SITE)
DAYS = 30


def _replanned(days: int) -> list[Event]:
    """A roster feed whose shifts are re-planned: some moved later, some earlier, some given
    half-hour lengths (an end inside an hour), some moved back into the past."""
    s = b.Stream()
    b.rostering(s, days, shifts_per_day=24)
    planned = [e for e in s.events() if isinstance(e, ShiftPlanned)]
    for index, event in enumerate(planned[::7]):
        shift = {1: timedelta(days=3), 2: timedelta(days=-2), 3: timedelta(hours=-30)}.get(
            index % 4, timedelta(minutes=30)
        )
        s.add(
            ShiftPlanned,
            event.occurred_at + timedelta(days=1, minutes=index % 50),
            shift_ref=event.shift_ref,
            unit_code=event.unit_code,
            staff_group=event.staff_group,
            starts_at=event.starts_at + shift,
            ends_at=event.ends_at + shift + timedelta(minutes=30 * (index % 3)),
        )
    return s.events(days)


def _scan(self: Rostering, ended_before: int) -> None:
    """The sweep as it was: every shift of every shard tested."""
    for index, shard in self.shifts.all_shards():
        self.shifts.drop(
            index, [ref for ref, s in shard.items() if s.start_hour + s.hours < ended_before]
        )


def _run(events: list[Event], *, restore_at: int) -> tuple[list[Output], list[dict[str, bytes]]]:
    """Outputs and every record's dirty parts; the state is persisted and restored once."""
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    store: dict[str, bytes] = {}
    out: list[Output] = []
    parts: list[dict[str, bytes]] = []
    for number, event in enumerate(events):
        out.extend(state.apply(event))
        dirty = state.dirty_parts()
        parts.append(dirty)
        store.update(dirty)
        if number == restore_at:
            live = {name: blob for name, blob in store.items() if blob}
            state = ScopeState.restore(b.TRUST, b.SITE, SCOPE, live)
    return out + state.flush(), parts


@pytest.mark.parametrize("restored", [False, True])
def test_the_indexed_sweep_drops_what_a_full_scan_drops(
    monkeypatch: pytest.MonkeyPatch, restored: bool
) -> None:
    events = _replanned(DAYS)
    restore_at = len(events) // 2 if restored else -1
    indexed = _run(events, restore_at=restore_at)
    swept = 0
    for state_parts in indexed[1]:
        swept += sum(1 for name, blob in state_parts.items() if name.startswith("shifts/"))
    monkeypatch.setattr(Rostering, "_drop_ended", _scan)
    scanned = _run(events, restore_at=restore_at)
    assert indexed[0] == scanned[0]
    assert indexed[1] == scanned[1]
    assert swept  # shift shards were written (planned, then dropped)


def test_ended_shifts_are_dropped_15_days_after_their_end() -> None:
    events = _replanned(DAYS)
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    for event in events:
        state.apply(event)
    state.flush()
    last_sweep = (int(events[-1].occurred_at.timestamp() // 3600) // 24) * 24
    kept = [shift for _, shard in state.rostering.shifts.all_shards() for shift in shard.values()]
    assert kept
    assert min(s.start_hour + s.hours for s in kept) >= last_sweep - ENDED_SHIFT_KEEP_HOURS
    assert min(s.start_hour + s.hours for s in kept) < last_sweep - 48  # past ones re-sent
