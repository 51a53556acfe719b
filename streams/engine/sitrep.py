"""Sitrep state of a scope: the national aggregates by report date, evaluated per report date.

A sitrep scope is evaluated once per data date (``report_date`` / ``period_start``) that received
data, when a sitrep with a later date arrives (all of a date's sitreps have then been seen), when
the scope's event time passes the end of the date plus the lateness allowance, or at flush. A
sitrep dated on or before a date already evaluated is stored, and its source counts as updated at
the next evaluation (the date itself is not re-evaluated: outputs are never retracted).

Each evaluation records which sources were updated, so a kind is evaluated only when one of its
inputs changed, and its persistence is counted in reports of that cadence: a daily source counts
``persistence_daily_reports``, a weekly or monthly one ``persistence_periodic_reports``.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Final, Literal

import msgspec

from models.events import AeSitrep, BedSitrep, DelayReasonsSitrep, DischargeSitrep
from streams.engine.bedflow import DOCUMENTATION, TRANSPORT, is_hub_reason
from streams.engine.readings import Reading, ratio
from streams.engine.timekeys import day_of_date, hour_is_weekend

_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()  # day numbers count from 1970-01-01

PART: Final = "sitrep"
KEEP_DAYS: Final = 35
KEEP_BED_REPORTS: Final = 8
KEEP_AE_REPORTS: Final = 8
#: A trust's 7-day mean of discharges a day per occupied G&A bed under this is not a full count
#: of its discharges, and ``discharges_per_nctr_patient_7d`` is not emitted from it. 0.04 a day
#: would mean adult stays of 25 days on average, where the published trust-days' median is 0.11
#: (p10 0.064). Real data (discharges_daily_by_trust / beds_monthly_by_trust, 2022-25): 6% of
#: trust-days, at 42 trusts, sit in a separate cluster at 0.01-0.03. These are trusts that
#: counted part of their discharges for months, then stepped up 5-9x in one day (RWP from about
#: 8 a day to 150 in August 2023), or a partial fortnight (RJ7, May 2023). The histogram has
#: its trough at 0.03-0.05. Those days held 74% of the trust-days under the discharge-rate
#: trigger (< 0.20 per NCTR patient): the trigger was reading the reporting, not the flow.
MIN_DISCHARGES_PER_OCCUPIED_BED: Final = 0.04

Source = Literal["discharge", "bed", "delay", "ae"]
Cadence = Literal["daily", "periodic"]

#: metric -> the sitrep source whose update means the metric changed
METRIC_SOURCES: Final[dict[str, tuple[str, ...]]] = {
    "nctr_share_7d": ("discharge", "bed"),
    "discharges_per_nctr_patient_7d": ("discharge", "bed"),
    "discharges_per_occupied_bed_7d": ("discharge", "bed"),
    "weekend_weekday_discharge_ratio_7d": ("discharge",),
    "discharged_by_1700_share_7d": ("discharge",),
    "nctr_patients": ("discharge",),
    "discharges_7d": ("discharge",),
    "bed_occupancy_ratio": ("bed",),
    "occupied_beds": ("bed",),
    "open_beds": ("bed",),
    "delay_share_discharge_documentation": ("delay",),
    "delay_share_patient_transport": ("delay",),
    "delay_share_care_transfer_hub": ("delay",),
    "delay_patients_discharge_documentation": ("delay",),
    "delay_patients_patient_transport": ("delay",),
    "delay_patients_care_transfer_hub": ("delay",),
    "ed_attendances": ("ae",),
    "ed_4h_share": ("ae",),
    "trolley_wait_4h_share": ("ae",),
}


class SitrepAgg(msgspec.Struct, kw_only=True):
    seen: bool = False
    # report day -> (nctr patients, discharged total, discharged by 17:00 or -1)
    discharge: dict[int, tuple[int, int, int]] = msgspec.field(default_factory=dict)
    # period-start day -> (available, occupied, 1 if a daily report)
    beds: dict[int, tuple[int, int, int]] = msgspec.field(default_factory=dict)
    delay_day: int | None = None
    delay_daily: bool = False
    delay_counts: dict[str, int] = msgspec.field(default_factory=dict)
    # period-start day -> (attendances, over 4 h, emergency admissions, of which over 4 h from
    # decision to admit or -1 when not published): the monthly A&E statistics
    ae: dict[int, tuple[int, int, int, int]] = msgspec.field(default_factory=dict)
    # day with data not yet evaluated -> {source: 1 if its cadence is daily else 0}
    pending: dict[int, dict[str, int]] = msgspec.field(default_factory=dict)
    carry: dict[str, int] = msgspec.field(default_factory=dict)
    last_evaluated: int | None = None


class Sitrep:
    def __init__(self, dirty: set[str]) -> None:
        self.agg = SitrepAgg()
        self._dirty = dirty

    def _mark(self, day: int, source: str, daily: bool) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        target = (
            agg.pending.setdefault(day, {})
            if (agg.last_evaluated is None or day > agg.last_evaluated)
            else agg.carry
        )
        target[source] = max(target.get(source, 0), int(daily))

    def days_before(self, day: int) -> list[int]:
        """Pending data days strictly before ``day`` (ready: a later date has arrived)."""
        return sorted(key for key in self.agg.pending if key < day)

    def discharge(self, event: DischargeSitrep) -> int:
        day = day_of_date(event.report_date)
        by_1700 = -1 if event.discharged_by_1700 is None else event.discharged_by_1700
        self.agg.discharge[day] = (event.nctr_patients, event.discharged_total, by_1700)
        self._mark(day, "discharge", True)
        return day

    def beds(self, event: BedSitrep) -> int:
        day = day_of_date(event.period_start)
        daily = event.period == "day"
        self.agg.beds[day] = (event.ga_beds_available, event.ga_beds_occupied, int(daily))
        if len(self.agg.beds) > KEEP_BED_REPORTS:
            del self.agg.beds[min(self.agg.beds)]
        self._mark(day, "bed", daily)
        return day

    def delays(self, event: DelayReasonsSitrep) -> int:
        day = day_of_date(event.period_start)
        agg = self.agg
        if agg.delay_day is None or day >= agg.delay_day:
            agg.delay_day = day
            agg.delay_daily = event.period == "day"
            agg.delay_counts = {str(reason): count for reason, count in event.counts.items()}
        self._mark(day, "delay", event.period == "day")
        return day

    def ae(self, event: AeSitrep) -> int:
        day = day_of_date(event.period_start)
        over_dta = (
            -1 if event.emergency_admissions_over_4h is None else event.emergency_admissions_over_4h
        )
        self.agg.ae[day] = (
            event.attendances,
            event.attendances_over_4h,
            event.emergency_admissions,
            over_dta,
        )
        if len(self.agg.ae) > KEEP_AE_REPORTS:
            del self.agg.ae[min(self.agg.ae)]
        self._mark(day, "ae", False)
        return day

    def _ae_metrics(self, day: int) -> dict[str, Reading]:
        """The A&E month starting ``day``: the trust's 4-hour view (all department types)."""
        report = self.agg.ae.get(day)
        if report is None:
            return {}
        attendances, over_4h, admissions, admissions_over_4h = report
        out = {"ed_attendances": Reading(attendances, attendances)}
        share = ratio(attendances - min(over_4h, attendances), attendances, attendances)
        if share is not None:
            out["ed_4h_share"] = share
        if admissions_over_4h >= 0:
            trolley = ratio(min(admissions_over_4h, admissions), admissions, admissions)
            if trolley is not None:
                out["trolley_wait_4h_share"] = trolley
        return out

    def _ae_sizing(self, day: int) -> dict[str, Reading]:
        """The latest A&E month's counts a week, to size a trust's ED episodes: attendances over
        4 h (all of them: the statistics do not split admitted from not) and emergency
        admissions over 4 h from decision to admit. A trust scope has no per-attendance data,
        and its ED episodes were sized at 0."""
        months = [key for key in self.agg.ae if key <= day]
        if not months:
            return {}
        month = max(months)
        attendances, over_4h, admissions, admissions_over_4h = self.agg.ae[month]
        start = date.fromordinal(_EPOCH_ORDINAL + month)
        per_week = 7 / calendar.monthrange(start.year, start.month)[1]
        out = {"ed_over_4h_per_week": Reading(round(over_4h * per_week, 1), attendances)}
        if admissions_over_4h >= 0:
            out["trolley_waits_4h_per_week"] = Reading(
                round(admissions_over_4h * per_week, 1), admissions
            )
        return out

    def _beds_at(self, day: int) -> tuple[int, int, int] | None:
        keys = [key for key in self.agg.beds if key <= day]
        if keys:
            return self.agg.beds[max(keys)]
        # A monthly report may start after the first daily sitreps it covers.
        return self.agg.beds[min(self.agg.beds)] if self.agg.beds else None

    def take(self, day: int) -> dict[str, int]:
        """Mark ``day`` evaluated; the sources updated for it (source -> 1 if daily)."""
        agg = self.agg
        self._dirty.add(PART)
        sources = agg.pending.pop(day, {})
        for source, daily in agg.carry.items():
            sources[source] = max(sources.get(source, 0), daily)
        agg.carry = {}
        agg.last_evaluated = day
        for key in [key for key in agg.discharge if key < day - KEEP_DAYS]:
            del agg.discharge[key]
        return sources

    def _bed_readings(self, day: int) -> dict[str, Reading]:
        beds = self._beds_at(day)
        if beds is None:
            return {}
        out = {"open_beds": Reading(beds[0], beds[0]), "occupied_beds": Reading(beds[1], beds[0])}
        reading = ratio(beds[1], beds[0], beds[0])
        if reading is not None:
            out["bed_occupancy_ratio"] = reading
        return out

    def context(self, day: int) -> dict[str, Reading]:
        """The impact formulas' inputs as of ``day``, whether or not their sources were updated
        for it; never emitted as points (a point says its source was updated that day).

        Published bed sitreps are monthly, so a kind evaluated on a daily discharge report is
        sized against the month's beds. ``nctr_patients`` is the mean of the 7 report days the
        trigger judged, not the day's count: a trust's count swings day to day (RYR's 545 on
        31 March 2024, in a week whose mean was 634, 37% of its beds, sized an active episode at
        0 bed-days). Every other reading equals the day's own where both exist."""
        out = {
            **self._discharge_metrics(day),
            **self._bed_readings(day),
            **self._ae_sizing(day),
        }
        days = self._window_days(day)
        if days:
            mean = round(sum(self.agg.discharge[key][0] for key in days) / len(days))
            out["nctr_patients"] = Reading(mean, mean)
        return out

    def evaluate(self, day: int, sources: dict[str, int]) -> dict[str, Reading]:
        agg = self.agg
        out: dict[str, Reading] = {}
        if "discharge" in sources or "bed" in sources:
            out.update(self._discharge_metrics(day))
        if "bed" in sources:
            out.update(self._bed_readings(day))
        if "ae" in sources:
            out.update(self._ae_metrics(day))
        if "delay" in sources and agg.delay_day is not None and agg.delay_day <= day:
            counts = agg.delay_counts
            total = sum(counts.values())
            groups = {
                "discharge_documentation": counts.get(DOCUMENTATION, 0),
                "patient_transport": counts.get(TRANSPORT, 0),
                "care_transfer_hub": sum(
                    n for reason, n in counts.items() if is_hub_reason(reason)
                ),
            }
            for group, count in groups.items():
                out[f"delay_patients_{group}"] = Reading(count, total)
                reading = ratio(count, total, total)
                if reading is not None:
                    out[f"delay_share_{group}"] = reading
        return out

    def _window_days(self, day: int) -> list[int]:
        """The report days of the 7 days ending ``day`` that have a discharge sitrep."""
        return [key for key in range(day - 6, day + 1) if key in self.agg.discharge]

    def _discharge_metrics(self, day: int) -> dict[str, Reading]:
        agg = self.agg
        days = self._window_days(day)
        if not days:
            return {}
        out: dict[str, Reading] = {}
        nctr = sum(agg.discharge[key][0] for key in days)
        discharged = sum(agg.discharge[key][1] for key in days)
        mean_nctr = round(nctr / len(days))
        if day in agg.discharge:
            out["nctr_patients"] = Reading(agg.discharge[day][0], agg.discharge[day][0])
        out["discharges_7d"] = Reading(discharged, discharged)
        beds = self._beds_at(day)
        full_count = True
        if beds is not None and beds[1] > 0:
            per_bed = discharged / len(days) / beds[1]
            out["discharges_per_occupied_bed_7d"] = Reading(per_bed, discharged)
            full_count = per_bed >= MIN_DISCHARGES_PER_OCCUPIED_BED
        reading = ratio(discharged, nctr, mean_nctr)
        if reading is not None and full_count:
            out["discharges_per_nctr_patient_7d"] = reading
        shares = []
        for key in days:
            beds = self._beds_at(key)
            if beds is not None and beds[1] > 0:
                shares.append(agg.discharge[key][0] / beds[1])
        if shares:
            out["nctr_share_7d"] = Reading(sum(shares) / len(shares), mean_nctr)
        weekend = [agg.discharge[key][1] for key in days if hour_is_weekend(key * 24 + 12)]
        weekday = [agg.discharge[key][1] for key in days if not hour_is_weekend(key * 24 + 12)]
        if weekend and weekday and sum(weekday) > 0:
            out["weekend_weekday_discharge_ratio_7d"] = Reading(
                (sum(weekend) / len(weekend)) / (sum(weekday) / len(weekday)), discharged
            )
        timed = [agg.discharge[key] for key in days if agg.discharge[key][2] >= 0]
        timed_total = sum(row[1] for row in timed)
        if timed_total:
            out["discharged_by_1700_share_7d"] = Reading(
                sum(row[2] for row in timed) / timed_total, timed_total
            )
        return out
