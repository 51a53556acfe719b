"""A site's rosters: 4-week rosters per unit published ~7-8 weeks ahead, fills, changes, absences.

Units publish in turn, one a week (their periods are staggered by a week), so the planned-shift
count per week is level whichever way a detector buckets it. At publication every shift is
planned and most get their substantive worker at once; the rest are filled later from the bank or
an agency, or start empty. Absences and post-publication changes come in the days before a shift.

Healthy calibration (triggers in brackets): unfilled ~2 % of planned [10 %], agency ~2 % of
fills [8 %], roster lead 56-63 days [42], changes ~6 % of shifts [20 % over 28 days], absences with
< 24 h notice ~1.4 % of shifts [5 % over 14 days].
"""

from __future__ import annotations

import random
from typing import Any, Final

from feeds.simulator.common import at_hour, day_start, weekday
from feeds.simulator.ids import DAY, HOUR, at, event_id, hex_ref
from feeds.simulator.layout import Site
from feeds.simulator.queue import EventQueue
from feeds.simulator.scenarios import Conditions
from models.events import (
    AbsenceReason,
    AbsenceReported,
    FillSource,
    RosterPublished,
    ShiftChange,
    ShiftChanged,
    ShiftFilled,
    ShiftPlanned,
    ShiftUnfilled,
    StaffGroup,
)

SOURCE: Final = "HEALTHROSTER"
PERIOD_DAYS: Final = 28
#: rostered units per site (the first wards and theatres): 8 units give ~80 shifts a day, enough
#: that a 7-day agency share is not a coin toss in the first days (min sample is 50 shifts)
UNITS_PER_SITE: Final = 8
#: (staff group, start hour, hours, people, weekdays only) per ward unit and per theatres
_WARD_TEMPLATE: Final[tuple[tuple[StaffGroup, float, float, int, bool], ...]] = (
    ("registered_nurse", 7.0, 8.0, 2, False),
    ("registered_nurse", 14.0, 8.0, 2, False),
    ("registered_nurse", 21.5, 10.0, 2, False),
    ("healthcare_support_worker", 7.0, 8.0, 1, False),
    ("healthcare_support_worker", 14.0, 8.0, 1, False),
    ("healthcare_support_worker", 21.5, 10.0, 1, False),
    ("doctor", 8.0, 9.0, 1, True),
    ("allied_health_professional", 8.5, 8.0, 1, True),
    ("admin_clerical", 9.0, 8.0, 1, True),
)
_THEATRE_TEMPLATE: Final[tuple[tuple[StaffGroup, float, float, int, bool], ...]] = (
    ("registered_nurse", 8.0, 10.0, 4, True),
    ("other", 8.0, 10.0, 2, True),
    ("doctor", 8.0, 10.0, 2, True),
    ("healthcare_support_worker", 8.0, 10.0, 1, True),
)
#: hourly rates (GBP): substantive mid-band, bank near it, agency at a premium
_RATES: Final[dict[FillSource, float]] = {"substantive": 24.0, "bank": 26.0, "agency": 52.0}
_CHANGES: Final[tuple[tuple[ShiftChange, float], ...]] = (
    ("swap", 0.5),
    ("reassigned", 0.2),
    ("time_changed", 0.2),
    ("cancelled", 0.1),
)


