"""SQLAlchemy Core descriptions of the opportunity database, as the writer and readers see it.

The schema itself is created by the Alembic migrations in ``sinks/migrations/versions`` (which are
frozen copies, as migrations must be); these ``Table`` objects only build statements and decode
rows. Keep the two in step: ``tests/unit/sinks/test_sinks_migrations.py`` compares them.

Column names are the field names of :mod:`models.outputs` (the spec's column names), plus:

- ``scope``: the site code, or the trust code at trust scope (:func:`models.outputs.scope_key`).
  ``site_code`` is NULL at trust scope and NULLs never collide in a unique key, so the keys use
  ``scope`` instead; it works the same on SQLite, which lacks ``NULLS NOT DISTINCT``.
- ``updated_at`` / ``recorded_at``: wall-clock time of the write, for operators (not event time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import DateTime, TypeDecorator

STATUSES: tuple[str, ...] = ("emerging", "active", "resolved")
OPEN_STATUSES: tuple[str, ...] = ("emerging", "active")
VIEW_NAMES: tuple[str, ...] = (
    "open_opportunities",
    "trust_summary",
    "national_summary",
    "opportunity_history",
    "scope_data_quality",
)
#: The views of the revision before head (r0003), what "downgrade one step" leaves.
VIEW_NAMES_BEFORE_HEAD: tuple[str, ...] = VIEW_NAMES[:4]
TABLE_NAMES: tuple[str, ...] = ("opportunities", "opportunity_transitions", "scope_metrics")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC and always aware in Python.

    Postgres stores ``timestamptz``; SQLite has no time zones and SQLAlchemy would silently drop
    the offset, so there it is stored as naive UTC text (which also sorts correctly, which the
    "newer snapshot wins" comparison relies on). Naive inputs are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite expressions (e.g. in views) come back untyped
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSONB on Postgres (indexable, compact), JSON text elsewhere.
EvidenceJSON = JSON().with_variant(JSONB(), "postgresql")
#: BIGSERIAL on Postgres; SQLite only autoincrements a column declared exactly INTEGER.
TransitionId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

opportunities = Table(
    "opportunities",
    metadata,
    Column("scope", String(8), primary_key=True),
    Column("kind", String(100), primary_key=True),
    Column("episode", Integer, primary_key=True),
    Column("trust_code", String(8), nullable=False),
    Column("site_code", String(8)),
    Column("domain", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", Float, nullable=False),
    Column("first_emerging_at", UtcDateTime),
    Column("first_active_at", UtcDateTime),
    Column("resolved_at", UtcDateTime),
    Column("last_evaluated_at", UtcDateTime, nullable=False),
    Column("metric", String(100), nullable=False),
    Column("observed", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("baseline", Float),
    Column("weekly_bed_days", Float, nullable=False),
    Column("weekly_staff_hours", Float, nullable=False),
    Column("weekly_gbp", Float, nullable=False),
    Column("intervention", Text, nullable=False),
    Column("evidence", EvidenceJSON, nullable=False),
    Column("catalogue_version", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False, server_default=func.now()),
    Index("ix_opportunities_trust_kind", "trust_code", "kind"),
    Index("ix_opportunities_kind_status", "kind", "status"),
)

opportunity_transitions = Table(
    "opportunity_transitions",
    metadata,
    Column("id", TransitionId, primary_key=True, autoincrement=True),
    Column("scope", String(8), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("episode", Integer, nullable=False),
    Column("trust_code", String(8), nullable=False),
    Column("site_code", String(8)),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("observed", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False, server_default=func.now()),
    UniqueConstraint(
        "scope", "kind", "episode", "to_status", "at", name="uq_opportunity_transitions_event"
    ),
    ForeignKeyConstraint(
        ["scope", "kind", "episode"],
        ["opportunities.scope", "opportunities.kind", "opportunities.episode"],
        name="fk_opportunity_transitions_opportunity",
        ondelete="CASCADE",
    ),
    Index("ix_opportunity_transitions_at", "at"),
    Index("ix_opportunity_transitions_trust_at", "trust_code", "at"),
)

scope_metrics = Table(
    "scope_metrics",
    metadata,
    Column("scope", String(8), primary_key=True),
    Column("metric", String(100), primary_key=True),
    Column("evaluated_at", UtcDateTime, primary_key=True),
    Column("trust_code", String(8), nullable=False),
    Column("site_code", String(8)),
    Column("value", Float, nullable=False),
    Column("sample_size", Integer, nullable=False),
    Index("ix_scope_metrics_trust_metric_time", "trust_code", "metric", "evaluated_at"),
    Index("ix_scope_metrics_metric_time", "metric", "evaluated_at"),
)

#: The view the demo and ``top_opportunities`` read; described here only so results are decoded
#: with the right types (SQLite returns view columns untyped). Not part of ``metadata``.
views_metadata = MetaData()

open_opportunities_view = Table(
    "open_opportunities",
    views_metadata,
    Column("trust_code", String(8)),
    Column("site_code", String(8)),
    Column("scope", String(8)),
    Column("kind", String(100)),
    Column("episode", Integer),
    Column("domain", String(16)),
    Column("status", String(16)),
    Column("severity", Float),
    Column("weekly_bed_days", Float),
    Column("weekly_staff_hours", Float),
    Column("weekly_gbp", Float),
    Column("since", UtcDateTime),
    Column("last_evaluated_at", UtcDateTime),
    Column("intervention", Text),
    Column("metric", String(100)),
    Column("observed", Float),
    Column("threshold", Float),
    Column("baseline", Float),
    Column("evidence", EvidenceJSON),
    Column("catalogue_version", Text),
    Column("data_quality", Text),
    Column("data_behind_days", Float),
    Column("stale", Boolean),
)
