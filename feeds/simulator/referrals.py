"""A site's elective referrals: receipt, triage, bookings, outcomes, validation, closure.

Each pathway is planned whole at receipt; receipts before the run exist only as the pathways still
open when the run's warm-up starts (the starting waiting list, with its long waiters), emitted
back-dated with their history, so the RTT clock of every open pathway is right.

Healthy calibration (triggers in brackets): triage median ~1.5 days [5], DNA ~4.5 % of outcomes
[8 %], > 18 weeks ~15 % of open pathways [35 %], every pathway validated at 12, 24, ... weeks,
receipts and closures balanced [+10 %]. Daily receipt counts vary ±5 % around a weekday
profile, not Poisson: referral volumes are regular and a noisy count would make the 28-day
received/closed balance wander near its 10 % trigger.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Final

from feeds.simulator.common import (
    at_hour,
    day_start,
    lognormal_days,
    weekday,
    working_time,
)
from feeds.simulator.ids import DAY, HOUR, at, event_id, hex_ref
from feeds.simulator.layout import Site
from feeds.simulator.queue import EventQueue
from feeds.simulator.scenarios import Conditions
from models.events import (
    AppointmentBooked,
    AppointmentOutcome,
    AppointmentResult,
    AttendanceType,
    ClosureReason,
    Event,
    PathwayClosed,
    PathwayValidated,
    ReferralPriority,
    ReferralReceived,
    ReferralSource,
    ReferralTriaged,
    TriageOutcome,
)

#: builds a step's event when (and only if) the pathway is kept: most history is discarded
Maker = Callable[[int], Event]

SOURCE: Final = "ERS"
WEEK: Final = 7 * DAY
VALIDATION_EVERY: Final = 12 * WEEK
#: how far back the starting waiting list reaches, and the fully simulated warm-up
HISTORY_DAYS: Final = 365  # the 52-week standard: older waiters are rare and costly to replay
WARMUP_DAYS: Final = 28
#: relative receipts by weekday (GP referrals are sent on working days)
_WEEKDAY_FACTOR: Final = (1.3, 1.25, 1.2, 1.2, 1.1, 0.15, 0.08)
_WEEKDAY_MEAN: Final = sum(_WEEKDAY_FACTOR) / 7
_SPECIALTIES: Final = (
    "100",
    "101",
    "110",
    "120",
    "130",
    "300",
    "301",
    "320",
    "330",
    "340",
    "410",
    "502",
)
HEALTHY_DNA: Final = 0.045
DEMAND_DRIFT_PER_DAY: Final = 0.001
SCENARIO_DNA: Final = 0.16


class Referrals:
    def __init__(
        self,
        site: Site,
        conditions: Conditions,
        rng: random.Random,
        queue: EventQueue,
        start: int,
    ) -> None:
        self.site = site
        self.cond = conditions
        self.rng = rng
        self.queue = queue
        self.start = start
        self.per_day = 20.0 * site.beds / 400
        # a site with a long-wait scenario has slow services from the start (its list is old);
        # the scenario's onset is when its validation stops
        self.wait_scale = 3.0 if conditions.has("unvalidated_long_waits") else 1.5
        self._stop = conditions.span("unvalidated_long_waits")

    def _env(self, t: int) -> dict[str, Any]:
        return {
            "event_id": event_id(self.rng),
            "schema_version": 1,
            "occurred_at": at(t),
            "trust_code": self.site.trust_code,
            "site_code": self.site.site_code,
            "source_system": SOURCE,
        }

    def prelude(self) -> None:
        """The starting list: pathways received up to ``HISTORY_DAYS`` ago still open at warm-up,
        then every pathway of the warm-up weeks (so the run starts with a settled balance)."""
        warmup = day_start(self.start) - WARMUP_DAYS * DAY
        first = day_start(self.start) - HISTORY_DAYS * DAY
        for day in range(first, day_start(self.start), DAY):
            self._receive_day(day, keep_closed_before=warmup)

    def day(self, day: int) -> None:
        self._receive_day(day, keep_closed_before=None)

    def _receive_day(self, day: int, keep_closed_before: int | None) -> None:
        rng = self.rng
        factor = _WEEKDAY_FACTOR[weekday(day)] / _WEEKDAY_MEAN
        # demand drifts down ~3 % a month: closures (which lag receipts by ~2 months) then run a
        # little ahead, so a healthy received/closed ratio sits near 0.94, under the 0.99
        # hysteresis line, instead of exactly on it
        factor *= 1.0 - DEMAND_DRIFT_PER_DAY * (day - self.start) / DAY
        surge = 1.6 if self.cond.on("referral_surge", day + 12 * HOUR) else 1.0
        count = max(0, round(self.per_day * factor * surge * (1 + rng.gauss(0, 0.05))))
        for _ in range(count):
            received = at_hour(
                day, rng.uniform(8, 18) if rng.random() < 0.9 else rng.uniform(18, 22)
            )
            steps = self._plan(received)
            if keep_closed_before is not None and steps[-1][0] < keep_closed_before:
                continue  # closed before the warm-up: not part of the starting list
            for t, make in steps:
                self.queue.push(t, make(t))

    # -- a pathway, planned whole --------------------------------------------------------------

    def _plan(self, received: int) -> list[tuple[int, Maker]]:
        rng = self.rng
        ref = hex_ref(rng)
        roll = rng.random()
        priority: ReferralPriority = (
            "routine" if roll < 0.75 else ("urgent" if roll < 0.9 else "two_week_wait")
        )
        roll = rng.random()
        source: ReferralSource = (
            "gp"
            if roll < 0.8
            else ("consultant" if roll < 0.92 else ("self" if roll < 0.95 else "other"))
        )
        specialty = rng.choice(_SPECIALTIES)
        env = self._env
        steps: list[tuple[int, Maker]] = [
            (
                received,
                lambda t: ReferralReceived(
                    **env(t),
                    referral_ref=ref,
                    specialty_code=specialty,
                    priority=priority,
                    source=source,
                ),
            )
        ]
        backlog = self.cond.on("triage_backlog", received) and priority != "two_week_wait"
        median = 0.4 if priority == "two_week_wait" else (10.0 if backlog else 1.5)
        triaged = working_time(rng, received + int(lognormal_days(rng, median, 0.6) * DAY))
        roll = rng.random()
        outcome: TriageOutcome = "accepted"
        if roll < 0.006:
            outcome = "returned_with_advice"
        elif roll < 0.009:
            outcome = "redirected"
        elif roll < 0.01:
            outcome = "rejected"
        steps.append(
            (triaged, lambda t: ReferralTriaged(**env(t), referral_ref=ref, outcome=outcome))
        )
        if outcome != "accepted":
            return steps
        t = triaged
        attendance: AttendanceType = "first"
        if priority == "two_week_wait":
            wait = rng.uniform(7, 14)
        elif priority == "urgent":
            wait = lognormal_days(rng, 28 * self.wait_scale, 0.5)
        else:
            wait = lognormal_days(rng, 49 * self.wait_scale, 0.5)
        closed_at = 0
        closure: ClosureReason = "treated"
        for _attempt in range(6):
            booked = t + int(rng.uniform(1, 48) * HOUR)
            appointment = working_time(rng, booked + int(wait * DAY))
            appointment = at_hour(day_start(appointment), 9 + rng.randrange(0, 15) * 0.5)
            kind = attendance
            steps.append(
                (
                    booked,
                    self._booked(ref, appointment, kind),
                )
            )
            dna = SCENARIO_DNA if self.cond.on("missed_appointments", appointment) else HEALTHY_DNA
            roll = rng.random()
            result: AppointmentResult = "attended"
            if roll < dna:
                result = "did_not_attend"
            elif roll < dna + 0.02:
                result = "cancelled_by_patient"
            elif roll < dna + 0.04:
                result = "cancelled_by_hospital"
            seen = appointment + int(rng.uniform(0.2, 1.0) * HOUR)
            steps.append(
                (
                    seen,
                    self._outcome(ref, result),
                )
            )
            t = seen
            if result == "attended":
                if attendance == "first" and rng.random() < 0.55:
                    # treatment or a follow-up still to come on this pathway
                    attendance = "follow_up"
                    wait = lognormal_days(rng, 35 * self.wait_scale, 0.5)
                    continue
                closure = (
                    "treated" if attendance == "follow_up" or rng.random() < 0.5 else "discharged"
                )
                closed_at = seen + int(rng.uniform(0.5, 30) * HOUR)
                break
            # discharged back to the GP after a DNA about as often as an attendance ends the
            # pathway, so a DNA wave does not by itself unbalance referrals and closures
            if result == "did_not_attend" and rng.random() < 0.65:
                closure = "discharged"  # discharged back to the GP after a DNA
                closed_at = seen + int(rng.uniform(1, 5) * DAY)
                break
            wait = lognormal_days(rng, 21, 0.4)
        else:
            closure = "other"
            closed_at = t + DAY
        steps.append((closed_at, self._closed(ref, closure)))
        return self._with_validations(steps, received, closed_at, ref)

    # factories, not lambdas in the loop: each step must keep its own values (late binding)

    def _booked(self, ref: str, appointment: int, kind: AttendanceType) -> Maker:
        return lambda t: AppointmentBooked(
            **self._env(t), referral_ref=ref, appointment_at=at(appointment), attendance_type=kind
        )

    def _outcome(self, ref: str, result: AppointmentResult) -> Maker:
        return lambda t: AppointmentOutcome(**self._env(t), referral_ref=ref, outcome=result)

    def _closed(self, ref: str, reason: ClosureReason) -> Maker:
        return lambda t: PathwayClosed(**self._env(t), referral_ref=ref, reason=reason)

    def _with_validations(
        self, steps: list[tuple[int, Maker]], received: int, closed_at: int, ref: str
    ) -> list[tuple[int, Maker]]:
        """Validation at every 12 weeks of wait while open; a ``removed`` ends the pathway there."""
        rng = self.rng
        env = self._env
        checks: list[int] = []
        due = received + VALIDATION_EVERY
        while due < closed_at:
            checks.append(working_time(rng, due))
            due += VALIDATION_EVERY
        if self._stop is not None:
            stop, resume = self._stop
            kept = [c for c in checks if not stop <= c < resume]
            if len(kept) != len(checks) and resume < closed_at:
                # a catch-up sprint in the week after the stop ends validates the skipped ones
                kept.append(working_time(rng, resume + int(rng.uniform(0, 5) * DAY)))
            checks = sorted(kept)
        for check in checks:
            if check >= closed_at:
                break
            if rng.random() < 0.005:
                kept_steps = [s for s in steps if s[0] < check]  # the closure is after ``check``
                kept_steps.append(
                    (
                        check,
                        lambda t: PathwayValidated(**env(t), referral_ref=ref, result="removed"),
                    )
                )
                return kept_steps
            steps.append(
                (
                    check,
                    lambda t: PathwayValidated(**env(t), referral_ref=ref, result="still_required"),
                )
            )
        steps.sort(key=lambda s: s[0])
        return steps
