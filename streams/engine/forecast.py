"""Occupancy forecasts of a site, 24 h and 72 h ahead, with an 80% interval (pure, event time).

The model is a flow balance by hour of the week, learned from the site's own stream:

- each UTC hour of the week has a mean of admissions and a discharge hazard (discharges per
  occupied bed), running means over the last ``PROFILE_WEEKS`` weeks, as the data-quality
  profile keeps its rates; admissions of an hour are the census change plus its discharges;
- admissions are scaled by the last ``LEVEL_HOURS``' actual over the profile's expected (a
  surge, a quiet bank holiday: clamped to ``LEVEL_LIMITS``) once that sum is beyond
  ``LEVEL_NOISE_SIGMAS`` of the site's own spread of such sums, and the extra patients it
  admitted stay in beds with the hazard;
- from the current census, ``C(k+1) = C(k) + A(k) - d(k) C(k)`` hour by hour to the horizon,
  over the current open beds.

The 80% interval is the forecast plus the 10th and 90th percentiles of the site's own errors at
that horizon (forecasts compared with the occupancy the engine later evaluated at their target
hour, the last ``RESIDUALS_KEPT``); until ``RESIDUALS_MIN`` of them exist, a normal interval
from the model's Poisson arrivals and binomial discharges.

Why no forecasting library: the engine must be pure, restorable from msgpack parts and give the
same output offline and in the worker at every hourly boundary; statsforecast (numba JIT, fits
whole series) would refit a model per site per hour or hold fitted state outside the parts, and
its compile step would sit in the worker's start-up. The recursion here is ~20 arithmetic lines
per horizon and deterministic by construction (``bench/forecast.py`` measures it against a
seasonal-naive baseline).
"""

from __future__ import annotations

import math
import statistics
from typing import Final

import msgspec

from streams.engine.readings import Reading

WEEK_HOURS: Final = 168
PROFILE_WEEKS: Final = 4
HORIZONS: Final = (24, 72)
LEVEL_HOURS: Final = 48
LEVEL_LIMITS: Final = (0.5, 2.0)
#: the admissions level moves the forecast only beyond this many sigmas of the noise it is
#: measured in: the site's own spread of LEVEL_HOURS sums around the profile's expectation
LEVEL_NOISE_SIGMAS: Final = 2.0
#: that spread as a dispersion (variance over the expected count: 1 for Poisson arrivals and an
#: exact profile), a running mean forgetting over ~4 weeks, started from a prior worth a week
DISPERSION_PRIOR: Final = 2.0
DISPERSION_PRIOR_HOURS: Final = 168
DISPERSION_FLOOR: Final = 1.0
DISPERSION_FORGET_HOURS: Final = 4 * 168
#: a level off the pattern counts only while the census deviation holds this share of its
#: extra (or missing) patients
LEVEL_CENSUS_SHARE: Final = 0.5
#: deviations from the weekly pattern: persistence before it is measured, and its memory
PERSISTENCE_PRIOR: Final = 0.5
FORGET_HOURS: Final = 168
RESIDUALS_KEPT: Final = 28 * 24
RESIDUALS_MIN: Final = 72
#: the 80% interval: the 10th and 90th percentiles, and z for the normal fallback
LOW_Q: Final = 0.1
HIGH_Q: Final = 0.9
Z_80: Final = 1.2816