class Rostering:
    def __init__(
        self,
        site: Site,
        conditions: Conditions,
        rng: random.Random,
        queue: EventQueue,
        start: int,
        end: int,
    ) -> None:
        self.site = site
        self.cond = conditions
        self.rng = rng
        self.queue = queue
        self.start = start
        # shifts of the 4 weeks before the start exist too (their rosters were published ~3
        # months before it): the 28-day change rate would otherwise divide the changes made
        # before the start by the few shifts planned since
        self.history_from = day_start(start) - PERIOD_DAYS * DAY
        units = [*[u for u in site.units if u != "THEATRES"][: UNITS_PER_SITE - 1], "THEATRES"]
        # every roster whose period overlaps the run and that is published before its end
        anchor = day_start(start) - (weekday(start) * DAY) - 20 * 7 * DAY  # a Monday
        rosters: list[tuple[int, str, int]] = []
        for number, unit in enumerate(units):
            period = anchor + (number % 4) * 7 * DAY
            while period < end + 120 * DAY:
                # 8-9 weeks (LUHFT builds 4-week rosters 8 weeks ahead): the engine calls a lead
                # under 52.5 days (42 / 0.8) "within reach" of the 6-week trigger
                lead = rng.uniform(56, 63)
                published = at_hour(day_start(period - int(lead * DAY)), rng.uniform(10, 16))
                if period + PERIOD_DAYS * DAY > self.history_from and published < end:
                    rosters.append((published, unit, period))
                period += PERIOD_DAYS * DAY
        rosters.sort()
        self._rosters = rosters
        self._next = 0

    def _env(self, t: int) -> dict[str, Any]:
        return {
            "event_id": event_id(self.rng),
            "schema_version": 1,
            "occurred_at": at(t),
            "trust_code": self.site.trust_code,
            "site_code": self.site.site_code,
            "source_system": SOURCE,
        }

    def publish_before(self, t: int) -> None:
        """Publish (queue the events of) every roster due before ``t``."""
        while self._next < len(self._rosters) and self._rosters[self._next][0] < t:
            self._publish(*self._rosters[self._next])
            self._next += 1

    def _publish(self, published: int, unit: str, period: int) -> None:
        q = self.queue
        period_end = period + (PERIOD_DAYS - 1) * DAY
        q.push(
            published,
            RosterPublished(
                **self._env(published),
                unit_code=unit,
                period_start=at(period).date(),
                period_end=at(period_end).date(),
            ),
        )
        template = _THEATRE_TEMPLATE if unit == "THEATRES" else _WARD_TEMPLATE
        for offset in range(PERIOD_DAYS):
            day = period + offset * DAY
            if day < self.history_from:
                continue  # older shifts are history nobody replays
            weekend = weekday(day) >= 5
            for group, hour, hours, people, weekdays_only in template:
                if weekdays_only and weekend:
                    continue
                starts = at_hour(day, hour)
                for _ in range(people):
                    self._shift(published, unit, group, starts, starts + int(hours * HOUR))

    def _shift(self, published: int, unit: str, group: StaffGroup, starts: int, ends: int) -> None:
        rng = self.rng
        q = self.queue
        cond = self.cond
        ref = hex_ref(rng)
        q.push(
            published,
            ShiftPlanned(
                **self._env(published),
                shift_ref=ref,
                unit_code=unit,
                staff_group=group,
                starts_at=at(starts),
                ends_at=at(ends),
            ),
        )
        agency_heavy = cond.on("agency_reliance", starts)
        # shifts left open at publication go to the bank, an agency, or nobody
        unfilled_share = 0.06 if agency_heavy else 0.02
        agency_share = 0.16 if agency_heavy else 0.02
        open_share = 0.14 if agency_heavy else 0.10
        roll = rng.random()
        filled = True
        if roll >= open_share:
            q.push(published, self._filled(published, ref, "substantive"))
            substantive = True
        else:
            substantive = False
            # of all shifts: unfilled_share start empty; agency_share of fills are agency
            t_fill = max(published + HOUR, starts - int(rng.uniform(0.5, 14) * DAY))
            if rng.random() < unfilled_share / open_share:
                filled = False
            elif rng.random() < agency_share * (1 - unfilled_share) / (open_share - unfilled_share):
                q.push(t_fill, self._filled(t_fill, ref, "agency"))
            else:
                q.push(t_fill, self._filled(t_fill, ref, "bank"))
        cancelled = False
        t_change = max(published + HOUR, starts - int(rng.uniform(1, 7 * 24) * HOUR))
        churn = cond.on("roster_churn", t_change)
        if rng.random() < (0.5 if churn else 0.06):
            roll = rng.random()
            change: ShiftChange = "swap"
            for name, share in _CHANGES:
                roll -= share
                if roll < 0:
                    change = name
                    break
            cancelled = change == "cancelled"
            q.push(t_change, ShiftChanged(**self._env(t_change), shift_ref=ref, change=change))
        if substantive and not cancelled:
            # the wave is in force for shifts whose short-notice calls come after its onset
            sickness = cond.on("sickness_wave", starts - DAY)
            if rng.random() < (0.14 if sickness else 0.03):
                short = rng.random() < (0.8 if sickness else 0.45)
                notice = rng.uniform(0.5, 23.5) if short else rng.uniform(24, 240)
                t_absent = starts - int(notice * HOUR)
                if t_absent > published + HOUR:
                    reason: AbsenceReason = (
                        "sickness"
                        if rng.random() < 0.8
                        else ("carer" if rng.random() < 0.5 else "other")
                    )
                    q.push(
                        t_absent,
                        AbsenceReported(
                            **self._env(t_absent),
                            unit_code=unit,
                            staff_group=group,
                            notice_hours=round(notice, 1),
                            reason_category=reason,
                            shift_ref=ref,
                        ),
                    )
                    roll = rng.random()
                    t_refill = t_absent + int((starts - t_absent) * rng.uniform(0.1, 0.8))
                    if roll < 0.6:
                        q.push(t_refill, self._filled(t_refill, ref, "bank"))
                    elif roll < 0.72:
                        q.push(t_refill, self._filled(t_refill, ref, "agency"))
                    else:
                        filled = False
        if not filled and not cancelled:
            q.push(starts, ShiftUnfilled(**self._env(starts), shift_ref=ref))

    def _filled(self, t: int, ref: str, source: FillSource) -> ShiftFilled:
        return ShiftFilled(
            **self._env(t),
            shift_ref=ref,
            fill_source=source,
            hourly_rate_gbp=_RATES[source],
        )
