"""Held records: what the worker sent and has not yet saved, released in one piece."""

from __future__ import annotations

from typing import Any

import pytest

from streams.held import HeldRecords

pytestmark = pytest.mark.unit


def sent(name: str) -> Any:
    """A stand-in for a producer future (only its identity matters here)."""
    return name


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_batches_are_released_together_in_order_with_the_newest_event_per_source() -> None:
    clock = Clock()
    held = HeldRecords(max_hold_seconds=1.0, clock=clock)
    assert not held and held.release() is None
    held.hold(generation=3, events=[("a", "s"), ("b", None)], deliveries=[sent("f1")],
              last_of_source={"t/0": "a", "t/1": "b"})  # fmt: skip
    clock.now += 0.5
    held.hold(generation=3, events=[("c", "s")], deliveries=[sent("f2"), sent("f3")],
              last_of_source={"t/0": "c"})  # fmt: skip
    assert held and len(held) == 3

    released = held.release()

    assert released is not None
    assert released.events == [("a", "s"), ("b", None), ("c", "s")]
    assert released.deliveries == [sent("f1"), sent("f2"), sent("f3")]
    assert released.last_of_source == {"t/0": "c", "t/1": "b"}
    assert released.generation == 3
    assert not held and held.release() is None


def test_due_once_the_oldest_has_waited_the_hold_time() -> None:
    clock = Clock()
    held = HeldRecords(max_hold_seconds=1.0, clock=clock)
    assert not held.due()
    held.hold(generation=0, events=[("a", None)], deliveries=[], last_of_source={})
    clock.now += 0.6
    held.hold(generation=0, events=[("b", None)], deliveries=[], last_of_source={})
    assert not held.due()
    clock.now += 0.4
    assert held.due()  # the first batch's time counts, not the newest's
    held.release()
    assert not held.due()


def test_records_of_an_earlier_generation_are_dropped_never_released() -> None:
    held = HeldRecords(max_hold_seconds=1.0, clock=Clock())
    held.hold(
        generation=1, events=[("old", "s")], deliveries=[sent("f0")], last_of_source={"t/0": 1}
    )
    held.hold(
        generation=2, events=[("new", "s")], deliveries=[sent("f1")], last_of_source={"t/1": 2}
    )

    released = held.release()

    assert released is not None
    assert released.generation == 2
    assert released.events == [("new", "s")]
    assert released.deliveries == [sent("f1")]
    assert released.last_of_source == {"t/1": 2}
