"""Integer time keys (hours and days since the Unix epoch, UTC) and UK local-time flags.

State buckets are keyed by these integers so that windows are ranges of ints, persisted state is
compact, and nothing depends on the wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

HOUR: Final = 3600
DAY: Final = 86400
EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()

# Trust operations run on UK local time: "before noon" and "weekend" are local notions.
LONDON: Final = ZoneInfo("Europe/London")


def hour_of(ts: float) -> int:
    """The hour (since the epoch) containing the instant ``ts`` (epoch seconds)."""
    return int(ts // HOUR)


def day_of(ts: float) -> int:
    return int(ts // DAY)


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def day_of_date(value: date) -> int:
    """A calendar date as a day key (days since 1970-01-01)."""
    return value.toordinal() - EPOCH_ORDINAL


def date_of_day(day: int) -> date:
    return date.fromordinal(day + EPOCH_ORDINAL)


def local_before_noon(ts: float) -> bool:
    return at(ts).astimezone(LONDON).hour < 12


def hour_is_weekend(hour: int) -> bool:
    """Whether the hour starting at ``hour`` falls on a Saturday or Sunday in the UK."""
    return at(hour * HOUR).astimezone(LONDON).weekday() >= 5
