"""The urgent and emergency care domain: ``opportunities.domain`` may be ``ed``.

Revision ID: r0005
Revises: r0004
Create Date: 2026-12-01

Opportunities of the ED kinds (``ambulance_handover_automation``, ``ed_demand_forecasting``,
``ed_bed_allocation``) carry ``domain = 'ed'``; the check constraint of r0001 listed the three
domains of the time. SQLite cannot alter a constraint, so there the table is rebuilt (batch
mode) with the legacy rename, which does not re-check the views that read the table by name
(they are valid again once the rebuilt table has the name).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "r0005"
down_revision: str | Sequence[str] | None = "r0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ck_opportunities_domain"
_BEFORE = "domain IN ('bed_flow', 'rostering', 'referrals')"
_AFTER = "domain IN ('bed_flow', 'rostering', 'referrals', 'ed')"


def _replace(condition: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(_NAME, "opportunities", type_="check")
        op.create_check_constraint(_NAME, "opportunities", condition)
        return
    op.execute("PRAGMA legacy_alter_table = ON")
    with op.batch_alter_table("opportunities", recreate="always") as batch:
        batch.drop_constraint(_NAME, type_="check")
        batch.create_check_constraint(_NAME, condition)
    op.execute("PRAGMA legacy_alter_table = OFF")


def upgrade() -> None:
    _replace(_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM opportunities WHERE domain = 'ed'")
    _replace(_BEFORE)
