# ruff: noqa: B008 - const(...) defaults are pure functions of the day: sharing them is harmless
"""Deterministic synthetic events for engine tests: a healthy site, with bottlenecks injected.

Each generator takes per-day parameters as functions of the day index, so a test injects a
bottleneck by returning other values inside a window (``window(10, 20, bad, good)``). Refs and
event ids come from counters; pseudo-random choices from a seeded ``random.Random``; no clock.
Times are in January-March 2026 (UK local time = UTC there, no DST change inside the streams).
"""

from __future__ import annotations

import random
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from models.events import (
    AbsenceReported,
    Admission,
    AmbulanceHandover,
    AppointmentBooked,
    AppointmentOutcome,
    BedSitrep,
    DelayReasonsSitrep,
    Discharge,
    DischargeDelay,
    DischargeSitrep,
    EdArrival,
    EdDecisionToAdmit,
    EdDeparture,
    Event,
    PathwayClosed,
    PathwayValidated,
    ReadyForDischarge,
    ReferralReceived,
    ReferralTriaged,
    RosterPublished,
    ShiftChanged,
    ShiftFilled,
    ShiftPlanned,
    ShiftUnfilled,
    WardCapacity,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
TRUST = "RX1"
SITE = "RX101"

T = TypeVar("T")
Param = Callable[[int], T]


def const(value: T) -> Param[T]:
    return lambda day: value


def window(start: int, end: int, inside: T, outside: T) -> Param[T]:
    """``inside`` for days in [start, end), ``outside`` elsewhere: an injected bottleneck."""
    return lambda day: inside if start <= day < end else outside


class Stream:
    """Collects events for one site; ``events()`` returns them sorted by ``occurred_at``."""

    def __init__(self, trust: str = TRUST, site: str = SITE, seed: int = 7) -> None:
        self.trust = trust
        self.site = site
        self.rng = random.Random(seed)
        self._events: list[Event] = []
        self._ids = 0
        self._refs = 0

    def event_id(self) -> str:
        # Distinct per site (CRC-32 of the code, stable across processes) and per event.
        self._ids += 1
        return str(uuid.UUID(int=(zlib.crc32(self.site.encode()) << 64) | self._ids))

    def ref(self) -> str:
        self._refs += 1
        # A letter up front: an all-digit ref is rejected by the contract (EVENTS.md).
        return f"ab{zlib.crc32(self.site.encode()):08x}{self._refs:016x}"

    def add(self, cls: type[Event], at: datetime, **fields: Any) -> Event:
        site = {"site_code": self.site} if "site_code" not in fields else {}
        event = cls(  # type: ignore[call-arg]
            event_id=self.event_id(),
            schema_version=1,
            occurred_at=at,
            trust_code=self.trust,
            **site,
            **fields,
        )
        self._events.append(event)
        return event

    def events(self, days: int | None = None) -> list[Event]:
        """The events in time order; with ``days``, only those before the end of day ``days``."""
        events = self._events
        if days is not None:
            end = T0 + timedelta(days=days)
            events = [e for e in events if e.occurred_at < end]
        return sorted(events, key=lambda e: e.occurred_at)


def coded_after_discharge(stream: Stream, *, reasons_at_hours: tuple[int, ...]) -> list[Event]:
    """One patient admitted and discharged within 2 h of T0, then a delay reason coded at each
    of ``reasons_at_hours`` after T0 (retrospective coding, HL7 A08 after the A03)."""
    ref = stream.ref()
    stream.add(WardCapacity, T0, ward_code="W1", beds_open=30, beds_escalation=0)
    stream.add(
        Admission,
        T0 + timedelta(minutes=10),
        spell_ref=ref,
        ward_code="W1",
        specialty_code="300",
        admission_method="emergency",
    )
    stream.add(
        Discharge, T0 + timedelta(hours=2), spell_ref=ref, ward_code="W1", destination="other"
    )
    return [
        stream.add(
            DischargeDelay,
            T0 + timedelta(hours=h),
            spell_ref=ref,
            ward_code="W1",
            reason="hub_referrals",
        )
        for h in reasons_at_hours
    ]


PREHISTORY_DAYS = 14

HEALTHY_REASONS = (
    "interface_care_home_p3",
    "capacity_bed_rehab_p2",
    "hospital_therapy_review",
    "interface_home_rehab_p1",
    "hospital_medical_review",
    "capacity_home_social_care_p1",
    "hub_care_needs_pathway",
    "wellbeing_family_concerns",
    "interface_family_choice",
    "capacity_care_home_p3",
)


def healthy_reason(rng: random.Random) -> str:
    return rng.choice(HEALTHY_REASONS)


def bedflow(
    stream: Stream,
    days: int,
    *,
    admissions: Param[int] = const(40),
    los_days: float = 4.0,
    nctr_days: Param[float] = const(0.75),
    beds: Param[int] = const(250),
    reason: Callable[[int, random.Random], str] = lambda day, rng: healthy_reason(rng),
    before_noon: Param[float] = const(0.5),
    weekend_discharge: Param[float] = const(1.0),
) -> None:
    """Admissions each day, a clinical stay, an NCTR period with a delay reason, a discharge.

    Parameters are read on the day of the event they shape (the NCTR days and reason on the day
    the patient becomes NCTR, the discharge time on the discharge day). ``weekend_discharge`` is
    the share of weekend discharges that happen (the rest wait to Monday morning).
    """
    rng = stream.rng
    last_beds = -1
    census = 0
    for day in range(-PREHISTORY_DAYS, days):
        start = T0 + timedelta(days=day)
        if day >= 0 and beds(day) != last_beds:
            last_beds = beds(day)
            stream.add(WardCapacity, start, ward_code="W1", beds_open=last_beds, beds_escalation=0)
        for _ in range(admissions(max(day, 0))):
            admitted = start + timedelta(hours=rng.uniform(0.1, 23.9))
            ref = stream.ref()
            ready = admitted + timedelta(days=los_days * rng.uniform(0.6, 1.4))
            ready_day = (ready - T0).days
            steps: list[tuple[datetime, type[Event], dict[str, Any]]] = [
                (admitted, Admission, {"specialty_code": "300", "admission_method": "emergency"}),
                (ready, ReadyForDischarge, {}),
                (
                    ready + timedelta(minutes=30),
                    DischargeDelay,
                    {"reason": reason(max(ready_day, 0), rng)},
                ),
            ]
            ready_day = max(ready_day, 0)
            leave = ready + timedelta(days=nctr_days(ready_day) * rng.uniform(0.5, 1.5))
            leave_day = max((leave - T0).days, 0)
            local = leave.date()
            if local.weekday() >= 5 and rng.random() > weekend_discharge(leave_day):
                local = local + timedelta(days=7 - local.weekday())
            morning = rng.random() < before_noon(leave_day)
            hour = rng.uniform(9.0, 11.8) if morning else rng.uniform(12.2, 19.0)
            when = datetime(local.year, local.month, local.day, tzinfo=UTC) + timedelta(hours=hour)
            if when <= ready + timedelta(minutes=30):
                when = ready + timedelta(hours=1)
            if when < T0:
                continue  # left before the stream began
            steps.append((when, Discharge, {"destination": "usual_residence"}))
            for at, cls, fields in steps:
                if at < T0:
                    # Still in at the start: the census at T0 (one second apart, order kept).
                    census += 1
                    at = T0 + timedelta(seconds=census)
                stream.add(cls, at, spell_ref=ref, ward_code="W1", **fields)


def rostering(
    stream: Stream,
    days: int,
    *,
    shifts_per_day: int = 30,
    units: int = 4,
    lead_days: Param[int] = const(56),
    unfilled: Param[float] = const(0.02),
    agency: Param[float] = const(0.02),
    changes: Param[float] = const(0.05),
    short_absence: Param[float] = const(0.01),
) -> None:
    """Four units publishing 28-day rosters ``lead_days`` ahead; shifts filled, changed, absent."""
    rng = stream.rng
    period = 28
    for unit in range(units):
        # Periods are staggered by unit so a roster is published every week.
        for k in range(-3, days // period + 4):
            period_start = T0 + timedelta(days=k * period + unit * 7)
            published_day = (period_start - T0).days - lead_days(
                max(0, (period_start - T0).days - 56)
            )
            published = T0 + timedelta(days=published_day, hours=10)
            if 0 <= published_day < days:
                stream.add(
                    RosterPublished,
                    published,
                    unit_code=f"U{unit}",
                    period_start=period_start.date(),
                    period_end=(period_start + timedelta(days=period - 1)).date(),
                )
    for day in range(days):
        for index in range(shifts_per_day):
            starts = T0 + timedelta(days=day, hours=7 + (index % 3) * 8)
            ref = stream.ref()
            planned_at = max(T0, starts - timedelta(days=28)) + timedelta(minutes=index)
            stream.add(
                ShiftPlanned,
                planned_at,
                shift_ref=ref,
                unit_code=f"U{index % units}",
                staff_group="registered_nurse",
                starts_at=starts,
                ends_at=starts + timedelta(hours=8),
            )
            if rng.random() < changes(day - 3):  # the change happens 3 days before the shift
                stream.add(ShiftChanged, starts - timedelta(days=3), shift_ref=ref, change="swap")
            if rng.random() < short_absence(day):
                stream.add(
                    AbsenceReported,
                    starts - timedelta(hours=6),
                    unit_code=f"U{index % units}",
                    staff_group="registered_nurse",
                    notice_hours=6.0,
                    reason_category="sickness",
                    shift_ref=ref,
                )
            if rng.random() < unfilled(day):
                stream.add(ShiftUnfilled, starts, shift_ref=ref)
            else:
                source = (
                    "agency"
                    if rng.random() < agency(day)
                    else rng.choice(("substantive", "substantive", "substantive", "bank"))
                )
                stream.add(
                    ShiftFilled, starts - timedelta(days=2), shift_ref=ref, fill_source=source
                )


def referrals(
    stream: Stream,
    days: int,
    *,
    per_day: Param[int] = const(12),
    triage_days: Param[float] = const(1.5),
    dna: Param[float] = const(0.03),
    wait_days: Callable[[int, random.Random], float] = lambda day, rng: rng.uniform(20, 110),
    validate: Param[bool] = const(True),
    closures: Param[float] = const(1.0),
) -> None:
    """Referrals received, triaged, seen (attended or DNA), validated every 8 weeks, closed.

    ``wait_days(day received)`` is the time to treatment; ``closures(day)`` the share of the
    closures due on that day that happen (the rest never close in the stream: the list grows);
    ``validate(day)`` whether that day's due validations happen.
    """
    rng = stream.rng
    for day in range(days):
        start = T0 + timedelta(days=day)
        # Pathways received before the stream close too (unknown refs: closures still count).
        backlog = per_day(0) * 0.95 * min(1.0, max(0.0, (110 - day) / 90))
        for _ in range(int(backlog) + (rng.random() < backlog % 1)):
            if closures(day) > rng.random():
                stream.add(
                    PathwayClosed,
                    start + timedelta(hours=rng.uniform(8, 17)),
                    referral_ref=stream.ref(),
                    reason="treated",
                )
        for _ in range(per_day(day)):
            received = start + timedelta(hours=rng.uniform(8, 17))
            ref = stream.ref()
            stream.add(
                ReferralReceived,
                received,
                referral_ref=ref,
                specialty_code="100",
                priority="routine",
                source="gp",
            )
            triaged = received + timedelta(days=triage_days(day) * rng.uniform(0.5, 1.5))
            if (triaged - T0).days >= days:
                continue
            rejected = rng.random() < 0.05
            stream.add(
                ReferralTriaged,
                triaged,
                referral_ref=ref,
                outcome="returned_with_advice" if rejected else "accepted",
            )
            if rejected:
                continue
            appointment = triaged + timedelta(days=14)
            stream.add(
                AppointmentBooked,
                triaged + timedelta(hours=1),
                referral_ref=ref,
                appointment_at=appointment,
                attendance_type="first",
            )
            appointment_day = (appointment - T0).days
            if appointment_day < days:
                outcome = "did_not_attend" if rng.random() < dna(appointment_day) else "attended"
                stream.add(AppointmentOutcome, appointment, referral_ref=ref, outcome=outcome)
            closed = received + timedelta(days=wait_days(day, rng))
            closed_day = (closed - T0).days
            age = 56
            while received + timedelta(days=age) < min(closed, T0 + timedelta(days=days)):
                check = received + timedelta(days=age)
                if validate((check - T0).days):
                    stream.add(PathwayValidated, check, referral_ref=ref, result="still_required")
                age += 56
            if closed_day < days and rng.random() < closures(closed_day):
                stream.add(PathwayClosed, closed, referral_ref=ref, reason="treated")


def sitreps(
    stream: Stream,
    days: int,
    *,
    nctr: Param[int] = const(150),
    discharged: Param[int] = const(75),
    occupied: Param[int] = const(900),
    available: Param[int] = const(1000),
    delay_counts: Param[dict[str, int]] | None = None,
    site: bool = False,
) -> None:
    """Daily discharge sitreps, daily bed sitreps and weekly delay-reason sitreps (trust scope)."""
    where: dict[str, Any] = {} if site else {"site_code": None}
    counts = delay_counts or const(
        {
            "interface_care_home_p3": 60,
            "capacity_bed_rehab_p2": 50,
            "hub_referrals": 20,
            "hospital_therapy_review": 20,
        }
    )
    for day in range(days):
        report = (T0 + timedelta(days=day)).date()
        at = T0 + timedelta(days=day + 1, hours=9)
        stream.add(
            DischargeSitrep,
            at,
            report_date=report,
            nctr_patients=nctr(day),
            discharged_total=discharged(day),
            **where,
        )
        stream.add(
            BedSitrep,
            at + timedelta(minutes=1),
            period_start=report,
            period="day",
            ga_beds_available=available(day),
            ga_beds_occupied=occupied(day),
            **where,
        )
        if day % 7 == 6:
            week = report - timedelta(days=6)
            stream.add(
                DelayReasonsSitrep,
                at + timedelta(minutes=2),
                period_start=week,
                period="week",
                counts=counts(day),
                **where,
            )


def ed(
    stream: Stream,
    days: int,
    *,
    arrivals: Param[int] = const(150),
    ambulance: float = 0.3,
    admitted: float = 0.3,
    stay_hours: Param[tuple[float, float]] = const((0.5, 4.4)),
    handover_minutes: Param[float] = const(15.0),
    dta_wait_hours: Param[tuple[float, float]] = const((0.5, 3.5)),
) -> None:
    """Attendances each day: arrivals (a share by ambulance, handed over after an exponential
    wait of mean ``handover_minutes``), a stay for those not admitted (uniform ``stay_hours``), a
    decision to admit 1-3.5 h after arrival and a departure ``dta_wait_hours`` after it for the
    admitted. Parameters are read on the arrival day. Healthy: ~90% within 4 h, ~5% of handovers
    over 45 min, no trolley waits over 4 h."""
    rng = stream.rng
    for day in range(days):
        start = T0 + timedelta(days=day)
        for _ in range(arrivals(day)):
            arrived = start + timedelta(hours=rng.uniform(0.0, 23.99))
            ref = stream.ref()
            by_ambulance = rng.random() < ambulance
            stream.add(
                EdArrival,
                arrived,
                attendance_ref=ref,
                arrival_mode="ambulance" if by_ambulance else "walk_in",
                department_type="type_1",
            )
            if by_ambulance:
                wait = rng.expovariate(1 / handover_minutes(day))
                stream.add(
                    AmbulanceHandover,
                    arrived + timedelta(minutes=wait),
                    attendance_ref=ref,
                    arrived_at=arrived,
                )
            if rng.random() < admitted:
                decided = arrived + timedelta(hours=rng.uniform(1.0, 3.5))
                stream.add(EdDecisionToAdmit, decided, attendance_ref=ref)
                low, high = dta_wait_hours(day)
                left = decided + timedelta(hours=rng.uniform(low, high))
                stream.add(EdDeparture, left, attendance_ref=ref, disposition="admitted")
            else:
                low, high = stay_hours(day)
                left = arrived + timedelta(hours=rng.uniform(low, high))
                stream.add(EdDeparture, left, attendance_ref=ref, disposition="discharged")


def day_at(day: int) -> datetime:
    return T0 + timedelta(days=day)


def as_date(day: int) -> date:
    return (T0 + timedelta(days=day)).date()
