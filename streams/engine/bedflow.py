"""Bed-flow state of a site: open spells, NCTR patients and their latest delay reasons, ward
capacity, and hourly buckets of discharges and of occupancy snapshots.

Spells that were never admitted in the stream (the stream began mid-stay, or the admission was
lost) are handled so: ``transfer``, ``ready_for_discharge`` and ``discharge_delay`` *adopt* the
spell (it is certainly in a bed; counted in ``adopted``), with admission hour = that event's hour;
a ``discharge`` of an unknown spell counts as a discharge (rates of discharges use every
discharge) but frees no tracked bed and counts in ``unknown_discharges``. Spells with no event for
``STALE_SPELL_DAYS`` are dropped (a lost discharge must not hold a bed in state for ever).
"""

from __future__ import annotations

from typing import Final

import msgspec

from models.events import (
    Admission,
    Discharge,
    DischargeDelay,
    ReadyForDischarge,
    Transfer,
    WardCapacity,
)
from streams.engine.readings import Reading, ratio
from streams.engine.shards import ShardedMap
from streams.engine.timekeys import (
    HOUR,
    day_is_weekend,
    hour_is_weekend,
    local_day,
    local_day_and_before_noon,
    local_week_ago_hour,
)
from streams.engine.windows import add, purge_before, window_sum

PART: Final = "bedflow"
SPELL_SHARDS: Final = 32
STALE_SPELL_DAYS: Final = 365
WEEK_HOURS: Final = 168
MIN_WINDOW_HOURS: Final = 24
#: whole UK local days of the weekend/weekday discharge ratios: the trigger's 4 weeks (8 weekend
#: days, 20 weekdays) and the weekly figure the sitreps also give
WEEKEND_RATIO_DAYS: Final = 28
WEEKEND_RATIO_WEEK_DAYS: Final = 7

DOCUMENTATION: Final = "hospital_discharge_documentation"
TRANSPORT: Final = "hospital_patient_transport"


def is_hub_reason(reason: str) -> bool:
    """The care transfer hub group: the hospital's referral to the hub, and the hub's own steps."""
    return reason == "hospital_hub_referral" or reason.startswith("hub_")


class Spell(msgspec.Struct, array_like=True, gc=False):
    last_hour: int
    nctr: bool = False
    reason: str | None = None


class BedFlowAgg(msgspec.Struct, kw_only=True):
    seen: bool = False
    occupied: int = 0
    nctr: int = 0
    # latest delay reason -> current NCTR patients with it (patients with no reason yet: absent)
    reasons: dict[str, int] = msgspec.field(default_factory=dict)
    ward_beds: dict[str, int] = msgspec.field(default_factory=dict)
    open_beds: int = 0
    discharges: dict[int, int] = msgspec.field(default_factory=dict)
    before_noon: dict[int, int] = msgspec.field(default_factory=dict)
    # UK local calendar day -> discharges that day (the weekend/weekday ratios compare whole days)
    discharges_by_day: dict[int, int] = msgspec.field(default_factory=dict)
    # the first local day wholly covered by the stream (set at the first evaluation)
    first_full_day: int | None = None
    nctr_discharges: dict[int, int] = msgspec.field(default_factory=dict)
    # hour -> (occupied, nctr, open beds, 1 if a UK weekend hour (no longer read; kept so
    # persisted states keep their shape), NCTR patients delayed by
    # documentation, by transport, by hub reasons), taken at each evaluation
    snapshots: dict[int, tuple[int, int, int, int, int, int, int]] = msgspec.field(
        default_factory=dict
    )
    adopted: int = 0
    unknown_discharges: int = 0
    stale_spells: int = 0


