"""``opsradar db upgrade [--db URL] [--revision REV]``: apply the schema migrations.

Works on Postgres and SQLite; async URLs (the settings default, ``postgresql+asyncpg://``) are
accepted and mapped to their synchronous drivers for Alembic (see :mod:`sinks.schema`).
"""

from __future__ import annotations

import argparse
import sys

NAME = "db"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply the migrations (default: up to head)")
    upgrade.add_argument("--db", metavar="URL", help="database URL (default: settings)")
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    current = actions.add_parser("current", help="print the revision the database is at")
    current.add_argument("--db", metavar="URL", help="database URL (default: settings)")


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from sinks import schema
    from streams.database_security import database_connect_args
    from streams.settings import get_settings

    settings = get_settings()
    url = make_url(args.db or settings.database_url)
    shown = url.render_as_string(hide_password=True)
    try:
        # migrations run on the synchronous driver: TLS options in its (libpq's) terms
        tls = database_connect_args(settings, schema.sync_url(url))
        if args.db_action == "upgrade":
            schema.upgrade(url, args.revision, connect_args=tls)
            revision = schema.current_revision(url, connect_args=tls)
            sys.stdout.write(f"{shown}: at revision {revision}\n")
        else:
            sys.stdout.write(f"{schema.current_revision(url, connect_args=tls) or 'none'}\n")
    except (SQLAlchemyError, ValueError) as error:
        sys.stderr.write(f"opsradar db {args.db_action}: {shown}: {error}\n")
        return 1
    return 0
