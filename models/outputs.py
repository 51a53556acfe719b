"""What the engine emits and the sinks write: metric points, opportunity episodes, transitions.

These are the records on ``opsradar.metrics.v1`` and ``opsradar.opportunities.v1``; their field
names are the Postgres column names of ``OPPORTUNITIES.md`` ("Outputs").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

import msgspec

METRICS_TOPIC: Final = "opsradar.metrics.v1"
OPPORTUNITIES_TOPIC: Final = "opsradar.opportunities.v1"
DEADLETTER_TOPIC: Final = "opsradar.deadletter.v1"

Status = Literal["emerging", "active", "resolved"]
Domain = Literal["bed_flow", "rostering", "referrals", "ed"]


#: Days an open episode's last evaluation may be behind the newest of its kind and scope type
#: before it is stale (its scope stopped reporting): a site's open episodes are re-sent daily; a
#: trust's sitrep scope may be a monthly report (31 days) behind. The analyst views apply the
#: same rule in SQL (migration r0006, which keeps its own frozen copy).
SITE_STALE_DAYS: Final = 3
SITREP_STALE_DAYS: Final = 45


def data_behind_days(
    episodes: list[Opportunity],
) -> list[float]:
    """For each episode, how many days its ``last_evaluated_at`` is behind the newest of the
    episodes of its kind and scope type (site, or trust-level sitrep) in ``episodes``."""
    newest: dict[tuple[str, bool], datetime] = {}
    for episode in episodes:
        key = (episode.kind, episode.site_code is None)
        if key not in newest or episode.last_evaluated_at > newest[key]:
            newest[key] = episode.last_evaluated_at
    return [
        (newest[(e.kind, e.site_code is None)] - e.last_evaluated_at).total_seconds() / 86400
        for e in episodes
    ]


def is_stale(episode: Opportunity, behind_days: float) -> bool:
    """An open episode whose data is further behind than its scope type allows."""
    limit = SITREP_STALE_DAYS if episode.site_code is None else SITE_STALE_DAYS
    return episode.status != "resolved" and behind_days > limit


def scope_key(trust_code: str, site_code: str | None) -> str:
    """The key of a scope: the site code, or the trust code when the scope is a whole trust."""
    return site_code or trust_code


class MetricPoint(msgspec.Struct, kw_only=True, frozen=True):
    """One metric of one scope, evaluated at an event-time boundary."""

    trust_code: str
    site_code: str | None
    metric: str
    evaluated_at: datetime
    value: float
    sample_size: int


class Opportunity(msgspec.Struct, kw_only=True, frozen=True):
    """The current state of one episode of one (scope, kind); a later snapshot supersedes it."""

    trust_code: str
    site_code: str | None
    kind: str
    episode: int
    domain: Domain
    status: Status
    severity: float
    first_emerging_at: datetime | None
    first_active_at: datetime | None
    resolved_at: datetime | None
    last_evaluated_at: datetime
    metric: str
    observed: float
    threshold: float
    baseline: float | None
    weekly_bed_days: float
    weekly_staff_hours: float
    weekly_gbp: float
    intervention: str
    evidence: dict[str, Any]
    catalogue_version: str


class Transition(msgspec.Struct, kw_only=True, frozen=True):
    """One status change of an episode (append-only history)."""

    trust_code: str
    site_code: str | None
    kind: str
    episode: int
    from_status: Status | None
    to_status: Status
    at: datetime
    observed: float
    threshold: float


class OpportunityUpdate(msgspec.Struct, kw_only=True, frozen=True):
    """A record on ``opsradar.opportunities.v1``: an episode snapshot and its transition, if any."""

    opportunity: Opportunity
    transition: Transition | None = None
