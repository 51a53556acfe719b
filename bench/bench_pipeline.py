"""End-to-end worker throughput on the real broker, beside raw aiokafka on the same topics.

Run: ``.venv/bin/python bench/bench_pipeline.py [--days D]`` with the local stack up (``make
bench`` does both). Simulates one trust, then for single-event records and for batch records:

1. produces the events to fresh topics;
2. baseline: a bare aiokafka consumer reads those topics from the start and decodes every record
   with ``orjson.loads`` (no validation, no engine, no state, no outputs);
3. a real ``opsradar worker`` (decode + guard + engine + changelogged state + output topics +
   Postgres and Prometheus sinks) consumes the same topics; timed from its first committed offset
   to the moment its consumer group has committed every input record.

Finally ``opsradar analyse`` on the same file (decode + engine + SQLite). Prints events/s and the
ratio of each to the baseline measured in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from aiokafka import AIOKafkaConsumer

from models.events import INPUT_TOPICS
from streams.lag import group_lag
from streams.settings import Settings
from tests.database_support import fresh_database
from tests.worker_support import REPO, WorkerProcess, free_port, worker_env


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


async def _worker_seconds(bootstrap: str, suffix: str, group: str) -> float:
    topics = [f"{t}{suffix}" for t in INPUT_TOPICS]
    started: float | None = None
    while True:
        behind, total = await group_lag(bootstrap, group, topics)
        if started is None and behind < total:
            started = time.perf_counter()  # the first commit: the worker is assigned and running
        if behind == 0 and started is not None:
            return time.perf_counter() - started
        await asyncio.sleep(0.2)


def _run_mode(
    settings: Settings, events: Path, count: int, batch: int, work: Path
) -> dict[str, float]:
    suffix = f".b{uuid.uuid4().hex[:8]}"
    _opsradar("produce", str(events), "--topic-suffix", suffix, "--batch-size", str(batch),
              "--no-progress")  # fmt: skip
    topics = [f"{t}{suffix}" for t in INPUT_TOPICS]
    raw = asyncio.run(_raw_consume(settings.kafka_bootstrap, topics, count))
    with fresh_database(settings.database_url) as database_url:
        port = free_port()
        worker = WorkerProcess(
            env=worker_env(suffix=suffix, database_url=database_url, data_dir=work / suffix,
                           web_port=port, extra={"OPSRADAR_PAST_HORIZON_DAYS": "0"}),
            web_port=port, log_path=work / f"worker{suffix}.log",
        )  # fmt: skip
        worker.start()
        try:
            group = f"opsradar{suffix.replace('.', '-')}"
            seconds = asyncio.run(_worker_seconds(settings.kafka_bootstrap, suffix, group))
        finally:
            worker.close()
    return {"raw": count / raw, "worker": count / seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=10, help="simulated days (default 10)")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        events = work / "events.jsonl"
        _opsradar("simulate", "--trusts", "1", "--days", str(args.days), "--seed", "1",
                  "--out", str(events), "--clean")  # fmt: skip
        count = sum(1 for line in events.open("rb") if line.strip())
        print(f"{count} simulated events (1 trust, {args.days} days)")

        start = time.perf_counter()
        _opsradar("analyse", str(events), "--db", f"sqlite:///{work / 'analyse.sqlite'}")
        analyse_rate = count / (time.perf_counter() - start)

        rows = []
        for label, batch in (("single-event records", 1), ("batch records (500)", 500)):
            rates = _run_mode(settings, events, count, batch, work)
            rows.append((label, rates["raw"], rates["worker"]))

    print(f"\n{'records':<24}{'raw aiokafka+orjson':>22}{'opsradar worker':>18}{'ratio':>8}")
    for label, raw, worker in rows:
        print(f"{label:<24}{raw:>18,.0f} ev/s{worker:>13,.0f} ev/s{worker / raw:>8.3f}")
    print(f"\nopsradar analyse (decode + engine + SQLite): {analyse_rate:,.0f} ev/s, "
          f"{analyse_rate / rows[1][1]:.3f} of the raw batch-record rate")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
