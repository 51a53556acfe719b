"""Fault drills on a private stack: whatever fails, and however often, the worker's tables end
identical to `opsradar analyse` on the same events (nothing lost, nothing double-counted).

Each drill produces the same small simulated trust, breaks something mid-stream, lets the worker
recover by itself and compares every metric row, transition and settled episode.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from models.events import BEDFLOW_TOPIC
from tests.faults.conftest import Drill, event_lag, events_processed, split
from tests.parity_support import Results, sync_url
from tests.worker_support import REPO, wait_for_async

pytestmark = pytest.mark.faults

#: How long the Postgres drill keeps the database down; CI runs the 60 s the runbook promises.
POSTGRES_OUTAGE_SECONDS = float(os.environ.get("OPSRADAR_DRILL_PG_OUTAGE_SECONDS", "60"))


async def _async(check: Callable[[], bool]) -> bool:
    """A plain check as the coroutine ``wait_for_async`` polls."""
    return check()


def _metric_rows(database_url: str) -> int:
    with psycopg.connect(sync_url(database_url).replace("postgresql+psycopg", "postgresql")) as c:
        row = c.execute("SELECT count(*) FROM scope_metrics").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.restart_drill
async def test_worker_killed_while_its_state_is_ahead_of_its_offsets(
    drill: Drill, event_file: Path, expected: tuple[Results, datetime]
) -> None:
    await drill.kill_with_state_ahead(event_file)
    drill.worker()
    await drill.wait_drained()
    drill.assert_matches(expected)


async def test_postgres_down_for_a_minute_mid_stream(
    drill: Drill, event_file: Path, expected: tuple[Results, datetime]
) -> None:
    """The first half is processed and written; Postgres then stops and the second half is
    produced while it is down: mid-stream by construction, however fast the worker is."""
    worker, second_half = await drill.first_half_done(event_file)
    assert _metric_rows(drill.database_url) > 0
    drill.stack.run("stop", "postgres")
    try:
        await drill.produce(second_half)
        down_until = time.monotonic() + POSTGRES_OUTAGE_SECONDS
        while time.monotonic() < down_until:
            # the outage is the drill's length, not a wait: the worker must stay up throughout
            assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
            await asyncio.sleep(1)
        during_outage = worker.metrics_text()
    finally:
        drill.stack.run("start", "postgres")
    await drill.wait_drained()
    assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
    drill.assert_matches(expected)
    # no event arrives any more, yet the lag keeps growing: a silent feed raises the lag alerts
    silent_from = event_lag(worker, BEDFLOW_TOPIC)
    assert silent_from is not None
    await wait_for_async(
        lambda: _async(lambda: (event_lag(worker, BEDFLOW_TOPIC) or 0) > silent_from + 1),
        seconds=30, what="the event-time lag growing while no event arrives",
    )  # fmt: skip
    failures = re.findall(
        r"^opsradar_sink_write_failures_total\{[^}]*\} (\S+)$", during_outage, re.M
    )
    assert failures and sum(map(float, failures)) > 0, "the outage left no trace in /metrics"


async def test_broker_killed_mid_stream_and_restarted(
    drill: Drill, event_file: Path, expected: tuple[Results, datetime]
) -> None:
    worker, second_half = await drill.first_half_done(event_file)
    await drill.second_half_in_flight(second_half)
    drill.stack.run("kill", "kafka")
    drill.stack.run("start", "kafka")
    await drill.wait_drained()
    assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
    drill.assert_matches(expected)


async def test_a_second_worker_joins_and_the_first_leaves(
    drill: Drill, event_file: Path, expected: tuple[Results, datetime]
) -> None:
    """The stream comes in thirds: the first is processed by one worker, the second by both
    once the second has joined, the third is produced only after the first worker left
    (SIGTERM), so both changes of ownership happen mid-stream."""
    first_part, second_part, third_part = split(event_file, drill.folder, 3)
    await drill.produce(first_part)
    first = drill.worker()
    await wait_for_async(drill.some_committed, seconds=120, interval=0.2, what="a commit")
    second = drill.worker()
    await drill.produce(second_part)
    await wait_for_async(
        lambda: _async(lambda: "partitions lost in a rebalance" in first.log_path.read_text()),
        seconds=120, interval=0.2, what="partitions moving to the second worker",
    )  # fmt: skip
    assert events_processed(first) > 0
    assert first.stop() == 0, first.log_tail()
    await drill.produce(third_part)
    await drill.wait_drained()
    assert second.process is not None and second.process.poll() is None, second.log_tail()
    drill.assert_matches(expected)


DROPPING = Path(__file__).parent / "dropping"


async def test_records_faust_drops_are_read_from_the_broker(
    drill: Drill, event_file: Path, expected: tuple[Results, datetime]
) -> None:
    """Faust's consumer drops the first record of every partition, one record in 50 and the
    last record of a partition when fetched, as it does by itself around recovery and
    rebalances (``dropping/sitecustomize.py``): every agent reads what it was not handed from
    the broker, a partition left with its tail missing has it read when its agent is idle, and
    the group commits to the end."""
    worker = drill.worker(
        {"PYTHONPATH": f"{DROPPING}{os.pathsep}{REPO}", "OPSRADAR_DRILL_DROP_EVERY": "50"}
    )
    await drill.produce(event_file)
    await drill.wait_drained()
    drill.assert_matches(expected)
    # a hole mid-partition or at its tail, whichever the drops made of each partition (a
    # partition of a few records can lose only its tail): both are read from the broker
    holes = re.findall(
        r"topic='([^']+)', partition=\d+\): (?:record \d+ handed over before \d+; reading"
        r"|records \d+-\d+ are in the log but were never handed over; reading)",
        worker.log_path.read_text(),
    )
    # the input topics, and the output topics the sinks read, each lost records
    assert any(tp.startswith("nhs.") for tp in holes), worker.log_tail()
    assert any(tp.startswith("opsradar.metrics.") for tp in holes), worker.log_tail()
    assert "never handed over; reading them" in worker.log_path.read_text(), "no tail was lost"


@pytest.mark.restart_drill
async def test_restart_without_the_local_state_directory(
    drill: Drill, event_file: Path, expected: tuple[Results, datetime]
) -> None:
    data_dir = drill.folder / "rocksdb-worker"
    rocksdb = {"OPSRADAR_STORE": "rocksdb://"}
    await drill.kill_with_state_ahead(event_file, rocksdb, data_dir=data_dir)
    assert any(data_dir.rglob("*")), "the RocksDB store left nothing on disk to delete"
    shutil.rmtree(data_dir)
    worker = drill.worker(rocksdb, data_dir=data_dir)
    await drill.wait_drained()
    drill.assert_matches(expected)
    log_text = worker.log_path.read_text()
    assert re.search(r"scope_state restored from its changelog: [1-9]\d* keys", log_text), (
        worker.log_tail()
    )
