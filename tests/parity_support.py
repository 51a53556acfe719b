"""Comparing a worker's Postgres tables with `opsradar analyse` on the same events.

`analyse` flushes at the end of its input (it evaluates the hour closing each stream's last
event); a live worker only evaluates a boundary once an event passes it. So the comparison covers
every boundary up to the last one that every stream (scope and topic) passed (`cutoff`), and
there it must be exact.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from models.events import EVENT_TYPE_TOPIC, INPUT_TOPICS
from models.outputs import METRICS_TOPIC, OPPORTUNITIES_TOPIC
from streams.lag import group_lag
from tests.worker_support import REPO


@dataclass(frozen=True)
class Results:
    metrics: dict[tuple[str, str, datetime], tuple[float, int]]
    transitions: set[tuple[Any, ...]]
    episodes: set[tuple[Any, ...]]
    #: (scope, kind, episode) -> (first_emerging_at, first_active_at, resolved_at) of episodes
    #: whose every date is before the cutoff (both paths saw their whole life)
    settled: dict[tuple[Any, ...], tuple[Any, ...]]


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_results(url: str, cutoff: datetime) -> Results:
    """The three tables of a database (sync URL), restricted to what both paths evaluated."""
    engine = sa.create_engine(sync_url(url))
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
            rows = list(
                conn.execute(
                    sa.text(
                        "SELECT scope, kind, episode, status, first_emerging_at, first_active_at,"
                        " resolved_at FROM opportunities"
                    )
                )
            )
    finally:
        engine.dispose()
    settled = {
        (r.scope, r.kind, r.episode): (
            r.status,
            _utc(r.first_emerging_at),
            _utc(r.first_active_at),
            _utc(r.resolved_at),
        )
        for r in rows
        if r.resolved_at is not None and _utc(r.resolved_at) <= cutoff  # type: ignore[operator]
    }
    return Results(
        metrics={k: v for k, v in metrics.items() if k[2] is not None and k[2] <= cutoff},
        transitions={t for t in transitions if t[5] is not None and t[5] <= cutoff},
        episodes={(r.scope, r.kind, r.episode) for r in rows},
        settled=settled,
    )


def sync_url(url: str) -> str:
    return url.replace("+asyncpg", "+psycopg").replace("+aiosqlite", "")


def last_passed_boundary(event_file: Path) -> datetime:
    """The newest hour boundary every stream (scope and topic) has passed: both paths evaluated
    everything up to it."""
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


def analyse(event_file: Path, folder: Path) -> tuple[Results, datetime]:
    """`opsradar analyse` of the file into SQLite: the expected results and their cutoff."""
    db = folder / "analyse.sqlite"
    subprocess.run(
        [sys.executable, "-m", "streams", "analyse", str(event_file), "--db", f"sqlite:///{db}"],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    cutoff = last_passed_boundary(event_file)
    return read_results(f"sqlite:///{db}", cutoff), cutoff


def simulate(out: Path, *, days: int = 12, seed: int = 5) -> Path:
    """A small simulated trust with two injected bottlenecks (one bed-flow, one referrals), clean
    feeds: the parity and drills compare runs of the same events, not the feed quirks."""
    subprocess.run(
        [
            sys.executable, "-m", "streams", "simulate", "--trusts", "1", "--days", str(days),
            "--seed", str(seed), "--out", str(out), "--scenario", "documentation_delays",
            "--scenario", "missed_appointments", "--clean",
        ],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    return out


async def produce_file(event_file: Path, suffix: str, env: dict[str, str] | None = None) -> None:
    """`opsradar produce` of the file to this suffix's topics (``env``: another broker)."""
    import asyncio

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streams", "produce", str(event_file), "--topic-suffix", suffix,
        "--no-progress", cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()


def pipeline_topics(suffix: str) -> list[str]:
    return [f"{t}{suffix}" for t in (*INPUT_TOPICS, METRICS_TOPIC, OPPORTUNITIES_TOPIC)]


def group_of(suffix: str) -> str:
    return f"opsradar{suffix.replace('.', '-')}"


async def drained(bootstrap: str, suffix: str) -> bool:
    """Every input and output record committed by the worker's group."""
    behind, total = await group_lag(bootstrap, group_of(suffix), pipeline_topics(suffix))
    return total > 0 and behind == 0


def assert_same(online: Results, offline: Results) -> None:
    missing = sorted(offline.metrics.keys() - online.metrics.keys())
    unexpected = sorted(online.metrics.keys() - offline.metrics.keys())
    assert not missing and not unexpected, (
        f"{len(missing)} metric rows missing (first, last: {missing[:1]}, {missing[-1:]}; "
        f"scopes/metrics: {sorted({k[:2] for k in missing})[:12]}), {len(unexpected)} unexpected"
    )
    different = {k for k in offline.metrics if online.metrics[k] != offline.metrics[k]}
    assert not different, f"{len(different)} metric rows differ: {sorted(different)[:10]}"
    assert online.transitions == offline.transitions
    assert online.episodes == offline.episodes
    assert online.settled == offline.settled
    assert offline.transitions, "the injected bottlenecks must produce transitions"
