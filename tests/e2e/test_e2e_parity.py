"""The same event file through `opsradar analyse` and through Kafka + a real worker gives the
same metric values and the same opportunity episodes, also when the worker is stopped mid-stream
(SIGTERM) and restarted from its committed offsets and changelog.

`analyse` flushes at the end of its input (it evaluates the hour closing each stream's last
event); a live worker only evaluates a boundary once an event passes it. So the comparison covers
every boundary up to the last one that every stream (scope and topic) passed (`cutoff`), and
there it must be exact.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from models.events import INPUT_TOPICS
from models.outputs import METRICS_TOPIC, OPPORTUNITIES_TOPIC
from streams.lag import group_lag
from tests.e2e.conftest import WorkerFactory
from tests.worker_support import REPO, wait_for_async

pytestmark = pytest.mark.e2e

HISTORY_REPLAY = {"OPSRADAR_PAST_HORIZON_DAYS": "0"}


@dataclass(frozen=True)
class Results:
    metrics: dict[tuple[str, str, datetime], tuple[float, int]]
    transitions: set[tuple[Any, ...]]
    episodes: set[tuple[Any, ...]]


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _read(url: str, cutoff: datetime) -> Results:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            metrics = {
                (r.scope, r.metric, _utc(r.evaluated_at)): (r.value, r.sample_size)
                for r in conn.execute(
                    sa.text(
                        "SELECT scope, metric, evaluated_at, value, sample_size FROM scope_metrics"
                    )
                )
            }
            transitions = {
                (r.scope, r.kind, r.episode, r.from_status, r.to_status, _utc(r.at), r.observed)
                for r in conn.execute(
                    sa.text(
                        "SELECT scope, kind, episode, from_status, to_status, at, observed "
                        "FROM opportunity_transitions"
                    )
                )
            }
            episodes = {
                (r.scope, r.kind, r.episode)
                for r in conn.execute(sa.text("SELECT scope, kind, episode FROM opportunities"))
            }
    finally:
        engine.dispose()
    return Results(
        metrics={k: v for k, v in metrics.items() if k[2] is not None and k[2] <= cutoff},
        transitions={t for t in transitions if t[5] is not None and t[5] <= cutoff},
        episodes=episodes,
    )


def _sync(url: str) -> str:
    return url.replace("+asyncpg", "+psycopg").replace("+aiosqlite", "")


@pytest.fixture(scope="module")
def event_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated trust with two injected bottlenecks (one bed-flow, one referrals)."""
    out = tmp_path_factory.mktemp("parity") / "events.jsonl.gz"
    subprocess.run(
        [
            sys.executable, "-m", "streams", "simulate", "--trusts", "1", "--days", "12",
            "--seed", "5", "--out", str(out), "--scenario", "documentation_delays",
            "--scenario", "missed_appointments", "--clean",
        ],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def offline(event_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, datetime]:
    db = tmp_path_factory.mktemp("analyse") / "analyse.sqlite"
    subprocess.run(
        [sys.executable, "-m", "streams", "analyse", str(event_file), "--db", f"sqlite:///{db}"],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    cutoff = _last_passed_boundary(event_file)
    return _read(f"sqlite:///{db}", cutoff), cutoff


def _last_passed_boundary(event_file: Path) -> datetime:
    """The newest hour boundary every stream (scope and topic) has passed: both paths evaluated
    everything up to it."""
    import gzip

    import orjson

    from models.events import EVENT_TYPE_TOPIC

    newest: dict[tuple[str, str], datetime] = {}
    for line in gzip.open(event_file, "rb"):
        if line.strip():
            event = orjson.loads(line)
            stream = (
                event.get("site_code") or event["trust_code"],
                EVENT_TYPE_TOPIC[event["event_type"]],
            )
            at = datetime.fromisoformat(event["occurred_at"])
            newest[stream] = max(at, newest.get(stream, at))
    return min(newest.values()).astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def _produce(event_file: Path, suffix: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streams", "produce", str(event_file), "--topic-suffix", suffix,
        "--no-progress", cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()


def _topics(suffix: str) -> list[str]:
    return [f"{t}{suffix}" for t in (*INPUT_TOPICS, METRICS_TOPIC, OPPORTUNITIES_TOPIC)]


async def _drained(bootstrap: str, suffix: str) -> bool:
    behind, total = await group_lag(
        bootstrap, f"opsradar{suffix.replace('.', '-')}", _topics(suffix)
    )
    return total > 0 and behind == 0


def _assert_same(online: Results, offline: Results) -> None:
    assert online.metrics.keys() == offline.metrics.keys()
    different = {k for k in offline.metrics if online.metrics[k] != offline.metrics[k]}
    assert not different, sorted(different)[:10]
    assert online.transitions == offline.transitions
    assert online.episodes == offline.episodes
    assert offline.transitions, "the injected bottlenecks must produce transitions"


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
    await _produce(event_file, unique_suffix)
    await wait_for_async(
        lambda: _drained(kafka_bootstrap, unique_suffix), seconds=600, what="worker to drain"
    )
    _assert_same(_read(_sync(e2e_database), cutoff), expected)


def _halves(event_file: Path, folder: Path) -> tuple[Path, Path]:
    """The file's events split in two at the middle line (the file is in event-time order)."""
    import gzip

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
    point certain however fast the worker runs."""
    expected, cutoff = offline
    first, second = _halves(event_file, tmp_path)
    worker = start_worker({**HISTORY_REPLAY, "OPSRADAR_STORE": "rocksdb://"})
    await _produce(first, unique_suffix)
    await wait_for_async(
        lambda: _drained(kafka_bootstrap, unique_suffix), seconds=600, what="first half to drain"
    )
    assert worker.stop() == 0, worker.log_tail()

    await _produce(second, unique_suffix)
    worker.start()
    await wait_for_async(
        lambda: _drained(kafka_bootstrap, unique_suffix), seconds=600, what="worker to drain"
    )
    assert len(worker.history) == 2, "the worker was not restarted"
    _assert_same(_read(_sync(e2e_database), cutoff), expected)
