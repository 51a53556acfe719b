"""Integer time keys (hours and days since the Unix epoch, UTC) and UK local-time flags.

State buckets are keyed by these integers so that windows are ranges of ints, persisted state is
compact, and nothing depends on the wall clock.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import holidays

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


def local_day(ts: float) -> int:
    """The UK local calendar date containing the instant ``ts``, as a day key."""
    return at(ts).astimezone(LONDON).date().toordinal() - EPOCH_ORDINAL


def local_day_and_before_noon(ts: float) -> tuple[int, bool]:
    """``local_day(ts)`` and ``local_before_noon(ts)`` from one time-zone conversion."""
    local = at(ts).astimezone(LONDON)
    return local.date().toordinal() - EPOCH_ORDINAL, local.hour < 12


def local_week_ago_hour(hour: int) -> tuple[int, int]:
    """For the boundary starting ``hour``: (the hour key of the same UK local clock time 7 days
    earlier, the UK local date of the boundary as a day key). 168 hours except in the week after
    a clock change (167 or 169)."""
    local = at(hour * HOUR).astimezone(LONDON)
    earlier = datetime.combine(local.date() - timedelta(days=7), local.time(), tzinfo=LONDON)
    return int(earlier.timestamp() // HOUR), local.date().toordinal() - EPOCH_ORDINAL


def day_is_weekend(day: int) -> bool:
    """Whether the calendar date ``day`` (a day key) is a Saturday or Sunday."""
    return (day + 3) % 7 >= 5  # 1970-01-01 (day 0) was a Thursday


def hour_is_weekend(hour: int) -> bool:
    """Whether the hour starting at ``hour`` falls on a Saturday or Sunday in the UK."""
    return at(hour * HOUR).astimezone(LONDON).weekday() >= 5


#: England's bank holidays (gov.uk's list, from the maintained ``holidays`` package: substitute
#: days and one-off ones such as 8 May 2023 included), by year on first use
_BANK_HOLIDAYS: Final = holidays.country_holidays("GB", subdiv="ENG")


@functools.lru_cache(maxsize=4096)
def day_is_bank_holiday(local_day: int) -> bool:
    """Whether the UK local date ``local_day`` (a day key) is a bank holiday in England."""
    return date.fromordinal(local_day + EPOCH_ORDINAL) in _BANK_HOLIDAYS


def hour_is_bank_holiday(hour: int) -> bool:
    """Whether the hour starting at ``hour`` falls on a bank holiday in England (UK local date).
    Elective work stops on those days (clinics, triage, validation, rostering teams): a feed
    quiet then is a holiday, not an interface down."""
    return day_is_bank_holiday(local_day(hour * HOUR))