class ForecastState(msgspec.Struct, kw_only=True):
    hours: int = 0  # hours learned
    last_census: int | None = None
    admissions: list[float] = msgspec.field(default_factory=lambda: [0.0] * WEEK_HOURS)
    hazard: list[float] = msgspec.field(default_factory=lambda: [0.0] * WEEK_HOURS)
    census: list[float] = msgspec.field(default_factory=lambda: [0.0] * WEEK_HOURS)
    seen: list[int] = msgspec.field(default_factory=lambda: [0] * WEEK_HOURS)
    # the last LEVEL_HOURS hours: (admissions, the profile's expected admissions)
    recent: list[tuple[float, float]] = msgspec.field(default_factory=list)
    # the level's noise: forgetting sums of (actual - expected)^2 and of expected, per window
    spread: tuple[float, float] = (0.0, 0.0)
    # horizon -> target hour -> (forecast occupancy ratio, the deviation it started from)
    pending: dict[int, dict[int, tuple[float, float]]] = msgspec.field(default_factory=dict)
    # horizon -> (sum of earlier x later deviations, sum of earlier squared), forgetting
    persistence: dict[int, tuple[float, float]] = msgspec.field(default_factory=dict)
    # horizon -> errors (actual - forecast), oldest first
    residuals: dict[int, list[float]] = msgspec.field(default_factory=dict)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class OccupancyForecast:
    """One site's forecaster; its state is the scope part ``part`` (``forecast/bed_flow``)."""

    def __init__(self, part: str, dirty: set[str]) -> None:
        self.state = ForecastState()
        self.part = part
        self._dirty = dirty

    def learn(self, hour: int, *, census: int, discharged: int, learning: bool = True) -> None:
        """The hour before the boundary ``hour`` closed with ``census`` in beds after
        ``discharged`` discharges: fold it into that hour of the week. Not ``learning`` (the
        feed in a gap or recovering from one: its census is what the gap left) only the census
        is kept, so the next hour's flows are measured from it."""
        state = self.state
        self._dirty.add(self.part)
        previous = state.last_census
        state.last_census = census
        if previous is None:
            return
        if not learning:
            state.recent = []  # the admissions level starts afresh after the gap
            return
        slot = (hour - 1) % WEEK_HOURS
        admitted = max(0.0, float(census - previous + discharged))
        hazard = discharged / previous if previous > 0 else 0.0
        expected = state.admissions[slot]
        weight = 1.0 / (min(state.seen[slot], PROFILE_WEEKS - 1) + 1)
        state.admissions[slot] += (admitted - state.admissions[slot]) * weight
        state.hazard[slot] += (hazard - state.hazard[slot]) * weight
        state.census[slot] += (previous - state.census[slot]) * weight
        state.seen[slot] += 1
        state.hours += 1
        if state.hours > WEEK_HOURS:  # the profile's expectation means something after a week
            state.recent = [*state.recent, (admitted, expected)][-LEVEL_HOURS:]
            if len(state.recent) == LEVEL_HOURS and min(state.seen) >= 2:
                self._learn_spread()

    def _window(self) -> tuple[float, float]:
        """(actual, expected) admissions of the last ``LEVEL_HOURS``."""
        recent = self.state.recent
        return sum(a for a, _ in recent), sum(e for _, e in recent)

    def _learn_spread(self) -> None:
        """Fold the window into the spread, its square clipped at the noise band: a surge
        must not widen the band it is to be seen against."""
        actual, expected = self._window()
        squares, counts = self.state.spread
        band = LEVEL_NOISE_SIGMAS**2 * self._dispersion(expected) * expected
        keep = 1.0 - 1.0 / DISPERSION_FORGET_HOURS
        self.state.spread = (
            round(keep * squares + min(band, (actual - expected) ** 2), 6),
            round(keep * counts + expected, 6),
        )

    def _dispersion(self, expected: float) -> float:
        """The measured spread over the expected count, shrunk towards ``DISPERSION_PRIOR``
        (as if ``DISPERSION_PRIOR_HOURS`` windows of ``expected`` had shown it): a few days of
        overlapping windows are only a couple of independent ones."""
        squares, counts = self.state.spread
        prior = DISPERSION_PRIOR_HOURS * expected
        if counts + prior <= 0:
            # nothing admitted or expected yet (a capacity feed connected before the ADT feed)
            return max(DISPERSION_FLOOR, DISPERSION_PRIOR)
        return max(DISPERSION_FLOOR, (squares + DISPERSION_PRIOR * prior) / (counts + prior))

    def _level(self, deviation: float) -> tuple[float, float]:
        """(admissions of the last ``LEVEL_HOURS`` over the profile's, the patients beyond the
        profile's they admitted); (1, 0) inside the noise or where the census does not show it.

        Only once the window is full and the profile has two weeks behind every hour; the
        noise is the site's own (``_dispersion``): feeds that bunch admissions, a profile from
        few weeks, a site's day-to-day swings all widen it beyond Poisson's. A surge fills
        beds: today's ``deviation`` from the pattern must hold at least ``LEVEL_CENSUS_SHARE``
        of the extra admissions, of the same sign (extra admissions with the census on or
        under its pattern are discharges keeping pace, or a feed's bunching, and lifted
        healthy sites' forecasts to 0.92 in the quality benchmark; a quiet spell the census
        does not show cost the simulated forecasts' MAE 7%)."""
        state = self.state
        if len(state.recent) < LEVEL_HOURS or min(state.seen) < 2:
            return 1.0, 0.0
        actual, expected = self._window()
        if expected <= 0:
            return 1.0, 0.0
        noise = LEVEL_NOISE_SIGMAS * math.sqrt(self._dispersion(expected) * expected)
        excess = actual - expected
        # the census shows it when its deviation is of the level's sign and half its size
        shown = deviation * excess > 0 and abs(deviation) >= LEVEL_CENSUS_SHARE * abs(excess)
        if abs(excess) <= noise or not shown:
            return 1.0, 0.0
        low, high = LEVEL_LIMITS
        return min(high, max(low, actual / expected)), excess

    def _deviation(self, hour: int, census: float) -> float:
        """Today's census over the week's pattern at this hour (the slot not yet folded in)."""
        return census - self.state.census[hour % WEEK_HOURS]

    def _project(self, hour: int, census: float, horizon: int) -> tuple[float, float]:
        """(census, variance) ``horizon`` hours after the boundary ``hour``.

        The census the week's pattern expects at the target, plus today's deviation from the
        pattern times its persistence at this horizon (learned: ``_persistence``), plus the
        patients an admissions level off the pattern adds on the way (each extra arrival stays
        with the hazard of the hours after it)."""
        state = self.state
        deviation = self._deviation(hour, census)
        level, admitted = self._level(deviation)
        extra_rate = level - 1.0
        # the level's extra patients already in beds stay with the hazard like those to come;
        # the rest of today's deviation persists as deviations do
        extra, variance, mean = admitted, 0.0, census
        for step in range(horizon):
            slot = (hour + step) % WEEK_HOURS
            hazard = min(1.0, state.hazard[slot])
            arrivals = state.admissions[slot]
            extra = extra * (1 - hazard) + extra_rate * arrivals
            variance = (1 - hazard) ** 2 * variance + arrivals + hazard * (1 - hazard) * mean
            mean = mean + arrivals - hazard * mean
        target = state.census[(hour + horizon) % WEEK_HOURS]
        return target + self._persistence(horizon) * (deviation - admitted) + extra, variance

    def _persistence(self, horizon: int) -> float:
        """How much of a deviation from the pattern is still there ``horizon`` hours later: the
        least-squares slope of later deviations on earlier ones (forgetting over ~a week),
        in [0, 1]; 0.5 until it has been measured."""
        fit = self.state.persistence.get(horizon)
        if fit is None or fit[1] <= 0:
            return PERSISTENCE_PRIOR
        return min(1.0, max(0.0, fit[0] / fit[1]))

    def _learn_persistence(self, horizon: int, earlier: float, later: float) -> None:
        sxy, sxx = self.state.persistence.get(horizon, (0.0, 0.0))
        keep = 1.0 - 1.0 / FORGET_HOURS
        self.state.persistence[horizon] = (
            round(keep * sxy + earlier * later, 6),
            round(keep * sxx + earlier * earlier, 6),
        )

    def evaluate(
        self, hour: int, *, occupancy: float | None, open_beds: int, learning: bool = True
    ) -> dict[str, Reading]:
        """At the boundary ``hour``: score the forecasts that targeted it (only ``learning``:
        a gap's census says nothing of the model), then forecast."""
        state = self.state
        self._dirty.add(self.part)
        for horizon in HORIZONS:
            pending = state.pending.setdefault(horizon, {})
            made = pending.pop(hour, None)
            if not learning:
                made = None
            if made is not None and occupancy is not None:
                errors = state.residuals.setdefault(horizon, [])
                errors.append(round(occupancy - made[0], 6))
                del errors[:-RESIDUALS_KEPT]
            if made is not None and state.last_census is not None:
                self._learn_persistence(
                    horizon, made[1], self._deviation(hour, float(state.last_census))
                )
            for stale in [target for target in pending if target < hour]:
                del pending[stale]
        out: dict[str, Reading] = {}
        # every hour of the week learned once (a week of the site's stream) before forecasting
        if state.last_census is None or open_beds <= 0 or not all(state.seen):
            return out
        for horizon in HORIZONS:
            census, variance = self._project(hour, float(state.last_census), horizon)
            # occupancy is clamped to the open beds (``bedflow``): so is its forecast
            forecast = round(min(1.0, max(0.0, census / open_beds)), 6)
            errors = state.residuals.get(horizon, [])
            if len(errors) >= RESIDUALS_MIN:
                low = forecast + quantile(errors, LOW_Q)
                high = forecast + quantile(errors, HIGH_Q)
            else:
                spread = Z_80 * math.sqrt(variance) / open_beds
                low, high = forecast - spread, forecast + spread
            deviation = round(self._deviation(hour, float(state.last_census)), 6)
            state.pending[horizon][hour + horizon] = (forecast, deviation)
            name = f"bed_occupancy_forecast_{horizon}h"
            out[name] = Reading(forecast, open_beds)
            out[f"{name}_low"] = Reading(round(max(0.0, low), 6), open_beds)
            # floored at the low end as clamped: a falling census's errors are all negative
            out[f"{name}_high"] = Reading(round(min(1.0, max(0.0, low, high)), 6), open_beds)
        return out


