"""The Postgres (or SQLite) writer: idempotent, batched upserts of what the engine emits.

Delivery from Kafka is at-least-once, so every write here is an upsert of **absolute** values keyed
by what identifies the record, and replaying a batch changes nothing:

- ``scope_metrics``: keyed by (scope, metric, evaluated_at); a redelivered point overwrites itself.
- ``opportunities``: keyed by (scope, kind, episode); the snapshot with the later
  ``last_evaluated_at`` wins, so an older snapshot redelivered after a newer one is ignored (a tie
  is overwritten: the engine is deterministic, so a tied redelivery is identical, and a re-run
  with changed settings should replace what it computed before).
- ``opportunity_transitions``: append-only, ``ON CONFLICT DO NOTHING`` on
  (scope, kind, episode, to_status, at).

Each batch is one executemany per table (``conn.execute(stmt, rows)``), in one transaction, after
collapsing repeated keys in Python (last wins): measured 4-6x faster than multi-VALUES statements,
which also fail when a batch holds a key twice (research §7). Metric points, two or three rows per
input event, go through :class:`_CompiledUpsert`: the statement is compiled once and each row is
bound as a plain tuple, because SQLAlchemy's per-row parameter building and type processing cost
more than SQLite's own insert (two thirds of ``analyse``'s writing time); on Postgres a batch of
them is one ``INSERT ... SELECT FROM unnest(arrays)`` (one statement, one round trip). The
same code runs on Postgres (``postgresql+asyncpg://``) and SQLite (``sqlite+aiosqlite:///path``):
only the dialect's ``insert`` differs. The schema must exist (``opsradar db upgrade`` /
:func:`sinks.schema.upgrade`).

:func:`write_until_done` retries a failed batch with capped exponential backoff (tenacity) until
it succeeds: the sink agents call it so that a database outage holds them at the batch instead
of skipping it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Table, bindparam, cast, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from tenacity import AsyncRetrying, RetryCallState, stop_never, wait_exponential_jitter

from models.outputs import MetricPoint, Opportunity, OpportunityUpdate, Transition, scope_key
from sinks.schema import async_url
from sinks.tables import (
    open_opportunities_view,
    opportunities,
    opportunity_transitions,
    scope_metrics,
)

log = logging.getLogger(__name__)

_OPPORTUNITY_KEY = ("scope", "kind", "episode")
_TRANSITION_KEY = ("scope", "kind", "episode", "to_status", "at")
_METRIC_KEY = ("scope", "metric", "evaluated_at")
_METRIC_COLUMNS = (*_METRIC_KEY, "trust_code", "site_code", "value", "sample_size")
#: SQLite's page cache per connection (KiB, as ``PRAGMA cache_size`` takes a negative number):
#: the default 2 MiB makes each metric upsert re-read index pages of ``scope_metrics``' three
#: B-trees; 64 MiB keeps them in memory (measured 1.4x faster on 275k rows)
_SQLITE_CACHE_KIB = 65_536


def _json_default(value: object) -> str:
    # evidence is engine output: datetimes and dates are the only non-JSON values it may hold
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"evidence value of type {type(value).__name__} is not JSON serialisable")


def _dumps(value: object) -> str:
    # allow_nan=False: Postgres JSONB rejects NaN, so fail here with a clear message instead
    return json.dumps(value, default=_json_default, allow_nan=False, separators=(",", ":"))


def opportunity_row(opportunity: Opportunity) -> dict[str, Any]:
    """The ``opportunities`` row of a snapshot (``updated_at`` is set by the database)."""
    return {
        "scope": scope_key(opportunity.trust_code, opportunity.site_code),
        "kind": opportunity.kind,
        "episode": opportunity.episode,
        "trust_code": opportunity.trust_code,
        "site_code": opportunity.site_code,
        "domain": opportunity.domain,
        "status": opportunity.status,
        "severity": opportunity.severity,
        "first_emerging_at": opportunity.first_emerging_at,
        "first_active_at": opportunity.first_active_at,
        "resolved_at": opportunity.resolved_at,
        "last_evaluated_at": opportunity.last_evaluated_at,
        "metric": opportunity.metric,
        "observed": opportunity.observed,
        "threshold": opportunity.threshold,
        "baseline": opportunity.baseline,
        "weekly_bed_days": opportunity.weekly_bed_days,
        "weekly_staff_hours": opportunity.weekly_staff_hours,
        "weekly_gbp": opportunity.weekly_gbp,
        "intervention": opportunity.intervention,
        "evidence": opportunity.evidence,
        "catalogue_version": opportunity.catalogue_version,
    }


def transition_row(transition: Transition) -> dict[str, Any]:
    """The ``opportunity_transitions`` row of a status change."""
    return {
        "scope": scope_key(transition.trust_code, transition.site_code),
        "kind": transition.kind,
        "episode": transition.episode,
        "trust_code": transition.trust_code,
        "site_code": transition.site_code,
        "from_status": transition.from_status,
        "to_status": transition.to_status,
        "at": transition.at,
        "observed": transition.observed,
        "threshold": transition.threshold,
    }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _key(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    # times are compared in UTC so "10:00+01:00" and "09:00Z" are one key, as in the database
    return tuple(_utc(row[c]) if isinstance(row[c], datetime) else row[c] for c in columns)


def _last_per_key(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    newer: Callable[[dict[str, Any], dict[str, Any]], bool] = lambda new, old: True,
) -> list[dict[str, Any]]:
    """One row per key: the last one, or the last of the newest if ``newer`` says so."""
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = _key(row, columns)
        old = kept.get(key)
        if old is None or newer(row, old):
            kept[key] = row
    return list(kept.values())


def _not_older(new: dict[str, Any], old: dict[str, Any]) -> bool:
    return bool(_utc(new["last_evaluated_at"]) >= _utc(old["last_evaluated_at"]))


class _CompiledUpsert:
    """An upsert compiled once for one dialect, executed with rows given as DB-API parameters.

    ``conn.execute(stmt, dicts)`` builds and type-processes every row in Python (~10 µs a row);
    here a row is one tuple in ``columns`` order, passed through the same bind processors as
    SQLAlchemy would apply (the UTC datetime of ``UtcDateTime``, SQLite's text form of it),
    memoised per distinct value where the column's values repeat (every metric point of an
    evaluation shares its ``evaluated_at``).

    ``columnar``: the statement takes one array per column (Postgres ``unnest``), so a batch is
    one statement and one round trip instead of one execution per row.
    """

    def __init__(
        self,
        stmt: PostgresInsert | SqliteInsert,
        table: Table,
        columns: Sequence[str],
        dialect: Dialect,
        *,
        columnar: bool = False,
    ) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
        self.sql = compiled.string
        self.named = compiled.positiontup is None
        self.columnar = columnar
        order = list(columns) if self.named else list(compiled.positiontup or ())
        if sorted(order) != sorted(columns):
            raise ValueError(f"compiled upsert binds {order}, expected {list(columns)}")
        self.columns = order
        self._processors = {
            name: processor
            for name in order
            if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        }

    def processor(self, name: str) -> Callable[[Any], Any]:
        """The column's bind processor (the identity when it has none)."""
        return self._processors.get(name) or (lambda value: value)

    def memoised(self, name: str) -> Callable[[Any], Any]:
        """The column's bind processor, computed once per distinct (hashable) value."""
        process = self.processor(name)
        seen: dict[Any, Any] = {}

        def bound(value: Any) -> Any:
            result = seen.get(value, seen)
            if result is seen:
                result = seen[value] = process(value)
            return result

        return bound

    async def execute(self, conn: AsyncConnection, rows: Sequence[Sequence[Any]]) -> None:
        """Send ``rows`` (tuples in ``columns`` order, already bound), the keys distinct."""
        if self.columnar:
            arrays = [list(column) for column in zip(*rows, strict=True)]
            values: Any = dict(zip(self.columns, arrays, strict=True)) if self.named else arrays
            await conn.exec_driver_sql(self.sql, tuple(values) if not self.named else values)
        elif self.named:
            await conn.exec_driver_sql(
                self.sql, [dict(zip(self.columns, row, strict=True)) for row in rows]
            )
        else:
            await conn.exec_driver_sql(self.sql, list(rows))


