"""Alembic environment: runs the revisions on the connection :mod:`sinks.schema` hands over.

There is no alembic.ini: :func:`sinks.schema.alembic_config` builds the config in code, so an
installed package migrates a database with nothing but a URL. The connection is passed through
``config.attributes`` (Alembic's cookbook pattern) rather than as a URL option, because config
options go through configparser interpolation and a ``%`` in a password would break them.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from sinks.tables import metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # each revision commits on its own, so a failed r0002 leaves a usable r0001 behind
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """``--sql`` mode: print the DDL for a DBA instead of running it."""
    context.configure(
        url=config.attributes["url"],
        target_metadata=metadata,
        literal_binds=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = create_engine(config.attributes["url"])
    try:
        with engine.connect() as owned:
            _configure(owned)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
