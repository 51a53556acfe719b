"""Done means: a simulated site's ADT (admissions, transfers, discharges, cancellations, updates)
through ``hl7 listen`` gives the same opportunities as the equivalent events through
``produce``, each read back from the real broker and run through ``analyse``.

The events ADT does not carry (ready for discharge, delay reasons, ward capacity) come from the
trust's other feeds, pseudonymised with the same key: in the HL7 arm they are produced with
``spell_ref`` = HMAC(key, visit number), exactly what the adapter makes of PV1-19.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer

from feeds.hl7.framing import frame
from feeds.producer import produce
from feeds.simulator import SimulationConfig, simulate
from models.decoding import RecordDecoder
from models.events import (
    Admission,
    AdmissionCancelled,
    Discharge,
    DischargeCancelled,
    Event,
    Transfer,
    TransferCancelled,
)
from tests import hl7_support
from tests.unit.contract import canaries
from tests.worker_support import REPO

pytestmark = pytest.mark.e2e

KEY = b"parity-test-key-0123456789abcdef"
ADT_TYPES = (
    Admission,
    Transfer,
    Discharge,
    AdmissionCancelled,
    TransferCancelled,
    DischargeCancelled,
)
BEDFLOW = "nhs.bedflow.v1"


def _bedflow_events(tmp_path: Path) -> list[Event]:
    source = tmp_path / "sim.jsonl"
    simulate(
        SimulationConfig(
            trusts=1, days=14, seed=3, end=date(2026, 11, 20), scenarios=("documentation_delays",)
        ),
        source,
    )
    decoder = RecordDecoder(BEDFLOW, past_horizon=None)
    events: list[Event] = []
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for line in source.read_bytes().splitlines():
        events.extend(decoder.decode(line, now=now).events)  # other topics' events: refused
    return events


def _with_cancellations(events: list[Event]) -> tuple[list[Event], list[Admission]]:
    """Add admissions in error (A01 then A11), transfers in error (A02, A12 back to the ward it
    left, then the same A02 again) and discharges in error (A03, A13, then the real A03 later);
    and pick admissions to send an A08 for that changes nothing."""
    extra: list[Event] = []
    admissions = [e for e in events if isinstance(e, Admission)]
    transfers = [e for e in events if isinstance(e, Transfer)]
    discharges = [e for e in events if isinstance(e, Discharge)]
    assert transfers, "the day must hold transfers to cancel"
    for transfer in transfers[::30]:
        extra.append(
            TransferCancelled(
                event_id=str(uuid.uuid4()),
                schema_version=1,
                occurred_at=transfer.occurred_at + timedelta(minutes=10),
                trust_code=transfer.trust_code,
                site_code=transfer.site_code,
                spell_ref=transfer.spell_ref,
                ward_code=transfer.from_ward_code,
            )
        )
        extra.append(
            msgspec.structs.replace(
                transfer,
                event_id=str(uuid.uuid4()),
                occurred_at=transfer.occurred_at + timedelta(minutes=20),
            )
        )
    for number, admission in enumerate(admissions[::40]):
        ref = f"ca{number:014x}"
        extra.append(msgspec.structs.replace(admission, event_id=str(uuid.uuid4()), spell_ref=ref))
        extra.append(
            AdmissionCancelled(
                event_id=str(uuid.uuid4()),
                schema_version=1,
                occurred_at=admission.occurred_at + timedelta(minutes=40),
                trust_code=admission.trust_code,
                site_code=admission.site_code,
                spell_ref=ref,
                ward_code=admission.ward_code,
            )
        )
    for discharge in discharges[::30]:
        extra.append(
            DischargeCancelled(
                event_id=str(uuid.uuid4()),
                schema_version=1,
                occurred_at=discharge.occurred_at + timedelta(minutes=30),
                trust_code=discharge.trust_code,
                site_code=discharge.site_code,
                spell_ref=discharge.spell_ref,
                ward_code=discharge.ward_code,
            )
        )
        extra.append(
            msgspec.structs.replace(
                discharge,
                event_id=str(uuid.uuid4()),
                occurred_at=discharge.occurred_at + timedelta(hours=3),
            )
        )
    combined = sorted(events + extra, key=lambda e: e.occurred_at)
    return combined, admissions[5::50]


def _pseudonymised(event: Event) -> Event:
    if not hasattr(event, "spell_ref"):
        return event
    visit = hl7_support.visit_number(event.spell_ref)  # type: ignore[attr-defined]
    ref = hmac.new(KEY, visit.encode(), hashlib.sha256).hexdigest()
    return msgspec.structs.replace(event, spell_ref=ref)  # type: ignore[type-var]


def _write(path: Path, events: list[Event]) -> Path:
    path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in events))
    return path


def _save(out: Path, lines: list[bytes]) -> Path:
    out.write_bytes(b"\n".join(lines) + b"\n")
    return out


async def _read_topic(bootstrap: str, topic: str, expected: int, out: Path) -> Path:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"hl7-parity-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    lines: list[bytes] = []
    try:
        for _ in range(120):
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                for message in messages:
                    lines.append(message.value)
                    seen += len(msgspec.json.decode(message.value))
            if seen >= expected:
                break
    finally:
        await consumer.stop()
    assert seen == expected
    return _save(out, lines)


def _opportunities(path: Path, tmp_path: Path) -> list[dict]:
    summary = tmp_path / f"{path.stem}.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "analyse",
            str(path),
            "--json",
            str(summary),
            "--db",
            f"sqlite+aiosqlite:///{tmp_path / (path.stem + '.sqlite')}",
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    return json.loads(summary.read_text())["opportunities"]


async def test_a_sites_adt_through_listen_gives_the_opportunities_of_its_events(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    events, updates = _with_cancellations(_bedflow_events(tmp_path))
    adt_events = [e for e in events if isinstance(e, ADT_TYPES)]
    other_events = [e for e in events if not isinstance(e, ADT_TYPES)]
    assert len(adt_events) > 2000 and other_events
    assert {type(e) for e in adt_events} == set(ADT_TYPES)

    # the plain arm: the equivalent events through produce
    plain_suffix = f".t{uuid.uuid4().hex[:10]}"
    plain_file = _write(tmp_path / "plain-in.jsonl", events)
    await produce(
        [plain_file], bootstrap=kafka_bootstrap, topic_suffix=plain_suffix, progress=False
    )
    plain = await _read_topic(
        kafka_bootstrap, BEDFLOW + plain_suffix, len(events), tmp_path / "plain.jsonl"
    )

    # the HL7 arm: ADT messages (A08 updates among them) through hl7 listen, the rest through
    # produce pseudonymised with the same key
    hl7_suffix = f".t{uuid.uuid4().hex[:10]}"
    update_after = {id(a): a for a in updates}
    texts: list[str] = []
    for number, event in enumerate(adt_events):
        texts.append(hl7_support.render(event, f"M{number:08d}") or "")
        if id(event) in update_after:
            texts.append(hl7_support.render_update(event, f"U{number:08d}"))
    key = tmp_path / "trust.key"
    key.write_bytes(KEY)
    site_map = tmp_path / "site-map.toml"
    site_map.write_text(hl7_support.SITE_MAP)
    listener = hl7_support.ListenerProcess(
        key_file=str(key),
        bootstrap=kafka_bootstrap,
        topic_suffix=hl7_suffix,
        extra=["--site-map", str(site_map)],
    )
    try:
        codes = await hl7_support.send_all(listener.port, [frame(t) for t in texts], 1)
    finally:
        summary, logs = listener.stop()
    assert set(codes) == {"AA"}
    assert summary["events"] == len(adt_events)
    assert summary["reasons"] == {"ignored_update_unchanged": len(updates)}
    other_file = _write(tmp_path / "other-in.jsonl", [_pseudonymised(e) for e in other_events])
    await produce([other_file], bootstrap=kafka_bootstrap, topic_suffix=hl7_suffix, progress=False)
    via_hl7 = await _read_topic(
        kafka_bootstrap, BEDFLOW + hl7_suffix, len(events), tmp_path / "hl7.jsonl"
    )
    carried = via_hl7.read_text()
    assert canaries.leaked([carried, logs]) == []
    assert not any(v in text for text in (carried, logs) for v in hl7_support.canary_texts())

    expected = _opportunities(plain, tmp_path)
    assert expected, "the scenario must open an opportunity, or the comparison proves nothing"
    assert _opportunities(via_hl7, tmp_path) == expected
