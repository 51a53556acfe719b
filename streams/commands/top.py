"""``opsradar top [--db URL] [--limit N] [--include-stale]``: the open opportunities with the
largest weekly impact, from the ``open_opportunities`` view of a database that ``analyse`` or
the worker wrote.

An episode whose data is behind the newest of its kind of scope (a trust that stopped
reporting: ``stale`` in the view, ``sinks/migrations/versions/r0006_stale_opportunities.py``)
is left out unless ``--include-stale`` asks for it, and then marked; the footer says how many
were left out.
"""

from __future__ import annotations

import argparse
from typing import Any

NAME = "top"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database to read (default: the worker's, from the settings; for an `analyse` "
        "run: sqlite+aiosqlite:///opsradar.sqlite)",
    )
    parser.add_argument(
        "--limit", type=int, default=10, help="how many opportunities to print (default: 10)"
    )
    parser.add_argument(
        "--include-stale",
        action="store_true",
        help="also print episodes whose scope stopped reporting (marked stale)",
    )


def _table(rows: list[dict[str, Any]]) -> list[str]:
    header = (
        f"{'trust':<6} {'site':<7} {'kind':<36} {'status':<9} {'bed-days/wk':>11} "
        f"{'hours/wk':>9} {'£/wk':>9}  since"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        since = row["since"]
        stale = f"  stale: {row['data_behind_days'] or 0.0:.0f} days behind"
        lines.append(
            f"{row['trust_code']:<6} {row['site_code'] or '-':<7} {row['kind']:<36} "
            f"{row['status']:<9} {row['weekly_bed_days']:>11.1f} {row['weekly_staff_hours']:>9.1f} "
            f"{row['weekly_gbp']:>9,.0f}  {since:%Y-%m-%d}{stale if row['stale'] else ''}"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from sinks import schema
    from sinks.database import OpportunityStore
    from streams.database_security import database_connect_args
    from streams.settings import get_settings

    if args.limit < 1:
        sys.stderr.write("opsradar top: --limit must be at least 1\n")
        return 2
    settings = get_settings()
    url = args.db or settings.database_url
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        sys.stderr.write("opsradar top: --db is not a database URL (e.g. sqlite+aiosqlite:///F)\n")
        return 2

    async def read() -> tuple[list[dict[str, Any]], int]:
        tls = database_connect_args(settings, schema.async_url(url))
        async with OpportunityStore(url, connect_args=tls) as store:
            rows = await store.top_opportunities(args.limit, include_stale=args.include_stale)
            return rows, await store.stale_open_opportunities()

    try:
        rows, stale = asyncio.run(read())
    except (SQLAlchemyError, OSError, ValueError) as error:
        sys.stderr.write(
            f"opsradar top: {shown}: cannot read open_opportunities ({type(error).__name__}): "
            "is it a database `analyse` or the worker wrote, migrated (`opsradar db upgrade`)?\n"
        )
        return 1
    if not rows:
        print(f"no open opportunities in {shown}")
    else:
        print("\n".join(_table(rows)))
    if stale and not args.include_stale:
        print(
            f"({stale} open episode{'s' if stale != 1 else ''} of scopes that stopped reporting "
            "left out: --include-stale shows them)"
        )
    return 0
