"""Detection quality: simulate (N seeds x the default scenario mix) -> analyse -> score.

    .venv/bin/python bench/quality.py [--seeds 5] [--first-seed 1] [--trusts 3] [--days 42]
        [--end DATE]... [--clean] [--jobs N] [--out DIR] [--reuse-events] [--score-only]

Each seed runs in its own process (simulate, then ``opsradar analyse --json``); the episodes,
injections and feed gaps of all seeds are then scored together (codes are tagged with the seed so
sites of different seeds never match each other) and printed as the per-kind table of
``opsradar score``. Writes ``quality.json`` (the score document) into ``--out``.

The feeds are realistic (resends, late updates, gaps, a mid-stream connection: ``simulate``'s
default) unless ``--clean``. ``--end`` may be given several times: seed number k takes the k-th
end date, cycling, so a set of seeds can cover both UK clock changes (periods of up to 91 days
hold only one of them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.scoring import (  # noqa: E402
    format_markdown,
    format_table,
    load_episodes,
    load_gaps,
    load_truth,
    score,
)


def _run_seed(seed: int, args: argparse.Namespace) -> tuple[int, float]:
    folder = Path(args.out) / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "streams.cli"]
    began = time.perf_counter()
    simulate = [
        *cli,
        "simulate",
        "--trusts",
        str(args.trusts),
        "--days",
        str(args.days),
        "--seed",
        str(seed),
        "--out",
        str(folder / "events.jsonl.gz"),
        "--truth",
        str(folder / "truth.json"),
    ]
    ends = args.end or []
    if ends:
        simulate += ["--end", ends[(seed - args.first_seed) % len(ends)]]
    if args.clean:
        simulate.append("--clean")
    if not (args.reuse_events and (folder / "events.jsonl.gz").exists()):
        subprocess.run(simulate, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run(
        [
            *cli,
            "analyse",
            str(folder / "events.jsonl.gz"),
            "--json",
            str(folder / "opportunities.json"),
            # the score reads the episodes only: no database (half of analyse's time)
            "--no-db",
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return seed, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--trusts", type=int, default=3)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument(
        "--end", action="append", help="period end date (default today); repeat to cycle seeds"
    )
    parser.add_argument("--clean", action="store_true", help="clean feeds (simulate --clean)")
    parser.add_argument(
        "--markdown", action="store_true", help="print the README's markdown table as well"
    )
    parser.add_argument(
        "--score-only",
        action="store_true",
        help="score the seeds already in --out again (no simulate, no analyse)",
    )
    parser.add_argument(
        "--reuse-events",
        action="store_true",
        help="analyse again the events of seeds already simulated in --out (an engine change)",
    )
    parser.add_argument("--out", default="out/quality")
    parser.add_argument("--jobs", type=int, default=5, help="seeds run in parallel")
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if not args.score_only:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for seed, seconds in pool.map(lambda s: _run_seed(s, args), seeds):
                print(f"seed {seed}: simulate + analyse {seconds:.0f} s", file=sys.stderr)
    injections, episodes, gaps, excluded = [], [], [], 0
    for seed in seeds:
        folder = Path(args.out) / f"seed{seed}"
        seed_injections, start = load_truth(folder / "truth.json")
        tag = f"#{seed}"
        injections += [
            replace(i, trust=i.trust + tag, site=(i.site or "") + tag) for i in seed_injections
        ]
        # each seed's own period start (seeds may end on different dates): the prelude is out
        seed_episodes = load_episodes(folder / "opportunities.json")
        kept = [e for e in seed_episodes if start is None or e.detected >= start]
        excluded += len(seed_episodes) - len(kept)
        episodes += [replace(e, trust=e.trust + tag, site=(e.site or "") + tag) for e in kept]
        gaps += [
            replace(g, trust=g.trust + tag, site=(g.site or "") + tag)
            for g in load_gaps(folder / "truth.json")
        ]
    result = score(injections, episodes, None, gaps)
    result["excluded_before_period"] = excluded
    (Path(args.out) / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    print(format_table(result))
    if args.markdown:
        print()
        print(format_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
