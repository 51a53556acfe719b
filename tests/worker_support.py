"""Running real workers and real topics in tests: a worker subprocess, a fresh database, producing.

Each test gets its own topic suffix, consumer group (app id), web port and database, so tests never
see each other's data even though they share one broker, one Postgres and one Prometheus.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

REPO = Path(__file__).resolve().parents[1]
STACK_DIR = Path(os.environ.get("OPSRADAR_STACK_DIR", REPO / ".stack"))
TARGETS_DIR = STACK_DIR / "prometheus" / "targets"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], T | None], *, timeout: float, interval: float = 0.25, what: str
) -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


async def wait_for_async(
    condition: Callable[[], Any], *, seconds: float, interval: float = 0.25, what: str
) -> Any:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = await condition()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what} (last: {last!r})")


@dataclass
class WorkerProcess:
    """An ``opsradar worker`` subprocess with its own web port and scrape target file."""

    env: dict[str, str]
    web_port: int
    log_path: Path
    target_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    history: list[int] = field(default_factory=list)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/metrics"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.history.append(self.process.pid)
        wait_for(self._metrics_answer, timeout=90, what=f"worker /metrics on {self.web_port}")

    def _metrics_answer(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"worker exited with {self.process.returncode}:\n{self.log_tail()}"
            )
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def metrics_text(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            return str(response.read().decode())

    def register_with_prometheus(self, labels: dict[str, str] | None = None) -> None:
        TARGETS_DIR.mkdir(parents=True, exist_ok=True)
        self.target_file = TARGETS_DIR / f"test-{self.web_port}-{uuid.uuid4().hex[:6]}.json"
        target = [{"targets": [f"127.0.0.1:{self.web_port}"], "labels": labels or {}}]
        tmp = self.target_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(target))
        tmp.rename(self.target_file)  # Prometheus must never read a half-written file

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Stop gracefully (SIGTERM lets Faust commit offsets and flush the producer)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def close(self) -> None:
        self.stop()
        if self.target_file is not None:
            self.target_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def worker_env(
    *,
    suffix: str,
    database_url: str,
    data_dir: Path,
    web_port: int,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSRADAR_")}
    env.update(
        {
            "OPSRADAR_TOPIC_SUFFIX": suffix,
            "OPSRADAR_APP_ID": f"opsradar{suffix.replace('.', '-')}",
            "OPSRADAR_DATABASE_URL": database_url,
            "OPSRADAR_WEB_PORT": str(web_port),
            "OPSRADAR_DATA_DIR": str(data_dir),
            "OPSRADAR_LOG_LEVEL": "info",
        }
    )
    env.update(extra or {})
    return env


async def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Send (key, value) records in order and wait until the broker has them all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    count = 0
    try:
        for key, value in records:
            await producer.send(topic, value=value, key=key)
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


async def consume_all(bootstrap: str, topic: str, *, expect: int, seconds: float = 60) -> list[Any]:
    """Read a topic from the beginning until ``expect`` records arrived (or fail on timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + seconds
    try:
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    if len(records) < expect:
        raise AssertionError(f"{topic}: {len(records)} records after {seconds}s, expected {expect}")
    return records


def envelope(
    trust_code: str, site_code: str, event_type: str, at: datetime, **fields: Any
) -> dict[str, Any]:
    """A contract-v1 event as a dict, with a fresh event_id, for producing by hand in tests."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "trust_code": trust_code,
        "site_code": site_code,
        **fields,
    }


def encode_events(events: Iterable[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """One record per event, keyed like the contract says (site_code, else trust_code)."""
    return [
        ((event.get("site_code") or event["trust_code"]).encode(), msgspec.json.encode(event))
        for event in events
    ]
