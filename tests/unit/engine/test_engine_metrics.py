"""Metrics on small hand-made streams, checked against hand arithmetic."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.events import (
    AbsenceReported,
    Admission,
    AppointmentOutcome,
    Discharge,
    DischargeDelay,
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
)
from streams.engine import ALL_METRICS, Output, ScopeState
from streams.engine.readings import Reading
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE, run, series, value_at

SCOPE = CATALOGUE.for_scope(b.TRUST, b.SITE)


def _at(hours: float) -> timedelta:
    return timedelta(hours=hours)


@pytest.mark.unit
def test_delay_shares_use_the_latest_reason_of_current_nctr_patients() -> None:
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    s = b.Stream()
    for index in range(4):
        ref = f"cc{index:014x}"
        state.apply(
            s.add(
                Admission,
                b.T0 + _at(0.1),
                spell_ref=ref,
                ward_code="W1",
                specialty_code="300",
                admission_method="emergency",
            )
        )
        state.apply(s.add(ReadyForDischarge, b.T0 + _at(0.2), spell_ref=ref, ward_code="W1"))
        state.apply(
            s.add(
                DischargeDelay,
                b.T0 + _at(0.3),
                spell_ref=ref,
                ward_code="W1",
                reason="hospital_patient_transport",
            )
        )
    # patient 0 moves on to another reason; patient 1 leaves
    state.apply(
        s.add(
            DischargeDelay,
            b.T0 + _at(0.4),
            spell_ref="cc" + "0" * 14,
            ward_code="W1",
            reason="hub_referrals",
        )
    )
    state.apply(
        s.add(
            Discharge,
            b.T0 + _at(0.5),
            spell_ref=f"cc{1:014x}",
            ward_code="W1",
            destination="care_home",
        )
    )
    out = state.advance_to(b.T0 + _at(1))
    when = b.T0 + _at(1)
    assert value_at(out, "nctr_patients", when) == 3
    assert value_at(out, "delay_share_patient_transport", when) == pytest.approx(2 / 3)
    assert value_at(out, "delay_share_care_transfer_hub", when) == pytest.approx(1 / 3)
    assert value_at(out, "delay_share_discharge_documentation", when) == 0
    assert value_at(out, "discharges_7d", when) == 1


@pytest.mark.unit
def test_before_noon_weekend_ratio_and_discharges_per_nctr_patient() -> None:
    s = b.Stream()
    b.bedflow(s, 21, before_noon=b.const(0.25), weekend_discharge=b.const(0.4))
    out = run(s.events(21))
    noon = [p.value for p in series(out, "discharge_before_noon_share_7d")][-100:]
    assert 0.18 < sum(noon) / len(noon) < 0.32
    weekend = [p.value for p in series(out, "weekend_weekday_discharge_ratio_7d")][-100:]
    assert max(weekend) < 0.7
    rate = series(out, "discharges_per_nctr_patient_7d")[-1]
    assert rate.value > 0.25 and rate.sample_size >= 20


@pytest.mark.unit
def test_rostering_rates_lead_time_and_short_notice() -> None:
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    s = b.Stream()
    # every output kept: a metric's point holds until its next one (streams.engine.emission)
    out: list[Output] = []

    def apply(event: Event) -> None:
        out.extend(state.apply(event))

    for k in range(4):
        apply(
            s.add(
                RosterPublished,
                b.T0 + _at(k),
                unit_code="U1",
                # 12 weeks or more after the feed began: every lead counts
                period_start=b.as_date(90 + k * 10),
                period_end=b.as_date(117 + k * 10),
            )
        )
    starts = b.T0 + _at(10)
    for index in range(10):
        ref = f"dd{index:014x}"
        apply(
            s.add(
                ShiftPlanned,
                b.T0 + _at(5),
                shift_ref=ref,
                unit_code="U1",
                staff_group="doctor",
                starts_at=starts,
                ends_at=starts + _at(12),
            )
        )
    for index in range(8):
        source = "agency" if index < 2 else "bank"
        apply(s.add(ShiftFilled, b.T0 + _at(6), shift_ref=f"dd{index:014x}", fill_source=source))
    # a refill replaces the first fill; a change; one short-notice absence, one with notice
    apply(s.add(ShiftFilled, b.T0 + _at(6.5), shift_ref=f"dd{1:014x}", fill_source="bank"))
    apply(s.add(ShiftChanged, b.T0 + _at(7), shift_ref=f"dd{3:014x}", change="swap"))
    apply(
        s.add(
            AbsenceReported,
            b.T0 + _at(8),
            unit_code="U1",
            staff_group="doctor",
            notice_hours=2.0,
            reason_category="sickness",
        )
    )
    apply(
        s.add(
            AbsenceReported,
            b.T0 + _at(8),
            unit_code="U1",
            staff_group="doctor",
            notice_hours=48.0,
            reason_category="other",
        )
    )
    for index in (8, 9):
        apply(s.add(ShiftUnfilled, starts, shift_ref=f"dd{index:014x}"))
    out.extend(state.advance_to(b.T0 + _at(11)))
    when = b.T0 + _at(11)
    assert value_at(out, "roster_lead_time_median_days", when) == pytest.approx(90 + 15 - 1.5 / 24)
    assert value_at(out, "planned_shifts_7d", when) == 10
    assert value_at(out, "shift_unfilled_rate_7d", when) == pytest.approx(0.2)
    assert value_at(out, "agency_fill_share_7d", when) == pytest.approx(1 / 8)
    assert value_at(out, "agency_hours_7d", when) == 12
    assert value_at(out, "unfilled_hours_7d", when) == 24
    assert value_at(out, "post_publication_change_rate_28d", when) == pytest.approx(0.1)
    assert value_at(out, "short_notice_absence_rate_14d", when) == pytest.approx(0.1)


@pytest.mark.unit
def test_referral_metrics() -> None:
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    s = b.Stream()

    def received(ref: str, day: float) -> None:
        state.apply(
            s.add(
                ReferralReceived,
                b.T0 + timedelta(days=day),
                referral_ref=ref,
                specialty_code="100",
                priority="routine",
                source="gp",
            )
        )

    # the feed's live flow began before any of them (a first outcome, of a referral before the
    # stream): so their triage states are the feed's own, and coverage is judged by day 134
    state.apply(
        s.add(
            AppointmentOutcome,
            b.T0 - timedelta(days=1),
            referral_ref="fe" + "0" * 14,
            outcome="cancelled_by_patient",
        )
    )
    # 4 old pathways (received day 0), 4 recent ones (day 130)
    for index in range(4):
        received(f"ee{index:014x}", 0)
    for index in range(4, 8):
        received(f"ee{index:014x}", 130)
    # one old pathway validated recently, one removed by validation, one closed by treatment
    state.apply(
        s.add(
            PathwayValidated,
            b.T0 + timedelta(days=131),
            referral_ref=f"ee{0:014x}",
            result="still_required",
        )
    )
    state.apply(
        s.add(
            PathwayValidated,
            b.T0 + timedelta(days=131),
            referral_ref=f"ee{1:014x}",
            result="removed",
        )
    )
    state.apply(
        s.add(
            PathwayClosed, b.T0 + timedelta(days=131), referral_ref=f"ee{2:014x}", reason="treated"
        )
    )
    # triage latencies 2 and 4 days for two recent referrals; one returned (closes)
    state.apply(
        s.add(
            ReferralTriaged,
            b.T0 + timedelta(days=132),
            referral_ref=f"ee{4:014x}",
            outcome="accepted",
        )
    )
    state.apply(
        s.add(
            ReferralTriaged,
            b.T0 + timedelta(days=134),
            referral_ref=f"ee{5:014x}",
            outcome="returned_with_advice",
        )
    )
    for outcome in ("attended", "attended", "did_not_attend", "cancelled_by_patient"):
        state.apply(
            s.add(
                AppointmentOutcome,
                b.T0 + timedelta(days=134),
                referral_ref=f"ee{4:014x}",
                outcome=outcome,
            )
        )
    # an event about a referral never received: counted, closes nothing known
    state.apply(
        s.add(
            PathwayClosed, b.T0 + timedelta(days=134), referral_ref="ff" + "0" * 14, reason="other"
        )
    )
    when = b.T0 + timedelta(days=134, hours=1)
    out = state.advance_to(when)
    assert value_at(out, "open_pathways", when) == 5  # 8 - removed - treated - returned
    assert value_at(out, "long_wait_share", when) == pytest.approx(2 / 5)
    assert value_at(out, "validation_coverage_12w", when) == pytest.approx(1 / 5)
    assert value_at(out, "untriaged_referrals", when) == 4  # 0, 3 (old), 6, 7 (recent)
    assert value_at(out, "untriaged_over_7d_share", when) == pytest.approx(2 / 4)
    assert value_at(out, "triage_latency_median_days_28d", when) == pytest.approx(2 + 0.5 / 24)
    assert value_at(out, "dna_rate_28d", when) == pytest.approx(1 / 3)
    assert value_at(out, "pathways_closed_28d", when) == 4
    # the window (days 107-134) starts before the feed's first closure (day 131): its closures
    # are not all in the feed, so the inflow/closure ratio is not judged on it
    assert value_at(out, "referral_inflow_closure_ratio_28d", when) is None
    assert state.referrals.agg.unknown_refs == 1


@pytest.mark.unit
def test_every_emitted_metric_is_listed() -> None:
    s = b.Stream()
    b.bedflow(s, 9)
    b.rostering(s, 9)
    b.referrals(s, 9)
    t = b.Stream(site="RX102")
    b.sitreps(t, 9)
    out = run(s.events(9) + t.events(9))
    names = {o.metric for o in out if hasattr(o, "metric") and hasattr(o, "sample_size")}
    assert names <= set(ALL_METRICS)
    assert len(names) >= 40


@pytest.mark.unit
def test_reading_ratio_without_denominator_is_no_metric() -> None:
    from streams.engine.readings import ratio

    assert ratio(3, 0, 3) is None
    assert ratio(1, 4, 4) == Reading(0.25, 4)
