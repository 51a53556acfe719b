"""``opportunity_history``: the status changes of every episode, readable by analysts.

Revision ID: r0003
Revises: r0002
Create Date: 2026-11-27

Dashboards trend opportunities opened and resolved over time; the analyst role reads views
only, so the append-only transitions table is exposed through this view rather than granted.
It carries codes and event times only, nothing about individuals.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "r0003"
down_revision: str | Sequence[str] | None = "r0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = "opsradar_writer, opsradar_analyst"


def upgrade() -> None:
    op.execute(
        """
        CREATE VIEW opportunity_history AS
        SELECT t.trust_code, t.site_code, t.scope, t.kind, o.domain, t.episode,
               t.from_status, t.to_status, t.at, t.observed, t.threshold
        FROM opportunity_transitions AS t
        JOIN opportunities AS o
          ON o.scope = t.scope AND o.kind = t.kind AND o.episode = t.episode
        """
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT ON opportunity_history TO {_ROLES}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS opportunity_history")
