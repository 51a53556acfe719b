"""produce without a broker: validation before sending, batching by (topic, key), per-key order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from feeds.producer import BatchRouter, ProduceStats, accepted_records

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _admission(number: int, site: str) -> dict[str, object]:
    return {
        "event_id": f"00000000-0000-4000-8000-{number:012d}",
        "event_type": "admission",
        "schema_version": 1,
        "occurred_at": f"2026-02-01T{number % 24:02d}:00:00Z",
        "trust_code": site[:3],
        "site_code": site,
        "spell_ref": f"{number:030x}ab",
        "ward_code": "AMU01",
        "specialty_code": "300",
        "admission_method": "emergency",
    }


def _sitrep(number: int) -> dict[str, object]:
    return {
        "event_id": f"00000000-0000-4000-9000-{number:012d}",
        "event_type": "discharge_sitrep",
        "schema_version": 1,
        "occurred_at": "2026-02-01T23:59:59Z",
        "trust_code": "RC3",
        "report_date": "2026-02-01",
        "nctr_patients": 40,
        "discharged_total": 20,
    }


def test_router_releases_full_batches_and_flushes_the_rest_in_order() -> None:
    router = BatchRouter(batch_size=2)
    assert router.add("t", "A", b"1") is None
    assert router.add("t", "B", b"x") is None
    assert router.add("t", "A", b"2") == ("t", "A", b"[1,2]")
    assert router.add("t", "A", b"3") is None
    assert sorted(router.flush()) == [("t", "A", b"[3]"), ("t", "B", b"[x]")]
    assert list(router.flush()) == []
    with pytest.raises(ValueError):
        BatchRouter(batch_size=10_001)


def test_invalid_events_are_counted_and_never_routed(tmp_path: Path) -> None:
    good = [_admission(n, "RA1AB" if n % 2 else "RA1CD") for n in range(7)]
    bad_pattern = {**_admission(100, "RA1AB"), "ward_code": "amu lower"}
    identifier = {**_admission(101, "RA1AB"), "nhs_number": "9434765919"}
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(e) for e in good[:3]]
    lines.append(json.dumps([*good[3:], bad_pattern, _sitrep(1)]))  # a batch line
    lines.append(json.dumps(identifier))
    lines.append("{not json")
    path.write_text("\n".join(lines) + "\n")
    stats = ProduceStats()
    records = list(accepted_records([path], topic_suffix=".x", batch_size=2, now=NOW, stats=stats))
    assert stats.read == 11
    assert stats.rejected.total() == 3
    sent = [msgspec.json.decode(value) for _, _, value, _ in records]
    ids = {e["event_id"] for batch in sent for e in batch}
    assert ids == {e["event_id"] for e in [*good, _sitrep(1)]}
    assert all(len(batch) <= 2 for batch in sent)
    assert sum(count for *_, count in records) == 8
    routes = {(topic, key) for topic, key, _, _ in records}
    assert routes == {
        ("nhs.bedflow.v1.x", "RA1AB"),
        ("nhs.bedflow.v1.x", "RA1CD"),
        ("nhs.sitrep.v1.x", "RC3"),
    }  # no site on a sitrep: keyed by trust
    # per key, events keep their file order across batches
    for key in ("RA1AB", "RA1CD"):
        order = [
            e["event_id"]
            for (_, k, _, _), batch in zip(records, sent, strict=True)
            if k == key
            for e in batch
        ]
        expected = [e["event_id"] for e in good if e["site_code"] == key]
        assert order == expected
