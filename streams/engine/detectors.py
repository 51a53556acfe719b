"""The opportunity lifecycle of one (scope, kind): trigger, emerging rule, persistence, hysteresis,
severity and snapshots (the definitions are in ``docs/catalogue.md``).

At each evaluation of its scope a kind sees the scope's readings and moves through::

    (none) --trigger or emerging rule--> emerging --trigger held for the persistence--> active
    emerging --neither trigger nor rule for a persistence's worth of evaluations--> resolved
    active --clear (hysteresis) for resolve_after evaluations--> resolved --> (none): a new episode

An evaluation where the kind's conditions lack their minimum sample changes nothing (no flag from
3 discharges, and no resolution either: an episode stays open while its data is missing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, NamedTuple

import msgspec

from models.catalogue import Condition, KindSpec, Lifecycle
from models.outputs import Opportunity, OpportunityUpdate, Status, Transition
from streams.engine.impact import estimate
from streams.engine.readings import Reading
from streams.engine.timekeys import DAY, HOUR

Mode = Literal["hourly", "daily", "periodic"]


class KindState(msgspec.Struct, kw_only=True):
    episode: int = 0
    status: Status | None = None
    first_emerging_at: datetime | None = None
    first_active_at: datetime | None = None
    held_since: float | None = None
    held_count: int = 0
    quiet_count: int = 0
    last_snapshot_at: float | None = None
    # condition name -> day -> (evaluations, sum, sum of squares): the 28-day baseline
    stats: dict[str, dict[int, tuple[int, float, float]]] = msgspec.field(default_factory=dict)
    latest: Opportunity | None = None
    latest_emitted: bool = True


class ScopeIds(NamedTuple):
    trust_code: str
    site_code: str | None
    catalogue_version: str


class Judged(NamedTuple):
    condition: Condition
    metric: str
    reading: Reading | None
    evaluable: bool
    holds: bool
    relaxed: bool
    emerging: bool
    baseline_mean: float | None
    baseline_sd: float | None
    trend_per_day: float | None


def _baseline(
    stats: dict[int, tuple[int, float, float]], day: int, lc: Lifecycle
) -> tuple[float, float] | None:
    count = total = squares = 0.0
    days = 0
    for key in range(day - lc.baseline_days, day):
        entry = stats.get(key)
        if entry is not None:
            days += 1
            count += entry[0]
            total += entry[1]
            squares += entry[2]
    if days < lc.baseline_min_days or count < 2:
        return None
    mean = total / count
    return mean, math.sqrt(max(0.0, squares / count - mean * mean))


def _past_points(
    stats: dict[int, tuple[int, float, float]], day: int, lc: Lifecycle
) -> list[tuple[float, float]]:
    return [
        (float(key), entry[1] / entry[0])
        for key in range(day - lc.trend_days, day)
        if (entry := stats.get(key)) is not None and entry[0]
    ]


class PastCache:
    """Per condition, the baseline and the trend's daily means of the days before today.

    Both read only days before ``day``, which no later evaluation changes (``_record`` adds to
    today and drops days older than any window), so they are computed once a day per condition,
    not at every hourly evaluation. Not persisted: a restored state starts empty and recomputes
    the same values. An entry is reused only for the very ``stats`` dict it was computed from.
    """

    def __init__(self) -> None:
        self.entries: dict[
            str,
            tuple[
                int,
                dict[int, tuple[int, float, float]],
                tuple[float, float] | None,
                list[tuple[float, float]],
            ],
        ] = {}

    def get(
        self, name: str, stats: dict[int, tuple[int, float, float]], day: int, lc: Lifecycle
    ) -> tuple[tuple[float, float] | None, list[tuple[float, float]]]:
        entry = self.entries.get(name)
        if entry is None or entry[0] != day or entry[1] is not stats:
            entry = (day, stats, _baseline(stats, day, lc), _past_points(stats, day, lc))
            self.entries[name] = entry
        return entry[2], entry[3]

    def recorded(self, day: int) -> None:
        """Values were recorded on ``day``: entries of later days (whose past holds it) are
        stale. Only a late sitrep date evaluated after a later one records into the past."""
        if any(entry[0] > day for entry in self.entries.values()):
            self.entries = {k: e for k, e in self.entries.items() if e[0] <= day}


def _trend(
    stats: dict[int, tuple[int, float, float]],
    day: int,
    value: float,
    lc: Lifecycle,
    past: list[tuple[float, float]] | None = None,
) -> tuple[float, float] | None:
    """Least-squares line over the daily means of the last days and today's value: (its value
    today, its slope per day). The fitted value, not the raw one, is projected, so one noisy
    evaluation cannot project a breach on its own."""
    points = list(past) if past is not None else _past_points(stats, day, lc)
    points.append((float(day), value))
    if len(points) < lc.trend_min_days:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return mean_y + slope * (day - mean_x), slope


def _judge(
    condition: Condition,
    metric: str,
    reading: Reading | None,
    stats: dict[int, tuple[int, float, float]],
    day: int,
    lc: Lifecycle,
    full: bool = False,
    cache: PastCache | None = None,
) -> Judged:
    if reading is None or reading.sample < condition.min_sample:
        return Judged(condition, metric, reading, False, False, False, False, None, None, None)
    value, threshold = reading.value, condition.threshold
    holds = condition.holds(value)
    relaxed_threshold = (
        threshold * lc.hysteresis_ratio if condition.above else threshold / lc.hysteresis_ratio
    )
    relaxed = condition.holds(value, relaxed_threshold)
    within_reach = (
        value >= threshold * lc.emerging_min_fraction
        if condition.above
        else value <= threshold / lc.emerging_min_fraction
    )
    # The baseline and trend cost a pass over 28 days: only near the threshold are they needed
    # (the emerging rule, and the evidence of an episode, which only exists near it).
    baseline = trend = None
    if within_reach or full:
        if cache is not None:
            baseline, past = cache.get(condition.name, stats, day, lc)
            trend = _trend(stats, day, value, lc, past)
        else:
            baseline = _baseline(stats, day, lc)
            trend = _trend(stats, day, value, lc)
    emerging = False
    if not holds and within_reach:
        beyond_sigma = False
        if baseline is not None:
            mean, sd = baseline
            margin = lc.emerging_sigma * max(sd, lc.sigma_floor_fraction * abs(threshold))
            beyond_sigma = value > mean + margin if condition.above else value < mean - margin
        projects_breach = False
        if trend is not None and (trend[1] > 0 if condition.above else trend[1] < 0):
            projects_breach = condition.holds(trend[0] + trend[1] * lc.projection_days)
        emerging = beyond_sigma or projects_breach
    return Judged(
        condition,
        metric,
        reading,
        True,
        holds,
        relaxed,
        emerging,
        None if baseline is None else baseline[0],
        None if baseline is None else baseline[1],
        None if trend is None else trend[1],
    )


def _exceedance(judged: Judged) -> float:
    """How far beyond the threshold, relative to it (negative: under it)."""
    assert judged.reading is not None
    threshold = judged.condition.threshold or 1e-9
    value = judged.reading.value
    if judged.condition.above:
        return (value - threshold) / abs(threshold)
    return (threshold - value) / abs(threshold)


def _proximity(judged: Judged) -> float:
    """value / threshold in the bad direction: 1 at the threshold."""
    assert judged.reading is not None
    value, threshold = judged.reading.value, judged.condition.threshold
    if judged.condition.above:
        return value / threshold if threshold else 1.0
    return threshold / value if value > 0 else 1.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


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

    ``quality``: why the kind's domain is not ``ok`` (``streams.engine.quality``), or None. While
    it is set nothing opens, escalates or resolves, the baseline learns nothing and the held run
    is broken; an open episode's due snapshot still goes out, the reason in its evidence."""
    sitrep = mode != "hourly"
    day = int(ts // DAY)
    # An open episode reports baselines and trends in its evidence: compute them in full.
    full = state.status is not None
    judged = [
        _judge(
            c,
            c.metric_for(sitrep),
            readings.get(c.metric_for(sitrep)),
            state.stats.get(c.name, {}),
            day,
            lc,
            full,
            cache,
        )
        for c in spec.conditions
    ]
    gates = [
        _judge(g, g.metric_for(sitrep), readings.get(g.metric_for(sitrep)), {}, day, lc)
        for g in spec.gates
    ]
    usable = [j for j in judged if j.evaluable]
    if spec.combine == "all":
        known = len(usable) == len(judged)
    else:
        known = bool(usable)
    if not known:
        # Not evaluable (sample below its minimum): nothing opens or resolves, but the held run is
        # broken: persistence means every evaluation of the period held, with the minimum sample.
        state.held_count = 0
        state.held_since = None
        return []
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
    clear = not relaxed

    if quality is not None:
        state.held_count = 0
        state.held_since = None
        if quality.get("status") == "warming_up":
            _record(state, usable, day, lc)  # partial, yet the scope's own: the baseline starts
            if cache is not None:
                cache.recorded(day)
        if state.status is None:
            return []
        return _frozen(
            spec, lc, state, readings, judged, gates, triggered, at, ts, mode, ids, quality
        )

    _record(state, usable, day, lc)
    if cache is not None:
        cache.recorded(day)

    if triggered:
        state.held_count += 1
        if state.held_since is None:
            state.held_since = ts
    else:
        state.held_count = 0
        state.held_since = None
    if mode == "hourly":
        # Every hourly evaluation of the period held: persistence_hours + 1 of them, from the
        # first to the one persistence_hours later.
        persisted = (
            state.held_since is not None
            and ts - state.held_since >= spec.persistence_hours * HOUR
            and state.held_count > spec.persistence_hours
        )
        lapse_after = spec.persistence_hours
    else:
        needed = (
            spec.persistence_daily_reports if mode == "daily" else spec.persistence_periodic_reports
        )
        persisted = state.held_count >= needed
        lapse_after = needed

    steps: list[tuple[Status | None, Status]] = []
    lapsed = False
    before = state.status
    if before is None:
        if not (triggered or emerging):
            return []
        state.episode += 1
        state.status = "emerging"
        state.first_emerging_at = at
        state.quiet_count = 0
        steps.append((None, "emerging"))
    if state.status == "emerging":
        if persisted:
            state.status = "active"
            state.first_active_at = at
            state.quiet_count = 0
            steps.append(("emerging", "active"))
        elif triggered or emerging:
            state.quiet_count = 0
        elif before is not None:
            state.quiet_count += 1
            if state.quiet_count >= lapse_after:
                lapsed = True
                steps.append(("emerging", "resolved"))
    elif before == "active":
        if clear:
            state.quiet_count += 1
            if state.quiet_count >= lc.resolve_after_evaluations:
                steps.append(("active", "resolved"))
        else:
            state.quiet_count = 0

    resolved = bool(steps) and steps[-1][1] == "resolved"
    boosted = capacity_active and spec.domain == "bed_flow" and spec.kind != "capacity_forecasting"
    snapshot = _snapshot(
        spec,
        lc,
        state,
        readings,
        judged,
        gates,
        triggered,
        at,
        mode,
        boosted,
        lapsed,
        ids,
        "resolved" if resolved else state.status or "emerging",
    )
    updates: list[OpportunityUpdate] = []
    for from_status, to_status in steps:
        opportunity = msgspec.structs.replace(
            snapshot,
            status=to_status,
            first_active_at=snapshot.first_active_at if to_status != "emerging" else None,
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
                    observed=snapshot.observed,
                    threshold=snapshot.threshold,
                ),
            )
        )
    due = state.last_snapshot_at is None or (
        ts - state.last_snapshot_at >= lc.snapshot_every_hours * HOUR
    )
    if not updates and due:
        updates.append(OpportunityUpdate(opportunity=snapshot))
    state.latest = snapshot
    state.latest_emitted = bool(updates)
    if updates:
        state.last_snapshot_at = ts
    if resolved:
        state.status = None
        state.first_emerging_at = None
        state.first_active_at = None
        state.held_since = None
        state.held_count = 0
        state.quiet_count = 0
        state.last_snapshot_at = None
    return updates


