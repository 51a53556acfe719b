"""Rostering state of a site: planned shifts (sharded), fill/unfill/change/absence buckets keyed by
the hour the shift starts (a shift "happens" when it starts), and the last 4 roster lead times.

A shift entry closes when it is unfilled or cancelled, and is dropped 15 days after it ended
(filled shifts have no closing event). A fill, unfill, change or short-notice absence for a shift
never planned in the stream (a site connecting after its rosters were published sends the changes
and absences of shifts it never sent; a bank system sends its fills alone) is counted in
``unknown_refs`` (the counter ``unplanned_shift_events``) and left out of the rates, whose
denominator (planned shifts) could not include it.

Every rate divides events about shifts by those shifts: a change or an absence is bucketed at its
shift's start, as the planned shifts are, not at the hour it was reported. Changes come up to a
week before the shift; bucketed at the change, the first weeks of a site's shifts would divide a
week more of changes than of shifts.

A closed shift (unfilled, or cancelled) stays in the map, marked closed, until it is dropped with
the others: a plan, fill, unfill or change arriving for it afterwards (a resend under a new id, a
cancelled shift re-planned by a stale message) changes no count and is counted ``after_close``.
"""

from __future__ import annotations

import heapq
import math
from datetime import UTC, datetime
from typing import Final

import msgspec

from models.events import (
    AbsenceReported,
    RosterPublished,
    ShiftChanged,
    ShiftFilled,
    ShiftPlanned,
    ShiftUnfilled,
)
from streams.engine.readings import Reading, ratio
from streams.engine.shards import ShardedMap
from streams.engine.timekeys import DAY, HOUR
from streams.engine.windows import add, median, purge_before, window_sum

PART: Final = "rostering"
#: A fill rewrites its shard (~230 of a site's ~7,400 shifts, ~12 KB at 32). 256 shards cut a
#: dense 60-site run's p99 from 3.4 to 2.0 s, but at 500 sites raised the worker's peak RSS to
#: 3 GB with no p99 gain (README, Benchmarks), so 32 stays until that is understood; a change of
#: count re-shards saved states on restore (``streams.engine.shards``).
SHIFT_SHARDS: Final = 32
LAST_ROSTERS: Final = 4
#: A roster is remembered as published until this long after its period started, so that a
#: re-publication (an amended roster published again, which rostering systems do days before
#: it starts, and during it) keeps the first one's lead time: a 28-day period and as long again
#: (a site of 80 units publishes hundreds of rosters a season: a count of them was outrun)
REMEMBERED_ROSTER_DAYS: Final = 56
#: the most rosters remembered, whatever their periods (memory's bound, far above a site's)
REMEMBERED_ROSTERS: Final = 4096
#: NHS Employers' standard: rosters out 6 weeks before they start
STANDARD_LEAD_DAYS: Final = 42
#: A roster published short of the standard for a period starting this soon after the site's
#: feed began may be a re-publication of one first out before the feed began: its lead is
#: unknown, not late. Past it, a first publication before the feed would have had to come 12
#: weeks or more ahead.
CONNECTION_LEAD_DAYS: Final = 84
SHORT_NOTICE_HOURS: Final = 24.0
WEEK_HOURS: Final = 168
FORTNIGHT_HOURS: Final = 336
MONTH_DAYS: Final = 28
#: A shift is kept after it ended for as long as the hour buckets it counts in (the 14-day
#: windows and a day): rostering systems export the roster window, two weeks back and weeks
#: ahead, every night, each shift in its current state; a past shift sent again after it was
#: dropped (2 days after it ended, before) was planned and filled again, once a night. Not the
#: 28-day change rate's day buckets (29 days): an export reaching further back than two weeks
#: would re-plan a dropped shift into its denominator; kept that long, a site holds a third
#: more shifts again (this keeps ~29% more than 2 days did: 17,400 for 13,500 at 300 a day).
ENDED_SHIFT_KEEP_HOURS: Final = FORTNIGHT_HOURS + 24


def _add_hours(buckets: dict[int, float], key: int, hours: float) -> None:
    """Shift hours into a bucket, to the microhour: a shift of 8 h 20 min added and taken out
    again (a fill replaced) must leave 0, not the -5e-15 of binary fractions."""
    buckets[key] = round(buckets.get(key, 0.0) + hours, 6) + 0.0  # + 0.0: never -0.0