#: the daily model's blend (``daily_stock_forecast``): the last day, the target weekday's median
#: over 4 and over 8 weeks, and the last week's level; fitted (least absolute error) on half the
#: trusts of the published daily NCTR file, by trust-code hash, and scored on the other half
#: (``bench/forecast.py``); rounded to tenths
DAILY_WEIGHTS: Final = {"last": 0.2, "weekday_4w": 0.3, "weekday_8w": 0.3, "level": 0.2}
DAILY_WEEKS: Final = 8


def _submitted(history: list[float | None], days: range) -> list[float]:
    return [value for day in days if day >= 0 and (value := history[day]) is not None]


def daily_stock_forecast(history: list[float | None], horizon: int) -> float | None:
    """A daily stock (NCTR patients, from the daily sitrep) ``horizon`` days after its last day.

    The hourly model's structure without flows: a weekly pattern, plus the last day's deviation
    from it damped, plus the recent level. Medians throughout, as a sitrep series has one-day
    reporting spikes that a mean would carry for weeks:

    - the target weekday's median over the last 4 and over the last 8 weeks (the pattern);
    - each weekday's offset: its 8-week median minus the median of the last 56 days;
    - the last day, and the median of the last 7 days, each moved from their own weekdays'
      offsets to the target's (7 days ahead the last day is the target's weekday already);
    - the blend ``DAILY_WEIGHTS`` of the four.

    ``None`` days were not submitted; None when the last day or the target weekday has no data.
    """
    last = len(history) - 1
    if last < 0 or (latest := history[last]) is None:
        return None
    span = 7 * DAILY_WEEKS

    def weekday(end: int, weeks: int) -> list[float]:
        return _submitted(history, range(end, end - 7 * weeks, -7))

    # the latest day on or before ``last`` that is the target's weekday
    target_day = last - (-horizon % 7)
    short, long = weekday(target_day, 4), weekday(target_day, DAILY_WEEKS)
    window = _submitted(history, range(last - span + 1, last + 1))
    if not short or not window:
        return None
    middle = statistics.median(window)

    def offset(day: int) -> float:
        values = weekday(day, DAILY_WEEKS)
        return statistics.median(values) - middle if values else 0.0

    target_offset = offset(target_day)
    week = [
        value - offset(day)
        for day in range(last - 6, last + 1)
        if day >= 0 and (value := history[day]) is not None
    ]
    parts = {
        "last": latest - offset(last) + target_offset,
        "weekday_4w": statistics.median(short),
        "weekday_8w": statistics.median(long),
        "level": statistics.median(week) + target_offset,
    }
    return sum(DAILY_WEIGHTS[name] * value for name, value in parts.items())