def _frozen(
    spec: KindSpec,
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
) -> list[OpportunityUpdate]:
    """An open episode while its domain's data is not ``ok``: its status stands."""
    assert state.status is not None
    snapshot = _snapshot(
        spec,
        lc,
        state,
        readings,
        judged,
        gates,
        triggered,
        at,
        mode,
        False,
        False,
        ids,
        state.status,
    )
    snapshot = msgspec.structs.replace(
        snapshot, evidence={**snapshot.evidence, "data_quality": dict(quality)}
    )
    state.latest = snapshot
    due = state.last_snapshot_at is None or (
        ts - state.last_snapshot_at >= lc.snapshot_every_hours * HOUR
    )
    if not due:
        state.latest_emitted = False
        return []
    state.latest_emitted = True
    state.last_snapshot_at = ts
    return [OpportunityUpdate(opportunity=snapshot)]


def _record(state: KindState, usable: list[Judged], day: int, lc: Lifecycle) -> None:
    """Add this evaluation's values to the per-day baseline statistics, dropping old days."""
    for judged in usable:
        assert judged.reading is not None
        value = float(judged.reading.value)
        days = state.stats.setdefault(judged.condition.name, {})
        count, total, squares = days.get(day, (0, 0.0, 0.0))
        days[day] = (count + 1, total + value, squares + value * value)
        if len(days) > lc.baseline_days + 2:
            for key in [key for key in days if key < day - lc.baseline_days - 1]:
                del days[key]


