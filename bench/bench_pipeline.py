"""End-to-end worker throughput on the real broker, beside raw aiokafka and a decode-only Faust
agent on the same topics; ``analyse`` beside ``orjson.loads`` of the same lines.

Run: ``.venv/bin/python bench/bench_pipeline.py [--days D] [--json OUT]`` with the local stack
up (``make bench`` does both). Simulates one trust, then for single-event records and for batch
records:

1. produces the events to fresh topics;
2. baseline: a bare aiokafka consumer reads those topics from the start and decodes every record
   with ``orjson.loads`` (no validation, no engine, no state, no outputs);
3. single-event records only: ``bench/noop_agent.py``, a Faust app whose one agent decodes +
   validates + guards each record and acks it (the worker's Faust and decoding cost, nothing
   else), consumes the same topics;
4. a real ``opsradar worker`` (decode + guard + engine + changelogged state + output topics +
   Postgres and Prometheus sinks) consumes the same topics.

Faust apps are timed from their ``[^Worker]: Ready`` log line to the moment their consumer group
has committed every input record. Finally ``opsradar analyse`` on the same file (decode + engine +
SQLite; the process's wall time, its start included), beside ``orjson.loads`` of every line of
that file. Prints events/s and each ratio; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from aiokafka import AIOKafkaConsumer

from models.events import INPUT_TOPICS
from streams.lag import group_lag
from streams.settings import Settings
from tests.database_support import fresh_database
from tests.worker_support import REPO, WorkerProcess, free_port, wait_for, worker_env

NOOP_AGENT = Path(__file__).resolve().parent / "noop_agent.py"


class NoopAgentProcess(WorkerProcess):
    """``bench/noop_agent.py`` run as the worker is: same environment, same readiness check."""

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(NOOP_AGENT)], cwd=REPO, env=self.env, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.history.append(self.process.pid)
        wait_for(self._metrics_answer, timeout=90, what=f"noop agent on {self.web_port}")


def _opsradar(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "streams", *argv], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


async def _raw_consume(bootstrap: str, topics: list[str], expect_events: int) -> float:
    """Seconds for a bare consumer to read and orjson-decode every event of ``topics``."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    seen = 0
    try:
        start = time.perf_counter()
        while seen < expect_events:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for messages in batch.values():
                for message in messages:
                    value = orjson.loads(message.value)
                    seen += len(value) if isinstance(value, list) else 1
        return time.perf_counter() - start
    finally:
        await consumer.stop()


async def _drained_at(bootstrap: str, group: str, topics: list[str]) -> datetime:
    """The wall-clock time the group has committed every record of ``topics``."""
    while True:
        behind, total = await group_lag(bootstrap, group, topics)
        if total > 0 and behind == 0:
            return datetime.now().astimezone()
        await asyncio.sleep(0.1)


def _ready_at(log_path: Path) -> datetime:
    """When the Faust app logged ``[^Worker]: Ready``: its recovery done, its fetcher started,
    so it handles records from then on (its group's first commit can come after the last
    record when the app is fast, so that is no start mark)."""
    for line in log_path.read_text(errors="replace").splitlines():
        if "[^Worker]: Ready" in line:
            # Faust logs local time without a zone
            return datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").astimezone()
    raise RuntimeError(f"{log_path} has no Ready line")


def _faust_rate(
    process_type: type[WorkerProcess], *, settings: Settings, suffix: str, count: int,
    work: Path, database_url: str, name: str,
) -> float:  # fmt: skip
    """Events/s of one Faust app (its own consumer group) over the topics of ``suffix``."""
    port = free_port()
    app_id = f"{name}{suffix.replace('.', '-')}"
    env = worker_env(suffix=suffix, database_url=database_url, data_dir=work / f"{name}{suffix}",
                     web_port=port, extra={"OPSRADAR_PAST_HORIZON_DAYS": "0",
                                           "OPSRADAR_APP_ID": app_id})  # fmt: skip
    process = process_type(env=env, web_port=port, log_path=work / f"{name}{suffix}.log")
    process.start()
    try:
        topics = [f"{t}{suffix}" for t in INPUT_TOPICS]
        done = asyncio.run(_drained_at(settings.kafka_bootstrap, app_id, topics))
    finally:
        process.close()
    return count / (done - _ready_at(process.log_path)).total_seconds()


