"""``hl7 listen`` against the real broker: a burst of 10,000 MLLP messages through a real MLLP
client, every one acknowledged, the accepted ones on the bed-flow topic, bad input answered
without stopping the listener, and no identifier in Kafka or in the listener's logs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer

from feeds.hl7.framing import frame
from models.events import Admission, Discharge, Event, Transfer
from tests import hl7_support
from tests.unit.contract import canaries
from tests.unit.engine import builders as b

pytestmark = pytest.mark.integration

LANES = 4
SPELLS_PER_LANE = 800  # x 3 messages + 100 bad ones per lane = 2,500 a lane, 10,000 in all
BAD_PER_LANE = 100


def _lane_events(lane: int) -> list[Event]:
    s = b.Stream(site=f"{b.TRUST}{lane:02d}", seed=lane)
    for number in range(SPELLS_PER_LANE):
        ref = s.ref()
        start = b.T0 + timedelta(minutes=number)
        s.add(
            Admission,
            start,
            spell_ref=ref,
            ward_code="AMU",
            specialty_code="300",
            admission_method="emergency",
        )
        s.add(
            Transfer,
            start + timedelta(hours=2),
            spell_ref=ref,
            from_ward_code="AMU",
            to_ward_code="W12",
        )
        s.add(
            Discharge,
            start + timedelta(hours=30),
            spell_ref=ref,
            ward_code="W12",
            destination="care_home",
        )
    # per spell in order (A01, A02, A03): the lane's one connection keeps that order
    return s._events  # insertion order, not time order, on purpose


def _bad_blocks(lane: int) -> list[bytes]:
    junk = [
        b"no start block at all\x1c\r",  # MLLP framing broken
        frame("this is not HL7"),
        frame(
            f"MSH|^~\\&|LAB|RJ1|X|RJ1|20260105||ORU^R01|L{lane}|P|2.4\rPID|1||{canaries.NHS_NUMBER}"
        ),
        frame(
            "MSH|^~\\&|PAS|RJ1|X|RJ1|202601050800||ADT^A01|B1|P|2.4\rEVN|A01|202601050800\r"
            f"PID|1||{canaries.NHS_NUMBER}\rPV1|1|I|AMU^^^RJ100"
        ),  # no visit number
        frame("MSH|^~\\&|PAS|RJ1|X|RJ1|20260105||ADT^A04|B2|P|2.4\rPV1|1|E|ED^^^RJ100"),
    ]
    return [junk[i % len(junk)] for i in range(BAD_PER_LANE)]


async def _topic_events(
    bootstrap: str, topic: str, expected: int
) -> tuple[list[dict], list[bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"hl7-test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    events: list[dict] = []
    values: list[bytes] = []
    try:
        for _ in range(120):
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                for message in messages:
                    values.append(message.value)
                    events.extend(msgspec.json.decode(message.value))
            if len(events) >= expected:
                break
    finally:
        await consumer.stop()
    return events, values


async def test_a_burst_of_10000_messages_is_acknowledged_and_reaches_kafka(
    tmp_path: Path, kafka_bootstrap: str, unique_suffix: str
) -> None:
    key = tmp_path / "trust.key"
    key.write_bytes(b"burst-test-key-0123456789abcdef")
    lanes = []
    for lane in range(LANES):
        good = [frame(m) for m in hl7_support.render_all(_lane_events(lane))]
        bad = _bad_blocks(lane)
        # the bad blocks spread through the good ones, one every 24 messages
        mixed = list(good)
        for index, block in enumerate(bad):
            mixed.insert(index * 25, block)
        lanes.append(mixed)
    blocks = [lanes[lane][i] for i in range(len(lanes[0])) for lane in range(LANES)]
    assert len(blocks) == 10_000
    assert canaries.leaked([b"".join(blocks).decode()]), "the input must carry the canaries"

    listener = hl7_support.ListenerProcess(
        key_file=str(key), bootstrap=kafka_bootstrap, topic_suffix=unique_suffix, extra=[]
    )
    try:
        codes = await hl7_support.send_all(listener.port, blocks, connections=LANES)
    finally:
        summary, logs = listener.stop()

    good_messages = LANES * SPELLS_PER_LANE * 3
    per_kind = BAD_PER_LANE // 5 * LANES
    assert codes.count("AA") == good_messages + per_kind  # the A04 is accepted (and ignored)
    assert codes.count("AR") == 3 * per_kind  # no start block, not HL7, ORU
    assert codes.count("AE") == per_kind  # an A01 without a visit number
    assert summary["messages"] == 10_000
    assert summary["events"] == good_messages
    assert summary["reasons"] == {
        "ignored_a04": per_kind,
        "no_visit_number": per_kind,
        "not_adt": per_kind,
        "not_hl7": 2 * per_kind,
    }

    events, values = await _topic_events(
        kafka_bootstrap, "nhs.bedflow.v1" + unique_suffix, good_messages
    )
    assert len(events) == good_messages
    kinds = {e["event_type"] for e in events}
    assert kinds == {"admission", "transfer", "discharge"}
    assert len({e["event_id"] for e in events}) == good_messages
    assert len({e["spell_ref"] for e in events}) == LANES * SPELLS_PER_LANE
    texts = [v.decode() for v in values] + [logs]
    assert canaries.leaked(texts) == []
    assert not any(value in text for text in texts for value in hl7_support.canary_texts())
