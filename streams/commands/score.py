"""``opsradar score``: precision, recall and detection delays of ``analyse --json`` output against a
simulator truth file (matching rules in :mod:`feeds.scoring`)."""

from __future__ import annotations

import argparse

NAME = "score"
HELP = "score detected opportunities against a truth file"


EPILOG = """\
matching: an episode detects at its first emerging or active time; it matches an injection of
the same trust, site and kind when it detects between the onset and until_at plus the kind's
lookback. precision = matching episodes / counted episodes; recall = matched / counted
injections.

feed gaps (the truth file's quirks feed_gap, event_type_gap and connected_mid_stream; a kind's
domain is its catalogue domain; a feed_gap or a mid-stream connection covers every domain):
  - an injection is masked when more than half of its span lies in gaps of its kind's domain at
    its site (a mid-stream connection: up to the connection plus the kind's lookback, since what
    was open before it is never sent): it is not counted in recall, and an episode matching only
    masked injections is counted neither way;
  - an episode matching no counted injection is excused when it detects at a site and domain with
    a gap, between the gap's start and its end plus the kind's recovery period (its lookback):
    it is not counted in precision.
Other quirks (resends, near-duplicates, updates after discharge, a lagging source, clock
changes) excuse nothing. active_in_healthy_domains lists the false positives that went active in
a (site, domain) where nothing of that domain was injected.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
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
