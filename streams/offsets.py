"""Holes in what Faust hands an agent: seen here, filled from the broker (:mod:`streams.holes`).

Around a rebalance Faust's consumer can hand a stream a partition's records with a hole (an
offset never delivered in this generation: a delivery abandoned when the flow was suspended, then
skipped as already read). The hole is never acked, so offsets stop being committed; or it is
taken for a compacted gap and committed as if processed. Either way its record would be lost.

The hole can also be at the start of a generation: records fetched while a partition was paused
for recovery are dropped, and a partition with nothing committed yet is not sought back, so the
first record handed over is past the ones dropped. The agent therefore tells the guard where each
partition resumes (:meth:`OffsetGuard.expect`: the committed offset, or the earliest one) before
its first record.

An agent asks :meth:`OffsetGuard.admit` for every record: a record at or before the next
expected offset (in order, or a redelivery) is admitted; a record past it is refused with the
first offset of the hole, and the agent reads the missing records from the broker itself
(:mod:`streams.holes`), handles them, and then the refused record. Pure bookkeeping, no Faust.
"""

from __future__ import annotations

from collections.abc import Hashable


class OffsetGuard:
    """Per partition, the offset the next record must not go past."""

    def __init__(self) -> None:
        self._next: dict[Hashable, int] = {}

    def admit(self, tp: Hashable, offset: int) -> int | None:
        """None if the record may be handled; else the first offset of the hole before it."""
        expected = self._next.get(tp)
        if expected is not None and offset > expected:
            return expected
        self._next[tp] = offset + 1
        return None

    def expected(self, tp: Hashable) -> int | None:
        """The offset the next record of ``tp`` must not go past (None: no position yet)."""
        return self._next.get(tp)

    def knows(self, tp: Hashable) -> bool:
        """Whether ``tp`` has a position (else the agent should :meth:`expect` one)."""
        return tp in self._next

    def expect(self, tp: Hashable, offset: int) -> None:
        """The partition resumes at ``offset``: a first record past it is a hole."""
        self._next[tp] = offset

    def reset(self) -> None:
        """Forget every position: after a rebalance Faust seeks to the committed offsets, and
        each partition's position is expected afresh."""
        self._next.clear()
