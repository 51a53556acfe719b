"""When a second worker joins, the first one's /metrics stops showing the scopes whose partitions
moved, the newcomer shows them once it processes their events, and no scope is on both."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.events import BEDFLOW_TOPIC
from tests.e2e.conftest import WorkerFactory
from tests.worker_support import encode_events, envelope, produce, wait_for

pytestmark = pytest.mark.e2e

TRUST = "RZ6"
SITES = [f"{TRUST}{code}" for code in ("A1", "B2", "C3", "D4", "E5", "F6", "G7", "H8")]
SERIES = re.compile(r'^opsradar_scope_metric\{[^}]*site="(R[A-Z0-9]{4})"', re.MULTILINE)


def _event(site: str, event_type: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return envelope(TRUST, site, event_type, at, **fields)


def _events(start: datetime) -> list[dict[str, Any]]:
    """Per site: capacity, a few admissions, and an event past the next hour boundary."""
    events = []
    for site in SITES:
        events.append(_event(site, "ward_capacity", start, ward_code="W1", beds_open=20))
        events += [
            _event(site, "admission", start + timedelta(minutes=10 + i),
                   spell_ref=uuid.uuid4().hex, ward_code="W1", specialty_code="300",
                   admission_method="emergency")
            for i in range(3)
        ]  # fmt: skip
        events.append(_event(site, "ward_capacity", start + timedelta(hours=1, minutes=5),
                             ward_code="W1", beds_open=20))  # fmt: skip
    return events


def _sites(metrics_text: str) -> set[str]:
    return set(SERIES.findall(metrics_text))


async def test_scopes_follow_their_partitions_when_a_worker_joins(
    kafka_bootstrap: str, unique_suffix: str, start_worker: WorkerFactory
) -> None:
    first_hour = (datetime.now(UTC) - timedelta(hours=10)).replace(
        minute=0, second=0, microsecond=0
    )
    topic = BEDFLOW_TOPIC + unique_suffix
    first = start_worker()
    await produce(kafka_bootstrap, topic, encode_events(_events(first_hour)))
    wait_for(lambda: _sites(first.metrics_text()) == set(SITES), timeout=90,
             what="the first worker to export all sites")  # fmt: skip

    second = start_worker()
    kept = wait_for(
        lambda: ((s := _sites(first.metrics_text())) < set(SITES) and s) or None,
        timeout=120,
        what="the first worker to drop the scopes it lost in the rebalance",
    )

    await produce(kafka_bootstrap, topic, encode_events(_events(first_hour + timedelta(hours=3))))
    wait_for(
        lambda: _sites(first.metrics_text()) | _sites(second.metrics_text()) == set(SITES),
        timeout=120,
        what="every site exported by one of the two workers",
    )
    moved = _sites(second.metrics_text())
    assert moved, "the second worker took no partition"
    assert not moved & _sites(first.metrics_text()), "a scope is exported by both workers"
    assert _sites(first.metrics_text()) == kept
