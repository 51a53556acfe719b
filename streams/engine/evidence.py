"""An episode's snapshot: severity, impact and the evidence that shows how it was decided."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from models.catalogue import KindSpec, Lifecycle
from models.outputs import Opportunity, Status
from streams.engine.impact import estimate
from streams.engine.lifecycle import KindState, Mode
from streams.engine.readings import Reading
from streams.engine.statistics import Judged, exceedance, proximity

OK: dict[str, Any] = {"status": "ok"}


class ScopeIds(NamedTuple):
    trust_code: str
    site_code: str | None
    catalogue_version: str


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def describe(judged: Judged) -> dict[str, Any]:
    return {
        "name": judged.condition.name,
        "metric": judged.metric,
        "op": judged.condition.op,
        "threshold": judged.condition.threshold,
        "value": None if judged.reading is None else _round(judged.reading.value),
        "sample_size": None if judged.reading is None else judged.reading.sample,
        "min_sample": judged.condition.min_sample,
        "holds": judged.holds,
        "emerging_rule": judged.emerging,
        "baseline_mean": _round(judged.baseline_mean),
        "baseline_sd": _round(judged.baseline_sd),
        "trend_per_day": _round(judged.trend_per_day),
    }


def snapshot(
    spec: KindSpec,
    *,
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
    quality: Mapping[str, Any] | None = None,
) -> Opportunity:
    """The episode as it stands at ``at``; ``quality``: why its domain's data is not ok."""
    usable = [j for j in judged if j.evaluable]
    if spec.combine == "all":
        primary = usable[0]
    elif triggered:
        primary = max((j for j in usable if j.holds), key=exceedance)
    else:
        primary = max(usable, key=proximity)
    if triggered:
        severity = 0.5 + exceedance(primary)
    else:
        severity = 0.5 * min(1.0, proximity(primary))
    if boosted:
        severity += lc.capacity_severity_boost
    severity = round(min(1.0, max(0.0, severity)), 3)
    impact = estimate(spec.kind, readings, spec.impact)
    assert primary.reading is not None
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
        "data_quality": dict(quality) if quality is not None else OK,
    }
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
