"""Helpers shared by the engine tests: run a stream, pick outputs apart."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

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


def series(outputs: Iterable[Output], metric: str) -> list[MetricPoint]:
    return [o for o in outputs if isinstance(o, MetricPoint) and o.metric == metric]


def value_at(outputs: Iterable[Output], metric: str, at: datetime) -> float | None:
    for point in series(outputs, metric):
        if point.evaluated_at == at:
            return point.value
    return None
