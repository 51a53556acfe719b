"""A site's patient flow: admissions held near a target occupancy, spells, NCTR, delays, discharges.

Each spell is planned whole at admission (ward, clinical length of stay, the moment it no longer
meets the criteria to reside, the delay and its reason, the discharge) from the conditions in force
at each of those moments, and its events are queued. Occupancy is held by a feedback loop on the
admission rate (elective cancellations and boarding do this in real hospitals), so a scenario that
slows discharges raises the NCTR share instead of overfilling the site.

Healthy calibration (OPPORTUNITIES.md triggers in brackets): occupancy ~0.75 [0.92 for 3 days],
NCTR share of occupied beds ~0.2 [0.35], discharges per NCTR patient per day ~0.55 [0.25],
before-noon discharges ~0.5 [0.33], weekend/weekday discharge ratio ~0.95 [0.6]. The margins
are wide on purpose: the engine also flags *emerging* trends from 80 % of a threshold.
"""

from __future__ import annotations

import bisect
import heapq
import random
from typing import Any, Final

import msgspec

from feeds.simulator.calibration import reason_weights
from feeds.simulator.common import at_hour, day_start, lognormal_days, poisson, weekday
from feeds.simulator.ids import DAY, HOUR, at, event_id, hex_ref
from feeds.simulator.layout import Site, Ward
from feeds.simulator.queue import EventQueue
from feeds.simulator.scenarios import Conditions
from models.events import (
    Admission,
    AdmissionMethod,
    Discharge,
    DischargeDelay,
    DischargeDestination,
    Event,
    ReadyForDischarge,
    Transfer,
    WardCapacity,
)

SOURCE: Final = "PAS"
HEALTHY_OCCUPANCY: Final = 0.75
SURGE_OCCUPANCY: Final = 0.97
#: share of ready patients who leave the same day (the rest wait at least a night)
SAME_DAY_SHARE: Final = 0.15
#: mean extra days a delayed patient waits (lognormal, sigma 0.7); gridlock multiplies it
DELAY_MEDIAN_DAYS: Final = 1.3
GRIDLOCK_FACTOR: Final = 3.5
#: of next-day-or-later discharges, the share leaving before noon (healthy / late_discharges)
MORNING_SHARE: Final = 0.60
LATE_MORNING_SHARE: Final = 0.12
#: chance a weekend discharge goes ahead rather than waiting for Monday: a healthy site runs
#: seven-day discharge teams (the national ratio is ~0.6, right at the catalogue's trigger)
WEEKEND_GO_AHEAD: Final = 0.97
DIED_SHARE: Final = 0.025
#: emergency admissions by hour of day (relative); elective ones come 07:00-11:00 on weekdays
_EMERGENCY_BY_HOUR: Final = (
    0.45,
    0.35,
    0.3,
    0.25,
    0.25,
    0.3,
    0.4,
    0.6,
    0.8,
    1.0,
    1.2,
    1.35,
    1.45,
    1.5,
    1.5,
    1.5,
    1.45,
    1.4,
    1.35,
    1.25,
    1.1,
    0.9,
    0.7,
    0.55,
)
_EMERGENCY_MEAN: Final = sum(_EMERGENCY_BY_HOUR) / 24
_DESTINATIONS: Final[tuple[tuple[DischargeDestination, float], ...]] = (
    ("usual_residence", 0.80),
    ("care_home", 0.06),
    ("community_bed", 0.07),
    ("other_provider", 0.03),
    ("other", 0.04),
)


