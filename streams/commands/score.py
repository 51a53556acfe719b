"""``opsradar score``: precision, recall and detection delays of ``analyse --json`` output against a
simulator truth file (matching rules in :mod:`feeds.scoring`)."""

from __future__ import annotations

import argparse

NAME = "score"
HELP = "score detected opportunities against a truth file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--truth", required=True, help="truth JSON written by `simulate --truth`")
    parser.add_argument("--opportunities", required=True, help="JSON written by `analyse --json`")
    parser.add_argument("--table", action="store_true", help="print a table instead of JSON")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from feeds.scoring import ScoreInputError, format_table, score_files

    try:
        result = score_files(Path(args.truth), Path(args.opportunities))
    except (ScoreInputError, KeyError) as error:
        sys.stderr.write(f"opsradar score: {error}\n")
        return 2
    sys.stdout.write((format_table(result) if args.table else json.dumps(result, indent=2)) + "\n")
    return 0
