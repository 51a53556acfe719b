"""One site's bed-flow events travel Kafka -> worker -> Postgres row and Prometheus series."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from models.events import BEDFLOW_TOPIC
from tests.e2e.conftest import WorkerFactory
from tests.worker_support import encode_events, envelope, produce, wait_for, wait_for_async

pytestmark = pytest.mark.e2e

TRUST, SITE, WARD = "RZ9", "RZ901", "AMU"


def _event(event_type: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return envelope(TRUST, SITE, event_type, at, **fields)


def _spell() -> str:
    return uuid.uuid4().hex


def _bed_flow(start: datetime) -> tuple[list[dict[str, Any]], dict[datetime, float]]:
    """A small day on one ward, and the occupancy each hour boundary must report."""
    spells = [_spell() for _ in range(6)]
    events = [_event("ward_capacity", start + timedelta(minutes=5), ward_code=WARD, beds_open=24)]
    for i, spell in enumerate(spells):
        events.append(
            _event(
                "admission",
                start + timedelta(minutes=20 + 15 * i),
                spell_ref=spell,
                ward_code=WARD,
                specialty_code="300",
                admission_method="emergency",
            )
        )
    events.append(
        _event(
            "discharge",
            start + timedelta(hours=2, minutes=10),
            spell_ref=spells[0],
            ward_code=WARD,
            destination="usual_residence",
        )
    )
    events.append(
        _event(
            "ward_capacity", start + timedelta(hours=3, minutes=30), ward_code=WARD, beds_open=20
        )
    )
    # A later event moves the site's event-time watermark past the boundaries under test.
    events.append(
        _event("ward_capacity", start + timedelta(hours=5, minutes=1), ward_code=WARD, beds_open=20)
    )
    expected = _occupancy_at_boundaries(events, start, hours=5)
    return events, expected


def _occupancy_at_boundaries(
    events: list[dict[str, Any]], start: datetime, hours: int
) -> dict[datetime, float]:
    """Independent reference: occupied / open beds from the events before each boundary."""
    expected = {}
    for h in range(1, hours + 1):
        boundary = start + timedelta(hours=h)
        before = [e for e in events if datetime.fromisoformat(e["occurred_at"]) < boundary]
        occupied = sum(e["event_type"] == "admission" for e in before) - sum(
            e["event_type"] == "discharge" for e in before
        )
        beds = [e["beds_open"] for e in before if e["event_type"] == "ward_capacity"][-1]
        expected[boundary] = occupied / beds
    return expected


def _kept(expected: dict[datetime, float]) -> set[datetime]:
    """The boundaries with a row under the emission rule (streams/engine/emission.py): the
    first, a change (the ratio's sample is the open beds, which move with the ratio here), and
    00:00 UTC."""
    kept, previous = set(), None
    for boundary in sorted(expected):
        if expected[boundary] != previous or boundary.astimezone(UTC).hour == 0:
            kept.add(boundary)
        previous = expected[boundary]
    return kept


def _prometheus_value(prometheus_url: str, query: str) -> float | None:
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        result = json.load(response)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


async def test_bed_flow_event_reaches_postgres_and_prometheus(
    kafka_bootstrap: str,
    prometheus_url: str,
    e2e_database: str,
    unique_suffix: str,
    start_worker: WorkerFactory,
) -> None:
    # 06:00 yesterday: recent enough for any past horizon, and no boundary under test at 00:00
    # (a heartbeat row there would hide the held hour the test needs)
    start = (datetime.now(UTC) - timedelta(days=1)).replace(
        hour=6, minute=0, second=0, microsecond=0
    )
    events, expected = _bed_flow(start)
    worker = start_worker()
    worker.register_with_prometheus({"test": unique_suffix})

    await produce(kafka_bootstrap, BEDFLOW_TOPIC + unique_suffix, encode_events(events))

    engine = create_async_engine(e2e_database)
    query = sa.text(
        "SELECT evaluated_at, value FROM scope_metrics "
        "WHERE site_code = :site AND metric = 'bed_occupancy_ratio' ORDER BY evaluated_at"
    )

    async def rows() -> dict[datetime, float] | None:
        async with engine.connect() as conn:
            result = await conn.execute(query, {"site": SITE})
            found = {r.evaluated_at.astimezone(UTC): r.value for r in result}
        return found if kept <= set(found) else None

    kept = _kept(expected)
    assert kept != set(expected)  # the stream has an hour where occupancy holds
    try:
        found = await wait_for_async(rows, seconds=90, what="bed_occupancy_ratio rows in Postgres")
    finally:
        await engine.dispose()
    # a row per change (and midnight); read as steps they give every boundary's occupancy
    assert {b for b in found if b <= max(expected)} == kept
    for boundary, value in expected.items():
        held = found[max(b for b in found if b <= boundary)]
        assert held == pytest.approx(value), boundary

    latest = expected[max(expected)]
    labels = f'metric="bed_occupancy_ratio",site="{SITE}",test="{unique_suffix}"'
    series = f"opsradar_scope_metric{{{labels}}}"
    scraped = await asyncio.to_thread(
        wait_for,
        lambda: _prometheus_value(prometheus_url, series),
        timeout=60,
        what=f"{series} in Prometheus",
    )
    assert scraped == pytest.approx(latest)
