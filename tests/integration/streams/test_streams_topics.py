"""Topics are created with the partition count the state table needs, and a wrong existing
layout is refused with a clear error instead of a crash-looping agent."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.topics import TopicLayoutError, ensure_topics

pytestmark = pytest.mark.integration


async def _partitions(bootstrap: str, name: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([name])
        return len(described["partitions"])
    finally:
        await admin.close()


async def test_missing_topics_are_created_with_the_partition_count(
    kafka_bootstrap: str, unique_suffix: str
) -> None:
    name = f"nhs.bedflow.v1{unique_suffix}"
    await ensure_topics(kafka_bootstrap, [name], 4)
    await ensure_topics(kafka_bootstrap, [name], 4)  # idempotent
    assert await _partitions(kafka_bootstrap, name) == 4


async def test_an_existing_topic_with_another_layout_is_refused(
    kafka_bootstrap: str, unique_suffix: str
) -> None:
    name = f"nhs.rostering.v1{unique_suffix}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    with pytest.raises(TopicLayoutError, match="has 1 partition"):
        await ensure_topics(kafka_bootstrap, [name], 4)
