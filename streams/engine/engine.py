"""``Engine``: many scopes, one event stream — what ``opsradar analyse`` runs (the Faust worker
holds the same ``ScopeState`` objects in its table instead)."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.catalogue import Catalogue
from models.events import Event
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
        self.scopes: dict[tuple[str, str | None], ScopeState] = {}

    def scope(self, trust_code: str, site_code: str | None) -> ScopeState:
        key = (trust_code, site_code)
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
        return self.scope(event.trust_code, event.site_code).apply(event)

    def flush(self, until: datetime | None = None) -> list[Output]:
        """End of input: each scope evaluates its remaining boundaries (``ScopeState.flush``)."""
        out: list[Output] = []
        for key in sorted(self.scopes, key=lambda k: (k[0], k[1] or "")):
            out.extend(self.scopes[key].flush(until))
        return out

    @property
    def counters(self) -> dict[str, int]:
        totals = {"accepted": 0, "duplicate": 0, "late": 0}
        for state in self.scopes.values():
            for name, value in state.counters.items():
                totals[name] += value
        return totals
