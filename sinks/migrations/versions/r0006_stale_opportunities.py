"""Stale episodes: ``open_opportunities.data_behind_days`` and ``stale``; the summaries count
current episodes only.

Revision ID: r0006
Revises: r0005
Create Date: 2026-12-03

The engine keeps time per scope, in event time: a scope whose feed stops (a trust merged into
another, a PAS switched off, a sitrep no longer submitted) is never evaluated again, and its
open episodes stay ``active`` with the last data they saw. A year of published sitreps left
RVY's ``capacity_forecasting`` (last bed month July 2023, merged into RBN) active in March 2024.

An open episode is re-sent at least once a day of event time while its scope is evaluated
(``snapshot_every_hours``; a sitrep scope's at each report it is evaluated on), so how far its
``last_evaluated_at`` is behind the newest evaluation of any episode of the same kind and scope
type (site, or trust-level sitrep) is how far its data is behind the rest of the country's. Of
the same kind, because kinds read sources of different cadence and end: the delay-reason
publication (monthly, ending May 2025 in the shared data) is not behind its own kinds' newest
when the daily sitreps run on to August.

- ``data_behind_days``: that difference, in days (0 for the newest);
- ``stale``: behind by more than 3 days at a site (a live one is at most a day behind), more
  than 45 days at a trust-level sitrep scope (a monthly report one month late is 31 days
  behind the trusts that sent theirs).

``trust_summary`` and ``national_summary`` count open episodes that are not stale: a count of
trusts "with the opportunity now" must not include trusts that stopped reporting. Comparing
with the newest data, not the wall clock, gives a replay of history the same answer as live.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "r0006"
down_revision: str | Sequence[str] | None = "r0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = "opsradar_writer, opsradar_analyst"
_OPEN = "('emerging', 'active')"
#: days an open episode's data may be behind the newest of its domain and scope type
SITE_STALE_DAYS = 3
SITREP_STALE_DAYS = 45


def _days_between(later: str, earlier: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS DOUBLE PRECISION) / 86400.0"
    return f"(julianday({later}) - julianday({earlier}))"


def _current_opportunities() -> str:
    """Every opportunity with its ``data_behind_days`` and ``stale`` (a CTE body)."""
    behind = _days_between("n.newest", "o.last_evaluated_at")
    limit = f"CASE WHEN o.site_code IS NULL THEN {SITREP_STALE_DAYS} ELSE {SITE_STALE_DAYS} END"
    return f"""
    SELECT o.*, {behind} AS data_behind_days, ({behind} > {limit}) AS stale
    FROM opportunities AS o
    JOIN (
        SELECT kind, (site_code IS NULL) AS trust_level, MAX(last_evaluated_at) AS newest
        FROM opportunities
        GROUP BY kind, (site_code IS NULL)
    ) AS n ON n.kind = o.kind AND n.trust_level = (o.site_code IS NULL)
    """


def _open_opportunities() -> str:
    return f"""
CREATE VIEW open_opportunities AS
WITH dated AS ({_current_opportunities()})
SELECT o.trust_code, o.site_code, o.scope, o.kind, o.episode, o.domain, o.status, o.severity,
       o.weekly_bed_days, o.weekly_staff_hours, o.weekly_gbp,
       COALESCE(o.first_emerging_at, o.first_active_at, o.last_evaluated_at) AS since,
       o.last_evaluated_at, o.intervention, o.metric, o.observed, o.threshold, o.baseline,
       o.evidence, o.catalogue_version, q.data_quality, o.data_behind_days, o.stale
FROM dated AS o
LEFT JOIN scope_data_quality AS q ON q.scope = o.scope AND q.domain = o.domain
WHERE o.status IN {_OPEN}
"""


def _trust_summary(source: str, where: str) -> str:
    return f"""
CREATE VIEW trust_summary AS
{source}
SELECT trust_code, kind, MIN(domain) AS domain,
       SUM(CASE WHEN status = 'emerging' THEN 1 ELSE 0 END) AS emerging,
       SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) AS active,
       COUNT(DISTINCT scope) AS scopes,
       MAX(severity) AS max_severity,
       SUM(weekly_bed_days) AS weekly_bed_days,
       SUM(weekly_staff_hours) AS weekly_staff_hours,
       SUM(weekly_gbp) AS weekly_gbp,
       MAX(last_evaluated_at) AS last_evaluated_at
