"""A fresh Postgres database per test (or session), migrated with ``opsradar db upgrade``."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.worker_support import REPO


def _with_database(url: str, database: str, driver: str | None = None) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme if driver is None else f"postgresql+{driver}" if driver else "postgresql"
    return urlunsplit((scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def admin_conninfo(url: str) -> str:
    """A libpq URL to the maintenance database, from any SQLAlchemy Postgres URL."""
    return _with_database(url, "postgres", driver="")


@contextmanager
def fresh_database(base_url: str, *, migrate: bool = True) -> Iterator[str]:
    """Create ``opsradar_t<random>``, apply the migrations, yield its async URL, drop it after."""
    name = f"opsradar_t{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_conninfo(base_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(base_url, name)
    try:
        if migrate:
            subprocess.run(
                [sys.executable, "-m", "streams", "db", "upgrade", "--db", url],
                cwd=REPO,
                check=True,
                capture_output=True,
            )
        yield url
    finally:
        with psycopg.connect(admin_conninfo(base_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