class BedFlow:
    def __init__(
        self, site: Site, conditions: Conditions, rng: random.Random, queue: EventQueue, start: int
    ) -> None:
        self.site = site
        self.cond = conditions
        self.rng = rng
        self.queue = queue
        self.start = start
        self.beds = site.beds
        self._leaving: list[int] = []  # discharge times of current inpatients (a heap)
        self._recent_discharges = self.beds * HEALTHY_OCCUPANCY / 8.0  # per day, smoothed
        self._amu = [w for w in site.wards if w.code.startswith("AMU")]
        self._by_specialty: dict[str, list[Ward]] = {}
        for ward in site.wards:
            if not ward.code.startswith("AMU"):
                for specialty in ward.specialties:
                    self._by_specialty.setdefault(specialty, []).append(ward)
        self._emergency_specialties = (
            "300",
            "300",
            "430",
            "430",
            "340",
            "320",
            "301",
            "100",
            "110",
        )
        self._elective_specialties = ("100", "101", "110", "110", "502", "301", "320")

    # -- envelope -----------------------------------------------------------------------------

    def _env(self, t: int) -> dict[str, Any]:
        return {
            "event_id": event_id(self.rng),
            "schema_version": 1,
            "occurred_at": at(t),
            "trust_code": self.site.trust_code,
            "site_code": self.site.site_code,
            "source_system": SOURCE,
        }

    def _target(self, t: int) -> float:
        return SURGE_OCCUPANCY if self.cond.on("winter_surge", t) else HEALTHY_OCCUPANCY

    # -- the census the feed replays when it connects -----------------------------------------

    def prelude(self) -> None:
        """Current inpatients at the period start, replayed in the hour before it.

        A feed that connects mid-stream sends its census first; squeezing those admissions into
        the last hour (instead of back-dating them) keeps every lookback window that reaches
        before the start free of a survivor-biased history (NCTR patients and no discharges).
        """
        rng = self.rng
        census = round(self.beds * self._target(self.start))
        replay_from = self.start - HOUR
        # the wards' open beds first, so occupancy has a denominator from the first admission
        for ward in self.site.wards:
            self.queue.push(
                replay_from,
                WardCapacity(**self._env(replay_from), ward_code=ward.code, beds_open=ward.beds),
            )
        replay_from += 60
        for _ in range(census):
            # length-biased: a long spell is more likely to be in a bed at any given moment
            # (rejection sampling: a spell drawn at a random past admission time is kept only if
            # it is still in a bed at the start, which is exactly the length bias wanted)
            while True:
                elapsed = int(rng.random() * 30 * DAY)
                plan = self._plan(self.start - elapsed, rng.random() < 0.25)
                if plan[-1][0] > self.start:
                    break
            # past steps are replayed a second apart, in order, somewhere in the last hour
            replay_at = replay_from + rng.randrange(0, 3400)
            for t, event in plan:
                if t < self.start:
                    t = replay_at
                    replay_at += 1
                    event = msgspec.structs.replace(event, occurred_at=at(t))
                self.queue.push(t, event)
            heapq.heappush(self._leaving, plan[-1][0])

    # -- one day --------------------------------------------------------------------------------

    def day(self, day: int) -> None:
        rng = self.rng
        for ward in self.site.wards:
            for hour in (8, 20):
                closed = rng.randrange(1, 3) if rng.random() < 0.05 else 0
                self.queue.push(
                    at_hour(day, hour),
                    WardCapacity(
                        **self._env(at_hour(day, hour)),
                        ward_code=ward.code,
                        beds_open=max(0, ward.beds - closed),
                    ),
                )
        wd = weekday(day)
        discharged_today = 0
        for hour in range(24):
            t = at_hour(day, hour)
            while self._leaving and self._leaving[0] <= t:
                heapq.heappop(self._leaving)
                discharged_today += 1
            occupied = len(self._leaving)
            target = self._target(t) * self.beds
            # feedback: admit at the recent discharge rate, more when below target, less above
            control = min(3.0, max(0.0, 1.0 + 15.0 * (target - occupied) / target))
            mean = self._recent_discharges / 24 * control
            emergency_mean = mean * 0.78 * _EMERGENCY_BY_HOUR[hour] / _EMERGENCY_MEAN
            elective_mean = 0.0
            if wd < 5 and 7 <= hour < 11:
                elective_mean = mean * 0.22 * 24 / 4 * 7 / 5
            for _ in range(poisson(rng, emergency_mean)):
                self._admit(t + rng.randrange(HOUR), elective=False)
            for _ in range(poisson(rng, elective_mean)):
                self._admit(t + rng.randrange(HOUR), elective=True)
        self._recent_discharges += (discharged_today - self._recent_discharges) / 3.0

    def _admit(self, t: int, elective: bool) -> None:
        plan = self._plan(t, elective)
        for when, event in plan:
            self.queue.push(when, event)
        heapq.heappush(self._leaving, plan[-1][0])

    # -- a spell, planned whole ------------------------------------------------------------------

    def _plan(self, t_admit: int, elective: bool) -> list[tuple[int, Event]]:
        rng = self.rng
        spell = hex_ref(rng)
        method: AdmissionMethod
        if elective:
            method = "elective"
            specialty = rng.choice(self._elective_specialties)
        else:
            roll = rng.random()
            method = "emergency" if roll < 0.90 else ("transfer_in" if roll < 0.94 else "other")
            specialty = rng.choice(self._emergency_specialties)
        if specialty == "502" and not elective and rng.random() < 0.5:
            method = "maternity"
        wards = self._by_specialty.get(specialty) or self._by_specialty["300"]
        ward = rng.choice(wards).code
        first_ward = ward
        if not elective and specialty in ("300", "430", "340", "320", "301") and self._amu:
            if rng.random() < 0.45:
                first_ward = rng.choice(self._amu).code
        plan: list[tuple[int, Event]] = [
            (
                t_admit,
                Admission(
                    **self._env(t_admit),
                    spell_ref=spell,
                    ward_code=first_ward,
                    specialty_code=specialty,
                    admission_method=method,
                ),
            )
        ]
        clinical = lognormal_days(rng, 2.2 if elective else 4.6, 0.8)
        t_clinical = t_admit + int(clinical * DAY)
        current = first_ward
        if first_ward != ward:
            t_move = t_admit + int(rng.uniform(4, 30) * HOUR)
            if t_move < t_clinical - HOUR:
                plan.append(
                    (
                        t_move,
                        Transfer(
                            **self._env(t_move),
                            spell_ref=spell,
                            from_ward_code=first_ward,
                            to_ward_code=ward,
                        ),
                    )
                )
                current = ward
        if rng.random() < DIED_SHARE:
            plan.append(
                (
                    t_clinical,
                    Discharge(
                        **self._env(t_clinical),
                        spell_ref=spell,
                        ward_code=current,
                        destination="died",
                    ),
                )
            )
            return plan
        # criteria-to-reside reviews happen on the ward round and through the afternoon
        ready_day = day_start(t_clinical)
        t_ready = at_hour(ready_day, rng.uniform(9, 18))
        if t_ready < t_admit + 2 * HOUR:
            t_ready += DAY
        plan.append(
            (
                t_ready,
                ReadyForDischarge(
                    **self._env(t_ready),
                    spell_ref=spell,
                    ward_code=current,
                ),
            )
        )
        if rng.random() < SAME_DAY_SHARE:
            t_out = t_ready + int(rng.uniform(1, 5) * HOUR)
        else:
            median = DELAY_MEDIAN_DAYS * (
                GRIDLOCK_FACTOR if self.cond.on("social_care_gridlock", t_ready) else 1.0
            )
            wait_days = max(1, round(lognormal_days(rng, median, 0.7)))
            out_day = day_start(t_ready) + wait_days * DAY
            if weekday(out_day) >= 5 and rng.random() > WEEKEND_GO_AHEAD:
                out_day += (7 - weekday(out_day)) * DAY
            late = self.cond.on("late_discharges", out_day + 12 * HOUR)
            morning = rng.random() < (LATE_MORNING_SHARE if late else MORNING_SHARE)
            t_out = at_hour(out_day, rng.uniform(8, 12) if morning else rng.uniform(12, 20))
            reasons, cumulative = reason_weights(
                self.cond.on("documentation_delays", t_ready),
                self.cond.on("transport_shortage", t_ready),
                self.cond.on("hub_referral_backlog", t_ready),
            )
            t_delay = t_ready + int(rng.uniform(0.5, 4) * HOUR)
            reason = reasons[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
            plan.append(
                (
                    t_delay,
                    DischargeDelay(
                        **self._env(t_delay),
                        spell_ref=spell,
                        ward_code=current,
                        reason=reason,
                    ),
                )
            )
            if t_out - t_delay > 2 * DAY and rng.random() < 0.2:
                # the reason is revisited once for some long waits (the latest one holds)
                t_update = t_delay + (t_out - t_delay) // 2
                reasons, cumulative = reason_weights(
                    self.cond.on("documentation_delays", t_update),
                    self.cond.on("transport_shortage", t_update),
                    self.cond.on("hub_referral_backlog", t_update),
                )
                reason = reasons[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
                plan.append(
                    (
                        t_update,
                        DischargeDelay(
                            **self._env(t_update),
                            spell_ref=spell,
                            ward_code=current,
                            reason=reason,
                        ),
                    )
                )
        roll = rng.random()
        destination: DischargeDestination = "other"
        for name, share in _DESTINATIONS:
            roll -= share
            if roll < 0:
                destination = name
                break
        plan.append(
            (
                t_out,
                Discharge(
                    **self._env(t_out),
                    spell_ref=spell,
                    ward_code=current,
                    destination=destination,
                ),
            )
        )
        return plan
