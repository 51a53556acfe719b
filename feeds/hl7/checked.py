"""The second line of the trust edge: every event an adapter made is encoded and judged by the
contract decoder, identifier guard included, before anything is written or produced."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import msgspec

from models.decoding import RecordDecoder
from models.events import BEDFLOW_TOPIC, Event


class EventCheck:
    def __init__(
        self, clock: Callable[[], datetime] | None = None, topic: str = BEDFLOW_TOPIC
    ) -> None:
        self._decoder = RecordDecoder(topic, past_horizon=None)
        self._encoder = msgspec.json.Encoder()
        self._clock = clock or (lambda: datetime.now(UTC))

    def judge(self, events: Iterable[Event]) -> tuple[list[Event], list[bytes], str | None]:
        """(events, their JSON, None) when every event passes; else ([], [], the first reason)."""
        now = self._clock()
        accepted: list[Event] = []
        raws: list[bytes] = []
        for event in events:
            raw = self._encoder.encode(event)
            decoded = self._decoder.decode(raw, now=now)
            if not decoded.events:
                return [], [], decoded.rejections[0].reason
            accepted.append(decoded.events[0])
            raws.append(raw)
        return accepted, raws, None
