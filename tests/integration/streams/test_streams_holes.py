"""The hole reader reads exactly a range of offsets of one partition from the real broker."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.holes import HoleReader

pytestmark = pytest.mark.integration


async def _topic_with_records(bootstrap: str, name: str, *, count: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for number in range(count):
            # every record on partition 1; partition 0 gets one record, so offsets differ
            await producer.send_and_wait(name, f"r{number}".encode(), key=b"k", partition=1)
        await producer.send_and_wait(name, b"other", partition=0)
    finally:
        await producer.stop()


async def test_a_range_is_read_in_order_and_nothing_past_its_end(
    kafka_bootstrap: str, unique_suffix: str
) -> None:
    topic = f"holes-{unique_suffix}"
    await _topic_with_records(kafka_bootstrap, topic, count=30)
    reader = HoleReader(bootstrap=kafka_bootstrap, client_options={})
    try:
        middle = await reader.read(topic=topic, partition=1, start=7, end=19)
        assert [r.offset for r in middle] == list(range(7, 19))
        assert [r.value for r in middle] == [f"r{n}".encode() for n in range(7, 19)]
        assert {(r.topic, r.partition, r.key) for r in middle} == {(topic, 1, b"k")}
        # the same reader moves to another partition and back
        other = await reader.read(topic=topic, partition=0, start=0, end=1)
        assert [r.value for r in other] == [b"other"]
        tail = await reader.read(topic=topic, partition=1, start=28, end=30)
        assert [r.offset for r in tail] == [28, 29]
        assert await reader.read(topic=topic, partition=1, start=5, end=5) == []
        ends = await reader.end_offsets([(topic, 0), (topic, 1)])
        assert ends == {(topic, 0): 1, (topic, 1): 30}
    finally:
        await reader.stop()
