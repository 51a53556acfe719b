"""Urgent and emergency care on real feeds: the ED domain's data-quality state (warming_up, ok,
gap, recovering) keeps its kinds from opening or escalating on what a feed did, and what a gap
lost is cleared once it has recovered (``docs/catalogue.md`` "Data quality")."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from models.events import AmbulanceHandover, EdDeparture, Event
from models.outputs import Transition
from streams.engine import Output
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE, run, series, steps, transitions

pytestmark = pytest.mark.unit

ED_KINDS = {kind for kind, spec in CATALOGUE.kinds.items() if spec.domain == "ed"}
GAP, RECOVERING, OK = 2.0, 3.0, 1.0


def _ed_transitions(out: list[Output]) -> list[Transition]:
    return [t for t in transitions(out) if t.kind in ED_KINDS]


def _without(
    events: list[Event], cls: type[Event] | None, start: datetime, end: datetime
) -> list[Event]:
    """The events minus those of ``cls`` (None: all) that happened in [start, end)."""
    return [
        e
        for e in events
        if not ((cls is None or isinstance(e, cls)) and start <= e.occurred_at < end)
    ]


def test_a_36_hour_ed_feed_gap_is_a_gap_and_opens_no_ed_kind() -> None:
    s = b.Stream(seed=21)
    b.ed(s, 45)
    start, end = b.day_at(20), b.day_at(20) + timedelta(hours=36)
    out = run(_without(s.events(45), None, start, end))
    quality = {p.value for p in series(out, "data_quality_ed") if start <= p.evaluated_at}
    assert quality >= {GAP, RECOVERING, OK}
    assert _ed_transitions(out) == []


@pytest.mark.parametrize("cls", [EdDeparture, AmbulanceHandover])
def test_one_ed_event_type_silent_for_two_days_is_a_gap(cls: type[Event]) -> None:
    s = b.Stream(seed=22)
    b.ed(s, 45)
    start, end = b.day_at(20), b.day_at(22)
    out = run(_without(s.events(45), cls, start, end))
    quality = [p for p in series(out, "data_quality_ed") if start <= p.evaluated_at]
    assert {p.value for p in quality if p.evaluated_at <= end} >= {GAP}
    assert {p.value for p in quality} >= {RECOVERING, OK}
    assert _ed_transitions(out) == []


def test_attendances_whose_departure_a_gap_lost_leave_the_department_once_it_recovered() -> None:
    s = b.Stream(seed=23)
    b.ed(s, 45)
    start, end = b.day_at(20), b.day_at(22)
    clean = s.events(45)
    out = run(_without(clean, EdDeparture, start, end))
    quality = series(out, "data_quality_ed")
    ok_again = min(p.evaluated_at for p in quality if p.evaluated_at > end and p.value == OK)
    baseline = {p.evaluated_at: p.value for p in series(run(clean), "ed_in_department")}
    during = [p for p in series(out, "ed_in_department") if start < p.evaluated_at <= end]
    assert max(p.value - baseline[p.evaluated_at] for p in during) > 100  # held in the department
    after = [p for p in series(out, "ed_in_department") if p.evaluated_at >= ok_again]
    assert after and all(p.value <= baseline[p.evaluated_at] + 5 for p in after)


def test_an_ed_kind_neither_opens_nor_escalates_while_its_data_is_not_ok() -> None:
    s = b.Stream(seed=24)
    # handover delays from day 14 to day 40; the department's departures stop on days 15-17
    b.ed(s, 45, handover_minutes=b.window(14, 40, 40.0, 15.0))
    start, end = b.day_at(15), b.day_at(17)
    out = run(_without(s.events(45), EdDeparture, start, end))
    status = {p.evaluated_at: p.value for p in series(out, "data_quality_ed")}
    path = steps(out, "ambulance_handover_automation")
    assert [to for _, to, _ in path][:2] == ["emerging", "active"]  # still found ...
    assert all(status[at] == OK for _, _, at in path)  # ... only where the data is ok
    assert path[1][2] > end  # and not escalated inside the gap or its recovery
    assert {status[at] for at in status if start <= at <= end + timedelta(days=7)} >= {
        GAP,
        RECOVERING,
    }


def test_an_ed_connecting_mid_stream_warms_up_and_flags_nothing() -> None:
    s = b.Stream(seed=25)
    b.ed(s, 60)
    # the department's feed connects on day 30: patients already in it depart unseen
    out = run([e for e in s.events(60) if e.occurred_at >= b.day_at(30)])
    quality = series(out, "data_quality_ed")
    assert quality[0].value == 0.0
    assert min(p.evaluated_at for p in quality if p.value == OK) >= b.day_at(37)
    assert _ed_transitions(out) == []


def test_ed_departures_backfilled_after_a_gap_count_at_their_own_time() -> None:
    s = b.Stream(seed=26)
    b.ed(s, 45)
    start, end = b.day_at(20), b.day_at(22)
    clean = s.events(45)
    # the departures of the gap arrive in one burst when it ends, with their own times
    held = [e for e in clean if isinstance(e, EdDeparture) and start <= e.occurred_at < end]
    rest = [e for e in clean if e not in held]
    at_end = next(i for i, e in enumerate(rest) if e.occurred_at >= end)
    out = run(rest[:at_end] + held + rest[at_end:])
    baseline = {p.evaluated_at: p.value for p in series(run(clean), "ed_departures_7d")}
    after = [
        p for p in series(out, "ed_departures_7d") if p.evaluated_at >= end + timedelta(hours=1)
    ]
    assert after and all(p.value == baseline[p.evaluated_at] for p in after)
    assert _ed_transitions(out) == []


def test_an_ed_gap_over_67_hours_recovers_in_a_week_as_the_ed_s_windows_are_7_days() -> None:
    # The 28-day recovery of a long gap is for the 28-day windows of the other domains; every
    # ED metric is a 7-day window, so a long weekend's outage blinded the ED kinds for a month.
    s = b.Stream(seed=27)
    b.ed(s, 60)
    start, end = b.day_at(20), b.day_at(20) + timedelta(hours=70)
    out = run(_without(s.events(60), None, start, end))
    quality = series(out, "data_quality_ed")
    assert any(p.value == GAP for p in quality if start <= p.evaluated_at <= end)
    ok_again = min(p.evaluated_at for p in quality if p.evaluated_at > end and p.value == OK)
    assert ok_again <= end + timedelta(days=7, hours=2)


def _diverted(events: list[Event], start: datetime, end: datetime) -> list[Event]:
    """The events without the attendances that arrived by ambulance in [start, end)."""
    from models.events import EdArrival

    away = {
        e.attendance_ref
        for e in events
        if isinstance(e, EdArrival)
        and e.arrival_mode == "ambulance"
        and start <= e.occurred_at < end
    }
    return [e for e in events if getattr(e, "attendance_ref", None) not in away]


def test_an_ambulance_divert_is_no_gap_but_handovers_alone_stopping_is() -> None:
    # On a divert ambulances go elsewhere: their arrivals and handovers stop together while
    # walk-ins go on. That is the department's operation, not its feed: read as a handover
    # gap, it blinded the ED kinds for a week in exactly the crisis they should flag.
    s = b.Stream(seed=28)
    b.ed(s, 40, arrivals=b.const(300))
    start, end = b.day_at(20) + timedelta(hours=9), b.day_at(20) + timedelta(hours=19)
    events = s.events(40)
    diverted = series(run(_diverted(events, start, end)), "data_quality_ed")
    assert GAP not in {p.value for p in diverted}
    # the handover interface down while ambulances still arrive: a gap, as before
    dropped = series(run(_without(events, AmbulanceHandover, start, end)), "data_quality_ed")
    assert GAP in {p.value for p in dropped if start <= p.evaluated_at}
