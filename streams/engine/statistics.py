"""The statistics a kind's conditions are judged by: the trigger, the hysteresis line, and the
emerging rule (3σ of the scope's own 28-day baseline, or a 7-day least-squares trend projecting
a breach); definitions in ``docs/catalogue.md``.

Baselines are kept per condition as day -> (evaluations, sum, sum of squares) in the kind's
state (``record``), so a baseline is one pass over 28 small tuples, and ``PastCache`` computes it
once a day rather than at every hourly evaluation.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from models.catalogue import Condition, Lifecycle
from streams.engine.readings import Reading

#: day -> (evaluations, sum, sum of squares)
DayStats = dict[int, tuple[int, float, float]]


class Judged(NamedTuple):
    """One condition at one evaluation."""

    condition: Condition
    metric: str
    reading: Reading | None
    evaluable: bool
    holds: bool
    relaxed: bool
    emerging: bool
    baseline_mean: float | None
    baseline_sd: float | None
    trend_per_day: float | None


def baseline(stats: DayStats, day: int, lc: Lifecycle) -> tuple[float, float] | None:
    """(mean, sd) of every evaluation of the ``baseline_days`` before ``day``."""
    count = total = squares = 0.0
    days = 0
    for key in range(day - lc.baseline_days, day):
        entry = stats.get(key)
        if entry is not None:
            days += 1
            count += entry[0]
            total += entry[1]
            squares += entry[2]
    if days < lc.baseline_min_days or count < 2:
        return None
    mean = total / count
    return mean, math.sqrt(max(0.0, squares / count - mean * mean))


def past_points(stats: DayStats, day: int, lc: Lifecycle) -> list[tuple[float, float]]:
    """The daily means of the ``trend_days`` before ``day``: the trend's past points."""
    return [
        (float(key), entry[1] / entry[0])
        for key in range(day - lc.trend_days, day)
        if (entry := stats.get(key)) is not None and entry[0]
    ]


class PastCache:
    """Per condition, the baseline and the trend's daily means of the days before today.

    Both read only days before ``day``, which no later evaluation changes (``record`` adds to
    today and drops days older than any window), so they are computed once a day per condition,
    not at every hourly evaluation. Not persisted: a restored state starts empty and recomputes
    the same values. An entry is reused only for the very ``stats`` dict it was computed from.
    """

    def __init__(self) -> None:
        self.entries: dict[
            str, tuple[int, DayStats, tuple[float, float] | None, list[tuple[float, float]]]
        ] = {}
        #: the last evaluation of the kind, when it was quiet (no episode, nothing triggered or
        #: emerging): its inputs (day, mode, the readings of its metrics) and the conditions it
        #: recorded (None: it could not be evaluated, nothing recorded). A judgement reads only
        #: the readings and the days before ``day``, so the same inputs on the same day judge
        #: the same: ``detectors.evaluate_kind`` then only records again.
        self.quiet: tuple[tuple[Any, ...], list[Judged] | None] | None = None

    def get(
        self, name: str, stats: DayStats, day: int, lc: Lifecycle
    ) -> tuple[tuple[float, float] | None, list[tuple[float, float]]]:
        entry = self.entries.get(name)
        if entry is None or entry[0] != day or entry[1] is not stats:
            entry = (day, stats, baseline(stats, day, lc), past_points(stats, day, lc))
            self.entries[name] = entry
        return entry[2], entry[3]

    def recorded(self, day: int) -> None:
        """Values were recorded on ``day``: entries of later days (whose past holds it) are
        stale. Only a late sitrep date evaluated after a later one records into the past."""
        if any(entry[0] > day for entry in self.entries.values()):
            self.entries = {k: e for k, e in self.entries.items() if e[0] <= day}


