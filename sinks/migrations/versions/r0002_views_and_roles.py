"""Views for analysts (open_opportunities, trust_summary, national_summary) and the two roles.

Revision ID: r0002
Revises: r0001
Create Date: 2025-01-01

Views (Postgres and SQLite, the same SQL):

- ``open_opportunities``: episodes whose status is emerging or active, with everything an analyst
  needs without joins; ``since`` is when the episode opened (first emerging, else first active).
- ``trust_summary``: per trust and kind, the open episodes by status, the number of scopes
  (sites, or the trust itself) affected, summed weekly impacts, highest severity.
- ``national_summary``: per kind (every kind that has ever had an episode), the number of trusts
  and of sites with an open episode and the open episodes by status, with NHS small-number
  suppression so the view can be shared beyond the trust (NHS Digital's HES/ECDS disclosure
  control, ``shared/research/nhs-operations.md`` §3):

  * a count of 1–7 is shown as NULL; any other count is rounded to the nearest 5 (8 → 10,
    12 → 10, 13 → 15); 0 stays 0, because "no trust has this" discloses no individual and the
    catalogue of kinds is public (the NHS text does not state the rule for zeros: confirm with
    the DPO before publishing);
  * NHS Digital exempts counts of providers from rounding; the spec applies it to the trust and
    site counts anyway, which is stricter;
  * secondary suppression: the summed weekly impacts are NULL whenever the trust count is 1–7,
    since a sum over a handful of trusts would give away each one's figure.

Roles (Postgres only; roles belong to the whole cluster, so they are created only if missing,
and never dropped by a downgrade because other databases of the cluster may use them):

- ``opsradar_writer`` (LOGIN): the workers. SELECT/INSERT/UPDATE on the three tables, SELECT on
  the views; no DELETE and no DDL (it owns nothing and gets no CREATE).
- ``opsradar_analyst`` (LOGIN): SELECT on the three views and nothing else. A Postgres view runs
  with its owner's rights, so reading a view needs no grant on the tables beneath it.

Their passwords here (``opsradar_writer``/``opsradar_analyst``) are defaults for the local stack
only: a deployment creates the roles with its own passwords before migrating (this revision then
leaves them alone) or changes them with ``ALTER ROLE ... PASSWORD``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "r0002"
down_revision: str | Sequence[str] | None = "r0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRITER = "opsradar_writer"
ANALYST = "opsradar_analyst"
_LOCAL_PASSWORDS = {WRITER: "opsradar_writer", ANALYST: "opsradar_analyst"}
_TABLES = "opportunities, opportunity_transitions, scope_metrics"
_VIEWS = "open_opportunities, trust_summary, national_summary"
_OPEN = "('emerging', 'active')"


def _suppressed(count: str) -> str:
    """SQL for a count with NHS small-number suppression: 0 → 0, 1–7 → NULL, else nearest 5.

    ``/ 5.0`` keeps the division exact (numeric on Postgres, real on SQLite); a whole count never
    lands on a half, so ROUND's tie rule never matters.
    """
    return (
        f"CASE WHEN {count} = 0 THEN 0 WHEN {count} <= 7 THEN NULL "
        f"ELSE CAST(ROUND({count} / 5.0) * 5 AS INTEGER) END"
    )


OPEN_OPPORTUNITIES = f"""
CREATE VIEW open_opportunities AS
SELECT trust_code, site_code, scope, kind, episode, domain, status, severity,
       weekly_bed_days, weekly_staff_hours, weekly_gbp,
       COALESCE(first_emerging_at, first_active_at, last_evaluated_at) AS since,
       last_evaluated_at, intervention, metric, observed, threshold, baseline,
       evidence, catalogue_version
FROM opportunities
WHERE status IN {_OPEN}
"""

TRUST_SUMMARY = f"""
CREATE VIEW trust_summary AS
SELECT trust_code, kind, MIN(domain) AS domain,
       SUM(CASE WHEN status = 'emerging' THEN 1 ELSE 0 END) AS emerging,
       SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) AS active,
       COUNT(DISTINCT scope) AS scopes,
       MAX(severity) AS max_severity,
       SUM(weekly_bed_days) AS weekly_bed_days,
       SUM(weekly_staff_hours) AS weekly_staff_hours,
       SUM(weekly_gbp) AS weekly_gbp,
       MAX(last_evaluated_at) AS last_evaluated_at
FROM opportunities
WHERE status IN {_OPEN}
GROUP BY trust_code, kind
"""

NATIONAL_SUMMARY = f"""
CREATE VIEW national_summary AS
WITH per_kind AS (
    SELECT kind, MIN(domain) AS domain,
           COUNT(DISTINCT CASE WHEN status IN {_OPEN} THEN trust_code END) AS trusts,
           COUNT(DISTINCT CASE WHEN status IN {_OPEN} THEN site_code END) AS sites,
           SUM(CASE WHEN status = 'emerging' THEN 1 ELSE 0 END) AS emerging,
           SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) AS active,
           SUM(CASE WHEN status IN {_OPEN} THEN weekly_bed_days ELSE 0 END) AS weekly_bed_days,
           SUM(CASE WHEN status IN {_OPEN} THEN weekly_staff_hours ELSE 0 END)
               AS weekly_staff_hours,
           SUM(CASE WHEN status IN {_OPEN} THEN weekly_gbp ELSE 0 END) AS weekly_gbp
    FROM opportunities
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


def _create_role_sql(role: str) -> str:
    # IF NOT EXISTS keeps a deployment's own password; the handler covers two migrations of
    # different databases racing to create the same cluster-wide role
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
        BEGIN
            CREATE ROLE {role} LOGIN PASSWORD '{_LOCAL_PASSWORDS[role]}';
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$
"""


def _grant_connect_sql(roles: str) -> str:
    return f"""
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO {roles}', current_database());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO {roles}', current_schema());
    EXECUTE format(
        'GRANT USAGE ON SEQUENCE %s TO {WRITER}',
        pg_get_serial_sequence('opportunity_transitions', 'id')
    );
END
$$
"""


def _revoke_sql() -> str:
    return f"""
DO $$
BEGIN
    EXECUTE format(
        'REVOKE ALL ON SEQUENCE %s FROM {WRITER}',
        pg_get_serial_sequence('opportunity_transitions', 'id')
    );
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {WRITER}, {ANALYST}', current_schema());
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM {WRITER}, {ANALYST}', current_database());
END
$$
"""


def upgrade() -> None:
    op.execute(OPEN_OPPORTUNITIES)
    op.execute(TRUST_SUMMARY)
    op.execute(NATIONAL_SUMMARY)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_create_role_sql(WRITER))
    op.execute(_create_role_sql(ANALYST))
    op.execute(_grant_connect_sql(f"{WRITER}, {ANALYST}"))
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {_TABLES} TO {WRITER}")
    op.execute(f"GRANT SELECT ON {_VIEWS} TO {WRITER}, {ANALYST}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE ALL ON {_TABLES} FROM {WRITER}")
        op.execute(_revoke_sql())
    op.execute("DROP VIEW national_summary")
    op.execute("DROP VIEW trust_summary")
    op.execute("DROP VIEW open_opportunities")
