"""produce against the real broker: counts, keys, batch records, and nothing invalid sent."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer

from feeds.producer import produce
from feeds.simulator import SimulationConfig, simulate
from models.events import EVENT_TYPE_TOPIC as INPUT_TOPICS_BY_TYPE
from models.events import INPUT_TOPICS

pytestmark = pytest.mark.integration


async def _consume_all(
    bootstrap: str, topics: list[str], expected: int
) -> list[tuple[str, bytes, list]]:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"feeds-test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[tuple[str, bytes, list]] = []
    seen = 0
    try:
        # bounded: getmany returns what is there; stop once every event has come back
        for _ in range(60):
            batches = await consumer.getmany(timeout_ms=1000)
            for partition, messages in batches.items():
                for message in messages:
                    events = msgspec.json.decode(message.value)
                    records.append((partition.topic, message.key, events))
                    seen += len(events)
            if seen >= expected:
                break
    finally:
        await consumer.stop()
    return records


async def test_produce_sends_valid_events_as_keyed_batches(
    tmp_path: Path, kafka_bootstrap: str, unique_suffix: str
) -> None:
    events_file = tmp_path / "events.jsonl"
    simulate(
        SimulationConfig(
            trusts=1,
            days=1,
            seed=4,
            end=date(2026, 3, 2),
            scenarios=("winter_surge",),
            realistic=False,
        ),
        events_file,
    )
    lines = events_file.read_bytes().splitlines()
    good = len(lines)
    invalid = json.loads(lines[-1])
    invalid["event_id"] = str(uuid.uuid4())
    invalid["trust_code"] = "rx1"  # breaks the pattern: must not be sent
    with events_file.open("ab") as out:
        out.write(json.dumps(invalid).encode() + b"\n")

    stats = await produce(
        [events_file],
        bootstrap=kafka_bootstrap,
        topic_suffix=unique_suffix,
        batch_size=100,
        progress=False,
    )
    assert (stats.sent, stats.rejected.total()) == (good, 1)
    topics = [topic + unique_suffix for topic in INPUT_TOPICS if topic != "nhs.sitrep.v1"]
    records = await _consume_all(kafka_bootstrap, topics, good)
    received = [e for _, _, batch in records for e in batch]
    assert len(received) == good
    assert invalid["event_id"] not in {e["event_id"] for e in received}
    assert stats.records == len(records) < good / 10  # batched, not one record an event
    for topic, key, batch in records:
        assert len(batch) <= 100
        assert {e["site_code"].encode() for e in batch} == {key}
        assert all(topic.startswith(INPUT_TOPICS_BY_TYPE[e["event_type"]]) for e in batch)
    # per key (one partition), the order is the file's order
    file_order: dict[str, list[str]] = {}
    for line in lines:
        event = json.loads(line)
        file_order.setdefault(
            event["site_code"] + INPUT_TOPICS_BY_TYPE[event["event_type"]], []
        ).append(event["event_id"])
    topic_order: dict[str, list[str]] = {}
    for _, _, batch in records:
        for event in batch:
            topic_order.setdefault(
                event["site_code"] + INPUT_TOPICS_BY_TYPE[event["event_type"]], []
            ).append(event["event_id"])
    assert topic_order == file_order
    assert Counter(stats.topics) == Counter(
        {
            topic: sum(len(b) for t, _, b in records if t == topic)
            for topic in {t for t, _, _ in records}
        }
    )
