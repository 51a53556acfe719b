"""The issue's "done means": for every kind, a bottleneck injected into healthy synthetic data goes
emerging and active, then resolved once the cause is removed; healthy data stays quiet."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from models.events import Event
from models.outputs import OpportunityUpdate
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import (
    CATALOGUE,
    run,
    series,
    snapshots,
    steps,
    transitions,
    value_at,
)


def _lifecycle_ok(
    events: list[Event],
    kind: str,
    onset: int,
    removed: int,
    active_within: int,
    resolved_within: int,
    single_episode: bool = True,
) -> None:
    out = run(events)
    path = steps(out, kind)
    statuses = [to for _, to, _ in path]
    assert statuses[:3] == ["emerging", "active", "resolved"], path
    emerging_at, active_at, resolved_at = (at for _, _, at in path[:3])
    assert b.day_at(onset) <= emerging_at < b.day_at(onset + active_within)
    assert emerging_at < active_at <= b.day_at(onset + active_within)
    assert b.day_at(removed) < resolved_at <= b.day_at(removed + resolved_within)
    # One episode: nothing flaps back after the cause is gone.
    if single_episode:
        assert all(t.episode == 1 for t in transitions(out, kind))
    # At activation the trigger holds: severity is at least the threshold's 0.5.
    activation = [
        o
        for o in out
        if isinstance(o, OpportunityUpdate)
        and o.transition is not None
        and o.transition.kind == kind
        and o.transition.to_status == "active"
    ]
    assert 0.5 <= activation[0].opportunity.severity <= 1.0
    assert all(o.catalogue_version == CATALOGUE.version for o in snapshots(out, kind))


def _reason_mix(share: float, reason: str | tuple[str, ...]) -> Callable[[int, random.Random], str]:
    choices = (reason,) if isinstance(reason, str) else reason

    def pick(day: int, rng: random.Random) -> str:
        if 8 <= day < 20 and rng.random() < share:
            return rng.choice(choices)
        return b.healthy_reason(rng)

    return pick


@pytest.mark.unit
def test_capacity_forecasting_needs_three_days_over_92_percent() -> None:
    s = b.Stream()
    b.bedflow(s, 30, beds=b.window(8, 18, 200, 250))
    out = run(s.events(30))
    path = steps(out, "capacity_forecasting")
    assert [to for _, to, _ in path] == ["emerging", "active", "resolved"]
    (_, _, emerging), (_, _, active), (_, _, resolved) = path
    assert b.day_at(8) <= emerging < b.day_at(9)
    # the forecast over the fewer beds emerges it once today's occupancy is within reach (90% of
    # the line), before the 24-h occupancy crosses it; active after the trigger's own 72 h (not
    # the default 24 h)
    crossed = min(p.evaluated_at for p in series(out, "bed_occupancy_ratio_24h") if p.value >= 0.92)
    assert emerging < crossed
    assert active - emerging > timedelta(hours=72)
    assert active == crossed + timedelta(hours=72)
    assert b.day_at(18) < resolved <= b.day_at(20)


@pytest.mark.unit
def test_discharge_documentation_automation() -> None:
    s = b.Stream()
    b.bedflow(s, 32, reason=_reason_mix(0.3, "hospital_discharge_documentation"))
    _lifecycle_ok(s.events(32), "discharge_documentation_automation", 8, 20, 4, 6)


@pytest.mark.unit
def test_transport_booking_automation() -> None:
    s = b.Stream()
    b.bedflow(s, 32, reason=_reason_mix(0.3, "hospital_patient_transport"))
    _lifecycle_ok(s.events(32), "transport_booking_automation", 8, 20, 4, 6)


@pytest.mark.unit
def test_care_transfer_referral_automation() -> None:
    s = b.Stream()
    b.bedflow(s, 32, reason=_reason_mix(0.6, ("hospital_hub_referral", "hub_referrals")))
    _lifecycle_ok(s.events(32), "care_transfer_referral_automation", 8, 20, 4, 6)


@pytest.mark.unit
def test_discharge_coordination() -> None:
    s = b.Stream()
    # NCTR stays lengthen from day 8 (0.75 -> 4 days by day 11) and recover at day 20. A slowdown,
    # not a stop: discharges never go silent for hours on end, which would be the PAS's discharge
    # messages lost (a feed gap, streams/engine/quality.py), not a bottleneck.
    b.bedflow(
        s,
        40,
        nctr_days=lambda d: min(4.0, 0.75 + 1.1 * max(0, d - 7)) if d < 20 else 0.75,
        beds=b.const(450),
    )
    _lifecycle_ok(s.events(40), "discharge_coordination", 8, 20, 9, 12)


@pytest.mark.unit
def test_discharge_timing_prediction() -> None:
    s = b.Stream()
    b.bedflow(s, 36, before_noon=b.window(8, 20, 0.1, 0.5))
    _lifecycle_ok(s.events(36), "discharge_timing_prediction", 8, 20, 6, 8)


@pytest.mark.unit
def test_roster_optimisation() -> None:
    s = b.Stream()
    b.rostering(s, 40, agency=b.window(8, 20, 0.2, 0.02))
    _lifecycle_ok(s.events(40), "roster_optimisation", 8, 20, 5, 8)


@pytest.mark.unit
def test_auto_rostering() -> None:
    s = b.Stream()
    b.rostering(s, 80, changes=b.window(8, 36, 0.45, 0.05))
    _lifecycle_ok(s.events(80), "auto_rostering", 8, 36, 20, 28)


@pytest.mark.unit
def test_absence_backfill_automation() -> None:
    s = b.Stream()
    b.rostering(s, 45, short_absence=b.window(8, 22, 0.15, 0.01))
    _lifecycle_ok(s.events(45), "absence_backfill_automation", 8, 22, 6, 14)


@pytest.mark.unit
def test_referral_triage_automation() -> None:
    s = b.Stream()
    # Triage slows from day 10 (1.5 -> 10 days by day 18, a day more each day) and recovers at
    # day 30. A slowdown, not a stop: triage never goes silent for days, which would be the
    # triage interface down (a feed gap, streams/engine/quality.py), not a bottleneck.
    b.referrals(s, 70, triage_days=lambda d: min(10.0, 1.5 + max(0, d - 10)) if d < 30 else 1.5)
    # a ramp reaches the thresholds later than a step would: within 22 days of its start
    _lifecycle_ok(s.events(70), "referral_triage_automation", 10, 30, 22, 30)


@pytest.mark.unit
def test_dna_reduction() -> None:
    s = b.Stream()
    b.referrals(s, 90, per_day=b.const(20), dna=b.window(20, 40, 0.2, 0.03))
    _lifecycle_ok(s.events(90), "dna_reduction", 20, 40, 14, 28)


@pytest.mark.unit
def test_demand_capacity_planning() -> None:
    s = b.Stream()
    b.referrals(s, 90, per_day=b.const(20), closures=b.window(20, 40, 0.4, 1.0))
    _lifecycle_ok(s.events(90), "demand_capacity_planning", 20, 40, 14, 28)


@pytest.mark.unit
def test_waiting_list_validation() -> None:
    # Pathways received in the first 100 days wait 150-260 days and validation stops for
    # days 100-200: the list ages past 18 weeks unvalidated; validation resumes at day 200.
    def waits(day: int, rng: random.Random) -> float:
        return rng.uniform(150, 260) if day < 100 else rng.uniform(20, 110)

    s = b.Stream()
    b.referrals(
        s, 280, per_day=b.const(8), wait_days=waits, validate=b.window(100, 200, False, True)
    )
    # The first long waits appear at day 126; the share passes 35% some 50 days later.
    # Once validation resumes the long waits are still there (they clear from day 260 on), so a
    # second, emerging-only episode may follow: the first one's lifecycle is what is asserted.
    _lifecycle_ok(s.events(280), "waiting_list_validation", 126, 200, 80, 70, single_episode=False)


@pytest.mark.unit
@pytest.mark.parametrize("seed", [1, 3])
def test_healthy_site_stays_quiet(seed: int) -> None:
    s = b.Stream(seed=seed)
    b.bedflow(s, 60)
    b.rostering(s, 60)
    b.referrals(s, 60)
    b.ed(s, 60)
    out = run(s.events(60))
    assert transitions(out) == []
    assert len(CATALOGUE.kinds) == 16


def _connected_with_its_waiting_list() -> b.Stream:
    """A trust's open pathways sent at connection (1,500 received over the year before, none of
    them triaged, validated or closed in the stream), then 90 days of a healthy live flow."""
    from models.events import ReferralReceived

    s = b.Stream()
    for index in range(1500):
        s.add(
            ReferralReceived,
            b.T0 - timedelta(days=365) + timedelta(hours=index * 5.8),
            referral_ref=s.ref(),
            specialty_code="100",
            priority="routine",
            source="gp",
        )
    b.referrals(s, 90)
    return s


@pytest.mark.unit
def test_a_waiting_list_sent_at_connection_raises_no_flood_in_its_back_dated_history() -> None:
    """A trust connecting sends its open pathways, received over the last year: referrals with
    no closures (those closed were never sent). Their back-dated months read as a list growing
    without end, and demand_capacity_planning went active across them; a healthy live flow
    after connection raises nothing either."""
    out = run(_connected_with_its_waiting_list().events(90))
    assert not [t for t in transitions(out) if t.kind == "demand_capacity_planning"]
    ratio = series(out, "referral_inflow_closure_ratio_28d")
    # judged from the 28th day of the live feed (its first closure is on day 0)
    assert ratio and min(p.evaluated_at for p in ratio) >= b.T0 + timedelta(days=27)


@pytest.mark.unit
def test_a_waiting_list_sent_at_connection_is_no_triage_backlog_nor_unvalidated_at_once() -> None:
    """The open list sent at connection carries no triage or validation history: those came
    before the feed. Every such pathway counted as untriaged and unvalidated, and
    referral_triage_automation went active in the back-dated history and stayed active. A
    referral received before the feed's first triage, booking, outcome, validation or closure
    has an unknown triage state; validation coverage is judged once the feed has carried a
    full 12-week validation cycle."""
    out = run(_connected_with_its_waiting_list().events(90))
    assert not [t for t in transitions(out) if t.kind == "referral_triage_automation"]
    coverage = series(out, "validation_coverage_12w")
    assert all(p.evaluated_at >= b.T0 + timedelta(days=84) for p in coverage)
    assert not [
        t
        for t in transitions(out)
        if t.kind == "waiting_list_validation" and t.at < b.T0 + timedelta(days=84)
    ]


@pytest.mark.unit
def test_an_older_validation_delivered_late_does_not_undo_a_newer_one() -> None:
    # a validation tool re-exporting its history sends day 60's validations after day 140's:
    # coverage fell from 1.0 to 0 and waiting_list_validation went active on the live path
    from models.events import PathwayValidated, ReferralReceived
    from streams.engine.referrals import VALIDATION_DAYS, Referrals

    flow, s = Referrals(set()), b.Stream()
    refs = [s.ref() for _ in range(10)]

    def apply(cls: type, day: int, **fields: object) -> None:
        event = s.add(cls, b.day_at(day), **fields)
        flow_handler = {ReferralReceived: flow.received, PathwayValidated: flow.validated}[cls]
        flow_handler(event, event.occurred_at.timestamp(), day * 24)

    for ref in refs:
        apply(ReferralReceived, 0, referral_ref=ref, specialty_code="100", priority="routine",
              source="gp")  # fmt: skip
    for day in (140, 60):
        for ref in refs:
            apply(PathwayValidated, day, referral_ref=ref, result="still_required")
    assert flow.agg.validation_expiry == {140 + VALIDATION_DAYS: 10}


@pytest.mark.unit
def test_a_pathway_seen_at_clinic_every_month_is_alive_not_expired() -> None:
    # bookings and outcomes are activity: a pathway followed up for two years without a
    # validation expired as a lost closure after 104 weeks of "silence"
    from models.events import AppointmentBooked, AppointmentOutcome, ReferralReceived
    from streams.engine.referrals import Referrals

    flow, s = Referrals(set()), b.Stream()
    ref = s.ref()

    def hour_of(event: object) -> int:
        return int(event.occurred_at.timestamp() // 3600)  # type: ignore[attr-defined]

    event = s.add(ReferralReceived, b.day_at(0), referral_ref=ref, specialty_code="100",
                  priority="routine", source="gp")  # fmt: skip
    flow.received(event, event.occurred_at.timestamp(), hour_of(event))
    for day in range(28, 800, 28):
        booked = s.add(AppointmentBooked, b.day_at(day), referral_ref=ref,
                       appointment_at=b.day_at(day + 7), attendance_type="follow_up")  # fmt: skip
        flow.booked(booked, booked.occurred_at.timestamp(), hour_of(booked))
        seen = s.add(AppointmentOutcome, b.day_at(day + 7), referral_ref=ref, outcome="attended")
        flow.outcome(seen, seen.occurred_at.timestamp(), hour_of(seen))
        for sweep in range(7):  # the weekly sweep runs on one of these days
            flow.maintain(hour_of(seen) + 24 * sweep)
    assert (flow.agg.open_count, flow.agg.expired) == (1, 0)


@pytest.mark.unit
def test_a_triage_that_comes_before_its_receipt_counts_as_if_in_order() -> None:
    # e-RS triage and the PAS registration reach the integration engine separately: the
    # receipt (dated at the clock start) can land after its accepted triage. The triage found
    # no pathway and was dropped; the receipt then opened it untriaged, and no latency was ever
    # recorded: 298 untriaged for 62, and referral_triage_automation went active.
    from models.events import ReferralReceived, ReferralTriaged

    s = b.Stream(seed=41)
    b.referrals(s, 40, per_day=b.const(40))
    ordered = s.events(40)
    receipts = {e.referral_ref: e for e in ordered if isinstance(e, ReferralReceived)}
    raced: list[Event] = []
    for event in ordered:
        if isinstance(event, ReferralReceived) and any(
            isinstance(e, ReferralTriaged) and e.referral_ref == event.referral_ref for e in ordered
        ):
            continue  # delivered right after its triage instead
        raced.append(event)
        if isinstance(event, ReferralTriaged) and event.referral_ref in receipts:
            raced.append(receipts[event.referral_ref])
    assert len(raced) == len(ordered)
    at = b.T0 + timedelta(days=39, hours=23)
    results = []
    for events in (ordered, raced):
        out = run(events)
        results.append(
            {
                name: value_at(out, name, at)
                for name in (
                    "untriaged_referrals",
                    "untriaged_over_7d_share",
                    "triage_latency_median_days_28d",
                    "open_pathways",
                )
            }
        )
        assert not [t for t in transitions(out) if t.kind == "referral_triage_automation"]
    assert results[0] == results[1]
    assert results[1]["triage_latency_median_days_28d"] is not None


@pytest.mark.unit
def test_a_gap_of_clinic_outcomes_alone_keeps_the_real_triage_backlog() -> None:
    # The clinic-outcome interface down for two days while triage flows: at the recovery's end
    # every untriaged referral received before the gap ended was taken as triaged (its triage
    # "lost"), the real backlog vanished and its active episode resolved. Only a gap of triage
    # (or of the whole feed) can have lost triages.
    import zlib

    import msgspec

    from models.events import AppointmentBooked, AppointmentOutcome, ReferralTriaged

    s = b.Stream(seed=45)
    b.referrals(s, 100, per_day=b.const(40))

    def backlogged(event: Event) -> Event:
        # a quarter of referrals sit 22 days longer in the triage worklist: a real backlog
        if isinstance(event, ReferralTriaged | AppointmentBooked):
            if zlib.crc32(event.referral_ref.encode()) % 4 == 0:
                later = event.occurred_at + timedelta(days=22)
                return msgspec.structs.replace(event, occurred_at=later)
        return event

    events = sorted((backlogged(e) for e in s.events(100)), key=lambda e: e.occurred_at)
    events = [e for e in events if e.occurred_at < b.day_at(100)]
    start, end = b.day_at(50), b.day_at(52)
    outage = [
        e for e in events if isinstance(e, AppointmentOutcome) and start <= e.occurred_at < end
    ]
    kept = [e for e in events if e not in outage]
    out = run(kept)
    quality = {p.value for p in series(out, "data_quality_referrals") if p.evaluated_at >= start}
    assert quality & {2.0, 3.0}  # the outcomes' silence was a gap, then its recovery
    untriaged = {p.evaluated_at: p.value for p in series(run(events), "untriaged_referrals")}
    after = [p for p in series(out, "untriaged_referrals") if p.evaluated_at >= b.day_at(62)]
    assert after and all(p.value == untriaged[p.evaluated_at] for p in after)


@pytest.mark.unit
def test_the_live_flow_beginning_touches_no_pathway() -> None:
    # The referrals received before the live flow began are left out by their day received:
    # marking each one instead thawed and rewrote every pathway shard of every site at once
    # (at national scale, 128,000 changelog records and 400 MB of peak memory in one burst).
    from models.events import PathwayClosed, ReferralReceived
    from streams.engine.referrals import Referrals

    dirty: set[str] = set()
    flow, s = Referrals(dirty), b.Stream()
    for index in range(2000):
        at = b.day_at(-300) + timedelta(hours=index)
        event = s.add(ReferralReceived, at, referral_ref=s.ref(), specialty_code="100",
                      priority="routine", source="gp")  # fmt: skip
        flow.received(
            event, event.occurred_at.timestamp(), int(event.occurred_at.timestamp() // 3600)
        )
    dirty.clear()
    closed = s.add(PathwayClosed, b.day_at(0), referral_ref=s.ref(), reason="treated")
    flow.closed(closed, closed.occurred_at.timestamp(), int(closed.occurred_at.timestamp() // 3600))
    assert len([part for part in dirty if part.startswith("pathways/")]) <= 1
    assert flow.evaluate(int(b.day_at(1).timestamp() // 3600))["untriaged_referrals"].value == 0
