"""The evaluation caches (referral readings and day sums, detector baselines) change no output:
a state that drops every cache before each evaluation emits exactly the same."""

from __future__ import annotations

from typing import Any

import pytest

from models.events import Event
from streams.engine import Output, ScopeState
from streams.engine.detectors import PastCache
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE

SCOPE = CATALOGUE.for_scope(b.TRUST, b.SITE)


def _events(days: int) -> list[Event]:
    s = b.Stream()
    b.referrals(
        s,
        days,
        triage_days=b.window(20, 34, 9.0, 1.5),
        dna=b.window(15, 40, 0.12, 0.03),
        closures=b.window(10, 30, 0.6, 1.0),
        # some wait beyond 18 weeks, so long waiters come and go
        wait_days=lambda day, rng: rng.uniform(20, 160),
    )
    # a gap without events: boundaries with no change in between reuse the cached readings
    return [e for e in s.events(days) if not 24 <= (e.occurred_at - b.T0).days < 27]


def _uncached(state: ScopeState) -> ScopeState:
    referrals = state.referrals
    evaluate = referrals.evaluate

    def fresh(hour: int) -> Any:
        referrals._readings = None
        referrals._sums = None
        referrals._latency_past = None
        past = state.domain("referrals").kinds.past
        for kind in past:
            past[kind] = PastCache()
        return evaluate(hour)

    referrals.evaluate = fresh  # type: ignore[method-assign]
    return state


def _run(state: ScopeState, events: list[Event]) -> list[Output]:
    out: list[Output] = []
    for event in events:
        out.extend(state.apply(event))
    return out + state.flush()


@pytest.mark.unit
def test_cached_evaluation_equals_a_fresh_one() -> None:
    events = _events(150)
    cached = _run(ScopeState.new(b.TRUST, b.SITE, SCOPE), events)
    fresh = _run(_uncached(ScopeState.new(b.TRUST, b.SITE, SCOPE)), events)
    assert cached == fresh
    assert any(not hasattr(o, "metric") for o in cached)  # opportunities were involved
