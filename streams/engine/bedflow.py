"""Bed-flow state of a site: open spells, NCTR patients and their latest delay reasons, ward
capacity, and hourly buckets of discharges and of occupancy snapshots.

The entity lifecycle of a spell (``docs/catalogue.md`` "Entities"), built for what a PAS really
sends:

- **Opened** by its admission, or *adopted* (counted ``adopted``) by a ``transfer``,
  ``ready_for_discharge`` or ``discharge_delay`` of a spell never seen: the stream began
  mid-stay, or the admission was lost; it is certainly in a bed.
- **Closed** by its discharge. A closed spell is remembered for ``CLOSED_KEEP_DAYS`` so that
  anything arriving for it afterwards (a delay reason coded after the A03, an A08 update, the
  discharge resent under a new id) changes no count and is counted ``after_close`` instead of
  putting the patient back in a bed. A discharge of a spell never seen counts as a discharge
  (rates of discharges use every discharge) but frees no tracked bed (``unknown_discharges``).
- **Cancelled** (HL7 v2 A11/A12/A13; a cancellation undoes the event it names from its own
  ``occurred_at`` on, and hours already evaluated stay as they were): ``admission_cancelled``
  frees the bed and closes the spell as never admitted (a discharge it already had is taken
  back out of the discharge counts, and later events for it count ``after_close``);
  ``discharge_cancelled`` reopens a discharged spell (back in a bed, NCTR and delay reason as
  before, its discharge taken out of the counts), or adopts one never seen; ``transfer_cancelled``
  changes no count, since occupancy is per site and a transfer never changed it, but confirms
  the spell is in a bed (adopting it if never seen).
- **Expired** (counted ``expired``) when open and silent: ``SILENT_NCTR_DAYS`` after its last
  event for an NCTR or adopted spell, ``SILENT_ADMITTED_DAYS`` for an admitted spell still
  meeting the criteria to reside; and, after a feed gap, every spell last heard of before the
  gap once the gap's recovery ends (``expire_unconfirmed``): its discharge may be among the
  events the gap lost.

Occupancy is clamped to the site's open + escalation beds (``occupancy_clamped`` counts the
evaluations where it was): more patients in beds than beds means lost discharges, not a fuller
hospital.

**Wards without beds.** A PAS admits patients to wards that hold no bed: a virtual ward
(hospital at home), a discharge lounge (a chair while transport comes), an SDEC or assessment
area. Their ADT messages look like any ward's; the capacity feed lists no beds for them (no row,
or a row of 0 beds). Each spell remembers the ward of its latest event, and a census counts the
open spells on each ward. Patients on a ward without beds are left out of the **occupied beds**
(``occupied_beds``, the occupancy ratios, the forecasts' census): the numerator then covers the
denominator's wards, and the clamp to open beds applies to patients in beds only. Everything
else counts them: they are hospital patients, and the NCTR counts, delay reasons (the lounge is
where transport and TTO waits sit), the NCTR share's denominator and discharges keep them.

A ward the capacity feed does not list may also be a listed ward under another spelling, and
leaving its patients out would hide a full hospital. So the rule applies only while it cannot
be that: the patients on wards with beds are at least ``BEDDED_MIN_SHARE`` of those whose ward
is known (a virtual ward or lounge holds a few per cent of a site's patients), and every ward
listed with beds has held a patient within ``LISTED_EMPTY_HOURS`` (a listed ward that stays
empty beside patients on an unlisted one is the signature of two spellings). Otherwise every
patient counts, as before. Spells saved before wards were remembered have no ward and count as
in a bed.
"""

from __future__ import annotations

from typing import Final

import msgspec

