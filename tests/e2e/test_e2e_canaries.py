"""Canary identifiers planted in every field of every event type never come out of the worker.

Each planted event is a valid event of its type with one field (or one added identifier-named
field, or a counts key) replaced by a recognisable identifier: valid NHS numbers (Mod 11) in
their written forms and as a JSON number, postcodes, e-mail addresses, phone numbers, and a
person's name under identifier-named keys. Valid events of every type at the same site run
through the same worker, so the outputs are not empty. Then everything the worker wrote or
showed is scanned: every table and view of the test database, the output topics, the state
changelog, the dead-letter topic, the worker's log (stdout and stderr) and its /metrics page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final, get_args

import msgspec
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from psycopg import sql

from models.events import EVENT_TYPE_TOPIC, INPUT_TOPICS, Event
from models.outputs import DEADLETTER_TOPIC, METRICS_TOPIC, OPPORTUNITIES_TOPIC
from streams.lag import group_lag
from tests.database_support import admin_conninfo
from tests.e2e.conftest import WorkerFactory
from tests.unit.contract import canaries
from tests.unit.contract.examples import EVENT_TYPES, example
from tests.worker_support import produce, wait_for_async

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TRUST, SITE = "RZ5", "RZ501"
#: A name is no pattern the guard can see in a value; it is caught by the key that labels it.
NAME: Final = "Josephine Quilliam"
NAME_KEYS: Final = ("patient_name", "surname", "forename", "full_name", "nhs_number", "dob")
IDENTIFYING_KEYS: Final = ("nhs_number", "postcode", "email", "phone", "date_of_birth")
PLANTED_NUMBER: Final = int(canaries.NHS_NUMBER)
SCAN_FOR: Final = (NAME, NAME.split()[1])

_FIELDS: Final = {
    cls.__struct_config__.tag: [f.name for f in msgspec.structs.fields(cls)]
    for cls in get_args(Event)
}


def _leaked(texts: list[str]) -> list[str]:
    joined = "\n".join(texts).lower()
    return canaries.leaked(texts) + [name for name in SCAN_FOR if name.lower() in joined]


def _valid(event_type: str, at: datetime, n: int) -> dict[str, Any]:
    event = example(event_type, trust_code=TRUST, site_code=SITE)
    event["occurred_at"] = at.isoformat().replace("+00:00", "Z")
    event["event_id"] = f"{n:08x}-0000-4000-8000-000000000000"
    return event


def planted_events(at: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
    """(topic, event): every field of every event type with each canary, identifier-named keys,
    a nested identifier, and identifiers as counts keys."""
    n = 0
    for event_type in EVENT_TYPES:
        topic = EVENT_TYPE_TOPIC[event_type]
        for field in ["event_type", *_FIELDS[event_type]]:
            for value in (*canaries.CANARIES, PLANTED_NUMBER):
                n += 1
                yield topic, {**_valid(event_type, at, n), field: value}
        for key in NAME_KEYS:
            n += 1
            yield topic, {**_valid(event_type, at, n), key: NAME}
        for key, value in zip(IDENTIFYING_KEYS, canaries.CANARIES, strict=False):
            n += 1
            yield topic, {**_valid(event_type, at, n), key: value}
        n += 1
        yield topic, {**_valid(event_type, at, n), "notes": {"contact": canaries.EMAIL}}
    for key in (canaries.NHS_NUMBER, canaries.POSTCODE, canaries.EMAIL, NAME):
        n += 1
        yield "nhs.sitrep.v1", {**_valid("delay_reasons_sitrep", at, n), "counts": {key: 1}}


def valid_events(start: datetime) -> list[dict[str, Any]]:
    """Every type twice, an hour apart, then one past the next boundary: metrics get written."""
    events = [
        _valid(event_type, start + timedelta(hours=hour, minutes=i), 10_000 + 100 * hour + i)
        for hour in (0, 1)
        for i, event_type in enumerate(EVENT_TYPES)
    ]
    events.append(_valid("ward_capacity", start + timedelta(hours=2, minutes=30), 19_999))
    return events


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert described["error_code"] == 0, described
    return [TopicPartition(topic, p["partition"]) for p in described["partitions"]]


async def read_to_end(bootstrap: str, topic: str) -> list[tuple[str, str]]:
    """(key, value) of every record of a topic, from the beginning to its current end."""
    partitions = await partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[str, str]] = []
        deadline = time.monotonic() + 60
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"{topic}: could not read to its end"
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for message in messages:
                    key = (message.key or b"").decode(errors="replace")
                    records.append((key, (message.value or b"").decode(errors="replace")))
        return records
    finally:
        await consumer.stop()


async def topic_size(bootstrap: str, topic: str) -> int:
    partitions = await partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


def keyed(events: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """One record per event, keyed by its site or trust code as a producer would: for an event
    with a planted site or trust code, the key carries the canary too."""
    return [
        (str(event.get("site_code") or event["trust_code"]).encode(), msgspec.json.encode(event))
        for event in events
    ]


def flat(records: list[tuple[str, str]]) -> list[str]:
    return [text for record in records for text in record]


def database_texts(database_url: str) -> tuple[dict[str, int], list[str]]:
    """(rows per table or view, every row as JSON text) of every relation of the database."""
    database = database_url.rsplit("/", 1)[1]
    conninfo = admin_conninfo(database_url).rsplit("/", 1)[0] + f"/{database}"
    counts: dict[str, int] = {}
    texts: list[str] = []
    with psycopg.connect(conninfo) as conn:
        relations = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, name in relations:
            query = sql.SQL("SELECT row_to_json(t)::text FROM {}.{} AS t").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
            rows = [row[0] for row in conn.execute(query)]
            counts[name] = len(rows)
            texts += rows
    return counts, texts


async def test_planted_identifiers_appear_nowhere_the_worker_writes(
    kafka_bootstrap: str, unique_suffix: str, e2e_database: str, start_worker: WorkerFactory
) -> None:
    start = (datetime.now(UTC) - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    planted = list(planted_events(start + timedelta(minutes=40)))
    assert _leaked([msgspec.json.encode(planted).decode()]), "the inputs must carry the canaries"
    valid = valid_events(start)

    worker = start_worker()
    for topic in INPUT_TOPICS:
        planted_here = [event for owner, event in planted if owner == topic]
        first, later = [
            [e for e in part if EVENT_TYPE_TOPIC[e["event_type"]] == topic]
            for part in (valid[: len(EVENT_TYPES)], valid[len(EVENT_TYPES) :])
        ]
        # Half the planted events as records of their own (keyed by their site or trust code,
        # which may be the canary), half as one batch record, between the valid ones.
        records = keyed([*first, *planted_here[::2]])
        records.append((SITE.encode(), msgspec.json.encode(planted_here[1::2])))
        records += keyed(later)
        await produce(kafka_bootstrap, topic + unique_suffix, records)

    group = f"opsradar{unique_suffix.replace('.', '-')}"
    topics = [f"{t}{unique_suffix}" for t in (*INPUT_TOPICS, METRICS_TOPIC, OPPORTUNITIES_TOPIC)]
    deadletters = DEADLETTER_TOPIC + unique_suffix

    async def all_dead_lettered() -> bool:
        return await topic_size(kafka_bootstrap, deadletters) >= len(planted)

    async def drained() -> bool:
        behind, total = await group_lag(kafka_bootstrap, group, topics)
        return total > 0 and behind == 0

    async def metrics_written() -> bool:
        counts, _ = await asyncio.to_thread(database_texts, e2e_database)
        return counts["scope_metrics"] > 0

    # Offsets may be committed before the sends they caused are visible: wait for the outputs.
    await wait_for_async(all_dead_lettered, seconds=180, what="every planted event dead-lettered")
    await wait_for_async(metrics_written, seconds=120, what="metrics of the valid events")
    await wait_for_async(drained, seconds=120, what="the worker to consume every record")

    letters = await read_to_end(kafka_bootstrap, deadletters)
    assert len(letters) == len(planted), "every planted event is dead-lettered, once"
    outputs = []
    for name in (METRICS_TOPIC, OPPORTUNITIES_TOPIC):
        outputs += await read_to_end(kafka_bootstrap, name + unique_suffix)
    changelog = await read_to_end(kafka_bootstrap, f"{group}-scope_state-changelog")
    _, rows = await asyncio.to_thread(database_texts, e2e_database)
    assert outputs and changelog, "the valid events were processed"
    metrics = worker.metrics_text()
    assert 'reason="nhs_number"' in metrics
    worker.stop()  # flushes the log: everything it wrote on the way out is scanned too
    log = worker.log_path.read_text(errors="replace")

    for where, texts in {
        "dead letters": flat(letters),
        "output topics": flat(outputs),
        "state changelog": flat(changelog),
        "database": rows,
        "worker log": [log],
        "/metrics": [metrics],
    }.items():
        assert _leaked(texts) == [], f"planted identifiers in the {where}"
