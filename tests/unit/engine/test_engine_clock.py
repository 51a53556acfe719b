"""Event-time evaluation: boundaries, lateness, duplicates, flush, unknown spells."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from models.events import Admission, Discharge, ReadyForDischarge, WardCapacity
from models.outputs import MetricPoint
from streams.engine import Engine, ScopeState
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE, series, value_at

SCOPE = CATALOGUE.for_scope(b.TRUST, b.SITE)
H = timedelta(hours=1)


def _state() -> tuple[ScopeState, b.Stream]:
    return ScopeState.new(b.TRUST, b.SITE, SCOPE), b.Stream()


def _admit(s: b.Stream, at_hours: float, ref: str) -> Admission:
    return s.add(
        Admission,
        b.T0 + timedelta(hours=at_hours),
        spell_ref=ref,
        ward_code="W1",
        specialty_code="300",
        admission_method="emergency",
    )  # type: ignore[return-value]


@pytest.mark.unit
def test_a_boundary_counts_only_events_before_it() -> None:
    state, s = _state()
    out = state.apply(s.add(WardCapacity, b.T0 + 0.5 * H, ward_code="W1", beds_open=10))
    assert out == []  # no boundary passed yet
    state.apply(_admit(s, 0.75, "aa00000000000001"))
    # An event exactly on 01:00 is applied after the 01:00 evaluation.
    out = state.apply(_admit(s, 1.0, "aa00000000000002"))
    assert value_at(out, "occupied_beds", b.T0 + H) == 1
    out = state.apply(_admit(s, 3.5, "aa00000000000003"))
    # every boundary passed is evaluated, in order
    times = sorted({p.evaluated_at for p in out if isinstance(p, MetricPoint)})
    assert times == [b.T0 + 2 * H, b.T0 + 3 * H]
    assert value_at(out, "occupied_beds", b.T0 + 3 * H) == 2
    assert value_at(out, "bed_occupancy_ratio", b.T0 + 3 * H) == pytest.approx(0.2)


@pytest.mark.unit
def test_late_within_allowance_is_accepted_but_not_re_emitted() -> None:
    state, s = _state()
    state.apply(_admit(s, 0.2, "aa00000000000001"))
    state.apply(_admit(s, 5.0, "aa00000000000002"))
    late_ok = _admit(s, 3.5, "aa00000000000003")  # 1.5 h behind the watermark
    assert state.apply(late_ok) == []
    assert (state.accepted, state.late) == (3, 0)
    out = state.apply(_admit(s, 6.0, "aa00000000000004"))
    assert value_at(out, "occupied_beds", b.T0 + 6 * H) == 3  # counted from the next boundary


@pytest.mark.unit
def test_late_beyond_allowance_is_counted_late_yet_its_patient_is_in_a_bed() -> None:
    state, s = _state()
    state.apply(_admit(s, 0.2, "aa00000000000001"))
    state.apply(_admit(s, 5.0, "aa00000000000002"))
    assert state.apply(_admit(s, 2.9, "aa00000000000003")) == []
    assert (state.accepted, state.late) == (2, 1)
    out = state.apply(_admit(s, 6.0, "aa00000000000004"))
    # the admission changes the entity state (no past hour is re-evaluated)
    assert value_at(out, "occupied_beds", b.T0 + 6 * H) == 3


@pytest.mark.unit
def test_a_duplicate_changes_nothing() -> None:
    state, s = _state()
    first = _admit(s, 0.2, "aa00000000000001")
    state.apply(first)
    state.apply(
        s.add(
            Discharge,
            b.T0 + 0.4 * H,
            spell_ref="aa00000000000001",
            ward_code="W1",
            destination="usual_residence",
        )
    )
    assert state.apply(first) == []  # redelivered: must not re-open the spell
    assert state.counters == {
        "accepted": 2,
        "duplicate": 1,
        "late": 0,
        "after_close": 0,
        "expired": 0,
        "occupancy_clamped": 0,
        "unplanned_shift_events": 0,
        "implausible_handovers": 0,
    }
    out = state.apply(_admit(s, 1.5, "aa00000000000002"))
    assert value_at(out, "occupied_beds", b.T0 + H) == 0


@pytest.mark.unit
def test_dedupe_memory_is_bounded_by_the_horizon() -> None:
    state, s = _state()
    for minute in range(0, 48 * 60, 10):
        state.apply(_admit(s, minute / 60, f"aa{minute:014x}"))
    hours = state.dedupe.held_hours()
    assert max(hours) - min(hours) <= 3  # lateness 2 h + 1 h


@pytest.mark.unit
def test_spells_never_admitted_are_adopted_or_counted() -> None:
    state, s = _state()
    state.apply(s.add(WardCapacity, b.T0, ward_code="W1", beds_open=10))
    # ready_for_discharge for a spell admitted before the stream began: adopted (it is in a bed)
    state.apply(
        s.add(ReadyForDischarge, b.T0 + 0.2 * H, spell_ref="bb00000000000001", ward_code="W1")
    )
    # discharge of an unknown spell: a discharge, but no bed to free
    state.apply(
        s.add(
            Discharge,
            b.T0 + 0.3 * H,
            spell_ref="bb00000000000002",
            ward_code="W1",
            destination="care_home",
        )
    )
    out = state.advance_to(b.T0 + H)
    assert value_at(out, "occupied_beds", b.T0 + H) == 1
    assert value_at(out, "nctr_patients", b.T0 + H) == 1
    assert value_at(out, "discharges_7d", b.T0 + H) == 1
    assert state.bedflow.agg.adopted == 1 and state.bedflow.agg.unknown_discharges == 1


@pytest.mark.unit
def test_flush_stops_at_the_hour_of_the_last_event_and_a_replay_is_identical() -> None:
    s = b.Stream()
    b.bedflow(s, 3)
    events = s.events(3)
    engine = Engine(CATALOGUE)
    first = [o for e in events for o in engine.process(e)] + engine.flush()
    last_hour = max(e.occurred_at for e in events).replace(minute=0, second=0, microsecond=0)
    evaluated = {o.evaluated_at for o in first if isinstance(o, MetricPoint)}
    assert max(evaluated) == last_hour + H
    replay = Engine(CATALOGUE)
    assert [o for e in events for o in replay.process(e)] + replay.flush() == first


@pytest.mark.unit
def test_no_data_no_metrics() -> None:
    state, _ = _state()
    assert state.advance_to(b.T0 + 5 * H) == []
    assert state.flush() == []


@pytest.mark.unit
def test_clinic_outcomes_recorded_hours_after_the_clinic_still_count() -> None:
    """A PAS records outcomes when the clinic list is closed: an outcome arriving 10 h after
    its appointment, behind the referrals feed's newest events, counts as one in time does."""
    from models.events import AppointmentOutcome
    from tests.unit.engine.engine_support import run

    s = b.Stream()
    b.referrals(s, 70, dna=b.const(0.2))
    events = s.events(70)
    recorded = timedelta(hours=10)

    def arrival(event: object) -> datetime:
        late = recorded if isinstance(event, AppointmentOutcome) else timedelta(0)
        return event.occurred_at + late  # type: ignore[attr-defined, no-any-return]

    in_time = run(events)
    late = run(sorted(events, key=arrival))
    # the last boundary, evaluated after every outcome has arrived on both paths (a late one
    # counts from the next boundary on, never in a boundary already emitted)
    for metric in ("dna_rate_28d", "appointment_outcomes_28d"):
        expected, got = series(in_time, metric)[-1], series(late, metric)[-1]
        assert got.evaluated_at == expected.evaluated_at
        assert (got.value, got.sample_size) == (expected.value, expected.sample_size)
    assert series(in_time, "dna_rate_28d")[-1].value > 0.1


