"""Where ``opsradar analyse`` spends its time: a pyinstrument profile of one run.

Run: ``.venv/bin/python bench/profile_analyse.py [FILE] [--days D] [--clean] [--top N]``. Without
FILE, simulates one trust for D days (default 45, seed 1, realistic feed quirks unless
``--clean``) into a temporary directory. Runs ``analyse`` in this process (decode, engine and the
SQLite writer into a fresh temporary database) under pyinstrument, then prints

1. events/s of the profiled run (the sampler costs a few per cent);
2. the share of the run under each stage: decoding (``RecordDecoder.decode``), the engine
   (``ScopeState.apply`` and ``flush``), the database writer (``OpportunityStore``, SQLAlchemy
   and the wait for SQLite's thread), the rest;
3. the top N functions by own time, and the call tree trimmed to frames over 2% of the run.

The before/after summary in the README ("Profile of `opsradar analyse`") comes from this script.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyinstrument import Profiler
from pyinstrument.frame import Frame
from pyinstrument.renderers import ConsoleRenderer

#: stage -> (function names, the file they must be in): a frame matching one, with its whole
#: subtree, counts for the stage (the outermost match wins)
STAGES = {
    "decode": (("decode",), "models/decoding.py"),
    "engine": (("apply", "flush"), "streams/engine/"),
    "database writer": (("write_metrics", "write_updates"), "sinks/database.py"),
}
#: SQLAlchemy's async layer runs the statement in a greenlet, which pyinstrument shows at the
#: root of the stack rather than under the writer; the main thread then waits (epoll) while the
#: aiosqlite thread runs SQLite. Both belong to the database writer.
WRITER_FILES = ("sqlalchemy/", "aiosqlite/")
WRITER_WAITS = ("epoll.poll", "select.select", "select")


def _stage_of(frame: Frame) -> str | None:
    path = frame.file_path or ""
    for stage, (names, where) in STAGES.items():
        if frame.function in names and where in path:
            return stage
    if any(where in path for where in WRITER_FILES) or frame.function in WRITER_WAITS:
        return "database writer"
    return None


def _stage_times(root: Frame) -> Counter[str]:
    """Seconds under each stage's outermost frames; the remainder is "other"."""
    times: Counter[str] = Counter()
    stack = [root]
    while stack:
        frame = stack.pop()
        stage = _stage_of(frame)
        if stage is not None:
            times[stage] += frame.time
        else:
            stack.extend(frame.children)
    times["other (reading, ordering, analyse loop, summary)"] = root.time - sum(times.values())
    return times


def _self_times(root: Frame) -> Counter[str]:
    """Own time (minus callees) per function, summed over every place it is called from."""
    times: Counter[str] = Counter()
    stack = [root]
    while stack:
        frame = stack.pop()
        if not frame.is_synthetic:
            where = frame.file_path_short or "?"
            times[f"{frame.function} ({where}:{frame.line_no})"] += frame.total_self_time
        stack.extend(frame.children)
    return times


def _simulate(days: int, clean: bool, out: Path) -> None:
    argv = ["simulate", "--trusts", "1", "--days", str(days), "--seed", "1", "--out", str(out)]
    if clean:
        argv.append("--clean")
    subprocess.run([sys.executable, "-m", "streams", *argv], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, help="JSONL event file (default: simulate)")
    parser.add_argument("--days", type=int, default=45, help="simulated days (default 45)")
    parser.add_argument("--clean", action="store_true", help="simulate without feed quirks")
    parser.add_argument("--top", type=int, default=15, help="functions listed by own time")
    args = parser.parse_args()

    from streams.cli import build_parser
    from streams.commands import analyse

    with tempfile.TemporaryDirectory() as tmp:
        events = args.file
        if events is None:
            events = Path(tmp) / "events.jsonl"
            _simulate(args.days, args.clean, events)
        analyse_args = build_parser().parse_args(
            ["analyse", str(events), "--db", f"sqlite:///{Path(tmp) / 'profile.sqlite'}"]
        )
        profiler = Profiler(interval=0.001)
        start = time.perf_counter()
        with profiler:
            summary = asyncio.run(analyse._analyse(analyse_args, [events]))
        seconds = time.perf_counter() - start

    counts = summary["events"]
    total = sum(counts[name] for name in ("accepted", "rejected", "duplicate", "late"))
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    print(f"{total:,} events in {seconds:.1f} s under the profiler: {total / seconds:,.0f} ev/s")
    print("\nshare of the run by stage")
    for stage, spent in _stage_times(root).most_common():
        print(f"  {spent / root.time:6.1%}  {spent:6.2f} s  {stage}")
    print(f"\ntop {args.top} functions by own time")
    for name, spent in _self_times(root).most_common(args.top):
        print(f"  {spent / root.time:6.1%}  {spent:6.2f} s  {name}")
    print("\ncall tree (frames over 2% of the run)")
    renderer = ConsoleRenderer(
        unicode=False, color=False, time="percent_of_total",
        processor_options={"filter_threshold": 0.02},
    )  # fmt: skip
    print(renderer.render(session))
    return 0


if __name__ == "__main__":
    sys.exit(main())
