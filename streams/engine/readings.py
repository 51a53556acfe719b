"""A metric's value at one evaluation, with the sample it rests on."""

from __future__ import annotations

from typing import NamedTuple


class Reading(NamedTuple):
    value: float
    sample: int


def ratio(numerator: float, denominator: float, sample: int) -> Reading | None:
    """``numerator / denominator``, or None when the denominator is empty (no data, no metric)."""
    if denominator <= 0:
        return None
    return Reading(numerator / denominator, sample)
