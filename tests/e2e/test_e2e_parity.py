"""The same event file through `opsradar analyse` and through Kafka + a real worker gives the
same metric values and the same opportunity episodes, also when the worker is stopped mid-stream
(SIGTERM) and restarted from its committed offsets and changelog.

The comparison (`tests/parity_support.py`) covers every hour boundary both paths evaluated.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import WorkerFactory
from tests.parity_support import (
    Results,
    analyse,
    assert_same,
    drained,
    produce_file,
    read_results,
    simulate,
)
from tests.worker_support import wait_for_async

pytestmark = pytest.mark.e2e

HISTORY_REPLAY = {"OPSRADAR_PAST_HORIZON_DAYS": "0"}


@pytest.fixture(scope="module")
def event_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate(tmp_path_factory.mktemp("parity") / "events.jsonl.gz")


@pytest.fixture(scope="module")
def offline(event_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, datetime]:
    return analyse(event_file, tmp_path_factory.mktemp("analyse"))


async def test_worker_matches_analyse(
    event_file: Path,
    offline: tuple[Results, datetime],
    kafka_bootstrap: str,
    e2e_database: str,
    unique_suffix: str,
    start_worker: WorkerFactory,
) -> None:
    expected, cutoff = offline
    start_worker(HISTORY_REPLAY)
    await produce_file(event_file, unique_suffix)
    await wait_for_async(
        lambda: drained(kafka_bootstrap, unique_suffix), seconds=600, what="worker to drain"
    )
    assert_same(read_results(e2e_database, cutoff), expected)


def _halves(event_file: Path, folder: Path) -> tuple[Path, Path]:
    """The file's events split in two at the middle line (the file is in event-time order)."""
    lines = [line for line in gzip.open(event_file, "rb") if line.strip()]
    first, second = folder / "first.jsonl.gz", folder / "second.jsonl.gz"
    middle = len(lines) // 2
    with gzip.open(first, "wb") as out:
        out.writelines(lines[:middle])
    with gzip.open(second, "wb") as out:
        out.writelines(lines[middle:])
    return first, second


async def test_worker_restarted_mid_stream_matches_analyse(
    event_file: Path,
    offline: tuple[Results, datetime],
    kafka_bootstrap: str,
    e2e_database: str,
    unique_suffix: str,
    start_worker: WorkerFactory,
    tmp_path: Path,
) -> None:
    """The worker is stopped (SIGTERM) after the first half of the stream and restarted for the
    second: it must resume from its committed offsets and its changelogged (RocksDB) state.
    Stopping between two produced halves, rather than racing a live worker, makes the stop
    point certain however fast the worker runs (tests/faults kills it mid-stream)."""
    expected, cutoff = offline
    first, second = _halves(event_file, tmp_path)
    worker = start_worker({**HISTORY_REPLAY, "OPSRADAR_STORE": "rocksdb://"})
    await produce_file(first, unique_suffix)
    await wait_for_async(
        lambda: drained(kafka_bootstrap, unique_suffix), seconds=600, what="first half to drain"
    )
    assert worker.stop() == 0, worker.log_tail()

    await produce_file(second, unique_suffix)
    worker.start()
    await wait_for_async(
        lambda: drained(kafka_bootstrap, unique_suffix), seconds=600, what="worker to drain"
    )
    assert len(worker.history) == 2, "the worker was not restarted"
    assert_same(read_results(e2e_database, cutoff), expected)
