"""A state persisted as parts and restored behaves exactly like one never persisted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.events import Event, ReferralReceived
from streams.engine import Output, ScopeState
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE

SCOPE = CATALOGUE.for_scope(b.TRUST, b.SITE)


def _mixed(days: int) -> list[Event]:
    s = b.Stream()
    b.bedflow(s, days, nctr_days=b.window(8, 16, 4.0, 0.75), beds=b.const(450))
    b.rostering(s, days, agency=b.window(6, 14, 0.2, 0.02))
    b.referrals(s, days)
    return s.events(days)


def _straight(events: list[Event]) -> list[Output]:
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    out: list[Output] = []
    for event in events:
        out.extend(state.apply(event))
    return out + state.flush()


@pytest.mark.unit
def test_restored_state_continues_exactly_like_a_straight_run() -> None:
    events = _mixed(24)
    expected = _straight(events)
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    store: dict[str, bytes] = {}
    out: list[Output] = []
    # Persist after every "record" of 500 events, as the worker does once per record and key.
    for index, event in enumerate(events):
        out.extend(state.apply(event))
        if index % 500 == 499:
            for name, value in state.dirty_parts().items():
                if value:
                    store[name] = value
                else:
                    store.pop(name, None)
        if index == len(events) // 2:
            for name, value in state.dirty_parts().items():
                if value:
                    store[name] = value
                else:
                    store.pop(name, None)
            state = ScopeState.restore(b.TRUST, b.SITE, SCOPE, dict(store))
    out.extend(state.flush())
    assert out == expected
    assert any(o for o in out if not hasattr(o, "metric"))  # opportunities were involved


@pytest.mark.unit
def test_dirty_parts_are_only_what_changed_and_deleted_dedupe_buckets_are_empty() -> None:
    events = _mixed(8)
    assert len(events) > 2001
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    for event in events[:2000]:
        state.apply(event)
    first = state.dirty_parts()
    assert {"core", "bedflow"} <= set(first)
    assert any(name.startswith("spells/") for name in first)
    assert state.dirty_parts() == {}  # marked clean
    state.apply(events[2000])
    again = state.dirty_parts()
    assert "core" in again and len(again) < 8
    # Far later: the old dedupe buckets are deleted (b"" tells the table to drop the key).
    state.advance_to(events[-1].occurred_at + timedelta(days=2))
    deleted = {name for name, value in state.dirty_parts().items() if value == b""}
    assert deleted and all(name.startswith("dedupe/") for name in deleted)


@pytest.mark.unit
def test_a_big_waiting_list_is_split_into_parts_well_under_100kb() -> None:
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    s = b.Stream()
    at = b.T0
    for index in range(150_000):
        ref = f"{index:064x}".replace("0", "a", 1)
        state.apply(
            s.add(
                ReferralReceived,
                at + timedelta(seconds=index),
                referral_ref=ref,
                specialty_code="100",
                priority="routine",
                source="gp",
            )
        )
    parts = state.dirty_parts()
    pathway_parts = {k: v for k, v in parts.items() if k.startswith("pathways/")}
    assert len(pathway_parts) == 256
    assert max(len(v) for v in parts.values()) < 100_000
    restored = ScopeState.restore(b.TRUST, b.SITE, SCOPE, parts)
    assert len(restored.referrals.pathways) == 150_000
    assert restored.referrals.agg.open_count == 150_000


@pytest.mark.unit
def test_a_detector_part_evaluated_into_its_saved_bytes_is_not_saved_again() -> None:
    """Most hours leave a kind's state as it was; its part is then not written. The restore
    test above shows the parts left out were indeed unchanged."""
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    store: dict[str, bytes] = {}
    evaluated = written = 0
    for event in _mixed(10):
        if state.apply(event):
            evaluated += sum(len(domain.kinds.order) for domain in state.domains.values())
        parts = state.dirty_parts()
        written += sum(1 for name in parts if name.startswith("detector/"))
        store.update(parts)
    assert 0 < written < evaluated
    # restored, the state knows its detector parts' saved bytes: the next unchanged hour of a
    # kind writes nothing for it either
    restored = ScopeState.restore(b.TRUST, b.SITE, SCOPE, store)
    assert restored.advance_to(b.T0 + timedelta(days=10, hours=2))
    assert sum(1 for n in restored.dirty_parts() if n.startswith("detector/")) < sum(
        len(domain.kinds.order) for domain in restored.domains.values()
    )
