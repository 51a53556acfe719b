"""Fixtures for whole-pipeline tests: a migrated database and real worker processes."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from models.events import BEDFLOW_TOPIC, INPUT_TOPICS
from models.outputs import METRICS_TOPIC, OPPORTUNITIES_TOPIC
from streams.lag import group_lag
from tests.database_support import fresh_database
from tests.prometheus_support import wait_for_query
from tests.worker_support import (
    REPO,
    WorkerProcess,
    free_port,
    produce,
    wait_for_async,
    worker_env,
)

WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def e2e_database(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
def start_worker(
    kafka_bootstrap: str, e2e_database: str, unique_suffix: str, tmp_path: Path
) -> Iterator[WorkerFactory]:
    """Start workers for this test's topics and database; all are stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(
        extra_env: dict[str, str] | None = None, web_port: int | None = None
    ) -> WorkerProcess:
        port = web_port or free_port()
        worker = WorkerProcess(
            env=worker_env(
                suffix=unique_suffix,
                database_url=e2e_database,
                data_dir=tmp_path / f"worker-{port}",
                web_port=port,
                extra=extra_env,
            ),
            web_port=port,
            log_path=tmp_path / f"worker-{port}.log",
        )
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.close()


@dataclass(frozen=True)
class PipelineRun:
    """What ``pipeline_ran`` leaves behind for the tests that read its results."""

    database_url: str
    prometheus_url: str
    suffix: str
    worker: WorkerProcess
    truth: list[dict[str, Any]]
    time_from: datetime
    time_to: datetime


#: Bottlenecks with an impact in every unit: bed-days and staff hours (documentation), pounds
#: (agency premium, DNA slots); roster churn and triage give the rostering/referral panels data.
PIPELINE_SCENARIOS = (
    "documentation_delays",
    "agency_reliance",
    "missed_appointments",
    "roster_churn",
    "triage_backlog",
)


def _cut(source: Path, target: Path, before: datetime) -> int:
    """Copy the events before ``before``: the run then ends while the bottlenecks still hold."""
    kept = 0
    with gzip.open(source, "rb") as lines, gzip.open(target, "wb") as out:
        for line in lines:
            if line.strip() and datetime.fromisoformat(orjson.loads(line)["occurred_at"]) < before:
                out.write(line)
                kept += 1
    return kept


@pytest.fixture(scope="session")
def pipeline_ran(
    kafka_bootstrap: str,
    postgres_url: str,
    prometheus_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PipelineRun]:
    """The whole pipeline once, on simulated data: simulate -> produce -> worker -> Postgres and
    Prometheus. The worker stays up (and scraped) until the session ends."""
    work = tmp_path_factory.mktemp("pipeline")
    suffix = f".p{uuid.uuid4().hex[:10]}"
    simulated, truth_file, events = (
        work / "sim.jsonl.gz",
        work / "truth.json",
        work / "events.jsonl.gz",
    )
    scenarios = [arg for name in PIPELINE_SCENARIOS for arg in ("--scenario", name)]
    subprocess.run(
        [sys.executable, "-m", "streams", "simulate", "--trusts", "1", "--days", "24",
         "--seed", "17", "--out", str(simulated), "--truth", str(truth_file), "--clean",
         *scenarios],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    truth = json.loads(truth_file.read_text())["injected"]
    onset = min(datetime.fromisoformat(t["onset_at"]) for t in truth)
    # A day before the first bottleneck ends: each has had 9 days or more to be flagged, and
    # all still hold. The simulated period ends today, so its calendar (weekdays, clinic days)
    # moves every day; a week after the first onset left some kinds, on some dates, short of
    # their persistence (no pound-valued opportunity open on 2026-12-03).
    cut_at = min(datetime.fromisoformat(t["until_at"]) for t in truth) - timedelta(days=1)
    assert _cut(simulated, events, cut_at) > 0

    with fresh_database(postgres_url) as database_url:
        port = free_port()
        worker = WorkerProcess(
            env=worker_env(
                suffix=suffix, database_url=database_url, data_dir=work / "worker", web_port=port
            ),
            web_port=port,
            log_path=work / "worker.log",
        )
        worker.start()
        worker.register_with_prometheus({"test": suffix})
        try:
            subprocess.run(
                [sys.executable, "-m", "streams", "produce", str(events), "--topic-suffix", suffix,
                 "--no-progress"],
                cwd=REPO, check=True, capture_output=True,
            )  # fmt: skip
            # One identifying event, so the rejected-by-reason series exist too.
            asyncio.run(
                produce(
                    kafka_bootstrap,
                    BEDFLOW_TOPIC + suffix,
                    [(b"RZ701", b'{"event_type": "admission", "ward_code": "943 476 5919"}')],
                )
            )
            group = f"opsradar{suffix.replace('.', '-')}"
            topics = [f"{t}{suffix}" for t in (*INPUT_TOPICS, METRICS_TOPIC, OPPORTUNITIES_TOPIC)]

            async def drained() -> bool:
                behind, total = await group_lag(kafka_bootstrap, group, topics)
                return total > 0 and behind == 0

            asyncio.run(wait_for_async(drained, seconds=900, what="the pipeline run to drain"))
            # The sinks have written everything; the dashboards read Prometheus, which has only
            # seen it once it scrapes the worker after this point.
            drained_at = time.time()
            first = wait_for_query(
                prometheus_url,
                f'timestamp(up{{test="{suffix}"}} == 1) > {drained_at:.3f}',
                timeout=60,
                what="a scrape of the worker after the pipeline drained",
            )
            # A panel's rate() needs two samples of a series in its 1-minute window, and a
            # worker can drain within one scrape interval: wait for a second scrape after the
            # drain, and for three in the window.
            scraped_at = max(float(sample["value"][1]) for sample in first)
            wait_for_query(
                prometheus_url,
                f'timestamp(up{{test="{suffix}"}} == 1) > {scraped_at:.3f}'
                f' and count_over_time(up{{test="{suffix}"}}[1m]) >= 3',
                timeout=60,
                what="a second scrape of the worker after the pipeline drained",
            )
            yield PipelineRun(
                database_url=database_url,
                prometheus_url=prometheus_url,
                suffix=suffix,
                worker=worker,
                truth=truth,
                time_from=onset - timedelta(days=400),
                time_to=cut_at + timedelta(days=1),
            )
        finally:
            worker.close()
