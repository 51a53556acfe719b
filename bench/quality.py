"""Detection quality: simulate (N seeds x the default scenario mix) -> analyse -> score.

    .venv/bin/python bench/quality.py [--seeds 5] [--trusts 3] [--days 42] [--end DATE] [--out DIR]

Each seed runs in its own process (simulate, then ``opsradar analyse --json``); the episodes and
injections of all seeds are then scored together (codes are tagged with the seed so sites of
different seeds never match each other) and printed as the per-kind table of ``opsradar score``.
Writes ``quality.json`` (the score document) into ``--out``.
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

from feeds.scoring import format_table, load_episodes, load_truth, score  # noqa: E402


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
    if args.end:
        simulate += ["--end", args.end]
    subprocess.run(simulate, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    (folder / "analyse.sqlite").unlink(missing_ok=True)
    subprocess.run(
        [
            *cli,
            "analyse",
            str(folder / "events.jsonl.gz"),
            "--json",
            str(folder / "opportunities.json"),
            "--db",
            f"sqlite+aiosqlite:///{folder / 'analyse.sqlite'}",
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return seed, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--trusts", type=int, default=3)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--end", help="period end date (default today)")
    parser.add_argument("--out", default="out/quality")
    parser.add_argument("--jobs", type=int, default=5, help="seeds run in parallel")
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for seed, seconds in pool.map(lambda s: _run_seed(s, args), seeds):
            print(f"seed {seed}: simulate + analyse {seconds:.0f} s", file=sys.stderr)
    injections, episodes, start = [], [], None
    for seed in seeds:
        folder = Path(args.out) / f"seed{seed}"
        seed_injections, start = load_truth(folder / "truth.json")
        tag = f"#{seed}"
        injections += [
            replace(i, trust=i.trust + tag, site=(i.site or "") + tag) for i in seed_injections
        ]
        episodes += [
            replace(e, trust=e.trust + tag, site=(e.site or "") + tag)
            for e in load_episodes(folder / "opportunities.json")
        ]
    result = score(injections, episodes, start)
    (Path(args.out) / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
