"""Sums over integer-keyed buckets (hour or day counts): the engine's lookback windows.

Windows are half-open ranges ``[start, end)`` of bucket keys. Buckets are plain dicts so that the
per-event path is one dict update; a window is summed only at evaluation time.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat
from typing import Any, TypeVar

N = TypeVar("N", int, float)


def window_sum(buckets: dict[int, N], start: int, end: int) -> N:
    """Sum of the buckets with keys in ``[start, end)``."""
    if end - start <= len(buckets):
        # map() over the keys, in order: the same sum as a generator, without its frame per key
        return sum(map(buckets.get, range(start, end), repeat(0, end - start)))
    return sum(value for key, value in buckets.items() if start <= key < end)


def add(buckets: dict[int, N], key: int, value: N) -> None:
    buckets[key] = buckets.get(key, 0) + value


def purge_before(buckets: dict[int, Any], cutoff: int) -> bool:
    """Drop buckets with keys below ``cutoff``; True when anything was dropped."""
    stale = [key for key in buckets if key < cutoff]
    for key in stale:
        del buckets[key]
    return bool(stale)


def median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