class OpportunityStore:
    """Writes metric points and opportunity updates; reads the top open opportunities.

    One store (one ``AsyncEngine`` with a small pool) per process::

        async with OpportunityStore(settings.database_url) as store:
            await store.write_metrics(points)
            await store.write_updates(updates)
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 3,
        echo: bool = False,
        connect_args: Mapping[str, Any] | None = None,
    ) -> None:
        """``connect_args`` go to the driver's connect (e.g. asyncpg's ``ssl`` context)."""
        self.url = async_url(url)
        options: dict[str, Any] = {
            "echo": echo,
            "json_serializer": _dumps,
            "connect_args": dict(connect_args or {}),
        }
        if self.url.get_backend_name() == "postgresql":
            # a worker writes one batch at a time; a couple of spare connections cover the reads
            options |= {"pool_size": pool_size, "max_overflow": 2, "pool_pre_ping": True}
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_cache)
        self._metrics = self._metric_upsert()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    def _insert(self, table: Table) -> PostgresInsert | SqliteInsert:
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        if self.dialect == "sqlite":
            return sqlite.insert(table)
        raise ValueError(f"unsupported database dialect {self.dialect!r}")

    def _metric_upsert(self) -> _CompiledUpsert:
        columnar = self.dialect == "postgresql"
        stmt = self._insert(scope_metrics)
        if columnar:
            # INSERT ... SELECT FROM unnest(one array per column): a batch in one statement.
            # The keys of a batch are distinct (metric_rows), which ON CONFLICT DO UPDATE needs.
            # the arrays of the column types without a length: an explicit cast to varchar(8)
            # would truncate a longer value silently, where the insert rejects it
            arrays = (
                func.unnest(
                    *[
                        cast(bindparam(name), ARRAY(type(scope_metrics.c[name].type)()))
                        for name in _METRIC_COLUMNS
                    ]
                )
                .table_valued(*_METRIC_COLUMNS)
                .render_derived()
            )
            stmt = stmt.from_select(
                list(_METRIC_COLUMNS), select(*[arrays.c[name] for name in _METRIC_COLUMNS])
            )
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_METRIC_KEY),
            set_={
                "trust_code": stmt.excluded.trust_code,
                "site_code": stmt.excluded.site_code,
                "value": stmt.excluded.value,
                "sample_size": stmt.excluded.sample_size,
            },
        )
        return _CompiledUpsert(
            stmt, scope_metrics, _METRIC_COLUMNS, self.engine.dialect, columnar=columnar
        )

    def metric_rows(self, points: Iterable[MetricPoint]) -> list[tuple[Any, ...]]:
        """The bound rows of ``points`` in the upsert's column order: one row per key, the last
        point of each."""
        upsert = self._metrics
        when = upsert.memoised("evaluated_at")
        value = upsert.processor("value")
        position = {name: index for index, name in enumerate(_METRIC_COLUMNS)}
        order = [position[name] for name in upsert.columns]
        kept: dict[tuple[str, str, Any], tuple[Any, ...]] = {}
        for p in points:
            scope = scope_key(p.trust_code, p.site_code)
            # the bound time is UTC, so two offsets naming one instant are one key, as in the
            # database; a later point of a key replaces the earlier one in its first place
            at = when(p.evaluated_at)
            row = (scope, p.metric, at, p.trust_code, p.site_code, value(p.value), p.sample_size)
            kept[(scope, p.metric, at)] = row
        if order != list(range(len(order))):
            return [tuple(row[i] for i in order) for row in kept.values()]
        return list(kept.values())

    async def write_metrics(self, points: Sequence[MetricPoint]) -> int:
        """Upsert metric points; returns the number of rows sent (after collapsing repeats)."""
        rows = self.metric_rows(points)
        if not rows:
            return 0
        async with self.engine.begin() as conn:
            await self._metrics.execute(conn, rows)
        return len(rows)

    async def write_updates(self, updates: Sequence[OpportunityUpdate]) -> int:
        """Upsert episode snapshots (newer wins) and append their transitions, in one transaction.

        Returns the number of distinct episodes sent.
        """
        snapshots = _last_per_key(
            (opportunity_row(u.opportunity) for u in updates), _OPPORTUNITY_KEY, _not_older
        )
        transitions = _last_per_key(
            (transition_row(u.transition) for u in updates if u.transition is not None),
            _TRANSITION_KEY,
        )
        if not snapshots:
            return 0
        async with self.engine.begin() as conn:
            await self._upsert_snapshots(conn, snapshots)
            if transitions:
                # after the snapshots: a transition references its episode's row
                stmt = self._insert(opportunity_transitions).on_conflict_do_nothing(
                    index_elements=list(_TRANSITION_KEY)
                )
                await conn.execute(stmt, transitions)
        return len(snapshots)

    async def _upsert_snapshots(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        stmt = self._insert(opportunities)
        excluded = stmt.excluded
        keep = (*_OPPORTUNITY_KEY, "updated_at")
        updated = [c.name for c in opportunities.columns if c.name not in keep]
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_OPPORTUNITY_KEY),
            set_={**{name: excluded[name] for name in updated}, "updated_at": func.now()},
            # an older snapshot (redelivered after a newer one) must not win
            where=opportunities.c.last_evaluated_at <= excluded.last_evaluated_at,
        )
        await conn.execute(stmt, rows)

    async def top_opportunities(
        self, limit: int = 10, *, include_stale: bool = False
    ) -> list[dict[str, Any]]:
        """Open opportunities with the largest weekly impact (bed-days, then £, then severity);
        those of scopes that stopped reporting (``stale``) only with ``include_stale``."""
        view = open_opportunities_view
        query = select(view)
        if not include_stale:
            query = query.where(view.c.stale.is_not(True))
        query = query.order_by(
            view.c.weekly_bed_days.desc(),
            view.c.weekly_gbp.desc(),
            view.c.severity.desc(),
            view.c.scope,
            view.c.kind,
        ).limit(limit)
        async with self.engine.connect() as conn:
            result = await conn.execute(query)
            return [dict(row) for row in result.mappings()]

    async def stale_open_opportunities(self) -> int:
        """How many open episodes belong to scopes that stopped reporting (``stale``)."""
        view = open_opportunities_view
        query = select(func.count()).select_from(view).where(view.c.stale.is_(True))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())


def _sqlite_cache(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
    cursor.close()


async def write_until_done(
    write: Callable[[], Awaitable[int]],
    *,
    what: str,
    on_failure: Callable[[BaseException], None],
    max_wait_seconds: float = 30.0,
) -> int:
    """Run ``write`` until it succeeds, waiting 0.5 s, 1 s, 2 s ... (jittered, at most
    ``max_wait_seconds``) between attempts; ``on_failure`` sees every failed attempt.

    Every exception is retried, not only connection errors: a batch that can never be written
    (a schema mismatch) then holds its partition and keeps failing loudly (log, metric, alert)
    rather than being skipped. Cancelling the caller (worker shutdown) stops the retries.
    """

    def failed(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if error is not None:
            on_failure(error)
        log.warning(
            "writing %s failed (attempt %d, %s); retrying in %.1fs",
            what, state.attempt_number, type(error).__name__,
            state.upcoming_sleep,
        )  # fmt: skip

    retrying = AsyncRetrying(
        stop=stop_never,
        wait=wait_exponential_jitter(initial=0.5, max=max_wait_seconds, jitter=0.5),
        before_sleep=failed,
        reraise=True,
    )
    written, attempts = 0, 0
    async for attempt in retrying:
        with attempt:
            attempts += 1
            written = await write()
    if attempts > 1:
        log.info("writing %s succeeded after %d attempts", what, attempts)
    return written
