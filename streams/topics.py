"""Every topic opsradar reads or writes, and creating them with the right partition count.

The input topics and the state table's changelog must have the same number of partitions (Faust
refuses otherwise), and a broker that auto-creates topics gives them one; so the worker and the
producer create topics explicitly before using them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from models.events import INPUT_TOPICS
from models.outputs import DEADLETTER_TOPIC, METRICS_TOPIC, OPPORTUNITIES_TOPIC

OUTPUT_TOPICS = (METRICS_TOPIC, OPPORTUNITIES_TOPIC)
ALL_TOPICS = (*INPUT_TOPICS, *OUTPUT_TOPICS, DEADLETTER_TOPIC)


class TopicLayoutError(RuntimeError):
    """An existing topic has a partition count the worker cannot use."""


async def ensure_topics(
    bootstrap: str,
    names: list[str],
    partitions: int,
    *,
    client_options: Mapping[str, Any] | None = None,
) -> None:
    """Create the topics that do not exist yet, and refuse existing ones whose partition count
    differs (Faust would otherwise crash-loop its agent on PartitionsMismatch).

    ``client_options``: the admin client's security options (streams.kafka_security)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(client_options or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [name for name in names if name in existing]
        if present:
            for described in await admin.describe_topics(present):
                found = len(described["partitions"])
                if found != partitions:
                    raise TopicLayoutError(
                        f"topic {described['topic']} has {found} partition(s), expected "
                        f"{partitions} (OPSRADAR_TOPIC_PARTITIONS); recreate it or change the "
                        "setting"
                    )
        missing = [
            NewTopic(name=name, num_partitions=partitions, replication_factor=1)
            for name in names
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another worker or producer won the race; that is fine
    finally:
        await admin.close()
