"""Referral and waiting-list state of a site: open pathways (sharded in 256 parts, the biggest
map of all), counts of open/untriaged pathways by day received, validation expiry days, and daily
buckets of receipts, closures, triage latencies and appointment outcomes.

Events about a referral never received in the stream (it predates the stream) are counted in
``unknown_refs``; an accepted triage of one is kept (``awaiting_receipt``) for 28 days, since
its receipt may come after it on another channel: the receipt then opens the pathway triaged,
with its latency; when they close a pathway (triage other than ``accepted``, validation
``removed``, ``pathway_closed``) the closure still counts in ``pathways_closed_28d``, since a real
pathway left the list.

A closed pathway is remembered for ``CLOSED_KEEP_DAYS`` (so is one closed without ever being seen
open): a triage, validation, receipt or closure arriving for it afterwards (resent under a new
id, or coded after the closure) changes no count and is counted ``after_close``. The exception is
a referral its triage sent back (returned with advice, redirected, rejected): the referrer can
send it again under the same reference (e-RS keeps the UBRN), and a receipt dated after the day
it was sent back opens a new pathway. An open pathway
with no event for ``SILENT_PATHWAY_DAYS`` expires (``expired``): its closure was lost.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import msgspec

from models.events import (
    AppointmentBooked,
    AppointmentOutcome,
    PathwayClosed,
    PathwayValidated,
    ReferralReceived,
    ReferralTriaged,
)
from streams.engine.quality import FEED
from streams.engine.readings import Reading, ratio
from streams.engine.shards import ShardedMap
from streams.engine.timekeys import HOUR
from streams.engine.windows import add, purge_before, window_sum

PART: Final = "referrals"
PATHWAY_SHARDS: Final = 256
LONG_WAIT_DAYS: Final = 18 * 7
VALIDATION_DAYS: Final = 12 * 7
UNTRIAGED_AGE_DAYS: Final = 7
MONTH_DAYS: Final = 28
NOT_VALIDATED: Final = -1
OPEN: Final = -1
#: the longest referral window (28 days): a later update cannot change any window's count
CLOSED_KEEP_DAYS: Final = 28
#: 104 weeks: the national elimination of two-year waits (July 2022); a pathway open and silent
#: for longer is a lost closure, not a patient still waiting unseen by validation
SILENT_PATHWAY_DAYS: Final = 104 * 7


class Pathway(msgspec.Struct, array_like=True, gc=False):
    #: epoch seconds; -1: closed, never seen open; below -1: an accepted triage at -received_at
    #: whose receipt has not come (``awaiting_receipt``)
    received_at: int
    triaged: bool = False
    validated_day: int = NOT_VALIDATED
    closed_day: int = OPEN
    last_day: int = OPEN  # day of its latest event (OPEN: the day it was received)
    #: closed by a triage that sent it back (returned, redirected, rejected): the referrer may
    #: send it again under the same reference (e-RS keeps the UBRN), a new pathway
    returned: bool = False
    #: opened by the referrer sending a returned referral again: an event dated before its
    #: receipt's day is the earlier referral's (a resend, a late closure) and changes no count
    again: bool = False


class ReferralsAgg(msgspec.Struct, kw_only=True):
    seen: bool = False
    open_count: int = 0
    untriaged_count: int = 0
    open_by_day: dict[int, int] = msgspec.field(default_factory=dict)
    untriaged_by_day: dict[int, int] = msgspec.field(default_factory=dict)
    # day a pathway's latest validation stops counting (validated day + 84) -> open pathways
    validation_expiry: dict[int, int] = msgspec.field(default_factory=dict)
    received: dict[int, int] = msgspec.field(default_factory=dict)
    closed: dict[int, int] = msgspec.field(default_factory=dict)
    # triage day -> {latency in whole hours -> referrals}
    triage_latency: dict[int, dict[int, int]] = msgspec.field(default_factory=dict)
    outcomes: dict[int, int] = msgspec.field(default_factory=dict)
    dnas: dict[int, int] = msgspec.field(default_factory=dict)
    unknown_refs: int = 0
    after_close: int = 0
    expired: int = 0
    #: the day of the earliest closure the feed has carried (see ``_evaluate``)
    first_closure_day: int | None = None
    #: the day of the feed's first event other than a receipt (a triage, booking, outcome,
    #: validation or closure): where its live flow begins (see ``_began``)
    first_activity_day: int | None = None

    def __post_init__(self) -> None:
        # a state saved before this field existed: its closure buckets say closures flow
        if self.first_closure_day is None and self.closed:
            self.first_closure_day = min(self.closed)
        # ... and one saved before the first activity was kept has long been live
        if self.first_activity_day is None and (
            self.closed or self.triage_latency or self.outcomes
        ):
            self.first_activity_day = 0


def awaiting_receipt(pathway: Pathway) -> bool:
    """An accepted triage kept for a receipt that has not come: e-RS triage and the PAS's
    registration reach the integration engine separately, and the receipt (dated at the clock
    start) can land after its triage. It is in no count until the receipt comes."""
    return pathway.received_at < -1


def _sent_again(pathway: Pathway, received_at: int) -> bool:
    """A receipt for a referral its triage sent back is the referrer sending it again (a new
    pathway, its clock from the new receipt) when dated after the day it was sent back: a resend
    of the first receipt, or a receipt landing after its triage, is dated at the first clock
    start, before the triage."""
    return (
        pathway.returned
        and pathway.received_at >= 0  # seen open: a referral turned down unseen was never listed
        and received_at // 86400 > pathway.closed_day
    )


def _of_earlier_referral(pathway: Pathway, day: int) -> bool:
    """An event of ``day`` for a pathway sent again belongs to the referral before it."""
    return pathway.again and 0 <= pathway.received_at and day < pathway.received_at // 86400


def _decrement(buckets: dict[int, int], key: int) -> bool:
    """Take one from a bucket; False when the key was already gone (purged: expired
    validations)."""
    count = buckets.get(key)
    if count is None:
        return False
    if count <= 1:
        del buckets[key]
    else:
        buckets[key] = count - 1
    return True


class _Sums(NamedTuple):
    """Sums over all keys of the by-day maps as they stand on ``day`` (see ``Referrals``)."""

    day: int
    long_wait: int
    old_untriaged: int  # received before today - 7, on or after the live flow began
    covered: int
    before_live: int  # untriaged, received before the live flow began: state unknown


class Referrals:
    """Evaluation is cheap between events: a scope's waiting list is back-dated months before its
    first live event, so most hour boundaries see no change. Three caches, none persisted (a
    restored state rebuilds them, so outputs are the same):

    - the readings of the last evaluation, reused while no event arrived and the day is the same
      (every reading depends on the state and the day only);
    - the sums over ``open_by_day``/``untriaged_by_day``/``validation_expiry`` for the current
      day, kept up to date by every change to those maps and recomputed when the day changes;
    - the triage latencies of the window's past days (merged and sorted), rebuilt when the day
      changes or a late triage lands in a past day.
    """

    def __init__(self, dirty: set[str]) -> None:
        self.agg = ReferralsAgg()
        self.pathways: ShardedMap[Pathway] = ShardedMap(
            "pathways", PATHWAY_SHARDS, Pathway, dirty, first_count=256
        )
        self._dirty = dirty
        self._readings: tuple[int, dict[str, Reading]] | None = None
        self._sums: _Sums | None = None
        # (today, latencies of the window's days before today sorted, their total)
        self._latency_past: tuple[int, list[tuple[int, int]], int] | None = None

    # --- changes to the by-day maps, mirrored into the cached sums

    def _open_changed(self, received_day: int, delta: int) -> None:
        sums = self._sums
        if sums is not None and received_day < sums.day - LONG_WAIT_DAYS:
            self._sums = sums._replace(long_wait=sums.long_wait + delta)

    def _untriaged_changed(self, received_day: int, delta: int) -> None:
        sums = self._sums
        if sums is None:
            return
        if self._before_live(received_day):
            self._sums = sums._replace(before_live=sums.before_live + delta)
        elif received_day < sums.day - UNTRIAGED_AGE_DAYS:
            self._sums = sums._replace(old_untriaged=sums.old_untriaged + delta)

    def _before_live(self, received_day: int) -> bool:
        first = self.agg.first_activity_day
        return first is not None and received_day < first

    def _expiry_changed(self, expiry_day: int, delta: int) -> None:
        sums = self._sums
        if sums is not None and expiry_day > sums.day:
            self._sums = sums._replace(covered=sums.covered + delta)

    def _open(self, ref: str, day: int) -> Pathway | None:
        """The pathway ``ref`` if open; a closed one (or an event of the referral before one
        sent again) counts ``after_close`` and gives None."""
        pathway = self.pathways.get(ref)
        if pathway is not None and (
            pathway.closed_day != OPEN or _of_earlier_referral(pathway, day)
        ):
            self.agg.after_close += 1
            return None
        return pathway

    def _close(self, ref: str, day: int) -> None:
        agg = self.agg
        pathway = self.pathways.get(ref)
        if pathway is not None and (
            pathway.closed_day != OPEN or _of_earlier_referral(pathway, day)
        ):
            agg.after_close += 1
            return
        add(agg.closed, day, 1)
        if agg.first_closure_day is None or day < agg.first_closure_day:
            agg.first_closure_day = day
        if pathway is None or awaiting_receipt(pathway):
            if pathway is None:
                agg.unknown_refs += 1
            self.pathways.put(ref, Pathway(-1, closed_day=day))
            return
        self._remove(pathway)
        pathway.closed_day = day
        self.pathways.touch(ref)

    def _remove(self, pathway: Pathway) -> None:
        """Take an open pathway out of every count."""
        agg = self.agg
        agg.open_count -= 1
        received_day = pathway.received_at // 86400
        if _decrement(agg.open_by_day, received_day):
            self._open_changed(received_day, -1)
        if not pathway.triaged:
            agg.untriaged_count -= 1
            if _decrement(agg.untriaged_by_day, received_day):
                self._untriaged_changed(received_day, -1)
        if pathway.validated_day != NOT_VALIDATED:
            expiry = pathway.validated_day + VALIDATION_DAYS
            if _decrement(agg.validation_expiry, expiry):
                self._expiry_changed(expiry, -1)

    def received(self, event: ReferralReceived, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        existing = self.pathways.get(event.referral_ref)
        triaged_at: int | None = None
        again = existing is not None and _sent_again(existing, int(ts))
        if again:
            existing = None  # a new pathway under the returned referral's reference
        if existing is not None:
            if existing.closed_day == OPEN and awaiting_receipt(existing):
                triaged_at = -existing.received_at  # its triage came first: counted now
            else:
                # the same referral again under a new event_id: the clock already runs
                if existing.closed_day != OPEN:
                    agg.after_close += 1
                return
        self._readings = None
        day = hour // 24
        if triaged_at is None:
            self.pathways.put(event.referral_ref, Pathway(int(ts), again=again))
            agg.untriaged_count += 1
            add(agg.untriaged_by_day, day, 1)
            self._untriaged_changed(day, 1)
        else:
            assert existing is not None
            existing.received_at = int(ts)
            self.pathways.touch(event.referral_ref)
            agg.unknown_refs -= 1  # the triage's referral is known now
            self._record_latency(triage_ts=triaged_at, received_at=int(ts))
        agg.open_count += 1
        add(agg.open_by_day, day, 1)
        self._open_changed(day, 1)
        add(agg.received, day, 1)

    def triaged(self, event: ReferralTriaged, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        self._readings = None
        day = hour // 24
        self._began(day)
        known = self.pathways.get(event.referral_ref)
        again = False
        if known is not None and known.closed_day != OPEN and _sent_again(known, int(ts)):
            # the referral sent again, triaged before its receipt came: as for any referral
            # triaged before its receipt (``awaiting_receipt``)
            self.pathways.pop(event.referral_ref)
            known, again = None, True
        if known is not None and (known.closed_day != OPEN or _of_earlier_referral(known, day)):
            agg.after_close += 1
            return
        pathway = known
        if pathway is not None and day > pathway.last_day:
            pathway.last_day = day
            self.pathways.touch(event.referral_ref)
        if pathway is not None and not pathway.triaged:
            pathway.triaged = True
            self.pathways.touch(event.referral_ref)
            agg.untriaged_count -= 1
            received_day = pathway.received_at // 86400
            if _decrement(agg.untriaged_by_day, received_day):
                self._untriaged_changed(received_day, -1)
            self._record_latency(triage_ts=int(ts), received_at=pathway.received_at)
        elif pathway is None and event.outcome == "accepted":
            agg.unknown_refs += 1
            # kept until its receipt comes (``awaiting_receipt``), or forgotten with the closed
            self.pathways.put(
                event.referral_ref,
                Pathway(-max(2, int(ts)), triaged=True, last_day=day, again=again),
            )
        if event.outcome != "accepted":
            self._close(event.referral_ref, day)
            closed = self.pathways.get(event.referral_ref)
            if closed is not None and not closed.returned:
                closed.returned = True
                self.pathways.touch(event.referral_ref)

    def _record_latency(self, *, triage_ts: int, received_at: int) -> None:
        agg = self.agg
        day = int(triage_ts // 86400)
        latency = max(0, int((triage_ts - received_at) // HOUR))
        bins = agg.triage_latency.setdefault(day, {})
        bins[latency] = bins.get(latency, 0) + 1
        past = self._latency_past
        if past is not None and day < past[0]:
            self._latency_past = None  # a late triage in a day already merged

    def booked(self, event: AppointmentBooked, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._began(hour // 24)
        self._no_longer_awaiting_triage(event.referral_ref, hour // 24)

    def _began(self, day: int) -> None:
        """A triage, booking, outcome, validation or closure on ``day``. The first marks where
        the feed's live flow begins: the referrals received before it (a waiting list sent at
        connection, back-dated months) came with no triage history, their triage was before the
        feed, so they count in no untriaged reading; their state is unknown, not a backlog (each
        had read as untriaged, and referral_triage_automation went active across the history).
        Left out by their day received, in the by-day sums: no pathway is touched (a sweep of
        a national list thawed every shard of every site at once)."""
        agg = self.agg
        if agg.first_activity_day is not None:
            return
        agg.first_activity_day = day
        self._sums = None
        self._readings = None
        self._dirty.add(PART)

    def _no_longer_awaiting_triage(self, ref: str, day: int) -> None:
        """A referral booked or seen is past triage, whether or not its triage was sent.

        A directly bookable service books without a provider triage, and a triage message lost
        in a gap too short to be seen as one would otherwise leave the referral "untriaged" until
        it closes. Its triage latency is unknown, so none is recorded.
        """
        pathway = self.pathways.get(ref)
        if pathway is None or pathway.closed_day != OPEN or _of_earlier_referral(pathway, day):
            return
        if day > pathway.last_day:  # an appointment is activity: the pathway is alive
            pathway.last_day = day
            self.pathways.touch(ref)
        if pathway.triaged:
            return
        self._dirty.add(PART)
        self._readings = None
        pathway.triaged = True
        self.pathways.touch(ref)
        agg = self.agg
        agg.untriaged_count -= 1
        received_day = pathway.received_at // 86400
        if _decrement(agg.untriaged_by_day, received_day):
            self._untriaged_changed(received_day, -1)

    def outcome(self, event: AppointmentOutcome, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        self._began(hour // 24)
        self._no_longer_awaiting_triage(event.referral_ref, hour // 24)
        # DNA rate = DNAs / (attended + DNAs); cancellations are neither.
        if event.outcome == "attended" or event.outcome == "did_not_attend":
            self._readings = None
            add(agg.outcomes, hour // 24, 1)
            if event.outcome == "did_not_attend":
                add(agg.dnas, hour // 24, 1)

    def validated(self, event: PathwayValidated, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        self._readings = None
        day = hour // 24
        self._began(day)
        if event.result == "removed":
            self._close(event.referral_ref, day)
            return
        known = self.pathways.get(event.referral_ref)
        pathway = self._open(event.referral_ref, day)
        if pathway is None or awaiting_receipt(pathway):
            if known is None:
                agg.unknown_refs += 1
            return
        pathway.last_day = max(pathway.last_day, day)
        if pathway.validated_day != NOT_VALIDATED and day < pathway.validated_day:
            return  # an older validation delivered late: the newer one stands
        if pathway.validated_day != NOT_VALIDATED:
            expiry = pathway.validated_day + VALIDATION_DAYS
            if _decrement(agg.validation_expiry, expiry):
                self._expiry_changed(expiry, -1)
        pathway.validated_day = day
        add(agg.validation_expiry, day + VALIDATION_DAYS, 1)
        self._expiry_changed(day + VALIDATION_DAYS, 1)
        self.pathways.touch(event.referral_ref)

    def closed(self, event: PathwayClosed, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        self._readings = None
        self._began(hour // 24)
        self._close(event.referral_ref, hour // 24)

    def _day_sums(self, day: int) -> _Sums:
        sums = self._sums
        if sums is None or sums.day != day:
            agg = self.agg
            # Day granularity: "waiting > 18 weeks" = received on a day before today - 126.
            long_cut = day - LONG_WAIT_DAYS
            old_cut = day - UNTRIAGED_AGE_DAYS
            live = agg.first_activity_day
            live = day + 1 if live is None else live  # no live flow yet: every one before it
            sums = self._sums = _Sums(
                day,
                sum(count for key, count in agg.open_by_day.items() if key < long_cut),
                sum(count for key, count in agg.untriaged_by_day.items() if live <= key < old_cut),
                sum(count for key, count in agg.validation_expiry.items() if key > day),
                sum(count for key, count in agg.untriaged_by_day.items() if key < live)
                if agg.first_activity_day is not None
                else 0,
            )
        return sums

    def evaluate(self, hour: int) -> dict[str, Reading]:
        day = hour // 24
        cached = self._readings
        if cached is not None and cached[0] == day:
            return cached[1]
        readings = self._evaluate(day)
        self._readings = (day, readings)
        return readings

    def _evaluate(self, day: int) -> dict[str, Reading]:
        agg = self.agg
        _, long_wait, old_untriaged, covered, before_live = self._day_sums(day)
        untriaged = agg.untriaged_count - before_live
        first = day - MONTH_DAYS + 1
        received = window_sum(agg.received, first, day + 1)
        closed = window_sum(agg.closed, first, day + 1)
        outcomes = window_sum(agg.outcomes, first, day + 1)
        dnas = window_sum(agg.dnas, first, day + 1)
        out: dict[str, Reading] = {
            "open_pathways": Reading(agg.open_count, agg.open_count),
            "long_wait_pathways": Reading(long_wait, agg.open_count),
            "untriaged_referrals": Reading(untriaged, untriaged),
            "referrals_received_28d": Reading(received, received),
            "pathways_closed_28d": Reading(closed, closed),
            "appointment_outcomes_28d": Reading(outcomes, outcomes),
            "dna_28d": Reading(dnas, outcomes),
        }
        optional = {
            "long_wait_share": ratio(long_wait, agg.open_count, agg.open_count),
            # once the feed has carried a full validation cycle: the validations of the weeks
            # before it began were never sent
            "validation_coverage_12w": ratio(covered, agg.open_count, agg.open_count)
            if agg.first_activity_day is not None
            and day >= agg.first_activity_day + VALIDATION_DAYS
            else None,
            # once the feed's live flow began (``_began``): before it, a list sent at connection
            # is every referral untriaged, its triage never sent
            "untriaged_over_7d_share": ratio(old_untriaged, untriaged, untriaged)
            if agg.first_activity_day is not None
            else None,
            "dna_rate_28d": ratio(dnas, outcomes, outcomes),
            # Judged on windows that start on or after the feed's first closure. A waiting list
            # sent at connection is its open pathways, back-dated months: the pathways closed
            # in those months were never sent, so a window before the first closure (or
            # straddling it) holds their referrals but not their closures, and a site that
            # loaded two years of list would show as flooding for two years of history. After
            # that, no closure in 28 days means the list can only grow: divide by 1, not by 0.
            "referral_inflow_closure_ratio_28d": ratio(received, max(closed, 1), received)
            if received and agg.first_closure_day is not None and first >= agg.first_closure_day
            else None,
        }
        latency = self._median_latency_days(day)
        if latency is not None:
            out["triage_latency_median_days_28d"] = latency
        out.update({name: reading for name, reading in optional.items() if reading is not None})
        return out

    def _median_latency_days(self, day: int) -> Reading | None:
        """The median latency of the referrals triaged over the 28 days ending today."""
        past = self._latency_past
        if past is None or past[0] != day:
            merged: dict[int, int] = {}
            for key in range(day - MONTH_DAYS + 1, day):
                bins = self.agg.triage_latency.get(key)
                if bins:
                    for latency, count in bins.items():
                        merged[latency] = merged.get(latency, 0) + count
            past = self._latency_past = (day, sorted(merged.items()), sum(merged.values()))
        _, past_bins, past_total = past
        today = self.agg.triage_latency.get(day) or {}
        total = past_total + sum(today.values())
        if not total:
            return None
        # The lower median of whole-hour bins (+0.5 h: the bin's middle).
        rank, seen = (total + 1) // 2, 0
        today_bins = sorted(today.items())
        i = j = 0
        while True:
            # the two sorted bin lists, merged (equal latencies: both counts, one bin)
            if j >= len(today_bins) or (i < len(past_bins) and past_bins[i][0] < today_bins[j][0]):
                latency, count = past_bins[i]
                i += 1
            elif i >= len(past_bins) or today_bins[j][0] < past_bins[i][0]:
                latency, count = today_bins[j]
                j += 1
            else:
                latency, count = past_bins[i][0], past_bins[i][1] + today_bins[j][1]
                i += 1
                j += 1
            seen += count
            if seen >= rank:
                return Reading((latency + 0.5) / 24, total)

    def maintain(self, hour: int) -> None:
        agg = self.agg
        self._dirty.add(PART)
        self._readings = None
        self._sums = None
        self._latency_past = None
        day = hour // 24
        cutoff = day - MONTH_DAYS - 1
        for buckets in (agg.received, agg.closed, agg.outcomes, agg.dnas):
            purge_before(buckets, cutoff)
        purge_before(agg.triage_latency, cutoff)
        # A validation that expired stays expired: its bucket is never counted again.
        purge_before(agg.validation_expiry, day)
        if day % 7:
            return  # the pathway sweep is weekly: the list is the biggest map of all
        forgotten = day - CLOSED_KEEP_DAYS
        silent = day - SILENT_PATHWAY_DAYS

        def gone(pathway: Pathway) -> bool:
            if pathway.closed_day != OPEN:
                return pathway.closed_day < forgotten
            if awaiting_receipt(pathway):  # its receipt never came: it predates the stream
                return pathway.last_day < forgotten
            last = max(pathway.last_day, pathway.received_at // 86400)
            if last >= silent:
                return False
            self._remove(pathway)
            agg.expired += 1
            return True

        self.pathways.remove_where(gone)

    def confirm_after_gap(self, before_hour: int, *, lost: frozenset[str] | None) -> None:
        """After a feed gap's recovery: an untriaged referral received, and last heard of, before
        the gap ended leaves the untriaged list (its triage may be among the lost events); it stays
        open.
        This under-counts a real backlog rather than read lost triage as one. Only a gap of
        triage (or of the whole feed) can have lost a triage: a gap of clinic outcomes alone
        took a real backlog away."""
        if lost is not None and not lost & {FEED, "referral_triaged"}:
            return
        agg = self.agg
        before_ts = before_hour * HOUR
        self._sums = None
        self._readings = None

        def lost_triage(pathway: Pathway) -> bool:
            if pathway.closed_day != OPEN or pathway.triaged:
                return False
            if pathway.received_at >= before_ts or pathway.last_day * 24 >= before_hour:
                return False
            pathway.triaged = True
            agg.untriaged_count -= 1
            _decrement(agg.untriaged_by_day, pathway.received_at // 86400)
            return False

        for index, shard in self.pathways.all_shards():
            before = agg.untriaged_count
            for pathway in shard.values():
                lost_triage(pathway)
            if agg.untriaged_count != before:
                self.pathways.touch_shard(index)
        self._dirty.add(PART)

    @property
    def counters(self) -> dict[str, int]:
        return {"after_close": self.agg.after_close, "expired": self.agg.expired}
