"""The two roles: the analyst reads the three views and nothing else; the writer writes, no more."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from models.outputs import MetricPoint, OpportunityUpdate
from sinks.database import OpportunityStore
from sinks.tables import TABLE_NAMES, VIEW_NAMES
from tests.database_support import fresh_database
from tests.sinks_support import ANALYST, T0, WRITER, as_role, opportunity, transition

pytestmark = pytest.mark.integration

BASE_TABLE_STATEMENTS = {
    "select": "SELECT * FROM {table}",
    "insert": "INSERT INTO {table} DEFAULT VALUES",
    "update": "UPDATE {table} SET {column} = {column}",
    "delete": "DELETE FROM {table}",
    "truncate": "TRUNCATE {table}",
}
#: a column of each table, for the UPDATE statement
SOME_COLUMN = {
    "opportunities": "status",
    "opportunity_transitions": "to_status",
    "scope_metrics": "value",
    "alembic_version": "version_num",
}


@pytest.fixture(scope="module")
def roles_database(postgres_url: str) -> Iterator[str]:
    """One database for this module: every test here only reads, or is refused."""
    with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture(scope="module")
async def analyst(roles_database: str) -> AsyncIterator[AsyncEngine]:
    """The analyst's engine, on a database holding one open and one resolved opportunity."""
    async with OpportunityStore(as_role(roles_database, WRITER)) as store:
        await store.write_updates(
            [
                OpportunityUpdate(
                    opportunity=opportunity(site="RX101", bed_days=3.0),
                    transition=transition(
                        opportunity(site="RX101", bed_days=3.0), None, "emerging", T0
                    ),
                ),
                OpportunityUpdate(
                    opportunity=opportunity(
                        site="RX102", status="resolved", active_at=T0, resolved_at=T0
                    )
                ),
            ]
        )
        # the site's bed-flow feed is in a gap: the open opportunity shows it
        await store.write_metrics(
            [
                MetricPoint(
                    trust_code="RX1",
                    site_code="RX101",
                    metric="data_quality_bed_flow",
                    evaluated_at=T0,
                    value=2.0,
                    sample_size=0,
                )
            ]
        )
    engine = create_async_engine(as_role(roles_database, ANALYST))
    yield engine
    await engine.dispose()


async def refused(engine: AsyncEngine, sql: str) -> str:
    """The error Postgres gives for ``sql``; fails the test if the statement went through."""
    async with engine.connect() as conn:
        try:
            await conn.execute(text(sql))
        except DBAPIError as error:
            return str(error.orig)
        finally:
            await conn.rollback()
    raise AssertionError(f"{sql!r} was allowed")


@pytest.mark.parametrize("table", [*TABLE_NAMES, "alembic_version"])
@pytest.mark.parametrize("action", list(BASE_TABLE_STATEMENTS))
async def test_the_analyst_is_refused_on_base_tables(
    analyst: AsyncEngine, table: str, action: str
) -> None:
    sql = BASE_TABLE_STATEMENTS[action].format(table=table, column=SOME_COLUMN[table])
    assert f"permission denied for table {table}" in await refused(analyst, sql)


async def test_the_analyst_reads_the_views(analyst: AsyncEngine) -> None:
    async with analyst.connect() as conn:
        counts = {
            view: (await conn.execute(text(f"SELECT count(*) FROM {view}"))).scalar_one()
            for view in VIEW_NAMES
        }
        open_rows = (await conn.execute(text("SELECT * FROM open_opportunities"))).mappings().all()
    assert counts == {
        "open_opportunities": 1,
        "trust_summary": 1,
        "national_summary": 1,
        "opportunity_history": 1,
        "scope_data_quality": 1,
    }
    assert [
        (r["site_code"], r["weekly_bed_days"], r["since"], r["data_quality"]) for r in open_rows
    ] == [("RX101", 3.0, T0, "gap")]


async def test_the_analyst_cannot_change_views_or_create_anything(analyst: AsyncEngine) -> None:
    # open_opportunities joins scope_data_quality since r0004: no view is updatable by anyone
    assert "cannot delete from view" in await refused(analyst, "DELETE FROM open_opportunities")
    assert "must be owner" in await refused(analyst, "DROP VIEW national_summary")
    assert "permission denied for schema public" in await refused(
        analyst, "CREATE TABLE mine (x int)"
    )


async def test_the_writer_cannot_delete_or_change_the_schema(roles_database: str) -> None:
    writer = create_async_engine(as_role(roles_database, WRITER))
    try:
        assert "permission denied" in await refused(writer, "DELETE FROM opportunities")
        assert "permission denied" in await refused(writer, "TRUNCATE scope_metrics")
        assert "must be owner" in await refused(writer, "DROP TABLE opportunities")
        assert "must be owner" in await refused(
            writer, "ALTER TABLE opportunities ADD COLUMN x int"
        )
        assert "permission denied for schema public" in await refused(
            writer, "CREATE TABLE mine (x int)"
        )
    finally:
        await writer.dispose()


async def test_roles_log_in_and_hold_no_special_powers(roles_database: str) -> None:
    engine = create_async_engine(roles_database)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole,"
                        " rolpassword IS NOT NULL AS has_password"
                        " FROM pg_authid WHERE rolname IN ('opsradar_writer', 'opsradar_analyst')"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert sorted(tuple(r) for r in rows) == [
        ("opsradar_analyst", True, False, False, False, True),
        ("opsradar_writer", True, False, False, False, True),
    ]
