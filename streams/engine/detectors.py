"""One evaluation of one (scope, kind): its conditions judged (``statistics``), its status moved
(``lifecycle``), its snapshot and transitions emitted (``evidence``). Definitions in
``docs/catalogue.md``.

An evaluation where the kind's conditions lack their minimum sample, or where the kind's
domain's data is not ``ok`` (``streams.engine.quality``), changes no status (no flag from 3
discharges or from a feed gap, and no resolution either: an episode stays open while its data is
missing) and breaks the held run: persistence means every evaluation of the period held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from models.catalogue import KindSpec, Lifecycle
from models.outputs import OpportunityUpdate, Transition
from streams.engine.evidence import ScopeIds, snapshot
from streams.engine.lifecycle import KindState, Mode, Signals, closed, transition
from streams.engine.readings import Reading
from streams.engine.statistics import Judged, PastCache, judge, proximity, record
from streams.engine.timekeys import DAY, HOUR

__all__ = ["KindState", "Mode", "PastCache", "ScopeIds", "evaluate_kind"]


def _adopt(target: KindState, source: KindState) -> None:
    """The caller's state object takes the transition's result (it is held in a scope's map)."""
    if source is not target:
        for name in KindState.__struct_fields__:
            setattr(target, name, getattr(source, name))


def _break(state: KindState) -> None:
    """``lifecycle.broken`` in place, on the hot path."""
    state.held_count = 0
    state.held_since = None
    state.warned_count = 0
    state.warned_since = None


def _signals(
    spec: KindSpec,
    judged: list[Judged],
    gates: list[Judged],
    leading: Sequence[Judged] = (),
    reach: float = 1.0,
) -> Signals | None:
    """The kind's trigger, emerging rule and clearance; None when it cannot be evaluated. A
    leading condition (a forecast of the trigger) that holds makes the kind emerging, while a
    trigger condition is within ``reach`` of its threshold (the emerging rule's own bar: a
    forecast far from what the site shows now is not trusted on its own)."""
    usable = [j for j in judged if j.evaluable]
    known = len(usable) == len(judged) if spec.combine == "all" else bool(usable)
    if not known:
        return None
    gates_hold = all(g.evaluable and g.holds for g in gates)
    if spec.combine == "all":
        triggered = gates_hold and all(j.holds for j in usable)
        relaxed = gates_hold and all(j.relaxed for j in usable)
        emerging = (
            gates_hold
            and not triggered
            and all(j.holds or j.emerging for j in usable)
            and any(j.emerging for j in usable)
        )
    else:
        triggered = gates_hold and any(j.holds for j in usable)
        relaxed = gates_hold and any(j.relaxed for j in usable)
        emerging = gates_hold and not triggered and any(j.emerging for j in usable)
    ahead = (
        gates_hold
        and not triggered
        and any(j.evaluable and j.holds for j in leading)
        and any(proximity(j) >= reach for j in usable)
    )
    return Signals(triggered=triggered, emerging=emerging or ahead, clear=not relaxed, ahead=ahead)


#: (id of a kind's spec, sitrep) -> (the spec, the metrics it reads): ``KindSpec.metrics``
#: builds its tuple anew at every call; the spec is kept to check the id was not reused
_METRICS: dict[tuple[int, bool], tuple[KindSpec, tuple[str, ...]]] = {}


def _metrics_of(spec: KindSpec, sitrep: bool) -> tuple[str, ...]:
    entry = _METRICS.get((id(spec), sitrep))
    if entry is None or entry[0] is not spec:
        entry = _METRICS[(id(spec), sitrep)] = (spec, spec.metrics(sitrep))
    return entry[1]


def evaluate_kind(
    spec: KindSpec,
    *,
    lc: Lifecycle,
    state: KindState,
    readings: Mapping[str, Reading],
    ts: float,
    at: datetime,
    mode: Mode,
    capacity_active: bool,
    ids: ScopeIds,
    cache: PastCache | None = None,
    quality: Mapping[str, Any] | None = None,
) -> list[OpportunityUpdate]:
    """One evaluation of one kind at event time ``at`` (``ts`` its epoch seconds).

    ``quality``: why the kind's domain is not ``ok``, or None. While it is set nothing opens,
    escalates or resolves, the baseline learns only while the domain warms up, and an open
    episode's due snapshot still goes out, the reason in its evidence."""
    sitrep = mode != "hourly"
    day = int(ts // DAY)
    # An open episode reports baselines and trends in its evidence: compute them in full.
    full = state.status is not None
    inputs: tuple[Any, ...] | None = None
    if not full and cache is not None and quality is None:
        # Most boundaries of a quiet kind see the readings of the hour before (a waiting list
        # moves once a day, a sparse feed not at all): the same inputs judge the same.
        inputs = (day, mode, *[readings.get(metric) for metric in _metrics_of(spec, sitrep)])
        quiet = cache.quiet
        if quiet is not None and quiet[0] == inputs:
            _break(state)
            if quiet[1] is not None:
                record(state.stats, quiet[1], day, lc)
                cache.recorded(day)
            return []
    judged = [
        judge(
            c.for_source(sitrep),
            metric=c.metric_for(sitrep),
            reading=readings.get(c.metric_for(sitrep)),
            stats=state.stats.get(c.name, {}),
            day=day,
            lc=lc,
            full=full,
            cache=cache,
        )
        for c in spec.conditions
    ]
    gates = [
        judge(
            g,
            metric=g.metric_for(sitrep),
            reading=readings.get(g.metric_for(sitrep)),
            stats={},
            day=day,
            lc=lc,
        )
        for g in spec.gates
    ]
    leading = [
        judge(
            c,
            metric=c.metric_for(sitrep),
            reading=readings.get(c.metric_for(sitrep)),
            stats={},
            day=day,
            lc=lc,
        )
        for c in spec.leading
    ]
    signals = _signals(spec, judged, gates, leading, lc.emerging_min_fraction)
    if signals is None:
        _break(state)
        if inputs is not None and cache is not None:
            cache.quiet = (inputs, None)
        return []
    usable = [j for j in judged if j.evaluable]
    if quality is not None:
        _break(state)
        if quality.get("status") == "warming_up":
            record(state.stats, usable, day, lc)  # partial, yet the scope's own: it starts
            if cache is not None:
                cache.recorded(day)
        if state.status is None:
            return []
        return _frozen(
            spec,
            lc=lc,
            state=state,
            readings=readings,
            judged=judged,
            gates=gates,
            triggered=signals.triggered,
            at=at,
            ts=ts,
            mode=mode,
            ids=ids,
            quality=quality,
            leading=leading,
        )

    record(state.stats, usable, day, lc)
    if cache is not None:
        cache.recorded(day)
    if state.status is None and not (signals.triggered or signals.emerging):
        _break(state)  # the common case, quiet: what ``transition`` would do, without a copy
        if inputs is not None and cache is not None:
            cache.quiet = (inputs, usable)
        return []
    moved = transition(state, signals=signals, spec=spec, lc=lc, mode=mode, ts=ts, at=at)
    if moved.state.status is None:  # nothing opened
        _adopt(state, moved.state)
        return []
    _adopt(state, moved.state)
    boosted = capacity_active and spec.domain == "bed_flow" and spec.kind != "capacity_forecasting"
    current = snapshot(
        spec,
        lc=lc,
        state=state,
        readings=readings,
        judged=judged,
        gates=gates,
        triggered=signals.triggered,
        at=at,
        mode=mode,
        boosted=boosted,
        lapsed=moved.lapsed,
        ids=ids,
        status="resolved" if moved.resolved else state.status or "emerging",
        leading=leading,
    )
    updates: list[OpportunityUpdate] = []
    for from_status, to_status in moved.steps:
        opportunity = msgspec.structs.replace(
            current,
            status=to_status,
            first_active_at=current.first_active_at if to_status != "emerging" else None,
        )
        updates.append(
            OpportunityUpdate(
                opportunity=opportunity,
                transition=Transition(
                    trust_code=ids.trust_code,
                    site_code=ids.site_code,
                    kind=spec.kind,
                    episode=state.episode,
                    from_status=from_status,
                    to_status=to_status,
                    at=at,
                    observed=current.observed,
                    threshold=current.threshold,
                ),
            )
        )
    if not updates and _snapshot_due(state, lc=lc, ts=ts):
        updates.append(OpportunityUpdate(opportunity=current))
    state.latest = current
    state.latest_emitted = bool(updates)
    if updates:
        state.last_snapshot_at = ts
    if moved.resolved:
        _adopt(state, closed(state))
    return updates


def _frozen(
    spec: KindSpec,
    *,
    lc: Lifecycle,
    state: KindState,
    readings: Mapping[str, Reading],
    judged: list[Judged],
    gates: list[Judged],
    triggered: bool,
    at: datetime,
    ts: float,
    mode: Mode,
    ids: ScopeIds,
    quality: Mapping[str, Any],
    leading: list[Judged],
) -> list[OpportunityUpdate]:
    """An open episode while its domain's data is not ``ok``: its status stands."""
    assert state.status is not None
    current = snapshot(
        spec,
        lc=lc,
        state=state,
        readings=readings,
        judged=judged,
        gates=gates,
        triggered=triggered,
        at=at,
        mode=mode,
        boosted=False,
        lapsed=False,
        ids=ids,
        status=state.status,
        quality=quality,
        leading=leading,
    )
    state.latest = current
    due = _snapshot_due(state, lc=lc, ts=ts)
    state.latest_emitted = due
    if not due:
        return []
    state.last_snapshot_at = ts
    return [OpportunityUpdate(opportunity=current)]


def _snapshot_due(state: KindState, *, lc: Lifecycle, ts: float) -> bool:
    """An open episode's unchanged snapshot is re-sent every ``snapshot_every_hours``."""
    return state.last_snapshot_at is None or (
        ts - state.last_snapshot_at >= lc.snapshot_every_hours * HOUR
    )
