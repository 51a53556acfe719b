"""Referral and waiting-list state of a site: open pathways (sharded in 256 parts, the biggest
map of all), counts of open/untriaged pathways by day received, validation expiry days, and daily
buckets of receipts, closures, triage latencies and appointment outcomes.

Events about a referral never received in the stream (it predates the stream) are counted in
``unknown_refs``; when they close a pathway (triage other than ``accepted``, validation
``removed``, ``pathway_closed``) the closure still counts in ``pathways_closed_28d``, since a real
pathway left the list.
"""

from __future__ import annotations

from typing import Final

import msgspec

from models.events import (
    AppointmentBooked,
    AppointmentOutcome,
    PathwayClosed,
    PathwayValidated,
    ReferralReceived,
    ReferralTriaged,
)
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


class Pathway(msgspec.Struct, array_like=True, gc=False):
    received_at: int  # epoch seconds
    triaged: bool = False
    validated_day: int = NOT_VALIDATED


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


def _decrement(buckets: dict[int, int], key: int) -> None:
    # Keys already purged (expired validations) are simply gone.
    count = buckets.get(key)
    if count is None:
        return
    if count <= 1:
        del buckets[key]
    else:
        buckets[key] = count - 1


class Referrals:
    def __init__(self, dirty: set[str]) -> None:
        self.agg = ReferralsAgg()
        self.pathways: ShardedMap[Pathway] = ShardedMap("pathways", PATHWAY_SHARDS, Pathway, dirty)
        self._dirty = dirty

    def _close(self, ref: str, day: int) -> None:
        agg = self.agg
        add(agg.closed, day, 1)
        pathway = self.pathways.pop(ref)
        if pathway is None:
            agg.unknown_refs += 1
            return
        agg.open_count -= 1
        received_day = pathway.received_at // 86400
        _decrement(agg.open_by_day, received_day)
        if not pathway.triaged:
            agg.untriaged_count -= 1
            _decrement(agg.untriaged_by_day, received_day)
        if pathway.validated_day != NOT_VALIDATED:
            _decrement(agg.validation_expiry, pathway.validated_day + VALIDATION_DAYS)

    def received(self, event: ReferralReceived, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        if self.pathways.get(event.referral_ref) is not None:
            return  # the same referral again under a new event_id: the clock already runs
        day = hour // 24
        self.pathways.put(event.referral_ref, Pathway(int(ts)))
        agg.open_count += 1
        agg.untriaged_count += 1
        add(agg.open_by_day, day, 1)
        add(agg.untriaged_by_day, day, 1)
        add(agg.received, day, 1)

    def triaged(self, event: ReferralTriaged, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        day = hour // 24
        pathway = self.pathways.get(event.referral_ref)
        if pathway is not None and not pathway.triaged:
            pathway.triaged = True
            self.pathways.touch(event.referral_ref)
            agg.untriaged_count -= 1
            _decrement(agg.untriaged_by_day, pathway.received_at // 86400)
            latency = max(0, int((ts - pathway.received_at) // HOUR))
            bins = agg.triage_latency.setdefault(day, {})
            bins[latency] = bins.get(latency, 0) + 1
        elif pathway is None and event.outcome == "accepted":
            agg.unknown_refs += 1
        if event.outcome != "accepted":
            self._close(event.referral_ref, day)

    def booked(self, event: AppointmentBooked, ts: float, hour: int) -> None:
        # Bookings carry nothing the catalogue measures (outcomes do); accepted, no state.
        self.agg.seen = True

    def outcome(self, event: AppointmentOutcome, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        # DNA rate = DNAs / (attended + DNAs); cancellations are neither.
        if event.outcome == "attended" or event.outcome == "did_not_attend":
            add(agg.outcomes, hour // 24, 1)
            if event.outcome == "did_not_attend":
                add(agg.dnas, hour // 24, 1)

    def validated(self, event: PathwayValidated, ts: float, hour: int) -> None:
        agg = self.agg
        agg.seen = True
        self._dirty.add(PART)
        day = hour // 24
        if event.result == "removed":
            self._close(event.referral_ref, day)
            return
        pathway = self.pathways.get(event.referral_ref)
        if pathway is None:
            agg.unknown_refs += 1
            return
        if pathway.validated_day != NOT_VALIDATED:
            _decrement(agg.validation_expiry, pathway.validated_day + VALIDATION_DAYS)
        pathway.validated_day = day
        add(agg.validation_expiry, day + VALIDATION_DAYS, 1)
        self.pathways.touch(event.referral_ref)

    def closed(self, event: PathwayClosed, ts: float, hour: int) -> None:
        self.agg.seen = True
        self._dirty.add(PART)
        self._close(event.referral_ref, hour // 24)

    def evaluate(self, hour: int) -> dict[str, Reading]:
        agg = self.agg
        # Day granularity: "waiting > 18 weeks" = received on a day before today - 126.
        day = hour // 24
        long_cut = day - LONG_WAIT_DAYS
        long_wait = sum(count for key, count in agg.open_by_day.items() if key < long_cut)
        old_cut = day - UNTRIAGED_AGE_DAYS
        old_untriaged = sum(count for key, count in agg.untriaged_by_day.items() if key < old_cut)
        covered = sum(count for key, count in agg.validation_expiry.items() if key > day)
        first = day - MONTH_DAYS + 1
        received = window_sum(agg.received, first, day + 1)
        closed = window_sum(agg.closed, first, day + 1)
        outcomes = window_sum(agg.outcomes, first, day + 1)
        dnas = window_sum(agg.dnas, first, day + 1)
        out: dict[str, Reading] = {
            "open_pathways": Reading(agg.open_count, agg.open_count),
            "long_wait_pathways": Reading(long_wait, agg.open_count),
            "untriaged_referrals": Reading(agg.untriaged_count, agg.untriaged_count),
            "referrals_received_28d": Reading(received, received),
            "pathways_closed_28d": Reading(closed, closed),
            "appointment_outcomes_28d": Reading(outcomes, outcomes),
            "dna_28d": Reading(dnas, outcomes),
        }
        optional = {
            "long_wait_share": ratio(long_wait, agg.open_count, agg.open_count),
            "validation_coverage_12w": ratio(covered, agg.open_count, agg.open_count),
            "untriaged_over_7d_share": ratio(
                old_untriaged, agg.untriaged_count, agg.untriaged_count
            ),
            "dna_rate_28d": ratio(dnas, outcomes, outcomes),
            # With no closure at all the list can only grow: divide by 1, not by 0.
            "referral_inflow_closure_ratio_28d": ratio(received, max(closed, 1), received)
            if received
            else None,
        }
        latency = self._median_latency_days(first, day + 1)
        if latency is not None:
            out["triage_latency_median_days_28d"] = latency
        out.update({name: reading for name, reading in optional.items() if reading is not None})
        return out

    def _median_latency_days(self, first: int, end: int) -> Reading | None:
        merged: dict[int, int] = {}
        for key in range(first, end):
            bins = self.agg.triage_latency.get(key)
            if bins:
                for latency, count in bins.items():
                    merged[latency] = merged.get(latency, 0) + count
        total = sum(merged.values())
        if not total:
            return None
        # The lower median of whole-hour bins (+0.5 h: the bin's middle).
        rank, seen = (total + 1) // 2, 0
        for latency in sorted(merged):
            seen += merged[latency]
            if seen >= rank:
                return Reading((latency + 0.5) / 24, total)
        raise AssertionError("unreachable: rank <= total")

    def maintain(self, hour: int) -> None:
        agg = self.agg
        self._dirty.add(PART)
        day = hour // 24
        cutoff = day - MONTH_DAYS - 1
        for buckets in (agg.received, agg.closed, agg.outcomes, agg.dnas):
            purge_before(buckets, cutoff)
        purge_before(agg.triage_latency, cutoff)
        # A validation that expired stays expired: its bucket is never counted again.
        purge_before(agg.validation_expiry, day)
