"""Schema migrations of the opportunity database, driven from code (no alembic.ini).

The revisions live inside the package (``sinks/migrations``) so an installed opsradar can migrate
a database with nothing but its URL. Alembic runs synchronously, so async URLs (what the workers
use) are mapped to their synchronous drivers here: ``+asyncpg``/``+psycopg_async`` → ``+psycopg``
(psycopg 3) and ``sqlite+aiosqlite`` → ``sqlite`` (pysqlite). Driver-specific query options
(``asyncpg``'s ``ssl=``, ``psycopg``'s ``sslmode=``) are passed through untouched.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_SYNC_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
}
_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+psycopg_async",
    "postgresql+psycopg_async": "postgresql+psycopg_async",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def _with_driver(url: str | URL, drivers: dict[str, str]) -> URL:
    parsed = make_url(url)
    driver = drivers.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: use postgresql or sqlite"
        )
    return parsed.set(drivername=driver)


def sync_url(url: str | URL) -> URL:
    """The URL with a synchronous driver (what Alembic needs)."""
    return _with_driver(url, _SYNC_DRIVERS)


def async_url(url: str | URL) -> URL:
    """The URL with an asyncio driver (what the writer needs)."""
    return _with_driver(url, _ASYNC_DRIVERS)


def alembic_config(url: str | URL) -> Config:
    """An Alembic config for the packaged revisions and this database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # a URL object, not a config option: options are configparser-interpolated ("%" breaks)
    config.attributes["url"] = sync_url(url)
    return config


def head_revision() -> str:
    """The newest revision the package carries."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


#: Alembic's ``context``/``op`` are module-level proxies shared by every thread, so two
#: migrations running at once in one process would cross their connections: run one at a time.
#: (Separate processes are fine; the Postgres side of r0002 copes with concurrent migrations.)
_ALEMBIC_LOCK = threading.Lock()


def _run(
    url: str | URL, action: str, revision: str, connect_args: Mapping[str, Any] | None
) -> None:
    config = alembic_config(url)
    engine = create_engine(config.attributes["url"], connect_args=dict(connect_args or {}))
    try:
        with _ALEMBIC_LOCK, engine.connect() as connection:
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def upgrade(
    url: str | URL, revision: str = "head", *, connect_args: Mapping[str, Any] | None = None
) -> None:
    """Apply the migrations up to ``revision``; an up-to-date database is left as it is.

    ``connect_args`` go to the synchronous driver (psycopg: libpq's ``sslmode``, ...)."""
    _run(url, "upgrade", revision, connect_args)


def downgrade(
    url: str | URL, revision: str, *, connect_args: Mapping[str, Any] | None = None
) -> None:
    """Undo migrations down to ``revision`` (e.g. ``"-1"`` for one step, ``"base"`` for all)."""
    _run(url, "downgrade", revision, connect_args)


def current_revision(
    url: str | URL, *, connect_args: Mapping[str, Any] | None = None
) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    engine = create_engine(sync_url(url), connect_args=dict(connect_args or {}))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
