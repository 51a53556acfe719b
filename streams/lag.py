"""How far a consumer group is behind: what the demo and the benchmarks wait on."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def group_lag(bootstrap: str, group: str, topics: list[str]) -> tuple[int, int]:
    """(records not yet committed by ``group``, records in ``topics``) summed over partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        await consumer.topics()  # refreshes the metadata partitions_for_topic reads
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        behind = 0
        for tp in partitions:
            done = committed.get(tp)
            behind += ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0)
        return behind, sum(ends.values())
    finally:
        await consumer.stop()
        await admin.close()
