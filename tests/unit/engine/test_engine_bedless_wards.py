"""Wards that hold no bed: a virtual ward, a discharge lounge, an assessment area.

A PAS admits patients to them with the same ADT messages as to any ward; the capacity feed gives
them no open beds. Counted as in a bed, a virtual ward of 10 patients beside a 20-bed ward with 15
read an occupancy of 1.0 (25 clamped to 20) instead of 0.75 (``streams/engine/bedflow.py``).
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from models.events import (
    Admission,
    Discharge,
    DischargeCancelled,
    DischargeDelay,
    ReadyForDischarge,
    Transfer,
    WardCapacity,
)
from streams.engine.bedflow import BedFlow, Spell
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import run, value_at

pytestmark = pytest.mark.unit


def _admit(s: b.Stream, minutes: int, ward: str) -> str:
    ref = s.ref()
    s.add(
        Admission,
        b.T0 + timedelta(minutes=minutes),
        spell_ref=ref,
        ward_code=ward,
        specialty_code="300",
        admission_method="emergency",
    )
    return ref


def _site(*, capacity_wards: dict[str, int], on_ward: int, on_virtual_ward: int) -> b.Stream:
    s = b.Stream()
    for ward, beds in capacity_wards.items():
        s.add(WardCapacity, b.T0, ward_code=ward, beds_open=beds, beds_escalation=0)
    for number in range(on_ward):
        _admit(s, 1 + number, "W1")
    for number in range(on_virtual_ward):
        _admit(s, 30 + number, "VW1")
    return s


def _at(s: b.Stream, metric: str, hours: float) -> float | None:
    return value_at(run(s.events()), metric, b.T0 + timedelta(hours=hours))


def test_virtual_ward_patients_hold_no_bed() -> None:
    s = _site(capacity_wards={"W1": 20}, on_ward=15, on_virtual_ward=10)
    s.add(WardCapacity, b.T0 + timedelta(hours=3), ward_code="W1", beds_open=20, beds_escalation=0)
    assert _at(s, "occupied_beds", 2) == 15
    assert _at(s, "bed_occupancy_ratio", 2) == pytest.approx(0.75)


def test_capacity_under_codes_no_patient_ward_has_counts_every_patient() -> None:
    """One capacity row for the whole site: no ward can be told apart, so none is left out."""
    s = _site(capacity_wards={"ALL": 40}, on_ward=15, on_virtual_ward=10)
    s.add(WardCapacity, b.T0 + timedelta(hours=3), ward_code="ALL", beds_open=40, beds_escalation=0)
    assert _at(s, "occupied_beds", 2) == 25


def test_no_capacity_feed_counts_every_patient() -> None:
    s = _site(capacity_wards={}, on_ward=15, on_virtual_ward=10)
    s.add(WardCapacity, b.T0 + timedelta(hours=3), ward_code="W1", beds_open=20, beds_escalation=0)
    assert _at(s, "occupied_beds", 2) == 25


def test_a_discharge_lounge_frees_the_bed_and_its_discharge_still_counts() -> None:
    s = _site(capacity_wards={"W1": 20}, on_ward=10, on_virtual_ward=0)
    leaving = _admit(s, 50, "W1")
    s.add(WardCapacity, b.T0, ward_code="W2", beds_open=10, beds_escalation=0)
    s.add(
        ReadyForDischarge, b.T0 + timedelta(hours=1, minutes=10), spell_ref=leaving, ward_code="W1"
    )
    s.add(
        DischargeDelay,
        b.T0 + timedelta(hours=1, minutes=20),
        spell_ref=leaving,
        ward_code="W1",
        reason="hospital_patient_transport",
    )
    s.add(
        Transfer,
        b.T0 + timedelta(hours=3, minutes=5),
        spell_ref=leaving,
        from_ward_code="W1",
        to_ward_code="DL",
    )
    s.add(
        Discharge,
        b.T0 + timedelta(hours=5, minutes=40),
        spell_ref=leaving,
        ward_code="DL",
        destination="usual_residence",
    )
    s.add(WardCapacity, b.T0 + timedelta(hours=7), ward_code="W1", beds_open=20, beds_escalation=0)
    out = run(s.events())

    def at(metric: str, hours: int) -> float | None:
        return value_at(out, metric, b.T0 + timedelta(hours=hours))

    assert (at("occupied_beds", 3), at("nctr_patients", 3)) == (11, 1)
    # in the lounge from 03:05: out of the beds, the NCTR patients and the transport delays
    assert (at("occupied_beds", 4), at("nctr_patients", 4)) == (10, 0)
    assert at("occupied_beds", 6) == 10
    assert at("discharges_7d", 5) == 0
    assert at("discharges_7d", 6) == 1


def test_a_cancelled_discharge_puts_the_patient_back_in_a_bed_on_its_ward() -> None:
    s = _site(capacity_wards={"W1": 20}, on_ward=10, on_virtual_ward=0)
    ref = _admit(s, 50, "VW1")
    s.add(
        Discharge,
        b.T0 + timedelta(hours=2, minutes=5),
        spell_ref=ref,
        ward_code="VW1",
        destination="usual_residence",
    )
    s.add(DischargeCancelled, b.T0 + timedelta(hours=3, minutes=5), spell_ref=ref, ward_code="W1")
    s.add(WardCapacity, b.T0 + timedelta(hours=5), ward_code="W1", beds_open=20, beds_escalation=0)
    out = run(s.events())
    assert value_at(out, "occupied_beds", b.T0 + timedelta(hours=2)) == 10
    assert value_at(out, "occupied_beds", b.T0 + timedelta(hours=4)) == 11


def test_a_spell_saved_before_wards_were_remembered_counts_as_in_a_bed() -> None:
    # a Spell as states saved it before it had a ward: six fields
    old = msgspec.msgpack.decode(
        msgspec.msgpack.encode([5, False, None, -1, True, False]), type=Spell
    )
    assert old.ward == ""
    flow = BedFlow(set())
    shard, _ = flow.spells.shard("ab00000000000000000001")
    shard["ab00000000000000000001"] = old
    flow.agg.occupied = 1
    flow.agg.ward_beds["W1"] = 20
    flow.agg.wards["VW1"] = [2, 0, 0, 0, 0]
    flow.agg.wards["W1"] = [3, 0, 0, 0, 0]
    flow.agg.occupied += 5
    assert flow.site_counts()[0] == 4  # the old spell and W1's three; VW1's two left out
