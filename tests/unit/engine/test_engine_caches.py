"""The evaluation caches (referral readings and day sums, detector baselines) change no output:
a state that drops every cache before each evaluation emits exactly the same."""

from __future__ import annotations

from typing import Any

import pytest

from models.events import Event
from streams.engine import Engine, Output, ScopeState
from streams.engine.detectors import PastCache
from streams.engine.domains import Kinds
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


def _every_domain(days: int) -> list[Event]:
    s = b.Stream()
    b.bedflow(s, days, nctr_days=b.window(20, 40, 3.0, 0.75))
    b.rostering(s, days, unfilled=b.window(25, 45, 0.2, 0.02))
    b.referrals(s, days, dna=b.window(15, 40, 0.12, 0.03))
    b.ed(s, days, handover_minutes=b.window(30, 50, 70.0, 15.0))
    # days without events: quiet boundaries whose readings repeat the hour before's
    return [e for e in s.events(days) if not 35 <= (e.occurred_at - b.T0).days < 38]


@pytest.mark.unit
def test_quiet_kinds_reusing_their_last_judgement_emit_what_a_fresh_judgement_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A quiet kind whose inputs did not move since its last evaluation (same day, same
    readings) only records again (``PastCache.quiet``): the same outputs as judging afresh."""
    events = _every_domain(60)
    engine_cached = Engine(CATALOGUE)
    cached = [o for e in events for o in engine_cached.process(e)] + engine_cached.flush()
    reused = [
        cache.quiet
        for state in engine_cached.scopes.values()
        for domain in state.domains.values()
        for cache in domain.kinds.past.values()
    ]
    assert any(quiet is not None and quiet[1] is not None for quiet in reused)

    detect = Kinds.detect

    def fresh(self: Kinds, **kwargs: Any) -> list[Output]:
        self.past = {kind: PastCache() for kind in self.past}
        return detect(self, **kwargs)

    monkeypatch.setattr(Kinds, "detect", fresh)
    engine_fresh = Engine(CATALOGUE)
    uncached = [o for e in events for o in engine_fresh.process(e)] + engine_fresh.flush()
    assert cached == uncached
    assert any(not hasattr(o, "metric") for o in cached)  # opportunities were involved
