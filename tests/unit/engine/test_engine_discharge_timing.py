"""Discharge-timing metrics compare whole UK days (weekend ratio) and balanced hours of the day
(before-noon share): flat daily discharges must give flat metrics at every hour."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.events import Discharge
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import run, series

LONDON = ZoneInfo("Europe/London")


def _discharges(start: datetime, days: int, per_day: int, weekend_per_day: int) -> list:
    """``per_day`` discharges a weekday (``weekend_per_day`` a weekend day), half at 10:00-11:00
    and half at 14:00-15:00 UK time, from the local date of ``start`` on."""
    s = b.Stream()
    first = start.astimezone(LONDON).date()
    count = 0
    for offset in range(days):
        day = first + timedelta(days=offset)
        n = weekend_per_day if day.weekday() >= 5 else per_day
        for index in range(n):
            hour = 10 if index % 2 == 0 else 14
            local = datetime(day.year, day.month, day.day, hour, tzinfo=LONDON)
            when = (local + timedelta(minutes=index)).astimezone(UTC)
            count += 1
            s.add(Discharge, when, spell_ref=f"dd{count:014x}", ward_code="W1", destination="home")
    return s.events()


@pytest.mark.unit
def test_weekend_ratio_is_flat_for_flat_days_and_needs_a_whole_window() -> None:
    out = run(_discharges(b.T0, 36, 10, 10))
    points = series(out, "weekend_weekday_discharge_ratio_28d")
    # the stream begins at 10:00 on day 0, so day 0 is not whole: days 1-28 are the first whole
    # window, complete at the start of day 29
    assert points[0].evaluated_at == b.T0 + timedelta(days=29)
    assert {p.value for p in points} == {1.0}  # every hour, Sunday noon included
    assert points[-1].sample_size == 280
    weekly = series(out, "weekend_weekday_discharge_ratio_7d")
    assert weekly[0].evaluated_at == b.T0 + timedelta(days=8)
    assert {p.value for p in weekly} == {1.0}


@pytest.mark.unit
def test_weekend_ratio_compares_mean_days() -> None:
    out = run(_discharges(b.T0, 30, 10, 4))
    assert {p.value for p in series(out, "weekend_weekday_discharge_ratio_28d")} == {0.4}
    assert {p.value for p in series(out, "weekend_weekday_discharge_ratio_7d")} == {0.4}


@pytest.mark.unit
def test_before_noon_share_keeps_hours_of_the_day_balanced_across_a_clock_change() -> None:
    # the clocks go back on Sunday 25 October 2026: the week after it spans 169 hours
    start = datetime(2026, 10, 12, tzinfo=LONDON).astimezone(UTC)
    out = run(_discharges(start, 28, 2, 2))
    points = series(out, "discharge_before_noon_share_7d")
    # only whole weeks of data: the first value is 7 days after the first hour of the stream
    assert points[0].evaluated_at == datetime(2026, 10, 19, 9, tzinfo=UTC)
    assert {round(p.value, 12) for p in points} == {0.5}
    after = [p for p in points if p.evaluated_at.date() == date(2026, 10, 26)]
    assert after and all(p.sample_size == 14 for p in after)