def _hours(buckets: dict[int, float], start: int, end: int) -> float:
    return round(window_sum(buckets, start, end), 6) + 0.0


class Shift(msgspec.Struct, array_like=True, gc=False):
    start_hour: int
    hours: float
    fill: str | None = None
    closed: bool = False


class RosteringAgg(msgspec.Struct, kw_only=True):
    seen: bool = False
    planned: dict[int, int] = msgspec.field(default_factory=dict)
    planned_hours: dict[int, float] = msgspec.field(default_factory=dict)
    planned_by_day: dict[int, int] = msgspec.field(default_factory=dict)
    filled: dict[int, int] = msgspec.field(default_factory=dict)
    agency: dict[int, int] = msgspec.field(default_factory=dict)
    agency_hours: dict[int, float] = msgspec.field(default_factory=dict)
    unfilled: dict[int, int] = msgspec.field(default_factory=dict)
    unfilled_hours: dict[int, float] = msgspec.field(default_factory=dict)
    changes_by_day: dict[int, int] = msgspec.field(default_factory=dict)
    short_absences: dict[int, int] = msgspec.field(default_factory=dict)
    lead_times: list[float] = msgspec.field(default_factory=list)
    #: "unit|period start" of the rosters published whose periods are recent
    published: list[str] = msgspec.field(default_factory=list)
    unknown_refs: int = 0
    after_close: int = 0
    #: the UTC day of the earliest rostering event (None until one; a state saved before it was
    #: kept reads as connected long ago)
    first_day: int | None = None


