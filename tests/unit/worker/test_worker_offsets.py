"""The offset guard admits records in order and redeliveries, and refuses a hole."""

from __future__ import annotations

import pytest

from streams.offsets import OffsetGuard

pytestmark = pytest.mark.unit


def test_in_order_and_redelivered_records_are_admitted() -> None:
    guard = OffsetGuard()
    assert [guard.admit("p0", offset) for offset in (5, 6, 7)] == [None, None, None]
    # a seek back (redelivery from the committed offset) is fine
    assert [guard.admit("p0", offset) for offset in (3, 4, 5)] == [None, None, None]


def test_a_hole_is_refused_with_its_first_offset() -> None:
    guard = OffsetGuard()
    guard.admit("p0", 9)
    assert guard.admit("p0", 12) == 10
    # refused until the missing record comes, then in order again
    assert guard.admit("p0", 13) == 10
    assert guard.admit("p0", 10) is None
    assert guard.admit("p0", 11) is None
    assert guard.admit("p1", 40) is None, "partitions are independent"


def test_reset_forgets_positions() -> None:
    guard = OffsetGuard()
    guard.admit("p0", 9)
    guard.reset()
    assert guard.admit("p0", 30) is None


def test_a_hole_at_the_start_of_a_generation_is_refused() -> None:
    guard = OffsetGuard()
    assert not guard.knows("p0")
    guard.expect("p0", 0)
    assert guard.knows("p0")
    # records 0..2 were dropped while the partition was paused: the first one handed over is 3
    assert guard.admit("p0", 3) == 0
    assert guard.admit("p0", 0) is None
    guard.expect("p1", 7)
    assert guard.admit("p1", 7) is None, "the resume position itself is in order"


def test_the_guard_says_which_offset_a_partition_waits_for() -> None:
    guard = OffsetGuard()
    assert guard.expected("p0") is None
    guard.expect("p0", 20)
    assert guard.admit("p0", 25) == 20 and guard.expected("p0") == 20  # still waiting for 20
    assert guard.admit("p0", 20) is None and guard.expected("p0") == 21
