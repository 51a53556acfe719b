"""Tables: opportunities, opportunity_transitions, scope_metrics.

Revision ID: r0001
Revises:
Create Date: 2025-01-01

A frozen copy of the tables as they were at this revision (migrations never import the live
``sinks.tables``, which will move on). Portable: the same DDL runs on Postgres and SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "r0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "('emerging', 'active', 'resolved')"
_DOMAINS = "('bed_flow', 'rostering', 'referrals')"


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "opportunities",
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("episode", sa.Integer, nullable=False),
        sa.Column("trust_code", sa.String(8), nullable=False),
        sa.Column("site_code", sa.String(8)),
        sa.Column("domain", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.Float, nullable=False),
        sa.Column("first_emerging_at", _utc()),
        sa.Column("first_active_at", _utc()),
        sa.Column("resolved_at", _utc()),
        sa.Column("last_evaluated_at", _utc(), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("observed", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("baseline", sa.Float),
        sa.Column("weekly_bed_days", sa.Float, nullable=False),
        sa.Column("weekly_staff_hours", sa.Float, nullable=False),
        sa.Column("weekly_gbp", sa.Float, nullable=False),
        sa.Column("intervention", sa.Text, nullable=False),
        sa.Column(
            "evidence", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("catalogue_version", sa.Text, nullable=False),
        sa.Column("updated_at", _utc(), nullable=False, server_default=sa.func.now()),
        # site_code is NULL at trust scope and NULLs never collide in a key: key on scope instead
        sa.PrimaryKeyConstraint("scope", "kind", "episode", name="pk_opportunities"),
        sa.CheckConstraint(
            "scope = COALESCE(site_code, trust_code)", name="ck_opportunities_scope"
        ),
        sa.CheckConstraint(f"status IN {_STATUSES}", name="ck_opportunities_status"),
        sa.CheckConstraint(f"domain IN {_DOMAINS}", name="ck_opportunities_domain"),
        sa.CheckConstraint("severity >= 0 AND severity <= 1", name="ck_opportunities_severity"),
        sa.CheckConstraint("episode >= 0", name="ck_opportunities_episode"),
        sa.CheckConstraint(
            "weekly_bed_days >= 0 AND weekly_staff_hours >= 0 AND weekly_gbp >= 0",
            name="ck_opportunities_impacts",
        ),
    )
    # the views and dashboards filter by trust, kind and status; the table stays small
    # (scopes x kinds x episodes), so plain composite indexes are enough
    op.create_index("ix_opportunities_trust_kind", "opportunities", ["trust_code", "kind"])
    op.create_index("ix_opportunities_kind_status", "opportunities", ["kind", "status"])

    op.create_table(
        "opportunity_transitions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("episode", sa.Integer, nullable=False),
        sa.Column("trust_code", sa.String(8), nullable=False),
        sa.Column("site_code", sa.String(8)),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("observed", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_opportunity_transitions"),
        # append-only and idempotent: a redelivered transition hits this key and adds nothing
        sa.UniqueConstraint(
            "scope", "kind", "episode", "to_status", "at", name="uq_opportunity_transitions_event"
        ),
        # the writer upserts the episode before its transition, in one transaction
        sa.ForeignKeyConstraint(
            ["scope", "kind", "episode"],
            ["opportunities.scope", "opportunities.kind", "opportunities.episode"],
            name="fk_opportunity_transitions_opportunity",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "scope = COALESCE(site_code, trust_code)", name="ck_opportunity_transitions_scope"
        ),
        sa.CheckConstraint(
            f"to_status IN {_STATUSES}", name="ck_opportunity_transitions_to_status"
        ),
        sa.CheckConstraint(
            f"from_status IS NULL OR from_status IN {_STATUSES}",
            name="ck_opportunity_transitions_from_status",
        ),
    )
    op.create_index("ix_opportunity_transitions_at", "opportunity_transitions", ["at"])
    op.create_index(
        "ix_opportunity_transitions_trust_at", "opportunity_transitions", ["trust_code", "at"]
    )

    op.create_table(
        "scope_metrics",
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("evaluated_at", _utc(), nullable=False),
        sa.Column("trust_code", sa.String(8), nullable=False),
        sa.Column("site_code", sa.String(8)),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("sample_size", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("scope", "metric", "evaluated_at", name="pk_scope_metrics"),
        sa.CheckConstraint(
            "scope = COALESCE(site_code, trust_code)", name="ck_scope_metrics_scope"
        ),
        sa.CheckConstraint("sample_size >= 0", name="ck_scope_metrics_sample_size"),
    )
    # the primary key serves per-scope series; these serve per-trust and national time series
    op.create_index(
        "ix_scope_metrics_trust_metric_time",
        "scope_metrics",
        ["trust_code", "metric", "evaluated_at"],
    )
    op.create_index("ix_scope_metrics_metric_time", "scope_metrics", ["metric", "evaluated_at"])


def downgrade() -> None:
    op.drop_table("scope_metrics")
    op.drop_table("opportunity_transitions")
    op.drop_table("opportunities")
