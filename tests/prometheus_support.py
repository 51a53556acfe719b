"""Real Prometheus in tests: serve a /metrics, make the stack's Prometheus scrape it, query it.

The stack's Prometheus discovers scrape targets from JSON files in
``$OPSRADAR_STACK_DIR/prometheus/targets/`` (default ``<repo>/.stack``; see
``deploy/prometheus/prometheus.yml``) and re-reads them every 5 s, scraping every 5 s, so a new
series shows up within ~10-15 s: always wait with :func:`wait_for_query` (bounded, polling,
with a message saying what was awaited), never with a fixed sleep.

Give each test's targets a unique label (e.g. ``{"test_run": uuid}``) and select on it, so tests
running side by side never read each other's series.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: the local stack's state dir (deploy/stack.sh); Prometheus reads targets/*.json under it
STACK_DIR = Path(os.environ.get("OPSRADAR_STACK_DIR", REPO / ".stack"))
TARGETS_DIR = STACK_DIR / "prometheus" / "targets"
POLL_INTERVAL = 0.5

#: a Prometheus API vector result: {"metric": {label: value}, "value": [timestamp, "value"]}
Sample = dict[str, Any]


def _nonempty(samples: list[Sample]) -> bool:
    return bool(samples)


def query(prometheus_url: str, promql: str, *, timeout: float = 5) -> list[Sample]:
    """Run an instant query; the vector result (fails on a Prometheus error)."""
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = json.loads(response.read())
    if body.get("status") != "success":
        raise AssertionError(f"Prometheus refused {promql!r}: {body}")
    result: list[Sample] = body["data"]["result"]
    return result


def values(samples: list[Sample], *labels: str) -> dict[tuple[str, ...], float]:
    """``{(label values...): value}`` of a query result, e.g. ``values(r, "site", "unit")``."""
    return {
        tuple(s["metric"].get(name, "") for name in labels): float(s["value"][1]) for s in samples
    }


def _timed_out(promql: str, seconds: float, what: str | None, last: list[Sample] | None) -> str:
    return (
        f"timed out after {seconds:.0f}s waiting for {what or promql} "
        f"(query {promql!r}, last result: {last!r})"
    )


def wait_for_query(
    prometheus_url: str,
    promql: str,
    condition: Callable[[list[Sample]], bool] = _nonempty,
    *,
    timeout: float = 60,
    what: str | None = None,
) -> list[Sample]:
    """Poll ``promql`` until ``condition(result)`` holds; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: list[Sample] | None = None
    while time.monotonic() < deadline:
        last = query(prometheus_url, promql)
        if condition(last):
            return last
        time.sleep(POLL_INTERVAL)
    raise AssertionError(_timed_out(promql, timeout, what, last))


async def wait_for_query_async(
    prometheus_url: str,
    promql: str,
    condition: Callable[[list[Sample]], bool] = _nonempty,
    *,
    seconds: float = 60,
    what: str | None = None,
) -> list[Sample]:
    """:func:`wait_for_query` for async tests (the HTTP call runs in a thread)."""
    deadline = time.monotonic() + seconds
    last: list[Sample] | None = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(query, prometheus_url, promql)
        if condition(last):
            return last
        await asyncio.sleep(POLL_INTERVAL)
    raise AssertionError(_timed_out(promql, seconds, what, last))


@contextmanager
def scrape_target(
    address: str, labels: dict[str, str], *, targets_dir: Path = TARGETS_DIR
) -> Iterator[Path]:
    """Make the stack's Prometheus scrape ``address`` (host:port) with ``labels`` added.

    Writes a file_sd target file (via rename, so Prometheus never reads half a file) and deletes
    it on exit, after which Prometheus stops scraping and marks the series stale.
    """
    if not targets_dir.parent.is_dir():
        raise AssertionError(
            f"no Prometheus state dir at {targets_dir.parent}: start the stack "
            "(`bash deploy/stack.sh up`) or set OPSRADAR_STACK_DIR"
        )
    targets_dir.mkdir(exist_ok=True)
    path = targets_dir / f"test-{uuid.uuid4().hex[:12]}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([{"targets": [address], "labels": labels}]))
    tmp.rename(path)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def serve_metrics(
    render: Callable[[], bytes], content_type: str = "text/plain; version=0.0.4; charset=utf-8"
) -> Iterator[str]:
    """Serve ``render()`` at ``http://<address>/metrics`` from a thread; yields ``host:port``.

    A thread, not the event loop: the test can block (e.g. in :func:`wait_for_query`) while
    Prometheus keeps scraping.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = render()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep scrapes out of the test output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
