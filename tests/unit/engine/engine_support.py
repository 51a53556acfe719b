"""Helpers shared by the engine tests: run a stream, pick outputs apart."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from models.catalogue import Catalogue, load_catalogue
from models.events import Event
from models.outputs import MetricPoint, Opportunity, OpportunityUpdate, Transition
from streams.engine import Engine, Output

CATALOGUE = load_catalogue()


def run(events: Iterable[Event], catalogue: Catalogue = CATALOGUE) -> list[Output]:
    engine = Engine(catalogue)
    out: list[Output] = []
    for event in events:
        out.extend(engine.process(event))
    out.extend(engine.flush())
    return out


def transitions(outputs: Iterable[Output], kind: str | None = None) -> list[Transition]:
    return [
        o.transition
        for o in outputs
        if isinstance(o, OpportunityUpdate)
        and o.transition is not None
        and (kind is None or o.transition.kind == kind)
    ]


def steps(outputs: Iterable[Output], kind: str) -> list[tuple[str | None, str, datetime]]:
    return [(t.from_status, t.to_status, t.at) for t in transitions(outputs, kind)]


def snapshots(outputs: Iterable[Output], kind: str) -> list[Opportunity]:
    return [
        o.opportunity
        for o in outputs
        if isinstance(o, OpportunityUpdate) and o.opportunity.kind == kind
    ]


def emitted(outputs: Iterable[Output], metric: str) -> list[MetricPoint]:
    """The points of ``metric`` the engine emitted (on change, heartbeat and end of input)."""
    return [o for o in outputs if isinstance(o, MetricPoint) and o.metric == metric]


def series(outputs: Iterable[Output], metric: str) -> list[MetricPoint]:
    """``metric`` at every evaluated boundary: each site-scope point repeated every hour until the
    next point of its series (step semantics, ``streams.engine.emission``; ``run`` flushes, so a
    series ends at its domain's last boundary). Trust-scope (sitrep) points as emitted."""
    out: list[MetricPoint] = []
    by_series: dict[tuple[str, str | None], list[MetricPoint]] = {}
    for point in emitted(outputs, metric):
        by_series.setdefault((point.trust_code, point.site_code), []).append(point)
    for (_, site), points in by_series.items():
        points.sort(key=lambda p: p.evaluated_at)
        if site is None:
            out.extend(points)
            continue
        for point, following in zip(points, [*points[1:], None], strict=True):
            out.append(point)
            if following is None:
                continue
            when = point.evaluated_at + timedelta(hours=1)
            while when < following.evaluated_at:
                out.append(msgspec.structs.replace(point, evaluated_at=when))
                when += timedelta(hours=1)
    return sorted(out, key=lambda p: p.evaluated_at)


def value_at(outputs: Iterable[Output], metric: str, at: datetime) -> float | None:
    """The value ``metric`` holds at the boundary ``at``: its latest point at or before it (a point
    holds until the next one of its series), None before its first point."""
    held = values_at(outputs, at)
    return held.get(metric)


def values_at(outputs: Iterable[Output], at: datetime) -> dict[str, float]:
    """Every metric's held value at the boundary ``at`` (see ``value_at``)."""
    latest: dict[str, MetricPoint] = {}
    for o in outputs:
        if isinstance(o, MetricPoint) and o.evaluated_at <= at:
            seen = latest.get(o.metric)
            if seen is None or o.evaluated_at >= seen.evaluated_at:
                latest[o.metric] = o
    return {metric: point.value for metric, point in latest.items()}
