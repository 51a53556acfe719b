"""Small helpers the three processes share: time of day, weekdays, seeded draws."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from feeds.simulator.ids import DAY, HOUR

_LONDON = ZoneInfo("Europe/London")


def day_start(t: int) -> int:
    return t - t % DAY


def weekday(t: int) -> int:
    """Monday 0 ... Sunday 6 (1970-01-01 was a Thursday)."""
    return (t // DAY + 3) % 7


@lru_cache(maxsize=4096)
def _london_offset(day: int) -> int:
    noon = datetime.fromtimestamp(day + 12 * HOUR, UTC)
    offset = noon.astimezone(_LONDON).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def at_hour(day: int, hour: float) -> int:
    """The epoch second of ``hour`` (fractional) of UK local time on the (UTC) day ``day``.

    Hospitals work to the wall clock: ward rounds, morning discharges and clinics keep their
    local hours through British Summer Time, and the engine reads "before noon" locally.
    """
    return day + int(hour * HOUR) - _london_offset(day)


def lognormal_days(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def working_time(rng: random.Random, t: int) -> int:
    """``t`` moved into office hours (Mon-Fri 08:00-18:00): admin work is not done at night."""
    day = day_start(t)
    hour = (t - day) / HOUR
    if hour >= 18:
        day += DAY
        hour = rng.uniform(8, 12)
    elif hour < 8:
        hour = rng.uniform(8, 12)
    while weekday(day) >= 5:
        day += DAY
    return at_hour(day, hour)


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; the means here are small (hourly admissions), so it is fast enough."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
