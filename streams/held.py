"""Input records between the send of their outputs and the save of the states they advanced.

The worker's consistency rule (README, "Consistency") orders three things per record: its
outputs acknowledged by the broker, then its states saved, then the record acked. Nothing in it
asks for one save per batch: while a backlog keeps batches coming, the states are saved once per
commit interval (as Kafka Streams flushes its record cache at commit), covering every batch
since the last save, and each batch goes on as soon as its outputs are handed to the producer.
:class:`HeldRecords` is that bookkeeping, kept free of Faust: what was sent, which records to
ack once saved (and through what), and which record of each source was handled last (a state's
table writes go to that record's changelog partition).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Held:
    """Records whose outputs were sent since the last save, in the order they were handled."""

    #: ``pipeline.generation`` when the first of them was handled: a save may not cover them
    #: once it changed (a rebalance dropped the states they advanced)
    generation: int
    #: when the first of them was held (the clock of :class:`HeldRecords`)
    since: float
    #: the producer's futures of their outputs, resolved by the broker's acknowledgements
    deliveries: list[Awaitable[Any]] = field(default_factory=list)
    #: each record's event and the stream that handed it over (None: read from the broker)
    events: list[tuple[Any, Any]] = field(default_factory=list)
    #: ``"<wire topic>/<partition>"`` -> the newest event of that source among them
    last_of_source: dict[str, Any] = field(default_factory=dict)


class HeldRecords:
    """The records sent and not yet saved; :meth:`release` hands them over for the save."""

    def __init__(
        self, *, max_hold_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_hold_seconds = max_hold_seconds
        self._clock = clock
        self._held: Held | None = None

    def __bool__(self) -> bool:
        return self._held is not None

    def __len__(self) -> int:
        return len(self._held.events) if self._held is not None else 0

    def hold(
        self,
        *,
        generation: int,
        events: Iterable[tuple[Any, Any]],
        deliveries: Iterable[Awaitable[Any]],
        last_of_source: dict[str, Any],
    ) -> None:
        """Add a batch. Records held under another generation are dropped, never acked: the
        states they advanced are gone, and they come again from the committed offsets."""
        if self._held is None or self._held.generation != generation:
            self._held = Held(generation=generation, since=self._clock())
        self._held.deliveries.extend(deliveries)
        self._held.events.extend(events)
        self._held.last_of_source.update(last_of_source)

    def due(self) -> bool:
        """True once the oldest held record has waited ``max_hold_seconds``."""
        return self._held is not None and self._clock() - self._held.since >= self.max_hold_seconds

    def release(self) -> Held | None:
        """Everything held (None if nothing is), and hold nothing from now on."""
        held, self._held = self._held, None
        return held
