"""Fixtures for whole-pipeline tests: a migrated database and real worker processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.database_support import fresh_database
from tests.worker_support import WorkerProcess, free_port, worker_env

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