from models.events import (
    Admission,
    AdmissionCancelled,
    Discharge,
    DischargeCancelled,
    DischargeDelay,
    ReadyForDischarge,
    Transfer,
    TransferCancelled,
    WardCapacity,
)
from streams.engine.quality import FEED
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
#: an NCTR or adopted spell silent this long is gone: patients more than 21 days past their
#: discharge-ready date are 0.7% of patients (UEC plan 2025/26), and 21 days is the
#: "super-stranded" line (SAFER / NHSI 2018) for a stay we never saw begin
SILENT_NCTR_DAYS: Final = 21
#: an admitted spell still meeting the criteria to reside, silent for two super-stranded periods
#: (catalogue rule: no published figure for stays without any event; the clamp to open beds
#: bounds what a lost discharge can do meanwhile)
SILENT_ADMITTED_DAYS: Final = 42
#: how long a discharged spell is remembered: the longest bed-flow window (28 days), beyond which
#: a late update cannot change any count; a later one adopts a spell that expires by the rule above
CLOSED_KEEP_DAYS: Final = 28
OPEN: Final = -1
WEEK_HOURS: Final = 168
MIN_WINDOW_HOURS: Final = 24
#: whole UK local days of the weekend/weekday discharge ratios: the trigger's 4 weeks (8 weekend
#: days, 20 weekdays) and the weekly figure the sitreps also give
WEEKEND_RATIO_DAYS: Final = 28
WEEKEND_RATIO_WEEK_DAYS: Final = 7

#: the share of patients (of those whose ward is known) who must be on wards with beds for the
#: others to be left out of the occupied beds: a virtual ward or lounge holds a few per cent of a
#: site's patients; more elsewhere is more likely ward codes spelled otherwise
BEDDED_MIN_SHARE: Final = 0.8
#: a ward listed with beds and empty this long (a day-case unit empties overnight, not for a
#: day) means its patients are on it under another code: no ward's patients are left out
LISTED_EMPTY_HOURS: Final = 24

DOCUMENTATION: Final = "hospital_discharge_documentation"
TRANSPORT: Final = "hospital_patient_transport"


def _corrected(occupied: int, change: int, beds: int) -> int:
    """A snapshot's occupied count after a late event's ``change``: a count clamped to the
    open beds keeps its value when the change lowers it (the count under the clamp is not
    kept)."""
    if beds > 0 and occupied >= beds and change < 0:
        return occupied
    occupied = max(0, occupied + change)
    return min(occupied, beds) if beds > 0 else occupied


def _take(buckets: dict[int, int], key: int) -> None:
    """One less in ``buckets[key]``, dropping the bucket at zero."""
    left = buckets.get(key, 0) - 1
    if left > 0:
        buckets[key] = left
    else:
        buckets.pop(key, None)


def is_hub_reason(reason: str) -> bool:
    """The care transfer hub group: the hospital's referral to the hub, and the hub's own steps."""
    return reason == "hospital_hub_referral" or reason.startswith("hub_")


class Spell(msgspec.Struct, array_like=True, gc=False):
    last_hour: int
    nctr: bool = False
    reason: str | None = None
    # the hour of its discharge (``OPEN`` while in a bed); closed spells are kept a while
    closed_hour: int = OPEN
    adopted: bool = False
    # closed by an admission_cancelled: it never held a bed (a discharge_cancelled cannot reopen)
    cancelled: bool = False
    # the ward of its latest event and that event's time (s): "" in states saved before wards
    # were remembered (counted as in a bed)
    ward: str = ""
    ward_at: int = 0


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
    # hour -> (patients (in beds, clamped to the open beds, and on wards without beds), nctr,
    # open beds, 1 if a UK weekend hour (no longer read; kept so persisted states keep their
    # shape), NCTR patients delayed by documentation, by transport, by hub reasons), taken at
    # each evaluation
    snapshots: dict[int, tuple[int, int, int, int, int, int, int]] = msgspec.field(
        default_factory=dict
    )
    adopted: int = 0
    unknown_discharges: int = 0
    # spells expired after their silent period (name kept from earlier persisted states)
    stale_spells: int = 0
    after_close: int = 0
    occupancy_clamped: int = 0
    # ward -> open spells on it, of the spells that know their ward (rebuilt at each daily sweep)
    wards: dict[str, int] = msgspec.field(default_factory=dict)
    # hour -> occupied beds, where patients on wards without beds made it differ from the
    # snapshot's occupied (the module docstring)
    bed_snapshots: dict[int, int] = msgspec.field(default_factory=dict)
    # listed ward -> the last evaluation hour it held a patient (first: the hour it was listed)
    ward_held_hour: dict[str, int] = msgspec.field(default_factory=dict)
    # every listed ward held a patient within LISTED_EMPTY_HOURS at the last evaluation
    listed_wards_held: bool = False


