"""``opsradar simulate``: synthetic trust events with injected bottlenecks and their ground truth.

The period is the ``--days`` days before ``--end`` (00:00 UTC, exclusive; default today), so no
event is in the future. Without ``--scenario`` a default mix injects every catalogue kind somewhere
and leaves about a third of the sites healthy. Prints a JSON summary (counts, events/s) to stdout.
"""

from __future__ import annotations

import argparse
from datetime import date

NAME = "simulate"
HELP = "generate synthetic trust events with ground truth"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from feeds.simulator.scenarios import SCENARIOS

    parser.add_argument("--trusts", type=int, default=3, help="number of fake trusts (default 3)")
    parser.add_argument("--days", type=int, default=42, help="length of the period (default 42)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
    parser.add_argument("--out", required=True, help="JSONL output (.gz to compress)")
    parser.add_argument("--truth", help="write the injected scenarios here (JSON)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help="inject this scenario (repeatable); default: the mix of all 13. Names: "
        + ", ".join(f"{s.name} ({s.kind})" for s in SCENARIOS.values()),
    )
    parser.add_argument(
        "--end", type=date.fromisoformat, help="period end date (default today, UTC)"
    )
    parser.add_argument(
        "--batch", type=int, default=1, help="events per line (JSON arrays when > 1)"
    )
    parser.add_argument(
        "--clean",
        action="store_true",
        help="deliver every event once, on time, from every site from the start. Default: as real "
        "trust feeds do (resends with the same event_id and re-stamped near-duplicates, updates "
        "coded after discharge, a site connecting mid-stream, whole-feed and single-event-type "
        "gaps, one trust's rostering hours behind); every quirk is listed in the truth file",
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from collections import Counter
    from dataclasses import replace
    from pathlib import Path

    from feeds.simulator import SimulationConfig, simulate

    config = SimulationConfig(
        trusts=args.trusts,
        days=args.days,
        seed=args.seed,
        scenarios=tuple(args.scenario) if args.scenario else None,
        batch=args.batch,
        realistic=not args.clean,
    )
    if args.end is not None:
        config = replace(config, end=args.end)
    try:
        stats = simulate(config, Path(args.out), Path(args.truth) if args.truth else None)
    except (ValueError, OSError) as error:
        sys.stderr.write(f"opsradar simulate: {error}\n")
        return 2
    summary = {
        "events": stats.events,
        "sites": stats.sites,
        "injected": len(stats.injections),
        "quirks": dict(sorted(Counter(q.kind for q in stats.quirks).items())),
        "seconds": round(stats.seconds, 2),
        "events_per_second": round(stats.events_per_second),
        "by_type": dict(sorted(stats.by_type.items())),
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0
