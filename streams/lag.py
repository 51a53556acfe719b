"""How far a consumer group is behind: what the demo and the benchmarks wait on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def group_lag(
    bootstrap: str,
    group: str,
    topics: list[str],
    *,
    client_options: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """(records not yet committed by ``group``, records in ``topics``) summed over partitions.

    ``client_options``: the clients' security options (streams.kafka_security)."""
    options = dict(client_options or {})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **options)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics(topics)
        partitions = [
            TopicPartition(topic["topic"], p["partition"])
            for topic in described
            if topic["error_code"] == 0
            for p in sorted(topic["partitions"], key=lambda p: int(p["partition"]))
        ]
        # A consumer only keeps metadata for topics it is assigned: without this, end_offsets
        # retries on stale metadata until its timeout.
        consumer.assign(partitions)
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