@pytest.mark.unit
def test_late_events_over_months_of_hours_keep_the_dedupe_small_and_count_once() -> None:
    """A waiting list's bookings sent at connection, back-dated over months: each was remembered
    under its own hour, a dedupe part per hour in the state's index (a 1 MB changelog record
    stopped the demo's worker). They are remembered under the watermark's hour, and a late
    outcome sent twice still counts once."""
    from models.events import AppointmentBooked, AppointmentOutcome, ReferralReceived

    state = ScopeState.new("RX1", "RX101", CATALOGUE.for_scope("RX1", "RX101"))
    s = b.Stream()
    now = b.T0 + timedelta(days=200)
    state.apply(
        s.add(
            ReferralReceived,
            now,
            referral_ref="aa" + "0" * 14,
            specialty_code="100",
            priority="routine",
            source="gp",
        )
    )
    for index in range(1000):
        state.apply(
            s.add(
                AppointmentBooked,
                b.T0 + timedelta(hours=3 * index),
                referral_ref=f"bb{index:014x}",
                appointment_at=now + timedelta(days=3),
                attendance_type="first",
            )
        )
    assert len(state.dedupe.held_hours()) <= 2
    outcome = s.add(
        AppointmentOutcome,
        now - timedelta(days=1),
        referral_ref="cc" + "0" * 14,
        outcome="attended",
    )
    state.apply(outcome)
    state.apply(outcome)  # redelivered
    assert (state.late, state.core.duplicate) == (1001, 1)