class Rostering:
    def __init__(self, dirty: set[str]) -> None:
        self.agg = RosteringAgg()
        self.shifts: ShardedMap[Shift] = ShardedMap(
            "shifts", SHIFT_SHARDS, Shift, dirty, first_count=32
        )
        self._dirty = dirty
        # The refs of the shifts by the hour they end in (floor of start + length): the daily
        # sweep reads only the hours that fell out, not the weeks of shifts planned ahead. Never
        # persisted: built from the map at the first sweep (after a restore too), then kept as
        # shifts are planned. A ref may sit in an hour it no longer ends in (re-planned): the
        # sweep checks each shift it finds. Popped in order from ``_ending_hours`` (a heap).
        # Each hour's refs are one bytearray of NUL-terminated ASCII (refs are hex), not a set
        # of str: a national worker indexes millions of planned shifts, and the str objects
        # (82 B each, kept alive after their shard is frozen) plus the set slots took ~3x the
        # memory. A ref planned twice in an hour appears twice; the sweep's set drops that.
        self._ending: dict[int, bytearray] | None = None
        self._ending_hours: list[int] = []

    def _saw(self, ts: float) -> None:
        agg = self.agg
        day = int(ts // DAY)
        if agg.first_day is None:
            # a state saved before the day was kept has seen events long before: connected
            agg.first_day = 0 if agg.seen else day
        elif day < agg.first_day:
            agg.first_day = day  # the earliest, as in event-time order: a backlog after the feed
        agg.seen = True

    def _ends_in(self, ref: str, shift: Shift) -> None:
        ending = self._ending
        if ending is None:
            return
        hour = math.floor(shift.start_hour + shift.hours)
        refs = ending.get(hour)
        if refs is None:
            refs = ending[hour] = bytearray()
            heapq.heappush(self._ending_hours, hour)
        refs += ref.encode()
        refs += b"\0"

    def _plan(self, shift: Shift, sign: int, *, by_day: bool = True) -> None:
        """Count a shift planned (``sign`` 1) or not (-1). ``by_day``: also in the shifts by
        day, the change rate's denominator, which a cancellation leaves it in."""
        agg = self.agg
        add(agg.planned, shift.start_hour, sign)
        _add_hours(agg.planned_hours, shift.start_hour, sign * shift.hours)
        if by_day:
            add(agg.planned_by_day, shift.start_hour // 24, sign)

    def _fill(self, shift: Shift, sign: int) -> None:
        if shift.fill is None:
            return
        agg = self.agg
        add(agg.filled, shift.start_hour, sign)
        if shift.fill == "agency":
            add(agg.agency, shift.start_hour, sign)
            _add_hours(agg.agency_hours, shift.start_hour, sign * shift.hours)

    def _closed(self, shift: Shift | None) -> bool:
        if shift is not None and shift.closed:
            self.agg.after_close += 1
            return True
        return False

    def planned(self, event: ShiftPlanned, ts: float, hour: int) -> None:
        self._saw(ts)
        self._dirty.add(PART)
        old = self.shifts.get(event.shift_ref)
        if self._closed(old):
            return
        if old is not None:  # re-planned: replace its contribution
            self._fill(old, -1)
            self._plan(old, -1)
        start = event.starts_at.timestamp()
        shift = Shift(int(start // HOUR), max(0.0, (event.ends_at.timestamp() - start) / HOUR))
        if old is not None:
            shift.fill = old.fill
            self._fill(shift, 1)
        self._plan(shift, 1)
        self.shifts.put(event.shift_ref, shift)
        self._ends_in(event.shift_ref, shift)

    def filled(self, event: ShiftFilled, ts: float, hour: int) -> None:
        self._saw(ts)
        self._dirty.add(PART)
        shift = self.shifts.get(event.shift_ref)
        if self._closed(shift):
            return
        if shift is None:
            self.agg.unknown_refs += 1
            return
        self._fill(shift, -1)
        shift.fill = event.fill_source
        self._fill(shift, 1)
        self.shifts.touch(event.shift_ref)

    def unfilled(self, event: ShiftUnfilled, ts: float, hour: int) -> None:
        self._saw(ts)
        self._dirty.add(PART)
        shift = self.shifts.get(event.shift_ref)
        if self._closed(shift):
            return
        if shift is None:
            self.agg.unknown_refs += 1
            return
        self._fill(shift, -1)
        shift.fill = None
        shift.closed = True
        self.shifts.touch(event.shift_ref)
        add(self.agg.unfilled, shift.start_hour, 1)
        _add_hours(self.agg.unfilled_hours, shift.start_hour, shift.hours)

    def changed(self, event: ShiftChanged, ts: float, hour: int) -> None:
        self._saw(ts)
        self._dirty.add(PART)
        shift = self.shifts.get(event.shift_ref)
        if self._closed(shift):
            return
        if shift is None:
            self.agg.unknown_refs += 1
            return
        add(self.agg.changes_by_day, shift.start_hour // 24, 1)
        if event.change == "cancelled":
            # Not worked: out of the shift rates. Still a shift planned, in the change rate's
            # denominator: a cancellation is a change to one of the shifts planned (left out of
            # both, one shift in six cancelled read as 0.2, c / (1 - c)).
            self._fill(shift, -1)
            self._plan(shift, -1, by_day=False)
            shift.fill = None
            shift.closed = True
            self.shifts.touch(event.shift_ref)

    def absence(self, event: AbsenceReported, ts: float, hour: int) -> None:
        self._saw(ts)
        self._dirty.add(PART)
        if event.notice_hours >= SHORT_NOTICE_HOURS:
            return
        if event.shift_ref is None:  # no shift named: the hour reported (under 24 h before it)
            add(self.agg.short_absences, hour, 1)
            return
        shift = self.shifts.get(event.shift_ref)
        if shift is None:
            self.agg.unknown_refs += 1
            return
        add(self.agg.short_absences, shift.start_hour, 1)

    def roster(self, event: RosterPublished, ts: float, hour: int) -> None:
        self._saw(ts)
        self._dirty.add(PART)
        start = datetime(
            event.period_start.year, event.period_start.month, event.period_start.day, tzinfo=UTC
        )
        # The lead time is the first publication's: an amendment published again 14 days ahead
        # says nothing of how early the roster was first out (NHS Employers' 6-week standard).
        agg = self.agg
        period = event.period_start.isoformat()
        key = f"{event.unit_code}|{period}"
        if key in agg.published:
            return
        # keys end in the period's ISO date: string order is date order
        oldest = datetime.fromtimestamp(ts - REMEMBERED_ROSTER_DAYS * DAY, UTC).date().isoformat()
        recent = [k for k in agg.published if k.rpartition("|")[2] >= oldest]
        agg.published = [*recent, key][-REMEMBERED_ROSTERS:]
        lead = (start.timestamp() - ts) / DAY
        assert agg.first_day is not None  # set by ``_saw`` above
        if (
            lead < STANDARD_LEAD_DAYS
            and start.timestamp() // DAY - agg.first_day < CONNECTION_LEAD_DAYS
        ):
            return  # perhaps first out before the feed began: its lead is unknown
        agg.lead_times = [*agg.lead_times, lead][-LAST_ROSTERS:]

    def evaluate(self, hour: int) -> dict[str, Reading]:
        agg = self.agg
        week = hour - WEEK_HOURS
        planned = window_sum(agg.planned, week, hour)
        filled = window_sum(agg.filled, week, hour)
        planned_hours = window_sum(agg.planned_hours, week, hour)
        out: dict[str, Reading] = {
            "planned_shifts_7d": Reading(planned, planned),
            "agency_hours_7d": Reading(_hours(agg.agency_hours, week, hour), filled),
            "unfilled_hours_7d": Reading(_hours(agg.unfilled_hours, week, hour), planned),
        }
        day = hour // 24
        changes = window_sum(agg.changes_by_day, day - MONTH_DAYS + 1, day + 1)
        planned_month = window_sum(agg.planned_by_day, day - MONTH_DAYS + 1, day + 1)
        out["post_publication_changes_28d"] = Reading(changes, planned_month)
        fortnight = hour - FORTNIGHT_HOURS
        planned_fortnight = window_sum(agg.planned, fortnight, hour)
        short = window_sum(agg.short_absences, fortnight, hour)
        out["short_notice_absences_14d"] = Reading(short, planned_fortnight)
        optional = {
            "shift_unfilled_rate_7d": ratio(window_sum(agg.unfilled, week, hour), planned, planned),
            "agency_fill_share_7d": ratio(window_sum(agg.agency, week, hour), filled, filled),
            "mean_shift_hours_7d": ratio(planned_hours, planned, planned),
            "post_publication_change_rate_28d": ratio(changes, planned_month, planned_month),
            "short_notice_absence_rate_14d": ratio(short, planned_fortnight, planned_fortnight),
        }
        if agg.lead_times:
            out["roster_lead_time_median_days"] = Reading(
                median(agg.lead_times), len(agg.lead_times)
            )
        out.update({name: reading for name, reading in optional.items() if reading is not None})
        return out

    def maintain(self, hour: int) -> None:
        agg = self.agg
        self._dirty.add(PART)
        cutoff = hour - FORTNIGHT_HOURS - 24
        for buckets in (
            agg.planned,
            agg.planned_hours,
            agg.filled,
            agg.agency,
            agg.agency_hours,
            agg.unfilled,
            agg.unfilled_hours,
            agg.short_absences,
        ):
            purge_before(buckets, cutoff)
        day_cutoff = hour // 24 - MONTH_DAYS - 1
        purge_before(agg.changes_by_day, day_cutoff)
        purge_before(agg.planned_by_day, day_cutoff)
        self._drop_ended(hour - ENDED_SHIFT_KEEP_HOURS)

    def _drop_ended(self, ended_before: int) -> None:
        """Drop the shifts that ended before the hour ``ended_before`` (start + length below
        it, i.e. the floor of it below it: ``ended_before`` is whole)."""
        if self._ending is None:
            self._ending = {}
            self._ending_hours = []
            for _, shard in self.shifts.all_shards():
                for ref, entry in shard.items():
                    self._ends_in(ref, entry)
        ending, hours, shifts = self._ending, self._ending_hours, self.shifts
        due: dict[int, set[str]] = {}
        while hours and hours[0] < ended_before:
            for raw in ending.pop(heapq.heappop(hours)).split(b"\0")[:-1]:
                ref = raw.decode()
                index = shifts.index(ref)
                shift = shifts.shard_at(index).get(ref)
                if shift is not None and shift.start_hour + shift.hours < ended_before:
                    due.setdefault(index, set()).add(ref)
        # the order of deletion leaves the shards' order (their encoding) as a scan's would
        for index, refs in due.items():
            shifts.drop(index, list(refs))

    def confirm_after_gap(self, before_hour: int, *, lost: frozenset[str] | None) -> None:
        """Nothing to confirm: a shift is dropped after it ended anyway."""

    @property
    def counters(self) -> dict[str, int]:
        return {
            "after_close": self.agg.after_close,
            "unplanned_shift_events": self.agg.unknown_refs,
        }
