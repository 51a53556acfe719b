"""Records Faust never handed over, read straight from the broker.

When :class:`streams.offsets.OffsetGuard` finds a hole in what Faust hands an agent, the agent
does not seek Faust's consumer back: a seek races Faust's fetch loop, which marks each in-flight
record as read after handing it over, so a seek can be undone (the records it asked for are then
dropped as already read) and an agent awaiting it while the loop waits on the agent's full
buffer stops both. Instead the agent reads the missing offsets with this reader, a consumer of
its own in no group, handles them in order, and then the record that showed the hole.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)

#: how long one fetch waits for records before the reader checks where it stands
FETCH_TIMEOUT_MS = 1000
#: how often a read that makes no progress (broker away) says so
STALLED_WARNING_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class MissingRecord:
    """One record of a hole, as the agent handles it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class HoleReader:
    """Reads a range of offsets of one partition; started on first use, shared by the agents."""

    def __init__(self, *, bootstrap: str, client_options: dict[str, Any]) -> None:
        self._bootstrap = bootstrap
        self._client_options = client_options
        self._consumer: AIOKafkaConsumer | None = None
        # one range at a time: the reader's assignment is the range's partition
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **self._client_options,
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def read(
        self, *, topic: str, partition: int, start: int, end: int
    ) -> list[MissingRecord]:
        """Every record of ``topic``/``partition`` from ``start`` up to (not including) ``end``.

        Waits for the broker as long as it takes (the agent cannot go on without these records);
        offsets the log no longer holds (retention) or that hold no record are skipped."""
        records: list[MissingRecord] = []
        if end <= start:
            return records
        tp = TopicPartition(topic, partition)
        async with self._lock:
            consumer = await self._started()
            consumer.assign([tp])
            earliest = (await consumer.beginning_offsets([tp]))[tp]
            if earliest > start:
                log.warning(
                    "%s-%d: offsets %d-%d are gone from the log; reading from %d",
                    topic, partition, start, earliest - 1, earliest,
                )  # fmt: skip
            consumer.seek(tp, max(start, earliest))
            loop = asyncio.get_running_loop()
            last_progress = loop.time()
            while await consumer.position(tp) < end:
                fetched = await consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS)
                batch = [r for r in fetched.get(tp, []) if r.offset < end]
                records.extend(
                    MissingRecord(
                        topic=topic, partition=partition, offset=r.offset, key=r.key, value=r.value
                    )
                    for r in batch
                )
                if batch:
                    last_progress = loop.time()
                elif loop.time() - last_progress > STALLED_WARNING_SECONDS:
                    log.warning(
                        "%s-%d: still reading offsets %d-%d of a hole (at %d)",
                        topic, partition, start, end - 1, await consumer.position(tp),
                    )  # fmt: skip
                    last_progress = loop.time()
        return records

    async def end_offsets(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The broker's end offset of each (topic, partition): asked of the broker, not of
        Faust's consumer, which knows none for a partition it has stopped fetching."""
        if not partitions:
            return {}
        async with self._lock:
            consumer = await self._started()
            ends = await consumer.end_offsets([TopicPartition(t, p) for t, p in partitions])
        return {(tp.topic, tp.partition): int(end) for tp, end in ends.items()}

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