FROM {where}
GROUP BY trust_code, kind
"""


def _suppressed(count: str) -> str:
    # r0002's rule (a frozen copy: migrations never import each other)
    return (
        f"CASE WHEN {count} = 0 THEN 0 WHEN {count} <= 7 THEN NULL "
        f"ELSE CAST(ROUND({count} / 5.0) * 5 AS INTEGER) END"
    )


def _national_summary(source: str, table: str, counted: str) -> str:
    return f"""
CREATE VIEW national_summary AS
{source}
, per_kind AS (
    SELECT kind, MIN(domain) AS domain,
           COUNT(DISTINCT CASE WHEN {counted} THEN trust_code END) AS trusts,
           COUNT(DISTINCT CASE WHEN {counted} THEN site_code END) AS sites,
           SUM(CASE WHEN {counted} AND status = 'emerging' THEN 1 ELSE 0 END) AS emerging,
           SUM(CASE WHEN {counted} AND status = 'active' THEN 1 ELSE 0 END) AS active,
           SUM(CASE WHEN {counted} THEN weekly_bed_days ELSE 0 END) AS weekly_bed_days,
           SUM(CASE WHEN {counted} THEN weekly_staff_hours ELSE 0 END) AS weekly_staff_hours,
           SUM(CASE WHEN {counted} THEN weekly_gbp ELSE 0 END) AS weekly_gbp
    FROM {table}
    GROUP BY kind
)
SELECT kind, domain,
       {_suppressed("trusts")} AS trusts,
       {_suppressed("sites")} AS sites,
       {_suppressed("emerging")} AS emerging,
       {_suppressed("active")} AS active,
       CASE WHEN trusts BETWEEN 1 AND 7 THEN NULL ELSE weekly_bed_days END AS weekly_bed_days,
       CASE WHEN trusts BETWEEN 1 AND 7 THEN NULL ELSE weekly_staff_hours END
           AS weekly_staff_hours,
       CASE WHEN trusts BETWEEN 1 AND 7 THEN NULL ELSE weekly_gbp END AS weekly_gbp
FROM per_kind
"""


def _views(*, current_only: bool) -> list[str]:
    if current_only:
        dated = f"WITH dated AS ({_current_opportunities()})"
        current = f"dated WHERE status IN {_OPEN} AND NOT stale"
        counted = f"status IN {_OPEN} AND NOT stale"
        return [
            _open_opportunities(),
            _trust_summary(dated, current),
            _national_summary(dated, "dated", counted),
        ]
    # r0004's open_opportunities and r0002's summaries, restored by the downgrade
    return [
        f"""
CREATE VIEW open_opportunities AS
SELECT o.trust_code, o.site_code, o.scope, o.kind, o.episode, o.domain, o.status, o.severity,
       o.weekly_bed_days, o.weekly_staff_hours, o.weekly_gbp,
       COALESCE(o.first_emerging_at, o.first_active_at, o.last_evaluated_at) AS since,
       o.last_evaluated_at, o.intervention, o.metric, o.observed, o.threshold, o.baseline,
       o.evidence, o.catalogue_version, q.data_quality
FROM opportunities AS o
LEFT JOIN scope_data_quality AS q ON q.scope = o.scope AND q.domain = o.domain
WHERE o.status IN {_OPEN}
""",
        _trust_summary("", f"opportunities WHERE status IN {_OPEN}"),
        _national_summary(
            "WITH everything AS (SELECT * FROM opportunities)", "everything", f"status IN {_OPEN}"
        ),
    ]


def _replace_views(*, current_only: bool) -> None:
    for view in ("national_summary", "trust_summary", "open_opportunities"):
        op.execute(f"DROP VIEW {view}")
    for statement in _views(current_only=current_only):
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"GRANT SELECT ON open_opportunities, trust_summary, national_summary TO {_ROLES}"
        )


def upgrade() -> None:
    _replace_views(current_only=True)


def downgrade() -> None:
    _replace_views(current_only=False)