def _snapshot(
    spec: KindSpec,
    lc: Lifecycle,
    state: KindState,
    readings: Mapping[str, Reading],
    judged: list[Judged],
    gates: list[Judged],
    triggered: bool,
    at: datetime,
    mode: Mode,
    boosted: bool,
    lapsed: bool,
    ids: ScopeIds,
    status: Status,
) -> Opportunity:
    usable = [j for j in judged if j.evaluable]
    if spec.combine == "all":
        primary = usable[0]
    elif triggered:
        primary = max((j for j in usable if j.holds), key=_exceedance)
    else:
        primary = max(usable, key=_proximity)
    if triggered:
        severity = 0.5 + _exceedance(primary)
    else:
        severity = 0.5 * min(1.0, _proximity(primary))
    if boosted:
        severity += lc.capacity_severity_boost
    severity = round(min(1.0, max(0.0, severity)), 3)
    impact = estimate(spec.kind, readings, spec.impact)
    assert primary.reading is not None

    def describe(j: Judged) -> dict[str, Any]:
        return {
            "name": j.condition.name,
            "metric": j.metric,
            "op": j.condition.op,
            "threshold": j.condition.threshold,
            "value": None if j.reading is None else _round(j.reading.value),
            "sample_size": None if j.reading is None else j.reading.sample,
            "min_sample": j.condition.min_sample,
            "holds": j.holds,
            "emerging_rule": j.emerging,
            "baseline_mean": _round(j.baseline_mean),
            "baseline_sd": _round(j.baseline_sd),
            "trend_per_day": _round(j.trend_per_day),
        }

    evidence: dict[str, Any] = {
        "combine": spec.combine,
        "conditions": [describe(j) for j in judged],
        "gates": [describe(g) for g in gates],
        "evaluation": mode,
        "persistence": {
            "hours": spec.persistence_hours,
            "daily_reports": spec.persistence_daily_reports,
            "periodic_reports": spec.persistence_periodic_reports,
            "held_evaluations": state.held_count,
        },
        "capacity_boost": boosted,
        "impact": {
            "formula": spec.impact_formula,
            "inputs": {
                k: _round(v) if isinstance(v, float) else v for k, v in impact.inputs.items()
            },
            "assumptions": dict(spec.impact),
        },
    }
    evidence["data_quality"] = {"status": "ok"}
    if lapsed:
        evidence["lapsed"] = True
    return Opportunity(
        trust_code=ids.trust_code,
        site_code=ids.site_code,
        kind=spec.kind,
        episode=state.episode,
        domain=spec.domain,
        status=status,
        severity=severity,
        first_emerging_at=state.first_emerging_at,
        first_active_at=state.first_active_at,
        resolved_at=at if status == "resolved" else None,
        last_evaluated_at=at,
        metric=primary.metric,
        observed=float(round(primary.reading.value, 6)),
        threshold=primary.condition.threshold,
        baseline=_round(primary.baseline_mean),
        weekly_bed_days=impact.bed_days,
        weekly_staff_hours=impact.staff_hours,
        weekly_gbp=impact.gbp,
        intervention=spec.intervention,
        evidence=evidence,
        catalogue_version=ids.catalogue_version,
    )
