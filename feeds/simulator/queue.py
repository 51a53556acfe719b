"""A site's pending events: scheduled ahead (a spell's discharge, a shift's start), released by day.

Processes plan a whole spell, shift or pathway when it starts and push its future events here;
the run pops each day's events in time order. Only open work is held, so memory stays bounded
by what is in flight (current inpatients, published shifts, open pathways), not by history.
"""

from __future__ import annotations

import heapq

from models.events import Event


class EventQueue:
    __slots__ = ("_end", "_heap", "_seq")

    def __init__(self, end: int) -> None:
        self._heap: list[tuple[int, int, Event]] = []
        self._seq = 0
        self._end = end

    def push(self, t: int, event: Event) -> None:
        """Schedule ``event`` at epoch second ``t``; at or after the period end it is dropped."""
        if t >= self._end:
            return
        # the sequence number keeps insertion order among equal times (a cause before its effect)
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, event))

    def pop_before(self, t: int) -> list[tuple[int, int, Event]]:
        """Every pending event earlier than ``t``, in time (then insertion) order."""
        heap = self._heap
        out: list[tuple[int, int, Event]] = []
        while heap and heap[0][0] < t:
            out.append(heapq.heappop(heap))
        return out

    def __len__(self) -> int:
        return len(self._heap)
