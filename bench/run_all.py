"""``make bench``: every benchmark, each figure beside a baseline measured in the same run, then
the headline figures against their targets; writes ``bench/results.json``.

    .venv/bin/python bench/run_all.py [--quick] [--out bench/results.json] [--only NAME ...]

Each bench runs in its own process (``bench/<script> --json <file>``) and prints its own table;
this script merges their figures, adds the headline ratios (``bench/figures.py``), the machine
and the date, and each bench's duration. ``--quick`` runs smaller inputs and leaves out the
national run (``bench/national.py``, the longest: a 500-site state in one worker). The local
stack must be up (``make up``; ``make bench`` starts it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from figures import TARGETS, machine, rounded, summary_lines, with_ratios  # noqa: E402


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...] | None  # None: not run with --quick
    #: its figures go under its name in results.json instead of at the top level
    nested: bool = False


BENCHES = (
    Bench("decode", "bench_decode.py", (), ("--events", "10000", "--repeats", "2")),
    Bench("pipeline", "bench_pipeline.py", (), ("--days", "3")),
    Bench("mllp", "bench_mllp.py", (), ("--messages", "3000"), nested=True),
    Bench("forecast", "forecast.py", (), ("--trusts", "1", "--days", "42"), nested=True),
    Bench("national", "national.py", (), None),
)

#: keys every results.json carries (None when the bench that makes them did not run)
REQUIRED = (
    *TARGETS,
    "analyse_events_per_s",
    "national_restore_s",
    "national_open_pathways",
    "national_planned_shifts",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller inputs, no national run (a few minutes)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "results.json",
                        help="where to write the figures (default bench/results.json)")  # fmt: skip
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES],
                        help="run only these benches")  # fmt: skip
    parser.add_argument("--national-sites", type=int,
                        help="sites of the national run (default 500)")  # fmt: skip
    args = parser.parse_args()

    flat: dict[str, Any] = {}
    durations: dict[str, float] = {}
    failed: list[str] = []
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for bench in BENCHES:
            if args.only and bench.name not in args.only:
                continue
            extra = bench.quick if args.quick else bench.full
            if extra is None:
                print(f"\n### {bench.script}: left out by --quick", flush=True)
                continue
            if bench.name == "national" and args.national_sites:
                extra = (*extra, "--sites", str(args.national_sites))
            out = Path(tmp) / f"{bench.name}.json"
            print(f"\n### {bench.script} {' '.join(extra)}", flush=True)
            started = time.perf_counter()
            done = subprocess.run([sys.executable, str(HERE / bench.script), *extra,
                                   "--json", str(out)], check=False)  # fmt: skip
            durations[bench.name] = time.perf_counter() - started
            if done.returncode != 0 or not out.exists():
                failed.append(bench.name)
                continue
            figures = json.loads(out.read_text())
            if bench.nested:
                flat[bench.name] = figures
            else:
                flat.update(figures)

    results = {key: None for key in REQUIRED} | with_ratios(flat)
    results.update(machine())
    results["quick"] = args.quick
    results["durations_s"] = durations
    results["total_s"] = time.perf_counter() - began
    results["failed"] = failed
    results = rounded(results)
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    print(f"\n### headline figures ({results['measured_at']}, {results['cpus']} CPUs)")
    for line in summary_lines(results):
        print(line)
    took = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in durations.items())
    print(f"\nwritten to {args.out}; took {results['total_s']:.0f} s ({took})")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