def _run_mode(
    settings: Settings, events: Path, count: int, batch: int, work: Path, *, noop: bool
) -> dict[str, float]:
    suffix = f".b{uuid.uuid4().hex[:8]}"
    _opsradar("produce", str(events), "--topic-suffix", suffix, "--batch-size", str(batch),
              "--no-progress")  # fmt: skip
    topics = [f"{t}{suffix}" for t in INPUT_TOPICS]
    rates = {"raw": count / asyncio.run(_raw_consume(settings.kafka_bootstrap, topics, count))}
    with fresh_database(settings.database_url) as database_url:
        common: dict[str, Any] = dict(
            settings=settings, suffix=suffix, count=count, work=work, database_url=database_url
        )
        if noop:
            rates["noop_agent"] = _faust_rate(NoopAgentProcess, name="noop", **common)
        rates["worker"] = _faust_rate(WorkerProcess, name="opsradar", **common)
    return rates


def _orjson_parse_rate(path: Path, repeats: int = 3) -> float:
    """Events/s of ``orjson.loads`` over every line of the file (best of ``repeats``)."""
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for line in lines:
            orjson.loads(line)
        best = min(best, time.perf_counter() - start)
    return len(lines) / best


def measure(days: int = 5) -> dict[str, Any]:
    """Every figure of this bench, events/s (see the module's docstring)."""
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        events = work / "events.jsonl"
        _opsradar("simulate", "--trusts", "1", "--days", str(days), "--seed", "1",
                  "--out", str(events), "--clean")  # fmt: skip
        count = sum(1 for line in events.open("rb") if line.strip())
        print(f"{count} simulated events (1 trust, {days} days)", flush=True)

        start = time.perf_counter()
        _opsradar("analyse", str(events), "--db", f"sqlite:///{work / 'analyse.sqlite'}")
        analyse = count / (time.perf_counter() - start)
        parse = _orjson_parse_rate(events)

        single = _run_mode(settings, events, count, 1, work, noop=True)
        batch = _run_mode(settings, events, count, 500, work, noop=False)
    return {
        "pipeline_events": count,
        "pipeline_days": days,
        "pipeline_batch_record_events": 500,
        "raw_single_events_per_s": single["raw"],
        "noop_agent_single_events_per_s": single["noop_agent"],
        "worker_single_events_per_s": single["worker"],
        "raw_batch_events_per_s": batch["raw"],
        "worker_batch_events_per_s": batch["worker"],
        "analyse_events_per_s": analyse,
        "orjson_parse_events_per_s": parse,
    }


def report(figures: dict[str, Any]) -> None:
    f = figures
    print(f"\n{'records':<24}{'raw aiokafka+orjson':>22}{'noop Faust agent':>19}"
          f"{'opsradar worker':>18}{'ratio':>8}")  # fmt: skip
    print(f"{'single-event records':<24}{f['raw_single_events_per_s']:>17,.0f} ev/s"
          f"{f['noop_agent_single_events_per_s']:>14,.0f} ev/s"
          f"{f['worker_single_events_per_s']:>13,.0f} ev/s"
          f"{f['worker_single_events_per_s'] / f['noop_agent_single_events_per_s']:>8.3f}"
          "  (worker / noop agent)")  # fmt: skip
    print(f"{'batch records (500)':<24}{f['raw_batch_events_per_s']:>17,.0f} ev/s{'-':>19}"
          f"{f['worker_batch_events_per_s']:>13,.0f} ev/s"
          f"{f['worker_batch_events_per_s'] / f['raw_batch_events_per_s']:>8.3f}"
          "  (worker / raw)")  # fmt: skip
    print(f"\nopsradar analyse (decode + engine + SQLite): {f['analyse_events_per_s']:,.0f} ev/s; "
          f"orjson.loads of the same lines {f['orjson_parse_events_per_s']:,.0f} ev/s; "
          f"ratio {f['analyse_events_per_s'] / f['orjson_parse_events_per_s']:.4f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--days", type=int, default=5, help="simulated days (default 5)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    figures = measure(args.days)
    report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
