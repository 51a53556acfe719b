"""Poison and identifying records in a real topic end in the dead-letter topic without their
values, the valid events around them are processed, and the worker keeps running. Nothing the
guard rejected appears in the dead letters, the worker's /metrics or its log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from models.events import BEDFLOW_TOPIC
from models.outputs import DEADLETTER_TOPIC
from tests.e2e.conftest import WorkerFactory
from tests.unit.contract import canaries
from tests.worker_support import consume_all, envelope, produce, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TRUST, SITE = "RZ8", "RZ801"


def _event(event_type: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return envelope(TRUST, SITE, event_type, at, **fields)


def _admission(at: datetime, **changes: Any) -> dict[str, Any]:
    fields = {
        "spell_ref": uuid.uuid4().hex,
        "ward_code": "AMU",
        "specialty_code": "300",
        "admission_method": "emergency",
    }
    return _event("admission", at, **{**fields, **changes})


def _counter(metrics: str, name: str, **labels: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_rejections_go_to_the_dead_letter_topic_without_their_values(
    kafka_bootstrap: str, unique_suffix: str, start_worker: WorkerFactory
) -> None:
    t0 = (datetime.now(UTC) - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)
    identifying_id = str(uuid.uuid4())
    valid_first = _admission(t0 + timedelta(minutes=5))
    with_nhs_number = {**_admission(t0 + timedelta(minutes=10)), "event_id": identifying_id}
    with_nhs_number["ward_code"] = canaries.NHS_NUMBER_DASHED
    with_postcode = _admission(t0 + timedelta(minutes=15), ward_code=canaries.POSTCODE_COMPACT)
    with_email_field = {**_admission(t0 + timedelta(minutes=20)), "contact": canaries.EMAIL}
    valid_batch = [_admission(t0 + timedelta(minutes=25 + i)) for i in range(3)]
    valid_last = _event("ward_capacity", t0 + timedelta(hours=2), ward_code="AMU", beds_open=30)

    key = SITE.encode()
    encode = msgspec.json.encode
    records = [
        (key, encode(valid_first)),
        (key, b'{"event_id": "not json' + canaries.PHONE_MOBILE.encode()),
        (key, b'{"event_type": "admission", '),
        (key, encode(with_nhs_number)),
        (key, encode([valid_batch[0], with_postcode, *valid_batch[1:], with_email_field])),
        (key, encode(valid_last)),
    ]
    worker = start_worker()
    topic = BEDFLOW_TOPIC + unique_suffix
    await produce(kafka_bootstrap, topic, records)

    letters = await consume_all(kafka_bootstrap, DEADLETTER_TOPIC + unique_suffix, expect=5)
    texts = [message.value.decode() for message in letters]
    assert not canaries.leaked(texts), texts
    decoded = [msgspec.json.decode(message.value) for message in letters]
    # Unparseable text is still scanned: the identifying reason wins over invalid_json.
    assert sorted(d["reason"] for d in decoded) == [
        "email",
        "invalid_json",
        "nhs_number",
        "phone",
        "postcode",
    ]
    assert {d["topic"] for d in decoded} == {BEDFLOW_TOPIC}
    assert {d["offset"] for d in decoded} == {1, 2, 3, 4}  # two poisons, a single, the batch
    by_reason = {d["reason"]: d for d in decoded}
    assert by_reason["nhs_number"]["event_id"] == identifying_id
    assert by_reason["nhs_number"]["field"] == "ward_code"
    assert by_reason["invalid_json"]["event_id"] is None

    # The five valid events around the rejections were processed, and the worker is still up.
    def processed() -> str | None:
        text = worker.metrics_text()
        admitted = _counter(
            text, "opsradar_events_total", topic=BEDFLOW_TOPIC, event_type="admission"
        )
        return text if admitted == 4 else None

    metrics = wait_for(processed, timeout=60, what="4 admissions counted on /metrics")
    assert _counter(metrics, "opsradar_events_total", event_type="ward_capacity") == 1
    assert _counter(metrics, "opsradar_events_rejected_total", reason="nhs_number") == 1
    assert _counter(metrics, "opsradar_events_rejected_total", reason="invalid_json") == 1
    assert _counter(metrics, "opsradar_events_rejected_total", reason="phone") == 1
    assert worker.process is not None and worker.process.poll() is None
    assert not canaries.leaked([metrics, worker.log_path.read_text(errors="replace")])