class BedFlow:
    def __init__(self, dirty: set[str]) -> None:
        self.agg = BedFlowAgg()
        self.spells: ShardedMap[Spell] = ShardedMap(
            "spells", SPELL_SHARDS, Spell, dirty, first_count=32
        )
        self._dirty = dirty

    # --- events (the hot path: dict updates only)

    def _spell(self, ref: str, hour: int, ward: str, ts: float) -> Spell | None:
        """The open spell ``ref`` (adopted if never seen), on ``ward`` unless a later event has
        placed it; None when it is already closed."""
        shard, name = self.spells.shard(ref)
        spell = shard.get(ref)
        if spell is None:
            spell = shard[ref] = Spell(hour, adopted=True)
            self.agg.occupied += 1
            self.agg.adopted += 1
            self._place(spell, ward, ts)
        elif spell.closed_hour != OPEN:
            self.agg.after_close += 1
            return None
        else:
            self._place(spell, ward, ts)
            if hour > spell.last_hour:
                spell.last_hour = hour
        self._dirty.add(name)
        return spell

    def _place(self, spell: Spell, ward: str, ts: float) -> None:
        """An open spell is on ``ward`` from ``ts``, unless an event after it said otherwise."""
        at = int(ts)
        if at < spell.ward_at or ward == spell.ward:
            spell.ward_at = max(spell.ward_at, at)
            return
        self._census(spell, -1)
        spell.ward, spell.ward_at = ward, at
        self._census(spell, 1)

    def _census(self, spell: Spell, step: int) -> None:
        """Add (``step`` 1) or take (-1) an open spell on its ward's census."""
        if not spell.ward:
            return
        wards = self.agg.wards
        left = wards.get(spell.ward, 0) + step
        if left > 0:
            wards[spell.ward] = left
        else:
            wards.pop(spell.ward, None)

    def _mark_nctr(self, spell: Spell) -> None:
        if not spell.nctr:
            spell.nctr = True
            self.agg.nctr += 1

    def admission(self, event: Admission, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        shard, name = self.spells.shard(event.spell_ref)
        spell = shard.get(event.spell_ref)
        if spell is None:
            spell = shard[event.spell_ref] = Spell(hour)
            self._dirty.add(name)
            self.agg.occupied += 1
            self._place(spell, event.ward_code, ts)
        elif spell.closed_hour != OPEN:
            self.agg.after_close += 1  # the admission resent after the discharge
        else:
            self._dirty.add(name)
            self._place(spell, event.ward_code, ts)  # adopted before its admission came

    def transfer(self, event: Transfer, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        self._spell(event.spell_ref, hour, event.to_ward_code, ts)

    def ready(self, event: ReadyForDischarge, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        spell = self._spell(event.spell_ref, hour, event.ward_code, ts)
        if spell is not None:
            self._mark_nctr(spell)

    def delay(self, event: DischargeDelay, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        spell = self._spell(event.spell_ref, hour, event.ward_code, ts)
        if spell is None:
            return
        # A reason is only recorded for a patient who no longer meets the criteria to reside.
        self._mark_nctr(spell)
        if spell.reason is not None and hour < spell.last_hour:
            return  # an older reason arriving late: the patient's latest reason stands
        reasons = self.agg.reasons
        if spell.reason is not None:
            reasons[spell.reason] -= 1
        spell.reason = event.reason
        reasons[event.reason] = reasons.get(event.reason, 0) + 1

    def discharge(self, event: Discharge, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        shard, name = self.spells.shard(event.spell_ref)
        spell = shard.get(event.spell_ref)
        if spell is not None and spell.closed_hour != OPEN:
            agg.after_close += 1  # the discharge resent, or corrected, under a new event id
            return
        add(agg.discharges, hour, 1)
        day, before_noon = local_day_and_before_noon(ts)
        add(agg.discharges_by_day, day, 1)
        if before_noon:
            add(agg.before_noon, hour, 1)
        self._dirty.add(name)
        if spell is None:
            agg.unknown_discharges += 1
            shard[event.spell_ref] = Spell(hour, closed_hour=hour)
            return
        self._census(spell, -1)
        spell.closed_hour = hour
        spell.last_hour = max(spell.last_hour, hour)
        agg.occupied -= 1
        if spell.nctr:
            agg.nctr -= 1
            add(agg.nctr_discharges, hour, 1)
            if spell.reason is not None:
                agg.reasons[spell.reason] -= 1

    def admission_cancelled(self, event: AdmissionCancelled, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        shard, name = self.spells.shard(event.spell_ref)
        self._dirty.add(name)
        spell = shard.get(event.spell_ref)
        if spell is None:
            # never seen: remembered as cancelled so that its own late events adopt nothing
            shard[event.spell_ref] = Spell(hour, closed_hour=hour, cancelled=True)
            return
        if spell.cancelled:
            agg.after_close += 1
            return
        if spell.closed_hour == OPEN:
            self._free_bed(spell)
        else:
            self._uncount_discharge(spell)
        spell.closed_hour = max(spell.closed_hour, hour)
        spell.last_hour = max(spell.last_hour, hour)
        spell.cancelled = True

    def discharge_cancelled(self, event: DischargeCancelled, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        shard, name = self.spells.shard(event.spell_ref)
        spell = shard.get(event.spell_ref)
        if spell is None or spell.closed_hour == OPEN:
            # already in a bed (or adopted into one)
            self._spell(event.spell_ref, hour, event.ward_code, ts)
            return
        self._dirty.add(name)
        if spell.cancelled:
            agg.after_close += 1
            return
        self._uncount_discharge(spell)
        spell.closed_hour = OPEN
        spell.last_hour = max(spell.last_hour, hour)
        # back in ``ward_code`` (its ward was left with the discharge)
        spell.ward, spell.ward_at = event.ward_code, max(spell.ward_at, int(ts))
        self._census(spell, 1)
        agg.occupied += 1
        if spell.nctr:
            agg.nctr += 1
            if spell.reason is not None:
                agg.reasons[spell.reason] = agg.reasons.get(spell.reason, 0) + 1

    def transfer_cancelled(self, event: TransferCancelled, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        self._spell(event.spell_ref, hour, event.ward_code, ts)

    def _free_bed(self, spell: Spell) -> None:
        """Take an open spell out of the counts of patients in hospital (before it closes)."""
        self._census(spell, -1)
        agg = self.agg
        agg.occupied -= 1
        if spell.nctr:
            agg.nctr -= 1
            if spell.reason is not None:
                agg.reasons[spell.reason] -= 1

    def _uncount_discharge(self, spell: Spell) -> None:
        """Take a closed spell's discharge back out of the buckets that still hold its hour."""
        agg = self.agg
        hour = spell.closed_hour
        if hour not in agg.discharges:
            return  # purged: older than every window, so no count it made is still read
        _take(agg.discharges, hour)
        # UK offsets are whole hours: the hour's start has the discharge's local day and half
        day, before_noon = local_day_and_before_noon(hour * HOUR)
        _take(agg.discharges_by_day, day)
        if before_noon:
            _take(agg.before_noon, hour)
        if spell.nctr:
            _take(agg.nctr_discharges, hour)

    def capacity(self, event: WardCapacity, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        beds = event.beds_open + event.beds_escalation
        agg.open_beds += beds - agg.ward_beds.get(event.ward_code, 0)
        agg.ward_beds[event.ward_code] = beds

    # --- a late event

    def site_counts(self) -> tuple[int, int, int, int, int, int]:
        """What an hour's snapshot takes from the state: patients, NCTR, NCTR patients delayed
        by documentation, by transport and by hub reasons, and patients in a bed."""
        agg = self.agg
        reasons = agg.reasons
        hub = sum(count for reason, count in reasons.items() if is_hub_reason(reason))
        return (
            agg.occupied,
            agg.nctr,
            reasons.get(DOCUMENTATION, 0),
            reasons.get(TRANSPORT, 0),
            hub,
            agg.occupied - self._without_beds(),
        )

    def _note_listed_wards(self, hour: int) -> None:
        """At an evaluation: which listed wards hold patients, and whether all have lately."""
        agg = self.agg
        held, census = agg.ward_held_hour, agg.wards
        since = hour - LISTED_EMPTY_HOURS
        every = True
        for ward, beds in agg.ward_beds.items():
            if beds <= 0:
                continue
            if census.get(ward):
                held[ward] = hour
            elif held.setdefault(ward, hour) < since:
                every = False
        agg.listed_wards_held = every

    def _without_beds(self) -> int:
        """Patients on wards the capacity feed lists no beds for, when the rule applies (the
        module docstring: at least ``BEDDED_MIN_SHARE`` of the known wards' patients in beds,
        and no listed ward empty for ``LISTED_EMPTY_HOURS``)."""
        agg = self.agg
        beds = agg.ward_beds
        if not beds or not agg.wards or not agg.listed_wards_held:
            return 0
        bedded = without = 0
        for ward, patients in agg.wards.items():
            if beds.get(ward, 0) > 0:
                bedded += patients
            else:
                without += patients
        if not without or bedded < BEDDED_MIN_SHARE * (bedded + without):
            return 0
        return without

    def correct_snapshots(
        self, *, since_hour: int, before: tuple[int, int, int, int, int, int]
    ) -> None:
        """A late event was applied (``before``: :meth:`site_counts` then): the hours evaluated
        since it happened took their snapshots without it; each takes its change now, as
        event-time order would have given (a discharge keyed in next morning freed its bed
        from when the patient left, for the 24-hour and 7-day occupancy). A snapshot clamped to
        the open beds keeps its occupancy when the change lowers it: the count under the clamp
        is not kept."""
        after = self.site_counts()
        d_occupied, d_nctr, d_documentation, d_transport, d_hub, d_in_beds = (
            now - then for now, then in zip(after, before, strict=True)
        )
        if not (d_occupied or d_nctr or d_documentation or d_transport or d_hub or d_in_beds):
            return
        snapshots = self.agg.snapshots
        bed_snapshots = self.agg.bed_snapshots
        for key in [key for key in snapshots if key >= since_hour]:
            occupied, nctr, beds, weekend, documentation, transport, hub = snapshots[key]
            in_beds = bed_snapshots.get(key, occupied)
            # the snapshot's patients are those in beds (clamped) and those on wards without
            without = max(0, occupied - in_beds + d_occupied - d_in_beds)
            in_beds = _corrected(in_beds, d_in_beds, beds)
            occupied = in_beds + without
            if in_beds != occupied:
                bed_snapshots[key] = in_beds
            else:
                bed_snapshots.pop(key, None)
            nctr = min(max(0, nctr + d_nctr), occupied)
            snapshots[key] = (
                occupied,
                nctr,
                beds,
                weekend,
                min(nctr, max(0, documentation + d_documentation)),
                min(nctr, max(0, transport + d_transport)),
                min(nctr, max(0, hub + d_hub)),
            )
        self._dirty.add(PART)

    # --- evaluation at an hour boundary

    def evaluate(self, hour: int) -> dict[str, Reading]:
        """Metrics at the boundary starting ``hour`` from everything before it."""
        agg = self.agg
        self._dirty.add(PART)
        if agg.first_full_day is None:
            # The first evaluation closes the hour of the first bed-flow event: the local day
            # that hour fell in is only partly covered, unless it began at local midnight.
            agg.first_full_day = local_day((hour - 1) * HOUR - 1) + 1
        self._note_listed_wards(hour)
        occupied, nctr_now, documentation, transport, hub, in_beds = self.site_counts()
        without = occupied - in_beds
        if agg.open_beds > 0 and in_beds > agg.open_beds:
            # More patients in beds than open + escalation beds: discharges were lost, not beds
            # added.
            in_beds = agg.open_beds
            agg.occupancy_clamped += 1
        occupied = in_beds + without  # the hospital's patients
        nctr_now = min(nctr_now, occupied)
        # the delay reasons are of NCTR patients: clamped with them (more patients than beds
        # read a documentation share of 2.5)
        documentation, transport, hub = (
            min(documentation, nctr_now),
            min(transport, nctr_now),
            min(hub, nctr_now),
        )
        if without:
            agg.bed_snapshots[hour - 1] = in_beds
        agg.snapshots[hour - 1] = (
            occupied,
            nctr_now,
            agg.open_beds,
            int(hour_is_weekend(hour - 1)),
            documentation,
            transport,
            hub,
        )
        out: dict[str, Reading] = {
            "occupied_beds": Reading(in_beds, in_beds),
            "open_beds": Reading(agg.open_beds, agg.open_beds),
            "nctr_patients": Reading(nctr_now, nctr_now),
        }
        readings = {
            "bed_occupancy_ratio": ratio(in_beds, agg.open_beds, agg.open_beds),
            "nctr_share": ratio(nctr_now, occupied, nctr_now),
        }
        occ24 = open24 = nctr24 = hours24 = 0
        groups24 = [0, 0, 0]
        in_beds_at = agg.bed_snapshots.get
        for key in range(hour - 24, hour):
            snap = agg.snapshots.get(key)
            if snap is not None:
                hours24 += 1
                if snap[2] > 0:  # an hour of no open beds has no occupancy
                    occ24 += in_beds_at(key, snap[0])
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
            agg.bed_snapshots,
        ):
            purge_before(buckets, cutoff)
        purge_before(agg.discharges_by_day, hour // 24 - WEEKEND_RATIO_DAYS - 2)
        silent_nctr = hour - SILENT_NCTR_DAYS * 24
        silent_admitted = hour - SILENT_ADMITTED_DAYS * 24
        forgotten = hour - CLOSED_KEEP_DAYS * 24
        # the ward census counted again from the spells the sweep keeps: a state that went
        # through code which did not keep it (a rollback) is right again within a day
        census: dict[str, int] = {}

        def gone(spell: Spell) -> bool:
            if spell.closed_hour != OPEN:
                return spell.closed_hour < forgotten
            limit = silent_nctr if spell.nctr or spell.adopted else silent_admitted
            if spell.last_hour >= limit:
                if spell.ward:
                    census[spell.ward] = census.get(spell.ward, 0) + 1
                return False
            self._close_silent(spell)
            return True

        self.spells.remove_where(gone)
        agg.wards = census
        self._dirty.add(PART)

    def _close_silent(self, spell: Spell) -> None:
        self.agg.stale_spells += 1
        self._free_bed(spell)

    def confirm_after_gap(self, before_hour: int, *, lost: frozenset[str] | None) -> None:
        # only a gap of discharges (or of the whole feed) can have lost a discharge
        if lost is None or lost & {FEED, "discharge"}:
            self.expire_unconfirmed(before_hour)

    def expire_unconfirmed(self, before_hour: int) -> int:
        """After a feed gap's recovery: drop open spells last heard of before ``before_hour``
        (the gap's end). Their discharge may be among what the gap lost; a patient really
        still in a bed is adopted again by their next event."""

        def unconfirmed(spell: Spell) -> bool:
            if spell.closed_hour != OPEN or spell.last_hour >= before_hour:
                return False
            self._close_silent(spell)
            return True

        self._dirty.add(PART)
        return self.spells.remove_where(unconfirmed)

    @property
    def counters(self) -> dict[str, int]:
        agg = self.agg
        return {
            "after_close": agg.after_close,
            "expired": agg.stale_spells,
            "occupancy_clamped": agg.occupancy_clamped,
        }
