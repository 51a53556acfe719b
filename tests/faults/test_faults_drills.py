"""Fault drills on a private stack: whatever fails, and however often, the worker's tables end
identical to `opsradar analyse` on the same events (nothing lost, nothing double-counted).

Each drill produces the same small simulated trust, breaks something mid-stream, lets the worker
recover by itself and compares every metric row, transition and settled episode.
"""

from __future__ import annotations

import os
import re
import signal
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from tests.faults.conftest import Drill, event_count
from tests.parity_support import Results, sync_url
from tests.worker_support import wait_for_async

pytestmark = pytest.mark.faults

#: How long the Postgres drill keeps the database down; CI runs the 60 s the runbook promises.
POSTGRES_OUTAGE_SECONDS = float(os.environ.get("OPSRADAR_DRILL_PG_OUTAGE_SECONDS", "60"))
#: Commits every 5 s: wide enough a window to catch state written after the last commit.
SLOW_COMMITS = {"OPSRADAR_COMMIT_INTERVAL_SECONDS": "5"}


def _metric_rows(database_url: str) -> int:
    with psycopg.connect(sync_url(database_url).replace("postgresql+psycopg", "postgresql")) as c:
        row = c.execute("SELECT count(*) FROM scope_metrics").fetchone()
    return int(row[0]) if row else 0


async def test_worker_killed_while_its_state_is_ahead_of_its_offsets(
    drill: Drill, event_file: Path, expected: tuple[Results, datetime]
) -> None:
    total = event_count(event_file)
    await drill.produce(event_file)
    worker = drill.worker(SLOW_COMMITS)
    await wait_for_async(
        lambda: drill.state_ahead_of_commit(total), seconds=120, interval=0.1,
        what="state written after the last commit, mid-stream",
    )  # fmt: skip
    worker.stop(signal.SIGKILL)
    assert await drill.committed_inputs() < total, "the kill came after the end of the stream"
    worker.start()
    await drill.wait_drained()
    drill.assert_matches(expected)


async def test_postgres_down_for_a_minute_mid_stream(
    drill: Drill, event_file: Path, expected: tuple[Results, datetime]
) -> None:
    import asyncio
    import time

    total = event_count(event_file)
    worker = drill.worker()
    await drill.produce(event_file)
    await wait_for_async(
        lambda: _async(lambda: _metric_rows(drill.database_url) > 0), seconds=120,
        what="the first metric rows in Postgres",
    )  # fmt: skip
    assert await drill.committed_inputs() < total, "the stream ended before the outage"
    drill.stack.run("stop", "postgres")
    try:
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
    failures = re.findall(
        r"^opsradar_sink_write_failures_total\{[^}]*\} (\S+)$", during_outage, re.M
    )
    assert failures and sum(map(float, failures)) > 0, "the outage left no trace in /metrics"


async def _async(check: object) -> object:
    return check()  # type: ignore[operator]
