"""Data quality for analysts: ``scope_data_quality`` and a ``data_quality`` column on
``open_opportunities``.

Revision ID: r0004
Revises: r0003
Create Date: 2026-12-01

The engine emits each scope's data-quality state per domain as the metric
``data_quality_<domain>`` (0 warming_up, 1 ok, 2 gap, 3 recovering: ``streams/engine/quality.py``).
``scope_data_quality`` is its latest value per scope and domain, as a word; ``open_opportunities``
carries the state of the opportunity's own scope and domain, so an analyst sees at once that an
episode stands on a feed that is warming up, in a gap or recovering (NULL: not measured, e.g. a
trust-scope sitrep opportunity). Both are views, readable by the analyst role.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "r0004"
down_revision: str | Sequence[str] | None = "r0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = "opsradar_writer, opsradar_analyst"
_OPEN = "('emerging', 'active')"
_PREFIX = "data_quality_"

SCOPE_DATA_QUALITY = f"""
CREATE VIEW scope_data_quality AS
SELECT m.trust_code, m.site_code, m.scope,
       SUBSTR(m.metric, {len(_PREFIX) + 1}) AS domain,
       CASE CAST(m.value AS INTEGER)
           WHEN 0 THEN 'warming_up' WHEN 1 THEN 'ok' WHEN 2 THEN 'gap' WHEN 3 THEN 'recovering'
       END AS data_quality,
       m.evaluated_at
FROM scope_metrics AS m
JOIN (
    SELECT scope, metric, MAX(evaluated_at) AS evaluated_at
    FROM scope_metrics
    WHERE metric LIKE '{_PREFIX}%'
    GROUP BY scope, metric
) AS latest
  ON latest.scope = m.scope AND latest.metric = m.metric AND latest.evaluated_at = m.evaluated_at
"""

OPEN_OPPORTUNITIES = f"""
CREATE VIEW open_opportunities AS
SELECT o.trust_code, o.site_code, o.scope, o.kind, o.episode, o.domain, o.status, o.severity,
       o.weekly_bed_days, o.weekly_staff_hours, o.weekly_gbp,
       COALESCE(o.first_emerging_at, o.first_active_at, o.last_evaluated_at) AS since,
       o.last_evaluated_at, o.intervention, o.metric, o.observed, o.threshold, o.baseline,
       o.evidence, o.catalogue_version, q.data_quality
FROM opportunities AS o
LEFT JOIN scope_data_quality AS q ON q.scope = o.scope AND q.domain = o.domain
WHERE o.status IN {_OPEN}
"""

# r0002's definition, restored by the downgrade (a frozen copy: migrations never change)
_R0002_OPEN_OPPORTUNITIES = f"""
CREATE VIEW open_opportunities AS
SELECT trust_code, site_code, scope, kind, episode, domain, status, severity,
       weekly_bed_days, weekly_staff_hours, weekly_gbp,
       COALESCE(first_emerging_at, first_active_at, last_evaluated_at) AS since,
       last_evaluated_at, intervention, metric, observed, threshold, baseline,
       evidence, catalogue_version
FROM opportunities
WHERE status IN {_OPEN}
"""


def _grant(views: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT ON {views} TO {_ROLES}")


def upgrade() -> None:
    op.execute(SCOPE_DATA_QUALITY)
    op.execute("DROP VIEW open_opportunities")
    op.execute(OPEN_OPPORTUNITIES)
    _grant("scope_data_quality, open_opportunities")


def downgrade() -> None:
    op.execute("DROP VIEW open_opportunities")
    op.execute(_R0002_OPEN_OPPORTUNITIES)
    op.execute("DROP VIEW scope_data_quality")
    _grant("open_opportunities")
