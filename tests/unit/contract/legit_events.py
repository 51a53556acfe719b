"""Realistic legitimate events of every type, at random: the population the identifier guard must
never reject (false-rejection measurement, schema agreement, benchmark).

References are keyed-hash hex digests (16 to 64 characters) and event ids random UUIDs, and a
share of both carry a planted 10-digit run that passes the NHS number check, because real hashes
do (about 2% of 32-character digests). A digest made only of decimal digits is not a legitimate
reference under the contract (EVENTS.md: rejected as ``numeric_ref``) and is drawn again; the
generator counts how often that happened (:attr:`LegitEvents.all_digit_redraws`).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final, get_args

from models.events import (
    AbsenceReason,
    AdmissionMethod,
    AppointmentResult,
    AttendanceType,
    BedPeriod,
    ClosureReason,
    DelayPeriod,
    DelayReason,
    DischargeDestination,
    FillSource,
    ReferralPriority,
    ReferralSource,
    ShiftChange,
    StaffGroup,
    TriageOutcome,
    ValidationResult,
)
from tests.unit.contract.examples import EVENT_TYPES, NOW

WARD_STEMS: Final = (
    "AMU", "CCU", "SAU", "ICU", "ITU", "HDU", "MAU", "EAU", "CDU", "ACU", "W", "WARD", "B", "C",
    "F", "ELD", "ORTHO", "RESP", "STROKE", "CARDIO", "SSU", "DSU", "PAED", "MAT", "NNU",
)  # fmt: skip
SOURCE_SYSTEMS: Final = (
    "PAS", "HEALTHROSTER", "ERS", "EPR", "ALLOCATE", "RLDATIX", "CERNER", "EPIC", "LORENZO",
    "SYSTMONE", "TRAKCARE", "MEDWAY", "sim", "opsradar-sim", "PAS-2.3.1", "EPIC_2024.1",
    "adt.feed-v2", "Rota.Bank",
)  # fmt: skip
_ALNUM: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_PASSING: Final = ("9434765919", "4010232137", "6541003202", "7000000109", "9990000018")


class LegitEvents:
    """A seeded source of valid events (JSON-ready dicts) judged at :data:`NOW`."""

    def __init__(self, seed: int, *, plant_rate: float = 0.1) -> None:
        self.rng = random.Random(seed)
        self.plant_rate = plant_rate
        self.all_digit_redraws = 0
        self.trusts = ["R" + self._alnum(2) for _ in range(40)]

    def _alnum(self, n: int) -> str:
        return "".join(self.rng.choice(_ALNUM) for _ in range(n))

    def _plant(self, token: str, letters_ok: bool) -> str:
        """Write a passing NHS number's digits somewhere inside a hex token (keeping a letter)."""
        run = self.rng.choice(_PASSING)
        if len(token) < 12 or self.rng.random() >= self.plant_rate:
            return token
        at = self.rng.randrange(0, len(token) - 10 + 1)
        planted = token[:at] + run + token[at + 10 :]
        return planted if (not letters_ok or not planted.isdecimal()) else token

    def ref(self) -> str:
        while True:
            length = self.rng.choice((16, 20, 32, 40, 64))
            token = self._plant(f"{self.rng.getrandbits(length * 4):0{length}x}", True)
            if not token.isdecimal():
                return token
            self.all_digit_redraws += 1

    def event_id(self) -> str:
        text = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if self.rng.random() < self.plant_rate:
            # the last group holds 12 hex digits: room for a passing run
            text = text[:24] + self._plant(text[24:], False)
        return text.upper() if self.rng.random() < 0.05 else text

    def ward(self) -> str:
        stem = self.rng.choice(WARD_STEMS)
        form = self.rng.randrange(5)
        number = str(self.rng.randint(1, 40))
        if form == 0:
            return stem
        if form == 1:
            return stem + number
        if form == 2:
            return stem + self.rng.choice("-_") + number
        if form == 3:
            return stem + number + self.rng.choice("ABCDNSEW")
        return f"{stem}{number}-{self.rng.randint(1, 4)}"

    def timestamp(self, base: datetime) -> str:
        offset = self.rng.choice(("Z", "+00:00", "+01:00", "-00:00", "z"))
        local = base.astimezone(UTC)
        if offset == "+01:00":
            local = local + timedelta(hours=1)
        sep = "T" if self.rng.random() < 0.95 else " "
        text = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
        digits = self.rng.choice((0, 0, 0, 3, 6, 9))
        if digits:
            text += "." + "".join(self.rng.choice("0123456789") for _ in range(digits))
        return text + offset

    def moment(self, within: timedelta = timedelta(days=60)) -> datetime:
        seconds = self.rng.uniform(0, within.total_seconds())
        return NOW - timedelta(seconds=seconds)

    def date(self, around: datetime, days: int = 30) -> str:
        return (around + timedelta(days=self.rng.randint(-days, days))).date().isoformat()

    def pick(self, literal: Any) -> str:
        return str(self.rng.choice(get_args(literal)))

    def event(self, event_type: str | None = None) -> dict[str, Any]:
        rng = self.rng
        event_type = event_type or rng.choice(EVENT_TYPES)
        trust = rng.choice(self.trusts)
        occurred = self.moment()
        event: dict[str, Any] = {
            "event_id": self.event_id(),
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": self.timestamp(occurred),
            "trust_code": trust,
        }
        sitrep = event_type.endswith("_sitrep")
        if not sitrep or rng.random() < 0.6:
            event["site_code"] = trust + self._alnum(2)
        if rng.random() < 0.7:
            event["source_system"] = rng.choice(SOURCE_SYSTEMS)
        event.update(self._payload(event_type, occurred))
        return event

    def _payload(self, event_type: str, occurred: datetime) -> dict[str, Any]:
        rng = self.rng
        if event_type == "admission":
            return {
                "spell_ref": self.ref(),
                "ward_code": self.ward(),
                "specialty_code": str(rng.choice((100, 101, 110, 120, 300, 320, 430, 501))),
                "admission_method": self.pick(AdmissionMethod),
            }
        if event_type == "transfer":
            return {
                "spell_ref": self.ref(),
                "from_ward_code": self.ward(),
                "to_ward_code": self.ward(),
            }
        if event_type in (
            "ready_for_discharge",
            "admission_cancelled",
            "transfer_cancelled",
            "discharge_cancelled",
        ):
            return {"spell_ref": self.ref(), "ward_code": self.ward()}
        if event_type == "discharge_delay":
            return {
                "spell_ref": self.ref(),
                "ward_code": self.ward(),
                "reason": self.pick(DelayReason),
            }
        if event_type == "discharge":
            return {
                "spell_ref": self.ref(),
                "ward_code": self.ward(),
                "destination": self.pick(DischargeDestination),
            }
        if event_type == "ward_capacity":
            payload: dict[str, Any] = {"ward_code": self.ward(), "beds_open": rng.randint(0, 60)}
            if rng.random() < 0.5:
                payload["beds_escalation"] = rng.randint(0, 8)
            return payload
        if event_type == "roster_published":
            start = occurred + timedelta(days=rng.randint(-3, 60))
            return {
                "unit_code": self.ward(),
                "period_start": start.date().isoformat(),
                "period_end": (start + timedelta(days=rng.choice((0, 6, 27, 34))))
                .date()
                .isoformat(),
            }
        if event_type == "shift_planned":
            start = occurred + timedelta(hours=rng.randint(1, 24 * 40))
            return {
                "shift_ref": self.ref(),
                "unit_code": self.ward(),
                "staff_group": self.pick(StaffGroup),
                "starts_at": self.timestamp(start),
                "ends_at": self.timestamp(start + timedelta(hours=rng.choice((4, 7.5, 8, 12.5)))),
            }
        if event_type == "shift_filled":
            payload = {"shift_ref": self.ref(), "fill_source": self.pick(FillSource)}
            if rng.random() < 0.6:
                payload["hourly_rate_gbp"] = round(rng.uniform(11.5, 160.0), 2)
            return payload
        if event_type == "shift_unfilled":
            return {"shift_ref": self.ref()}
        if event_type == "shift_changed":
            return {"shift_ref": self.ref(), "change": self.pick(ShiftChange)}
        if event_type == "absence_reported":
            payload = {
                "unit_code": self.ward(),
                "staff_group": self.pick(StaffGroup),
                "notice_hours": rng.choice((0, 1, 2.5, round(rng.uniform(0, 720), 1))),
                "reason_category": self.pick(AbsenceReason),
            }
            if rng.random() < 0.5:
                payload["shift_ref"] = self.ref()
            return payload
        if event_type == "referral_received":
            return {
                "referral_ref": self.ref(),
                "specialty_code": f"{rng.randint(100, 999)}",
                "priority": self.pick(ReferralPriority),
                "source": self.pick(ReferralSource),
            }
        if event_type == "referral_triaged":
            return {"referral_ref": self.ref(), "outcome": self.pick(TriageOutcome)}
        if event_type == "appointment_booked":
            return {
                "referral_ref": self.ref(),
                "appointment_at": self.timestamp(occurred + timedelta(days=rng.randint(1, 120))),
                "attendance_type": self.pick(AttendanceType),
            }
        if event_type == "appointment_outcome":
            return {"referral_ref": self.ref(), "outcome": self.pick(AppointmentResult)}
        if event_type == "pathway_validated":
            return {"referral_ref": self.ref(), "result": self.pick(ValidationResult)}
        if event_type == "pathway_closed":
            return {"referral_ref": self.ref(), "reason": self.pick(ClosureReason)}
        if event_type == "discharge_sitrep":
            total = rng.randint(0, 400)
            payload = {
                "report_date": self.date(occurred, 3),
                "nctr_patients": rng.randint(0, 600),
                "discharged_total": total,
            }
            if rng.random() < 0.7:
                payload["discharged_by_1700"] = rng.randint(0, total)
            return payload
        if event_type == "bed_sitrep":
            available = rng.randint(50, 2500)
            return {
                "period_start": self.date(occurred, 40),
                "period": self.pick(BedPeriod),
                "ga_beds_available": available,
                "ga_beds_occupied": rng.randint(0, available),
            }
        if event_type == "delay_reasons_sitrep":
            reasons = rng.sample(get_args(DelayReason), rng.randint(0, 12))
            return {
                "period_start": self.date(occurred, 40),
                "period": self.pick(DelayPeriod),
                "counts": {reason: rng.randint(0, 300) for reason in reasons},
            }
        raise ValueError(f"unknown event type {event_type!r}")
