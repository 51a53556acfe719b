"""Sitrep scopes: evaluated per report date at trust scope, bed-flow kinds from aggregates."""

from __future__ import annotations

import pytest

from streams.engine import Engine
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE, run, series, steps


@pytest.mark.unit
def test_sitrep_metrics_are_evaluated_per_report_date_at_trust_scope() -> None:
    s = b.Stream()
    b.sitreps(s, 10)
    out = run(s.events(11))  # day 9's reports arrive on day 10
    occupancy = series(out, "bed_occupancy_ratio")
    assert [p.evaluated_at for p in occupancy] == [b.day_at(d) for d in range(10)]
    assert {p.site_code for p in occupancy} == {None}
    assert occupancy[0].value == pytest.approx(0.9)
    nctr = series(out, "nctr_share_7d")[-1]
    assert nctr.value == pytest.approx(150 / 900)
    assert series(out, "discharges_per_nctr_patient_7d")[-1].value == pytest.approx(0.5)
    delay = series(out, "delay_share_care_transfer_hub")
    # The week starting day 0 is reported on day 7, after dates 0-5 were evaluated: it is kept
    # and counts at the next evaluated date (day 6), never re-evaluating the past.
    assert [p.evaluated_at for p in delay] == [b.day_at(6)]
    assert delay[0].value == pytest.approx(20 / 150)


@pytest.mark.unit
def test_capacity_and_coordination_from_daily_sitreps() -> None:
    line = CATALOGUE.kinds["discharge_coordination"].conditions[0].threshold
    s = b.Stream()
    # NCTR 6 points above the catalogue's line on the 960 beds occupied in the bottleneck
    nctr = round(960 * (line + 0.06))
    b.sitreps(s, 40, occupied=b.window(10, 20, 960, 800), nctr=b.window(10, 24, nctr, 150))
    out = run(s.events(41))
    capacity = steps(out, "capacity_forecasting")
    assert [to for _, to, _ in capacity] == ["emerging", "active", "resolved"]
    assert capacity[0][2] == b.day_at(10) and capacity[1][2] == b.day_at(12)  # 3 reports
    coordination = steps(out, "discharge_coordination")
    assert [to for _, to, _ in coordination][:2] == ["emerging", "active"]
    # the 7-day mean passes the line a few days in; then 7 consecutive daily reports make it active
    assert b.day_at(10) <= coordination[0][2] < coordination[1][2] <= b.day_at(22)
    activation = [
        o
        for o in out
        if hasattr(o, "transition")
        and o.transition is not None
        and o.transition.kind == "discharge_coordination"
        and o.transition.to_status == "active"
    ]
    assert activation[0].opportunity.evidence["persistence"]["held_evaluations"] == 7
    assert coordination[2][1] == "resolved" and coordination[2][2] > b.day_at(20)


@pytest.mark.unit
def test_a_sitrep_for_an_evaluated_date_is_kept_not_re_evaluated() -> None:
    s = b.Stream()
    b.sitreps(s, 5)
    events = s.events(5)
    engine = Engine(CATALOGUE)
    for event in events:
        engine.process(event)
    stale = b.Stream(seed=9)
    b.sitreps(stale, 1, occupied=b.const(990))
    out = []
    for event in stale.events(2):  # day 0's reports arrive on day 1
        out.extend(
            engine.process(
                event.__class__(
                    **{
                        **{f: getattr(event, f) for f in event.__struct_fields__},
                        "occurred_at": events[-1].occurred_at,
                        "event_id": event.event_id.replace("0000-0000", "1111-0000", 1),
                    }
                )
            )
        )
    assert [p for p in series(out, "bed_occupancy_ratio") if p.evaluated_at == b.day_at(0)] == []
    flushed = engine.flush()
    # Kept: day 0's 990 occupied beds count in the 7-day NCTR share of the next date evaluated.
    share = series(flushed, "nctr_share_7d")[-1]
    assert share.evaluated_at == b.day_at(3)
    assert share.value == pytest.approx((150 / 990 + 3 * 150 / 900) / 4)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("discharged", "occupied", "flagged"),
    [
        # 25 a day on 900 occupied beds (0.028 a bed) is a partial count, as RWP's 8 a day on
        # its ~900 beds until August 2023: its 0.17 per NCTR patient must not trip the trigger
        (25, 900, False),
        # a full count (0.04 a bed) over the rate line: 36 / 150 = 0.24 per NCTR patient
        (36, 900, False),
        # a full count (29 / 720 = 0.0403 a bed) under it: 29 / 150 = 0.19
        (29, 720, True),
    ],
)
def test_a_partial_discharge_count_does_not_judge_the_discharge_rate(
    discharged: int, occupied: int, flagged: bool
) -> None:
    rate = CATALOGUE.kinds["discharge_coordination"].conditions[1].threshold
    s = b.Stream()
    b.sitreps(s, 30, discharged=b.const(discharged), occupied=b.const(occupied), nctr=b.const(150))
    out = run(s.events(31))
    assert series(out, "discharges_per_occupied_bed_7d")[-1].value == pytest.approx(
        discharged / occupied
    )
    emitted = series(out, "discharges_per_nctr_patient_7d")
    assert bool(emitted) == (discharged / occupied >= 0.04)
    if emitted:
        assert (emitted[-1].value < rate) == flagged
    assert bool(steps(out, "discharge_coordination")) == flagged


