"""Migrations on the stack's Postgres: head, one step down (data kept), head again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from sinks import schema
from sinks.tables import TABLE_NAMES, VIEW_NAMES, VIEW_NAMES_BEFORE_HEAD, metadata
from tests.database_support import fresh_database

pytestmark = pytest.mark.integration

PRIVILEGES = """
SELECT r.rolname, t.name, p.privilege
FROM unnest(ARRAY['opsradar_writer', 'opsradar_analyst']) AS r(rolname)
CROSS JOIN unnest(CAST(:objects AS text[])) AS t(name)
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p(privilege)
WHERE to_regclass(t.name) IS NOT NULL AND has_table_privilege(r.rolname, t.name, p.privilege)
"""


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url, migrate=False) as url:
        yield url


def objects(engine: Engine) -> tuple[set[str], set[str]]:
    inspector = inspect(engine)
    return set(inspector.get_table_names()) - {"alembic_version"}, set(inspector.get_view_names())


def privileges(engine: Engine) -> set[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text(PRIVILEGES), {"objects": [*TABLE_NAMES, *VIEW_NAMES]})
        return {(r[0], r[1], r[2]) for r in rows}


WRITER_ON_TABLES = {
    ("opsradar_writer", table, privilege)
    for table in TABLE_NAMES
    for privilege in ("SELECT", "INSERT", "UPDATE")
}


def open_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns("open_opportunities")}


def on_views(views: tuple[str, ...]) -> set[tuple[str, str, str]]:
    return {
        (role, view, "SELECT") for role in ("opsradar_writer", "opsradar_analyst") for view in views
    }


ON_VIEWS = on_views(VIEW_NAMES)


def test_upgrade_downgrade_one_step_and_upgrade_again(empty_database: str) -> None:
    engine = create_engine(schema.sync_url(empty_database))
    try:
        schema.upgrade(empty_database)
        assert schema.current_revision(empty_database) == "r0006"
        assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES))
        assert privileges(engine) == WRITER_ON_TABLES | ON_VIEWS
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO scope_metrics (scope, metric, evaluated_at, trust_code, value,"
                    " sample_size) VALUES ('RX1', 'm', now(), 'RX1', 1.5, 3)"
                )
            )

        stale = {"data_behind_days", "stale"}
        assert stale <= open_columns(engine)
        schema.downgrade(empty_database, "-1")
        assert schema.current_revision(empty_database) == "r0005"
        assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES))
        assert privileges(engine) == WRITER_ON_TABLES | ON_VIEWS
        assert not stale & open_columns(engine)
        schema.downgrade(empty_database, "-1")
        assert schema.current_revision(empty_database) == "r0004"
        assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES))
        schema.downgrade(empty_database, "-1")
        assert schema.current_revision(empty_database) == "r0003"
        assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES_BEFORE_HEAD))
        # grants go with the revision's objects, the roles stay
        assert privileges(engine) == WRITER_ON_TABLES | on_views(VIEW_NAMES_BEFORE_HEAD)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT value FROM scope_metrics")).scalar_one() == 1.5
            roles = conn.execute(
                text("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'opsradar\\_%'")
            ).scalar_one()
        assert roles >= 2

        schema.upgrade(empty_database)
        assert schema.current_revision(empty_database) == "r0006"
        assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES))
        assert privileges(engine) == WRITER_ON_TABLES | ON_VIEWS
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []

        schema.downgrade(empty_database, "base")
        assert objects(engine) == (set(), set())
    finally:
        engine.dispose()


def test_databases_migrated_side_by_side_all_reach_head(postgres_url: str) -> None:
    """Tests, workers and the demo migrate their databases at once, each in its own process
    (the cluster-wide roles must not clash), or in threads of one process (serialised)."""
    with ExitStack() as stack:
        urls = [stack.enter_context(fresh_database(postgres_url, migrate=False)) for _ in range(6)]
        commands = [
            subprocess.Popen(
                [sys.executable, "-m", "streams", "db", "upgrade", "--db", url],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for url in urls[:3]
        ]
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(schema.upgrade, urls[3:]))
        for command in commands:
            output, _ = command.communicate(timeout=120)
            assert command.returncode == 0, output.decode()
        assert [schema.current_revision(url) for url in urls] == ["r0006"] * len(urls)
