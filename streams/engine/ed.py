"""Urgent and emergency care at a site: open attendances (sharded), and hourly buckets of
departures, waits and ambulance handovers, keyed by the hour the departure or handover happened.

The entity lifecycle of an attendance (``docs/catalogue.md`` "Entities"):

- **Opened** by its ``ed_arrival``; a decision to admit or a handover for an attendance never
  seen *adopts* it (counted ``adopted``) without an arrival time: its time from arrival is
  unknown, so its departure counts in no arrival-based share. One adopted by a decision is in
  the department; one by a handover alone is not (``ed_in_department``) until its arrival,
  decision or departure confirms it: an ambulance service may record handovers under its own
  reference, or hand over to a unit outside the ED feed (each unmatched handover read as a
  patient for 72 h, eight times the department's census).
- **Closed** by its ``ed_departure``. A closed attendance is remembered for
  ``CLOSED_KEEP_HOURS`` so that a resent departure or a late decision to admit changes no count
  (``after_close``). A departure of an attendance never seen is counted ``unknown_departures``
  and closes it. A departure whose arrival has not come is kept with its time: an ED system's
  arrivals and departures often reach the integration engine on separate channels, and one
  lagging delivers the departure first; the arrival that follows then counts the stay, in the
  departure's hour, as if the two had come in order.
- **Expired** (``expired``) when open and silent for ``SILENT_HOURS`` (a week once a decision
  to admit was made: ``AWAITING_SILENT_HOURS``), and, after a feed gap,
  every attendance last heard of before the gap once the gap's recovery ends (its departure may
  be among the events the gap lost).

A handover is counted once per attendance (a resend under a new id changes nothing), whenever it
arrives: ambulance systems send it on their own schedule, before or after the department's
records. Time from arrival is measured from ``ed_arrival``'s ``occurred_at`` (the attendance
start, as the national 4-hour standard counts it); handover time is the handover's
``occurred_at`` minus its ``arrived_at`` (the ambulance's arrival).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from models.events import AmbulanceHandover, EdArrival, EdDecisionToAdmit, EdDeparture
from streams.engine.quality import FEED
from streams.engine.readings import Reading, ratio
from streams.engine.shards import ShardedMap
from streams.engine.timekeys import HOUR
from streams.engine.windows import add, median, purge_before, window_sum

PART: Final = "ed"
ATTENDANCE_SHARDS: Final = 32
WEEK_HOURS: Final = 168
#: the 4-hour standard (arrival to departure), and the 12-hour line from arrival (UEC plan
#: 2025/26: under 10% of attendances over 12 h) and from decision to admit ("trolley waits")
FOUR_HOURS: Final = 4 * HOUR
TWELVE_HOURS: Final = 12 * HOUR
#: handover lines: delays are reported over 30 and over 60 min; 45 min is the maximum from
#: 2025/26 ("release to rescue"), nhs-operations.md 1.1
HANDOVER_LINES_MINUTES: Final = (30, 45)
HANDOVER_MAXIMUM_MINUTES: Final = 45
#: A handover of a day or more is a date slip, not a delay: an ambulance system stamping a crew
#: that arrived just after midnight with the day before's date adds exactly 24 h. Delays are
#: reported over 30 and 60 min (nhs-operations.md 1.1): a day is beyond any handover, and one
#: slipped handover sized a handover episode's impact fivefold. Counted
#: ``implausible_handovers``, in no metric.
HANDOVER_CEILING_MINUTES: Final = 24 * 60
#: an open attendance silent for 3 days is gone: the longest waits reported are "12 hours from
#: arrival"; a stay of days in a department (mental health waits) still sends its decision or
#: departure within that time (catalogue rule: no published maximum)
SILENT_HOURS: Final = 72
#: ... but a patient waiting for a bed after a decision to admit can wait days with nothing sent
#: (mental health admissions): such an attendance is gone after a week silent, so the longest
#: trolley waits are counted when they end
AWAITING_SILENT_HOURS: Final = WEEK_HOURS
#: a departed attendance is remembered for the longest window (7 days) and a day
CLOSED_KEEP_HOURS: Final = WEEK_HOURS + 24
OPEN: Final = -1
UNKNOWN: Final = -1.0


class Attendance(msgspec.Struct, array_like=True, gc=False):
    last_hour: int
    arrived: float = UNKNOWN  # epoch seconds of ed_arrival, UNKNOWN when adopted
    decided: float = UNKNOWN  # epoch seconds of the decision to admit, UNKNOWN if none
    handed_over: bool = False
    closed_hour: int = OPEN
    # Set by a departure that came before the arrival (the feed's channels race): the arrival
    # that follows counts the stay then. Appended last, with defaults: older states decode.
    departed: float = UNKNOWN  # epoch seconds of ed_departure
    admitted: bool = False  # its disposition was ``admitted``
    unknown: bool = False  # its departure was the first event seen of it


def _in_department(attendance: Attendance) -> bool:
    """Counted in the census: opened by its arrival or a decision to admit (a handover alone
    is not enough). Only for an open attendance."""
    return attendance.arrived != UNKNOWN or attendance.decided != UNKNOWN


class EdAgg(msgspec.Struct, kw_only=True):
    seen: bool = False
    in_department: int = 0
    awaiting_admission: int = 0  # open attendances with a decision to admit
    arrivals: dict[int, int] = msgspec.field(default_factory=dict)
    # departures with a known arrival time, by departure hour
    departures: dict[int, int] = msgspec.field(default_factory=dict)
    within_4h: dict[int, int] = msgspec.field(default_factory=dict)
    over_12h: dict[int, int] = msgspec.field(default_factory=dict)
    non_admitted: dict[int, int] = msgspec.field(default_factory=dict)
    non_admitted_within_4h: dict[int, int] = msgspec.field(default_factory=dict)
    # departures after a decision to admit, by departure hour
    dta_departures: dict[int, int] = msgspec.field(default_factory=dict)
    dta_over_4h: dict[int, int] = msgspec.field(default_factory=dict)
    dta_over_12h: dict[int, int] = msgspec.field(default_factory=dict)
    dta_hours_over_4h: dict[int, float] = msgspec.field(default_factory=dict)
    # handovers by handover hour: their minutes, and the minutes beyond the 45-minute maximum
    handover_minutes: dict[int, list[float]] = msgspec.field(default_factory=dict)
    handover_minutes_over_45: dict[int, float] = msgspec.field(default_factory=dict)
    adopted: int = 0
    unknown_departures: int = 0
    implausible_handovers: int = 0
    after_close: int = 0
    expired: int = 0


class EdFlow:
    def __init__(self, dirty: set[str]) -> None:
        self.agg = EdAgg()
        self.attendances: ShardedMap[Attendance] = ShardedMap(
            "attendances", ATTENDANCE_SHARDS, Attendance, dirty, first_count=32
        )
        self._dirty = dirty

    # --- events

    def _open(self, ref: str, hour: int, *, adopt: bool) -> Attendance | None:
        """The open attendance ``ref`` (adopted if never seen and ``adopt``); None if closed."""
        shard, name = self.attendances.shard(ref)
        attendance = shard.get(ref)
        if attendance is None:
            if not adopt:
                return None
            attendance = shard[ref] = Attendance(hour)  # in the census once decided on
            self.agg.adopted += 1
        elif attendance.closed_hour != OPEN:
            self.agg.after_close += 1
            return None
        elif hour > attendance.last_hour:
            attendance.last_hour = hour
        self._dirty.add(name)
        return attendance

    def arrival(self, event: EdArrival, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        shard, name = self.attendances.shard(event.attendance_ref)
        attendance = shard.get(event.attendance_ref)
        if attendance is None:
            shard[event.attendance_ref] = Attendance(hour, arrived=ts)
            agg.in_department += 1
        elif attendance.closed_hour != OPEN:
            if attendance.arrived != UNKNOWN or attendance.departed == UNKNOWN:
                agg.after_close += 1
                return
            # its departure came first: the stay is known now, counted where the departure was
            attendance.arrived = ts
            if attendance.unknown:
                agg.unknown_departures -= 1
            else:
                agg.adopted -= 1
            self._count_stay(
                attendance.departed - ts, hour=attendance.closed_hour, admitted=attendance.admitted
            )
        elif attendance.arrived == UNKNOWN:
            # adopted by a handover or decision that came first: its arrival is now known
            if not _in_department(attendance):
                agg.in_department += 1  # a handover's attendance, confirmed
            attendance.arrived = ts
            agg.adopted -= 1
            attendance.last_hour = max(attendance.last_hour, hour)
        else:
            return  # a resend: the first arrival stands
        add(agg.arrivals, hour, 1)
        self._dirty.add(name)

    def handover(self, event: AmbulanceHandover, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        minutes = round((ts - event.arrived_at.timestamp()) / 60, 2)
        if minutes >= HANDOVER_CEILING_MINUTES:
            agg.implausible_handovers += 1
            return
        shard, name = self.attendances.shard(event.attendance_ref)
        attendance = shard.get(event.attendance_ref)
        if attendance is None:
            # in no census until an arrival, decision or departure confirms it: the ambulance
            # service may record it under its own reference, or hand over outside the ED
            attendance = shard[event.attendance_ref] = Attendance(hour)
            agg.adopted += 1
        elif attendance.handed_over:
            return
        attendance.handed_over = True
        self._dirty.add(name)
        agg.handover_minutes.setdefault(hour, []).append(minutes)
        excess = minutes - HANDOVER_MAXIMUM_MINUTES
        if excess > 0:
            add(agg.handover_minutes_over_45, hour, excess)

    def decision(self, event: EdDecisionToAdmit, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        attendance = self._open(event.attendance_ref, hour, adopt=True)
        if attendance is None or attendance.decided != UNKNOWN:
            return
        if not _in_department(attendance):
            self.agg.in_department += 1  # a handover's attendance, confirmed
        attendance.decided = ts
        self.agg.awaiting_admission += 1

    def departure(self, event: EdDeparture, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        shard, name = self.attendances.shard(event.attendance_ref)
        attendance = shard.get(event.attendance_ref)
        admitted = event.disposition == "admitted"
        if attendance is None:
            agg.unknown_departures += 1
            shard[event.attendance_ref] = Attendance(
                hour, closed_hour=hour, departed=ts, admitted=admitted, unknown=True
            )
            self._dirty.add(name)
            return
        if attendance.closed_hour != OPEN:
            agg.after_close += 1
            return
        self._close(attendance, hour)
        self._dirty.add(name)
        if attendance.arrived != UNKNOWN:
            self._count_stay(ts - attendance.arrived, hour=hour, admitted=admitted)
        else:  # adopted: its arrival may still come
            attendance.departed = ts
            attendance.admitted = admitted
        if attendance.decided != UNKNOWN:
            wait = ts - attendance.decided
            add(agg.dta_departures, hour, 1)
            if wait > FOUR_HOURS:
                add(agg.dta_over_4h, hour, 1)
                add(agg.dta_hours_over_4h, hour, (wait - FOUR_HOURS) / HOUR)
            if wait > TWELVE_HOURS:
                add(agg.dta_over_12h, hour, 1)

    def _count_stay(self, stay: float, *, hour: int, admitted: bool) -> None:
        """A departure at ``hour`` whose time from arrival (``stay``, seconds) is known."""
        agg = self.agg
        add(agg.departures, hour, 1)
        if stay <= FOUR_HOURS:
            add(agg.within_4h, hour, 1)
        if stay > TWELVE_HOURS:
            add(agg.over_12h, hour, 1)
        if not admitted:
            add(agg.non_admitted, hour, 1)
            if stay <= FOUR_HOURS:
                add(agg.non_admitted_within_4h, hour, 1)

    def _close(self, attendance: Attendance, hour: int) -> None:
        if _in_department(attendance):
            self.agg.in_department -= 1
        attendance.closed_hour = hour
        attendance.last_hour = max(attendance.last_hour, hour)
        if attendance.decided != UNKNOWN:
            self.agg.awaiting_admission -= 1

    # --- evaluation

    def evaluate(self, hour: int) -> dict[str, Reading]:
        agg = self.agg
        start = hour - WEEK_HOURS

        def total(buckets: dict[int, int]) -> int:
            return window_sum(buckets, start, hour)

        departures = total(agg.departures)
        non_admitted = total(agg.non_admitted)
        dta = total(agg.dta_departures)
        # each read twice below: one window sum each
        arrivals = total(agg.arrivals)
        over_12h = total(agg.over_12h)
        dta_over_4h = total(agg.dta_over_4h)
        dta_over_12h = total(agg.dta_over_12h)
        minutes = [m for key in range(start, hour) for m in agg.handover_minutes.get(key, ())]
        handovers = len(minutes)
        over = {line: sum(1 for m in minutes if m > line) for line in HANDOVER_LINES_MINUTES}
        out: dict[str, Reading] = {
            "ed_in_department": Reading(agg.in_department, agg.in_department),
            "ed_awaiting_admission": Reading(agg.awaiting_admission, agg.awaiting_admission),
            "ed_attendances_7d": Reading(arrivals, arrivals),
            "ed_departures_7d": Reading(departures, departures),
            "ed_over_12h_7d": Reading(over_12h, departures),
            "handovers_7d": Reading(handovers, handovers),
            "handovers_over_30m_7d": Reading(over[30], handovers),
            "handovers_over_45m_7d": Reading(over[45], handovers),
            "handover_minutes_over_45_7d": Reading(
                round(window_sum(agg.handover_minutes_over_45, start, hour), 2), handovers
            ),
            "trolley_waits_4h_7d": Reading(dta_over_4h, dta),
            "trolley_waits_12h_7d": Reading(dta_over_12h, dta),
            "trolley_wait_hours_over_4h_7d": Reading(
                round(window_sum(agg.dta_hours_over_4h, start, hour), 2), dta
            ),
        }
        optional = {
            "ed_4h_share_7d": ratio(total(agg.within_4h), departures, departures),
            "ed_4h_share_non_admitted_7d": ratio(
                total(agg.non_admitted_within_4h), non_admitted, non_admitted
            ),
            "ed_12h_share_7d": ratio(over_12h, departures, departures),
            "handover_over_30m_share_7d": ratio(over[30], handovers, handovers),
            "handover_over_45m_share_7d": ratio(over[45], handovers, handovers),
            "trolley_wait_4h_share_7d": ratio(dta_over_4h, dta, dta),
            "trolley_wait_12h_share_7d": ratio(dta_over_12h, dta, dta),
        }
        if minutes:
            out["handover_median_minutes_7d"] = Reading(median(minutes), handovers)
        out.update({name: reading for name, reading in optional.items() if reading is not None})
        return out

    # --- housekeeping

    def maintain(self, hour: int) -> None:
        agg = self.agg
        self._dirty.add(PART)
        cutoff = hour - WEEK_HOURS - 24
        for buckets in (
            agg.arrivals,
            agg.departures,
            agg.within_4h,
            agg.over_12h,
            agg.non_admitted,
            agg.non_admitted_within_4h,
            agg.dta_departures,
            agg.dta_over_4h,
            agg.dta_over_12h,
            agg.dta_hours_over_4h,
            agg.handover_minutes,
            agg.handover_minutes_over_45,
        ):
            purge_before(buckets, cutoff)
        self._expire(
            lambda a: (
                a.last_hour
                < hour - (SILENT_HOURS if a.decided == UNKNOWN else AWAITING_SILENT_HOURS)
            )
        )
        self.attendances.remove_where(
            lambda a: a.closed_hour != OPEN and a.closed_hour < hour - CLOSED_KEEP_HOURS
        )

    def _expire(self, stale: Callable[[Attendance], bool]) -> None:
        for index, shard in self.attendances.all_shards():
            gone = [ref for ref, a in shard.items() if a.closed_hour == OPEN and stale(a)]
            for ref in gone:
                attendance = shard.pop(ref)
                if _in_department(attendance):
                    self.agg.in_department -= 1
                if attendance.decided != UNKNOWN:
                    self.agg.awaiting_admission -= 1
                self.agg.expired += 1
            if gone:
                self.attendances.touch_shard(index)

    def confirm_after_gap(self, before_hour: int, *, lost: frozenset[str] | None) -> None:
        """Attendances last heard of before the gap: their departure may be what it lost (only
        a gap of departures, or of the whole feed, can have lost one)."""
        if lost is not None and not lost & {FEED, "ed_departure"}:
            return
        self._dirty.add(PART)
        self._expire(lambda a: a.last_hour < before_hour)

    @property
    def counters(self) -> dict[str, int]:
        agg = self.agg
        return {
            "after_close": agg.after_close,
            "expired": agg.expired,
            "implausible_handovers": agg.implausible_handovers,
        }
