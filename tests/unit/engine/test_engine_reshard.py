"""An entity map's shard count can change: outputs never depend on it, and a state saved under
another count (the first layout's unnamed parts, or a named one) is re-sharded on restore and
then continues exactly like a state that never stopped."""

from __future__ import annotations

import msgspec
import pytest

from models.events import Event
from streams.engine import Output, ScopeState, rostering
from streams.engine.referrals import Pathway
from streams.engine.shards import ShardedMap
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE

pytestmark = pytest.mark.unit

SCOPE = CATALOGUE.for_scope(b.TRUST, b.SITE)
FIRST_SHIFT_SHARDS = 32  # the rostering layout of states saved before counts were named


def _shifts_and_beds(days: int) -> list[Event]:
    s = b.Stream()
    b.bedflow(s, days, nctr_days=b.window(8, 16, 4.0, 0.75), beds=b.const(450))
    b.rostering(s, days, agency=b.window(6, 14, 0.2, 0.02), unfilled=b.window(5, 12, 0.2, 0.02))
    return s.events(days)


def _save(state: ScopeState, store: dict[str, bytes]) -> dict[str, bytes]:
    parts = state.dirty_parts()
    for name, value in parts.items():
        if value:
            store[name] = value
        else:
            store.pop(name, None)
    return parts


def _straight(events: list[Event]) -> list[Output]:
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    out = [o for event in events for o in state.apply(event)]
    return out + state.flush()


def test_outputs_do_not_depend_on_the_shift_shard_count(monkeypatch: pytest.MonkeyPatch) -> None:
    events = _shifts_and_beds(28)
    expected = _straight(events)
    monkeypatch.setattr(rostering, "SHIFT_SHARDS", 7)
    assert _straight(events) == expected


def test_a_state_saved_in_the_first_layout_is_resharded_and_continues_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = _shifts_and_beds(28)
    expected = _straight(events)  # under the count the code ships with
    half = len(events) // 2

    with monkeypatch.context() as old_code:
        old_code.setattr(rostering, "SHIFT_SHARDS", FIRST_SHIFT_SHARDS)
        state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
        out = [o for event in events[:half] for o in state.apply(event)]
        store: dict[str, bytes] = {}
        _save(state, store)
    old_names = {name for name in store if name.startswith("shifts/")}
    assert old_names == {f"shifts/{index:03d}" for index in range(FIRST_SHIFT_SHARDS)}

    monkeypatch.setattr(rostering, "SHIFT_SHARDS", 256)  # the new code's count
    state = ScopeState.restore(b.TRUST, b.SITE, SCOPE, dict(store))
    moved = _save(state, store)
    # the old parts are deleted, and the entries they held are saved in the new layout
    assert {name for name, value in moved.items() if not value} == old_names
    new_names = {name for name in store if name.startswith("shifts/")}
    assert new_names and all(name.startswith("shifts/256/") for name in new_names)
    entries = sum(len(msgspec.msgpack.decode(store[name])) for name in new_names)
    assert entries == len(state.rostering.shifts) > 0

    # restored again from the new layout: nothing left to move
    state = ScopeState.restore(b.TRUST, b.SITE, SCOPE, dict(store))
    assert not [name for name in state.dirty_parts() if name.startswith("shifts/")]
    out += [o for event in events[half:] for o in state.apply(event)]
    assert out + state.flush() == expected


@pytest.mark.parametrize(("saved_count", "restored_count"), [(4, 9), (9, 4), (9, 16)])
def test_resharding_keeps_every_entry(saved_count: int, restored_count: int) -> None:
    """From the first (unnamed) layout to a named one, back, and between two named ones."""
    encoder = msgspec.msgpack.Encoder()
    dirty: set[str] = set()
    saved: ShardedMap[Pathway] = ShardedMap("pathways", saved_count, Pathway, dirty, first_count=4)
    for number in range(100):
        saved.put(f"REF{number}", Pathway(received_at=number))
    parts = {name: saved.encode(name, encoder) for name in sorted(dirty)}

    dirty = set()
    restored: ShardedMap[Pathway] = ShardedMap(
        "pathways", restored_count, Pathway, dirty, first_count=4
    )
    for name, data in parts.items():
        restored.decode(name, data)
    assert restored.reshard() == sorted(parts)
    assert dirty <= set(restored.part_names()) and dirty.isdisjoint(parts)
    assert len(restored) == 100
    assert all(restored.get(f"REF{n}") == Pathway(received_at=n) for n in range(100))
    assert restored.reshard() == []  # moved once