def trend(
    stats: DayStats,
    day: int,
    value: float,
    lc: Lifecycle,
    past: list[tuple[float, float]] | None = None,
) -> tuple[float, float] | None:
    """Least-squares line over the daily means of the last days and today's value: (its value
    today, its slope per day). The fitted value, not the raw one, is projected, so one noisy
    evaluation cannot project a breach on its own."""
    points = list(past) if past is not None else past_points(stats, day, lc)
    points.append((float(day), value))
    if len(points) < lc.trend_min_days:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return mean_y + slope * (day - mean_x), slope


def judge(
    condition: Condition,
    *,
    metric: str,
    reading: Reading | None,
    stats: DayStats,
    day: int,
    lc: Lifecycle,
    full: bool = False,
    cache: PastCache | None = None,
) -> Judged:
    """``condition`` against ``reading``: holds, holds with hysteresis, emerging. ``full``: the
    baseline and trend are wanted for the evidence even far from the threshold."""
    if reading is None or reading.sample < condition.min_sample:
        return Judged(
            condition=condition,
            metric=metric,
            reading=reading,
            evaluable=False,
            holds=False,
            relaxed=False,
            emerging=False,
            baseline_mean=None,
            baseline_sd=None,
            trend_per_day=None,
        )
    value, threshold = reading.value, condition.threshold
    holds = condition.holds(value)
    relaxed_threshold = (
        threshold * lc.hysteresis_ratio if condition.above else threshold / lc.hysteresis_ratio
    )
    relaxed = condition.holds(value, relaxed_threshold)
    within_reach = (
        value >= threshold * lc.emerging_min_fraction
        if condition.above
        else value <= threshold / lc.emerging_min_fraction
    )
    # The baseline and trend cost a pass over 28 days: only near the threshold are they needed
    # (the emerging rule, and the evidence of an episode, which only exists near it).
    base = line = None
    if within_reach or full:
        if cache is not None:
            base, past = cache.get(condition.name, stats, day, lc)
            line = trend(stats, day, value, lc, past)
        else:
            base = baseline(stats, day, lc)
            line = trend(stats, day, value, lc)
    emerging = False
    if not holds and within_reach:
        beyond_sigma = False
        if base is not None:
            mean, sd = base
            margin = lc.emerging_sigma * max(sd, lc.sigma_floor_fraction * abs(threshold))
            beyond_sigma = value > mean + margin if condition.above else value < mean - margin
        projects_breach = False
        if line is not None and (line[1] > 0 if condition.above else line[1] < 0):
            projects_breach = condition.holds(line[0] + line[1] * lc.projection_days)
        emerging = beyond_sigma or projects_breach
    return Judged(
        condition=condition,
        metric=metric,
        reading=reading,
        evaluable=True,
        holds=holds,
        relaxed=relaxed,
        emerging=emerging,
        baseline_mean=None if base is None else base[0],
        baseline_sd=None if base is None else base[1],
        trend_per_day=None if line is None else line[1],
    )


def record(stats: dict[str, DayStats], usable: list[Judged], day: int, lc: Lifecycle) -> None:
    """Add this evaluation's values to the per-day baseline statistics, dropping old days."""
    for judged in usable:
        assert judged.reading is not None
        value = float(judged.reading.value)
        days = stats.setdefault(judged.condition.name, {})
        count, total, squares = days.get(day, (0, 0.0, 0.0))
        days[day] = (count + 1, total + value, squares + value * value)
        if len(days) > lc.baseline_days + 2:
            for key in [key for key in days if key < day - lc.baseline_days - 1]:
                del days[key]


def exceedance(judged: Judged) -> float:
    """How far beyond the threshold, relative to it (negative: under it)."""
    assert judged.reading is not None
    threshold = judged.condition.threshold or 1e-9
    value = judged.reading.value
    if judged.condition.above:
        return (value - threshold) / abs(threshold)
    return (threshold - value) / abs(threshold)


def proximity(judged: Judged) -> float:
    """value / threshold in the bad direction: 1 at the threshold."""
    assert judged.reading is not None
    value, threshold = judged.reading.value, judged.condition.threshold
    if judged.condition.above:
        return value / threshold if threshold else 1.0
    return threshold / value if value > 0 else 1.0
