"""Migrations on SQLite, the URL mapping, and ``opsradar db upgrade``."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from sinks import schema
from sinks.tables import TABLE_NAMES, VIEW_NAMES, VIEW_NAMES_BEFORE_HEAD, metadata
from streams.cli import main

pytestmark = pytest.mark.unit


def objects(engine: Engine) -> tuple[set[str], set[str]]:
    inspector = inspect(engine)
    return set(inspector.get_table_names()) - {"alembic_version"}, set(inspector.get_view_names())


def open_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns("open_opportunities")}


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    return str(tmp_path / "opsradar.db")


def test_upgrade_downgrade_one_step_and_upgrade_again(sqlite_file: str) -> None:
    url = f"sqlite+aiosqlite:///{sqlite_file}"
    engine = create_engine(f"sqlite:///{sqlite_file}")
    schema.upgrade(url)
    assert schema.current_revision(url) == schema.head_revision() == "r0006"
    assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES))

    assert {"data_behind_days", "stale"} <= open_columns(engine)
    schema.downgrade(url, "-1")  # r0006 redefines views and keeps every object
    assert schema.current_revision(url) == "r0005"
    assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES))
    assert not {"data_behind_days", "stale"} & open_columns(engine)
    schema.downgrade(url, "-1")  # r0005 rebuilds a table (SQLite) and keeps every object
    assert schema.current_revision(url) == "r0004"
    assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES))
    schema.downgrade(url, "-1")
    assert schema.current_revision(url) == "r0003"
    assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES_BEFORE_HEAD))

    schema.upgrade(url)
    assert objects(engine) == (set(TABLE_NAMES), set(VIEW_NAMES))
    schema.upgrade(url)  # already at head: nothing to do, no error
    assert schema.current_revision(url) == "r0006"

    schema.downgrade(url, "base")
    assert schema.current_revision(url) is None
    assert objects(engine) == (set(), set())
    engine.dispose()


def test_the_writer_tables_match_the_migrated_schema(sqlite_file: str) -> None:
    """``sinks.tables`` (what the writer uses) and the migrations describe the same schema."""
    schema.upgrade(f"sqlite:///{sqlite_file}")
    engine = create_engine(f"sqlite:///{sqlite_file}")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


@pytest.mark.parametrize(
    ("given", "sync", "asynchronous"),
    [
        (
            "postgresql+asyncpg://u:p%40ss@h:5/db",
            "postgresql+psycopg://u:p%40ss@h:5/db",
            "postgresql+asyncpg://u:p%40ss@h:5/db",
        ),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite+aiosqlite:////tmp/x.db", "sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("sqlite:///rel.db", "sqlite:///rel.db", "sqlite+aiosqlite:///rel.db"),
    ],
)
def test_urls_are_mapped_to_the_driver_each_side_needs(
    given: str, sync: str, asynchronous: str
) -> None:
    assert schema.sync_url(given).render_as_string(hide_password=False) == sync
    assert schema.async_url(given).render_as_string(hide_password=False) == asynchronous


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme 'mysql"):
        schema.sync_url("mysql://u@h/db")


def test_db_upgrade_command(sqlite_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{sqlite_file}"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert "at revision r0006" in capsys.readouterr().out
    assert main(["db", "current", "--db", url]) == 0
    assert capsys.readouterr().out.strip() == "r0006"
    assert main(["db", "upgrade", "--db", "mysql://u@h/db"]) == 1
    assert "unsupported database URL scheme" in capsys.readouterr().err
