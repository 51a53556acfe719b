"""``produce``: send event files to their Kafka topics as batch records, refusing invalid events.

Every event is judged by the contract decoder before anything is sent; a rejected event is
counted by reason and never leaves the machine. Accepted events are routed by ``event_type`` to
their topic and keyed by ``site_code`` (else ``trust_code``, for sitreps). Consecutive events of
one (topic, key) are grouped into JSON-array batch records of up to ``batch_size`` events, sent
in file order: a key always maps to one partition and aiokafka keeps one batch in flight per
partition, so per-key order on the topic is the file's order (the engine relies on it).

The raw bytes of each event are forwarded as read (not re-encoded), so what the broker carries is
exactly what was validated.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feeds.event_files import iter_lines, split_line
from models.events import EVENT_TYPE_TOPIC, event_type_of

#: the contract allows 10,000 events a record; 500 keeps records ~150 kB, well under 1 MB
DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 10_000


@dataclass(slots=True)
class ProduceStats:
    read: int = 0
    sent: int = 0
    records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    topics: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "sent": self.sent,
            "records": self.records,
            "rejected": self.rejected.total(),
            "reasons": dict(sorted(self.rejected.items())),
            "topics": dict(sorted(self.topics.items())),
        }


class BatchRouter:
    """Groups accepted events into per-(topic, key) batch records, in arrival order per key.

    A batch is released when it is full; :meth:`flush` releases the rest. Batches of one key are
    released in the order their events arrived.
    """

    def __init__(self, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch size must be 1..{MAX_BATCH_SIZE}")
        self.batch_size = batch_size
        self._open: dict[tuple[str, str], list[bytes]] = {}

    def add(self, topic: str, key: str, raw: bytes) -> tuple[str, str, bytes] | None:
        events = self._open.setdefault((topic, key), [])
        events.append(raw)
        if len(events) >= self.batch_size:
            del self._open[(topic, key)]
            return topic, key, _record(events)
        return None

    def flush(self) -> Iterator[tuple[str, str, bytes]]:
        pending, self._open = self._open, {}
        for (topic, key), events in pending.items():
            yield topic, key, _record(events)


def _record(events: Sequence[bytes]) -> bytes:
    return b"[" + b",".join(events) + b"]"


def accepted_records(
    paths: Iterable[Path],
    *,
    topic_suffix: str = "",
    batch_size: int = DEFAULT_BATCH_SIZE,
    past_horizon: timedelta | None = None,
    now: datetime | None = None,
    stats: ProduceStats | None = None,
) -> Iterator[tuple[str, str, bytes, int]]:
    """(topic, key, record value, events in it) for every batch record to send, in send order."""
    from models.decoding import RecordDecoder

    decoder = RecordDecoder(None, past_horizon=past_horizon)
    stats = stats if stats is not None else ProduceStats()
    router = BatchRouter(batch_size)
    sizes: Counter[tuple[str, str]] = Counter()

    def released(item: tuple[str, str, bytes] | None) -> Iterator[tuple[str, str, bytes, int]]:
        if item is not None:
            topic, key, value = item
            count = sizes.pop((topic, key))
            yield topic, key, value, count

    for path in paths:
        for line in iter_lines(path):
            raws = split_line(line)
            if raws is None:
                stats.read += 1
                stats.rejected["invalid_json"] += 1
                continue
            for raw in raws:
                stats.read += 1
                # the wall clock only judges "too far in the future" (and the optional horizon)
                decoded = decoder.decode(raw, now=now or datetime.now(UTC))
                if not decoded.events:
                    stats.rejected.update(r.reason for r in decoded.rejections)
                    continue
                event = decoded.events[0]
                topic = EVENT_TYPE_TOPIC[event_type_of(event)] + topic_suffix
                key = event.site_code or event.trust_code
                sizes[(topic, key)] += 1
                yield from released(router.add(topic, key, raw))
    for topic, key, value in router.flush():
        yield topic, key, value, sizes.pop((topic, key))


def kafka_producer(
    bootstrap: str, *, linger_ms: int = 20, client_options: Mapping[str, Any] | None = None
) -> Any:
    """The producer every feed uses: durable (``acks=all``, idempotent), records up to 8 MB.

    ``client_options`` are the security settings (``security_protocol``, ``ssl_context``, SASL),
    built by the caller from its settings.
    """
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=linger_ms,
        compression_type=None,
        max_request_size=8 * 1024 * 1024,
        acks="all",
        enable_idempotence=True,
        **(client_options or {}),
    )


async def produce(
    paths: Sequence[Path],
    *,
    bootstrap: str,
    topic_suffix: str = "",
    batch_size: int = DEFAULT_BATCH_SIZE,
    linger_ms: int = 20,
    past_horizon: timedelta | None = None,
    progress: bool = True,
    client_options: Mapping[str, Any] | None = None,
) -> ProduceStats:
    """Validate, batch and send; returns the counts (rejected events are counted, never sent).

    ``client_options`` are passed to the Kafka producer as they are: its security settings
    (``security_protocol``, ``ssl_context``, SASL), built by the caller from its settings.
    """
    from tqdm import tqdm

    stats = ProduceStats()
    producer = kafka_producer(bootstrap, linger_ms=linger_ms, client_options=client_options)
    await producer.start()
    bar = tqdm(unit="ev", file=sys.stderr, disable=not progress, desc="produce")
    pending: list[Any] = []
    try:
        for topic, key, value, count in accepted_records(
            paths,
            topic_suffix=topic_suffix,
            batch_size=batch_size,
            past_horizon=past_horizon,
            stats=stats,
        ):
            # send() only queues the record: awaiting it keeps per-partition order, and the
            # delivery futures are collected and checked in chunks
            pending.append(await producer.send(topic, value=value, key=key.encode()))
            stats.records += 1
            stats.sent += count
            stats.topics[topic] += count
            bar.update(count)
            if len(pending) >= 1000:
                for future in pending:
                    await future
                pending.clear()
        for future in pending:
            await future
        await producer.flush()
    finally:
        bar.close()
        await producer.stop()
    return stats
