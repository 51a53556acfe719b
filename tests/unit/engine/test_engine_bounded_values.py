"""Values the engine derives must stay in their range on legal input: a share in [0, 1], hours
and forecast ends not below 0. Each case came from a randomized hunt over contract-valid
streams (events of every type, odd shapes, every delivery order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.events import (
    Admission,
    Discharge,
    DischargeDelay,
    Event,
    ShiftFilled,
    ShiftPlanned,
    WardCapacity,
)
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import emitted, run

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday


def _values(events: list[Event], metric: str) -> list[float]:
    return [point.value for point in emitted(run(events), metric)]


def _admit(s: b.Stream, at: datetime, ref: str) -> None:
    s.add(
        Admission,
        at,
        spell_ref=ref,
        ward_code="W1",
        specialty_code="300",
        admission_method="emergency",
    )


def test_agency_hours_added_and_taken_out_again_leave_zero() -> None:
    """Three agency fills of 8 h 20, 7 h 40 and 11 h 10, each replaced by bank staff: the
    binary fractions left -5.3e-15 agency hours."""
    s = b.Stream()
    start = T0 + timedelta(hours=7)
    lengths = (timedelta(hours=8, minutes=20), timedelta(hours=7, minutes=40))
    refs = [s.ref() for _ in range(3)]
    for ref, length in zip(refs, (*lengths, timedelta(hours=11, minutes=10)), strict=True):
        s.add(
            ShiftPlanned,
            start - timedelta(days=2),
            shift_ref=ref,
            unit_code="U1",
            staff_group="registered_nurse",
            starts_at=start,
            ends_at=start + length,
        )
        s.add(ShiftFilled, start - timedelta(days=1), shift_ref=ref, fill_source="agency")
    for ref in refs:
        s.add(ShiftFilled, start - timedelta(hours=12), shift_ref=ref, fill_source="bank")
    s.add(
        ShiftPlanned,
        start + timedelta(hours=3),
        shift_ref=s.ref(),
        unit_code="U1",
        staff_group="registered_nurse",
        starts_at=start + timedelta(days=1),
        ends_at=start + timedelta(days=1, hours=8),
    )
    values = _values(s.events(), "agency_hours_7d")
    assert values and all(value >= 0 for value in values)
    assert values[-1] == 0.0


def test_a_delay_reason_share_is_of_the_nctr_patients_it_is_clamped_with() -> None:
    """Five NCTR patients on two open beds: NCTR is clamped to 2, the reason count was not
    (a documentation share of 2.5)."""
    s = b.Stream()
    s.add(WardCapacity, T0, ward_code="W1", beds_open=2)
    for number in range(5):
        ref = s.ref()
        _admit(s, T0 + timedelta(minutes=number), ref)
        s.add(
            DischargeDelay,
            T0 + timedelta(minutes=10 + number),
            spell_ref=ref,
            ward_code="W1",
            reason="hospital_discharge_documentation",
        )
    s.add(WardCapacity, T0 + timedelta(hours=3, minutes=1), ward_code="W1", beds_open=2)
    shares = _values(s.events(), "delay_share_discharge_documentation")
    assert shares and all(0 <= share <= 1 for share in shares)


def test_hours_with_no_open_beds_add_no_occupancy_to_the_24_hour_ratio() -> None:
    """A ward at 0 open beds holding 8 patients, reopened with 10: its closed hours added 8 to
    the numerator and nothing to the denominator (a 24-hour occupancy of 16.8)."""
    s = b.Stream()
    s.add(WardCapacity, T0, ward_code="W1", beds_open=0)
    for number in range(8):
        _admit(s, T0 + timedelta(minutes=number), s.ref())
    s.add(WardCapacity, T0 + timedelta(hours=20), ward_code="W1", beds_open=10)
    s.add(WardCapacity, T0 + timedelta(hours=23, minutes=30), ward_code="W1", beds_open=10)
    ratios = _values(s.events(), "bed_occupancy_ratio_24h")
    assert ratios and all(0 <= value <= 1 for value in ratios)


def test_the_forecasts_high_end_is_never_below_zero_nor_its_low_end() -> None:
    """A ward emptying over weeks: the model over-predicts, every residual is negative, and
    the 80% interval's high end went below 0 (and below its low end, clamped at 0)."""
    start = datetime(2024, 2, 29, tzinfo=UTC)
    s = b.Stream()
    s.add(WardCapacity, start, ward_code="W1", beds_open=35)
    first, second = s.ref(), s.ref()
    _admit(s, start + timedelta(hours=18.5), first)
    _admit(s, start + timedelta(hours=25.5), second)
    s.add(
        Discharge,
        start + timedelta(days=6, hours=10),
        spell_ref=second,
        ward_code="W1",
        destination="died",
    )
    s.add(
        Discharge,
        start + timedelta(days=26, hours=7),
        spell_ref=first,
        ward_code="W1",
        destination="other",
    )
    out = run(s.events())
    for horizon in (24, 72):
        name = f"bed_occupancy_forecast_{horizon}h"
        highs = {p.evaluated_at: p.value for p in emitted(out, f"{name}_high")}
        lows = {p.evaluated_at: p.value for p in emitted(out, f"{name}_low")}
        assert highs and all(value >= 0 for value in highs.values())
        assert all(highs[at] >= low for at, low in lows.items() if at in highs)
