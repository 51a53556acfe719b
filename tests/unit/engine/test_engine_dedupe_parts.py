"""Dedupe parts: an hour's ids are one part until they pass ``WHOLE_HOUR_MAX``, then sixteen.

A live feed sends a few events a scope an hour: each record then writes one dedupe part and
each hour boundary deletes one (sixteen buckets an hour wrote one per event and deleted sixteen
at every boundary, when every scope evaluates at once). Duplicates are found whatever the
layout, across a split and across a restore, and states saved when every hour was split still
restore."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import pytest

from models.events import Admission, Event
from streams.engine import Output, ScopeState
from streams.engine.dedupe import PREFIX, WHOLE_HOUR_MAX
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE

pytestmark = pytest.mark.unit

SCOPE = CATALOGUE.for_scope(b.TRUST, b.SITE)


def _admissions(s: b.Stream, start: datetime, count: int, spacing: timedelta) -> list[Event]:
    return [
        s.add(
            Admission,
            start + spacing * number,
            spell_ref=s.ref(),
            ward_code="W1",
            specialty_code="300",
            admission_method="emergency",
        )
        for number in range(count)
    ]


def _dedupe_parts(parts: dict[str, bytes]) -> dict[str, bytes]:
    return {name: value for name, value in parts.items() if name.startswith(PREFIX)}


def _save(store: dict[str, bytes], parts: dict[str, bytes]) -> None:
    for name, value in parts.items():
        if value:
            store[name] = value
        else:
            store.pop(name, None)


def test_a_trickle_writes_one_dedupe_part_a_record_and_deletes_one_an_hour() -> None:
    s = b.Stream()
    # 3 events a record, 12 records an hour (36 ids an hour, over all 16 last hex digits)
    events = _admissions(s, b.T0, 36 * 6, timedelta(seconds=100))
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    deleted: list[str] = []
    for start in range(0, len(events), 3):
        for event in events[start : start + 3]:
            state.apply(event)
        parts = _dedupe_parts(state.dirty_parts())
        written = [name for name, value in parts.items() if value]
        deleted += [name for name, value in parts.items() if not value]
        assert len(written) == 1, written
        assert written[0].count("/") == 1  # dedupe/<hour>: the whole hour
    # hours fell out of the horizon: each went as one part
    assert deleted and all(name.count("/") == 1 for name in deleted)
    assert len(deleted) == len(set(deleted))


def test_a_burst_hour_splits_into_buckets_and_still_finds_every_duplicate() -> None:
    s = b.Stream()
    burst = _admissions(s, b.T0, WHOLE_HOUR_MAX + 200, timedelta(seconds=1))
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    store: dict[str, bytes] = {}
    for event in burst[:100]:
        state.apply(event)
    first = _dedupe_parts(state.dirty_parts())
    assert list(first) == [f"{PREFIX}{int(b.T0.timestamp()) // 3600}"]
    _save(store, first)
    for event in burst[100:]:
        state.apply(event)
    split = _dedupe_parts(state.dirty_parts())
    whole = next(iter(first))
    assert split.pop(whole) == b""  # the whole hour's part goes
    assert len(split) == 16 and all(name.startswith(whole + "/") for name in split)
    # every id stayed known: before, at and after the split
    before = state.counters["duplicate"]
    for event in (burst[0], burst[WHOLE_HOUR_MAX], burst[-1]):
        assert state.apply(event) == []
    assert state.counters["duplicate"] == before + 3


def _run_with_restores(
    events: list[Event], *, every: int, legacy: bool
) -> tuple[list[Output], dict[str, int]]:
    """Save every ``every`` events and restore from the saved parts each time; ``legacy``:
    rewrite each whole-hour part as the sixteen buckets every hour was saved as before."""
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    store: dict[str, bytes] = {}
    out: list[Output] = []
    for index, event in enumerate(events, start=1):
        out.extend(state.apply(event))
        if index % every == 0:
            _save(store, state.dirty_parts())
            parts = dict(store)
            if legacy:
                parts = _as_sixteen_buckets(parts)
            state = ScopeState.restore(b.TRUST, b.SITE, SCOPE, parts)
    return out + state.flush(), state.counters


def _as_sixteen_buckets(parts: dict[str, bytes]) -> dict[str, bytes]:
    converted: dict[str, bytes] = {}
    for name, value in parts.items():
        if name.startswith(PREFIX) and name.count("/") == 1:
            ids = msgspec.msgpack.decode(value, type=list[str])
            for digit in range(16):
                mine = sorted(i for i in ids if int(i[-1], 16) == digit)
                if mine:
                    converted[f"{name}/{digit}"] = msgspec.msgpack.encode(mine)
        else:
            converted[name] = value
    return converted


@pytest.mark.parametrize("legacy", [False, True], ids=["whole-hours", "saved-as-16-buckets"])
def test_restored_states_find_the_same_duplicates_as_a_straight_run(legacy: bool) -> None:
    s = b.Stream()
    events = _admissions(s, b.T0, 60, timedelta(minutes=2))
    events += _admissions(s, b.T0 + timedelta(hours=2), WHOLE_HOUR_MAX + 50, timedelta(seconds=3))
    events += _admissions(s, b.T0 + timedelta(hours=3), 40, timedelta(minutes=1))
    # every event sent twice, its copies a few events apart (redeliveries across saves)
    copies = events[3:] + events[:3]
    resent = [event for pair in zip(events, copies, strict=True) for event in pair]
    straight = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    expected = [o for event in resent for o in straight.apply(event)] + straight.flush()
    assert straight.counters["duplicate"] == len(events)
    assert _run_with_restores(resent, every=7, legacy=legacy) == (expected, straight.counters)
