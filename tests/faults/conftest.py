"""A private stack for the fault drills: they kill its broker and stop its Postgres, so they never
touch the shared stack other tests run on.

`deploy/stack.sh` starts it in `.stack/faults` (git-ignored) on ports picked free for this session;
its Kafka data is wiped first (the KRaft quorum remembers its controller port), its jars and its
Postgres cluster are kept between runs. It is stopped at the end of the session.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from models.events import EVENT_TYPE_TOPIC, INPUT_TOPICS
from tests.database_support import fresh_database
from tests.parity_support import (
    Results,
    analyse,
    assert_same,
    drained,
    group_of,
    produce_file,
    read_results,
    simulate,
)
from tests.worker_support import REPO, WorkerProcess, free_port, wait_for_async, worker_env

STACK_DIR = REPO / ".stack" / "faults"
HOST = "127.0.0.1"


@dataclass
class PrivateStack:
    """The drills' own Kafka, Postgres, Prometheus and Alertmanager (`deploy/stack.sh`)."""

    env: dict[str, str]
    kafka_port: int
    pg_port: int

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://opsradar:opsradar@{HOST}:{self.pg_port}/opsradar"

    def run(self, *args: str) -> None:
        done = subprocess.run(
            ["bash", str(REPO / "deploy" / "stack.sh"), *args],
            cwd=REPO, env=self.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, f"stack.sh {' '.join(args)}:\n{done.stdout}{done.stderr}"

    def client_env(self) -> dict[str, str]:
        """Environment for opsradar commands (produce) that must talk to this stack."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPSRADAR_")}
        env["OPSRADAR_KAFKA_BOOTSTRAP"] = self.bootstrap
        env["OPSRADAR_DATABASE_URL"] = self.database_url
        return env


@pytest.fixture(scope="session")
def private_stack() -> Iterator[PrivateStack]:
    ports = {
        "OPSRADAR_KAFKA_PORT": free_port(),
        "OPSRADAR_KAFKA_CONTROLLER_PORT": free_port(),
        "OPSRADAR_PG_PORT": free_port(),
        "OPSRADAR_PROMETHEUS_PORT": free_port(),
        "OPSRADAR_ALERTMANAGER_PORT": free_port(),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSRADAR_")}
    env |= {name: str(port) for name, port in ports.items()}
    env["OPSRADAR_STACK_DIR"] = str(STACK_DIR)
    stack = PrivateStack(
        env=env, kafka_port=ports["OPSRADAR_KAFKA_PORT"], pg_port=ports["OPSRADAR_PG_PORT"]
    )
    stack.run("down")  # a run killed before its teardown may have left it up
    for stale in ("data", "logs", "cluster.id", "server.properties"):
        path = STACK_DIR / "kafka" / stale
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    stack.run("up")
    try:
        yield stack
    finally:
        stack.run("down")


@pytest.fixture(scope="session")
def event_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate(tmp_path_factory.mktemp("drills") / "events.jsonl.gz", days=8)


@pytest.fixture(scope="session")
def expected(
    event_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Results, datetime]:
    return analyse(event_file, tmp_path_factory.mktemp("analyse"))


#: history replay (the simulated events may be older than the live limit)
#: (and a killed worker's partitions move after 10 s rather than the default 60 s)
BASE_ENV = {
    "OPSRADAR_PAST_HORIZON_DAYS": "0",
    "OPSRADAR_LAG_REFRESH_SECONDS": "1",
    "OPSRADAR_SESSION_TIMEOUT_SECONDS": "10",
}
#: a worker that commits only when it stops cleanly or loses partitions: the drill, not the
#: commit timer, decides where the committed offsets stand
NO_TIMER_COMMITS = {"OPSRADAR_COMMIT_INTERVAL_SECONDS": "3600"}


@dataclass
class Drill:
    """One drill's topics, consumer group, database and workers on the private stack."""

    stack: PrivateStack
    suffix: str
    database_url: str
    folder: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def group(self) -> str:
        return group_of(self.suffix)

    def worker(
        self, extra: dict[str, str] | None = None, data_dir: Path | None = None
    ) -> WorkerProcess:
        port = free_port()
        env = worker_env(
            suffix=self.suffix,
            database_url=self.database_url,
            data_dir=data_dir or self.folder / f"worker-{port}",
            web_port=port,
            extra={**BASE_ENV, "OPSRADAR_KAFKA_BOOTSTRAP": self.stack.bootstrap, **(extra or {})},
        )
        worker = WorkerProcess(env=env, web_port=port, log_path=self.folder / f"worker-{port}.log")
        self.workers.append(worker)
        worker.start()
        return worker

    async def produce(self, event_file: Path) -> None:
        await produce_file(event_file, self.suffix, env=self.stack.client_env())

    async def committed_inputs(self) -> int:
        """Input records the group has committed (summed over the input partitions)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.stack.bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self.group)
        finally:
            await admin.close()
        inputs = {f"{t}{self.suffix}" for t in INPUT_TOPICS}
        return sum(o.offset for tp, o in offsets.items() if tp.topic in inputs and o.offset > 0)

    async def input_records(self) -> int:
        """Records in the input topics (`opsradar produce` sends batch records)."""
        return await self._end_offsets([f"{t}{self.suffix}" for t in INPUT_TOPICS])

    async def changelog_end(self) -> int:
        """Records in the scope-state changelog: grows with every state write."""
        return await self._end_offsets([f"{self.group}-scope_state-changelog"])

    async def _end_offsets(self, topics: list[str]) -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.stack.bootstrap)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            tps = [
                TopicPartition(topic, p)
                for topic in topics
                for p in consumer.partitions_for_topic(topic) or set()
            ]
            if not tps:
                return 0
            consumer.assign(tps)
            return sum((await consumer.end_offsets(tps)).values())
        finally:
            await consumer.stop()

    async def some_committed(self) -> bool:
        return await self.committed_inputs() > 0

    async def first_half_done(
        self, event_file: Path, extra: dict[str, str] | None = None, data_dir: Path | None = None
    ) -> tuple[WorkerProcess, Path]:
        """Produce the first half of the events and wait until a worker has processed and
        committed all of it; returns that worker and the second half, not yet produced. The
        fault then strikes while the second half is in flight: mid-stream by construction,
        not by catching a moment."""
        first_half, second_half = split(event_file, self.folder, 2)
        await self.produce(first_half)
        worker = self.worker(extra, data_dir=data_dir)
        await self.wait_drained()
        return worker, second_half

    async def second_half_in_flight(self, second_half: Path) -> int:
        """Produce the second half and wait until the worker has written state for some of
        it; returns the changelog's end before."""
        changelog = await self.changelog_end()
        await self.produce(second_half)
        await wait_for_async(
            lambda: self._changelog_past(changelog), seconds=120, interval=0.05,
            what="state written for the second half",
        )  # fmt: skip
        return changelog

    async def kill_with_state_ahead(
        self, event_file: Path, extra: dict[str, str] | None = None, data_dir: Path | None = None
    ) -> None:
        """SIGKILL a worker whose saved state is ahead of its committed input offsets: the
        first half is committed (a clean stop commits), then a worker that never commits by
        itself processes part of the second half and is killed."""
        first, second_half = await self.first_half_done(event_file, extra, data_dir)
        assert first.stop() == 0, first.log_tail()
        committed = await self.committed_inputs()
        worker = self.worker({**(extra or {}), **NO_TIMER_COMMITS}, data_dir=data_dir)
        changelog = await self.second_half_in_flight(second_half)
        worker.stop(signal.SIGKILL)
        assert await self.committed_inputs() == committed, "offsets moved: state not ahead"
        assert await self.changelog_end() > changelog
        assert committed < await self.input_records()

    async def _changelog_past(self, end: int) -> bool:
        return await self.changelog_end() > end

    async def wait_drained(self, seconds: float = 300) -> None:
        await wait_for_async(
            self._drained, seconds=seconds, interval=0.5,
            what="every input and output record committed",
        )  # fmt: skip

    async def _drained(self) -> bool:
        try:
            return await drained(self.stack.bootstrap, self.suffix)
        except KafkaError:
            # retriable: a fresh broker has not elected the group's coordinator yet, or the
            # broker the drill killed is still coming back
            return False

    def assert_matches(self, expected: tuple[Results, datetime]) -> None:
        results, cutoff = expected
        assert_same(read_results(self.database_url, cutoff), results)

    def close(self) -> None:
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.stop(signal.SIGKILL)


@pytest.fixture
def drill(private_stack: PrivateStack, unique_suffix: str, tmp_path: Path) -> Iterator[Drill]:
    with fresh_database(private_stack.database_url) as url:
        drill = Drill(stack=private_stack, suffix=unique_suffix, database_url=url, folder=tmp_path)
        try:
            yield drill
        finally:
            drill.close()


def split(event_file: Path, folder: Path, parts: int) -> list[Path]:
    """Each topic's events in ``parts`` consecutive slices, one file per slice, in file order.

    Per topic, because the simulator writes its topics one after another: a split of the
    file's lines would put whole topics in one part, and a fault in one part would miss them.
    """
    lines = [line for line in gzip.open(event_file, "rb") if line.strip()]
    by_topic: dict[str, list[int]] = defaultdict(list)
    for index, line in enumerate(lines):
        by_topic[EVENT_TYPE_TOPIC[json.loads(line)["event_type"]]].append(index)
    part_of: dict[int, int] = {}
    for indexes in by_topic.values():
        size = -(-len(indexes) // parts)
        for position, index in enumerate(indexes):
            part_of[index] = position // size
    paths = [folder / f"part-{number}.jsonl.gz" for number in range(parts)]
    for number, path in enumerate(paths):
        with gzip.open(path, "wb") as out:
            out.writelines(line for index, line in enumerate(lines) if part_of[index] == number)
    return paths


def event_lag(worker: WorkerProcess, topic: str) -> float | None:
    """The worker's event-time lag gauge for a topic (contract name), from its /metrics."""
    prefix = f'opsradar_event_time_lag_seconds{{topic="{topic}"}} '
    for line in worker.metrics_text().splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


def events_processed(worker: WorkerProcess) -> float:
    """Events this worker accepted, from its /metrics."""
    total = 0.0
    for line in worker.metrics_text().splitlines():
        if line.startswith("opsradar_events_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total