@pytest.mark.unit
def test_a_daily_evaluation_is_sized_with_the_month_s_bed_report() -> None:
    """Published bed sitreps are monthly: a discharge_coordination episode evaluated on a daily
    discharge report must count its excess NCTR against the month's occupied beds, not against
    none (which sized it at every NCTR patient, 5-10 times too large)."""
    from models.events import BedSitrep, DischargeSitrep

    line = CATALOGUE.kinds["discharge_coordination"].impact["nctr_share_line"]
    s = b.Stream()
    first = b.T0.date().replace(day=1)
    s.add(
        BedSitrep,
        b.T0,
        site_code=None,
        period_start=first,
        period="month",
        ga_beds_available=1000,
        ga_beds_occupied=900,
    )
    for day in range(25):
        report = first + b.timedelta(days=day)
        at = b.T0 + b.timedelta(days=day + 1, hours=9)
        # NCTR 400 of 900 occupied (44%): over the 38% line every day
        s.add(
            DischargeSitrep,
            at,
            site_code=None,
            report_date=report,
            nctr_patients=400,
            discharged_total=150,
        )
    out = run(s.events(26))
    sized = [
        o.opportunity
        for o in out
        if hasattr(o, "opportunity") and o.opportunity.kind == "discharge_coordination"
    ]
    assert sized and sized[-1].status == "active"
    assert [o.weekly_bed_days for o in sized] == pytest.approx(
        [(400 - line * 900) * 7] * len(sized)
    )
    assert sized[-1].evidence["impact"]["inputs"]["occupied_beds"] == 900


@pytest.mark.unit
def test_a_trust_s_episode_is_sized_on_the_week_its_trigger_judged() -> None:
    """NCTR 350 and 450 on alternate days: the 7-day share (44% of 900 beds) is what triggers,
    so the weekly excess is the week's mean NCTR over the line, not one day's count (on a
    350 day, 350 - 315 = 35 a day instead of 85)."""
    line = CATALOGUE.kinds["discharge_coordination"].impact["nctr_share_line"]
    s = b.Stream()
    b.sitreps(s, 30, nctr=lambda day: 350 if day % 2 else 450, occupied=b.const(900))
    out = run(s.events(31))
    sized = [
        o.opportunity
        for o in out
        if hasattr(o, "opportunity") and o.opportunity.kind == "discharge_coordination"
    ]
    week = [o for o in sized if o.last_evaluated_at >= b.day_at(7)]
    assert week and sized[-1].status == "active"
    # the evaluated day's 7 report days hold four of one count and three of the other
    means = {round((4 * 450 + 3 * 350) / 7), round((4 * 350 + 3 * 450) / 7)}
    assert {o.evidence["impact"]["inputs"]["nctr_patients"] for o in week} <= means
    assert all(o.weekly_bed_days > (350 - line * 900) * 7 for o in week)