class BedFlow:
    def __init__(self, dirty: set[str]) -> None:
        self.agg = BedFlowAgg()
        self.spells: ShardedMap[Spell] = ShardedMap("spells", SPELL_SHARDS, Spell, dirty)
        self._dirty = dirty

    # --- events (the hot path: dict updates only)

    def _spell(self, ref: str, hour: int) -> Spell:
        shard, name = self.spells.shard(ref)
        self._dirty.add(name)
        spell = shard.get(ref)
        if spell is None:
            spell = shard[ref] = Spell(hour)
            self.agg.occupied += 1
            self.agg.adopted += 1
        else:
            spell.last_hour = hour
        return spell

    def _mark_nctr(self, spell: Spell) -> None:
        if not spell.nctr:
            spell.nctr = True
            self.agg.nctr += 1

    def admission(self, event: Admission, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        shard, name = self.spells.shard(event.spell_ref)
        if event.spell_ref not in shard:
            shard[event.spell_ref] = Spell(hour)
            self._dirty.add(name)
            self.agg.occupied += 1

    def transfer(self, event: Transfer, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        self._spell(event.spell_ref, hour)

    def ready(self, event: ReadyForDischarge, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        self._mark_nctr(self._spell(event.spell_ref, hour))

    def delay(self, event: DischargeDelay, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        spell = self._spell(event.spell_ref, hour)
        # A reason is only recorded for a patient who no longer meets the criteria to reside.
        self._mark_nctr(spell)
        reasons = self.agg.reasons
        if spell.reason is not None:
            reasons[spell.reason] -= 1
        spell.reason = event.reason
        reasons[event.reason] = reasons.get(event.reason, 0) + 1

    def discharge(self, event: Discharge, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        add(agg.discharges, hour, 1)
        day, before_noon = local_day_and_before_noon(ts)
        add(agg.discharges_by_day, day, 1)
        if before_noon:
            add(agg.before_noon, hour, 1)
        spell = self.spells.pop(event.spell_ref)
        if spell is None:
            agg.unknown_discharges += 1
            return
        agg.occupied -= 1
        if spell.nctr:
            agg.nctr -= 1
            add(agg.nctr_discharges, hour, 1)
            if spell.reason is not None:
                agg.reasons[spell.reason] -= 1

    def capacity(self, event: WardCapacity, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        beds = event.beds_open + event.beds_escalation
        agg.open_beds += beds - agg.ward_beds.get(event.ward_code, 0)
        agg.ward_beds[event.ward_code] = beds

    # --- evaluation at an hour boundary

    def evaluate(self, hour: int) -> dict[str, Reading]:
        """Metrics at the boundary starting ``hour`` from everything before it."""
        agg = self.agg
        self._dirty.add(PART)
        if agg.first_full_day is None:
            # The first evaluation closes the hour of the first bed-flow event: the local day
            # that hour fell in is only partly covered, unless it began at local midnight.
            agg.first_full_day = local_day((hour - 1) * HOUR - 1) + 1
        documentation = agg.reasons.get(DOCUMENTATION, 0)
        transport = agg.reasons.get(TRANSPORT, 0)
        hub = sum(count for reason, count in agg.reasons.items() if is_hub_reason(reason))
        agg.snapshots[hour - 1] = (
            agg.occupied,
            agg.nctr,
            agg.open_beds,
            int(hour_is_weekend(hour - 1)),
            documentation,
            transport,
            hub,
        )
        out: dict[str, Reading] = {
            "occupied_beds": Reading(agg.occupied, agg.occupied),
            "open_beds": Reading(agg.open_beds, agg.open_beds),
            "nctr_patients": Reading(agg.nctr, agg.nctr),
        }
        readings = {
            "bed_occupancy_ratio": ratio(agg.occupied, agg.open_beds, agg.open_beds),
            "nctr_share": ratio(agg.nctr, agg.occupied, agg.nctr),
        }
        occ24 = open24 = nctr24 = hours24 = 0
        groups24 = [0, 0, 0]
        for key in range(hour - 24, hour):
            snap = agg.snapshots.get(key)
            if snap is not None:
                hours24 += 1
                occ24 += snap[0]
                nctr24 += snap[1]
                open24 += snap[2]
                groups24[0] += snap[4]
                groups24[1] += snap[5]
                groups24[2] += snap[6]
        readings["bed_occupancy_ratio_24h"] = ratio(occ24, open24, agg.open_beds)
        # Delay-reason shares: the latest reason of each NCTR patient, hourly, over 24 h (a single
        # snapshot of 20-40 patients swings with every discharge).
        mean_nctr24 = round(nctr24 / hours24)
        for group, count in zip(
            ("discharge_documentation", "patient_transport", "care_transfer_hub"),
            groups24,
            strict=True,
        ):
            out[f"delay_patients_{group}"] = Reading(round(count / hours24, 2), mean_nctr24)
            readings[f"delay_share_{group}"] = ratio(count, nctr24, mean_nctr24)

        occ = nctr = hours = 0
        for key in range(hour - WEEK_HOURS, hour):
            snap = agg.snapshots.get(key)
            if snap is not None:
                occ += snap[0]
                nctr += snap[1]
                hours += 1
        mean_nctr = round(nctr / hours) if hours else 0
        discharges = window_sum(agg.discharges, hour - WEEK_HOURS, hour)
        out["discharges_7d"] = Reading(discharges, discharges)
        # Rates over the 7-day window need at least a day of it: the first hours of a stream
        # (an empty ward filling, no discharge yet) are not a bottleneck.
        if hours >= MIN_WINDOW_HOURS:
            readings["nctr_share_7d"] = ratio(nctr, occ, mean_nctr)
            readings["discharges_per_nctr_patient_7d"] = ratio(
                window_sum(agg.nctr_discharges, hour - WEEK_HOURS, hour), nctr / 24, mean_nctr
            )
        # The before-noon share compares mornings with afternoons, so its window must hold every
        # UK hour of the day exactly 7 times: 7 local days back to the same local clock time
        # (167 or 169 h in the week after a clock change; a fixed 168 h would drop or repeat a
        # morning or an afternoon hour), and wholly covered by the stream (a partial first week
        # begun at noon would start with afternoons only).
        start, today = local_week_ago_hour(hour)
        if start == hour - WEEK_HOURS:
            if hours >= WEEK_HOURS:
                readings["discharge_before_noon_share_7d"] = ratio(
                    window_sum(agg.before_noon, start, hour), discharges, discharges
                )
        elif sum(1 for key in range(start, hour) if key in agg.snapshots) >= hour - start:
            week = window_sum(agg.discharges, start, hour)
            readings["discharge_before_noon_share_7d"] = ratio(
                window_sum(agg.before_noon, start, hour), week, week
            )
        for name, days in (
            ("weekend_weekday_discharge_ratio_7d", WEEKEND_RATIO_WEEK_DAYS),
            ("weekend_weekday_discharge_ratio_28d", WEEKEND_RATIO_DAYS),
        ):
            readings[name] = self._weekend_ratio(today, days)
        out.update({name: reading for name, reading in readings.items() if reading is not None})
        return out

    def _weekend_ratio(self, today: int, days: int) -> Reading | None:
        """Mean discharges per weekend day / per weekday over the ``days`` whole UK local days
        before ``today`` (7 or 28: whole weeks, so 2 or 8 weekend days), once the stream covers
        all of them. Rates per hour would not do: a window ending mid-day holds part of a day, and
        its night hours count as much as its ward-round hours (the hourly version swung from ~1.07
        on a Friday to ~0.7 on a Sunday noon at a site with flat daily discharges)."""
        agg = self.agg
        first = today - days
        if agg.first_full_day is None or first < agg.first_full_day:
            return None
        get = agg.discharges_by_day.get
        weekend = weekday = weekend_days = 0
        for day in range(first, today):
            count = get(day, 0)
            if day_is_weekend(day):
                weekend += count
                weekend_days += 1
            else:
                weekday += count
        if weekday <= 0:
            return None
        return Reading(
            (weekend / weekend_days) / (weekday / (days - weekend_days)), weekend + weekday
        )

    def maintain(self, hour: int) -> None:
        """Daily housekeeping: drop buckets older than any window, and stale spells."""
        agg = self.agg
        cutoff = hour - WEEK_HOURS - 24
        for buckets in (
            agg.discharges,
            agg.before_noon,
            agg.nctr_discharges,
            agg.snapshots,
        ):
            purge_before(buckets, cutoff)
        purge_before(agg.discharges_by_day, hour // 24 - WEEKEND_RATIO_DAYS - 2)
        stale_before = hour - STALE_SPELL_DAYS * 24

        def stale(spell: Spell) -> bool:
            if spell.last_hour >= stale_before:
                return False
            agg.occupied -= 1
            if spell.nctr:
                agg.nctr -= 1
                if spell.reason is not None:
                    agg.reasons[spell.reason] -= 1
            return True

        agg.stale_spells += self.spells.remove_where(stale)
        self._dirty.add(PART)
