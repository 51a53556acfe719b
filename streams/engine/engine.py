"""``Engine``: many scopes, one event stream — what ``opsradar analyse`` runs (the Faust worker
holds the same ``ScopeState`` objects in its table instead).

A scope keeps one state per input topic. Each topic partition is an ordered stream, but a worker
reads a site's bed-flow, rostering and referral partitions independently, so their events
interleave in no fixed order; with one watermark per site, a rostering event could arrive
"late" behind a referral replay in the worker and on time in ``analyse``. Per-topic states make
both paths see exactly the same ordered input. Kinds belong to one domain, so nothing is lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.catalogue import Catalogue
from models.events import EVENT_TYPE_TOPIC, Event, event_type_of
from streams.engine.scope import DEFAULT_LATENESS, Output, ScopeState


class Engine:
    def __init__(
        self,
        catalogue: Catalogue,
        lateness: timedelta = DEFAULT_LATENESS,
        *,
        dedupe_horizon: timedelta | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.lateness = lateness
        self.dedupe_horizon = dedupe_horizon
        self.scopes: dict[tuple[str, str | None, str], ScopeState] = {}

    def scope(self, trust_code: str, site_code: str | None, topic: str) -> ScopeState:
        """The state of one scope's stream of one input topic."""
        key = (trust_code, site_code, topic)
        state = self.scopes.get(key)
        if state is None:
            state = self.scopes[key] = ScopeState.new(
                trust_code,
                site_code,
                self.catalogue.for_scope(trust_code, site_code),
                lateness=self.lateness,
                dedupe_horizon=self.dedupe_horizon,
            )
        return state

    def process(self, event: Event) -> list[Output]:
        topic = EVENT_TYPE_TOPIC[event_type_of(event)]
        return self.scope(event.trust_code, event.site_code, topic).apply(event)

    def flush(self, until: datetime | None = None) -> list[Output]:
        """End of input: each scope evaluates its remaining boundaries (``ScopeState.flush``)."""
        out: list[Output] = []
        for key in sorted(self.scopes, key=lambda k: (k[0], k[1] or "", k[2])):
            out.extend(self.scopes[key].flush(until))
        return out

    @property
    def counters(self) -> dict[str, int]:
        totals = dict.fromkeys(("accepted", "duplicate", "late", "after_close"), 0)
        for state in self.scopes.values():
            for name, value in state.counters.items():
                totals[name] = totals.get(name, 0) + value
        return totals
