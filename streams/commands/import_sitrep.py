"""``opsradar import-sitrep``: NHS England's published sitrep CSVs -> ``nhs.sitrep.v1`` events.

Decisions (missing submissions, rounding, event time and ids) are in :mod:`feeds.sitrep_import`.
Exit 2 with a one-line message for a missing file or column, a file that is not CSV (named by
line), an unknown delay-reason wording (named by file and line), or an incomplete set of files
(``--nctr``, ``--discharges`` and ``--beds`` go together; ``--ae`` may come alone). A row with a
bad cell is left out and counted in the summary's ``rejected_rows``, an event the contract
refuses in ``rejected_events``; stderr names the first rejected rows by file and line. No cell
value is ever printed.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feeds.sitrep_import import ImportStats

NAME = "import-sitrep"
HELP = "turn published NHS sitrep CSVs into events"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nctr", help="nctr_daily_by_trust.csv(.gz)")
    parser.add_argument("--discharges", help="discharges_daily_by_trust.csv(.gz)")
    parser.add_argument("--beds", help="beds_monthly_by_trust.csv(.gz)")
    parser.add_argument("--delays", help="discharge_delay_reasons_monthly_by_trust.csv(.gz)")
    parser.add_argument("--ae", help="ae_monthly_by_trust.csv(.gz): monthly A&E statistics")
    parser.add_argument(
        "--from",
        dest="date_from",
        type=date.fromisoformat,
        help="first report date / period start to import (inclusive)",
    )
    parser.add_argument(
        "--to",
        dest="date_to",
        type=date.fromisoformat,
        help="last report date / period start to import (inclusive)",
    )
    parser.add_argument("--out", required=True, help="JSONL output (.gz to compress)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from feeds.delay_reasons import UnknownDelayReason
    from feeds.sitrep_import import SitrepInputError, import_sitrep

    try:
        stats = import_sitrep(
            nctr=Path(args.nctr) if args.nctr else None,
            discharges=Path(args.discharges) if args.discharges else None,
            beds=Path(args.beds) if args.beds else None,
            delays=Path(args.delays) if args.delays else None,
            ae=Path(args.ae) if args.ae else None,
            out=Path(args.out),
            date_from=args.date_from,
            date_to=args.date_to,
        )
    except (SitrepInputError, UnknownDelayReason) as error:
        sys.stderr.write(f"opsradar import-sitrep: {error}\n")
        return 2
    summary = {
        "events": stats.total,
        "by_type": stats.events,
        "missing_days": stats.missing_days,
        "skipped_rows": stats.skipped_rows,
        "rejected_rows": stats.rejected_rows,
        "rejected_events": stats.rejected_events,
    }
    _report_rejections(stats)
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


def _report_rejections(stats: ImportStats) -> None:
    import sys

    rows = sum(stats.rejected_rows.values())
    if rows:
        sys.stderr.write(
            f"opsradar import-sitrep: {rows} row(s) left out (rejected_rows in the summary); "
            f"first: {'; '.join(stats.first_rejections)}\n"
        )
    refused = sum(stats.rejected_events.values())
    if refused:
        sys.stderr.write(
            f"opsradar import-sitrep: {refused} event(s) refused by the contract and not written "
            "(rejected_events in the summary)\n"
        )
