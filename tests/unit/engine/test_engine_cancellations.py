"""Cancellations (HL7 v2 A11, A12, A13) undo the event they name from their own time on.

Each is tested in order and arriving after later events of the same spell; occupancy, NCTR
patients and the 7-day discharge count are read at hour boundaries after the cancellation.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.events import (
    Admission,
    AdmissionCancelled,
    Discharge,
    DischargeCancelled,
    Event,
    ReadyForDischarge,
    Transfer,
    TransferCancelled,
    WardCapacity,
)
from streams.engine import Engine
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE, values_at

pytestmark = pytest.mark.unit

BEDFLOW_TOPIC = "nhs.bedflow.v1"


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def _stream_with_two_patients() -> tuple[b.Stream, str, str]:
    """Two admitted patients in W1 (one of them NCTR) from 00:10; capacity 30."""
    s = b.Stream()
    s.add(WardCapacity, b.T0, ward_code="W1", beds_open=30, beds_escalation=0)
    kept, other = s.ref(), s.ref()
    for ref in (kept, other):
        s.add(
            Admission,
            b.T0 + _h(0.2),
            spell_ref=ref,
            ward_code="W1",
            specialty_code="300",
            admission_method="emergency",
        )
    s.add(ReadyForDischarge, b.T0 + _h(0.5), spell_ref=other, ward_code="W1")
    return s, kept, other


def _readings(events: list[Event], hours: float) -> tuple[dict[str, float], Engine]:
    """Metric values at ``T0 + hours``, processing ``events`` in the order given and then a tick
    an hour later that closes that boundary."""
    engine = Engine(CATALOGUE)
    out: list[object] = []
    tick = WardCapacity(
        event_id="00000000-0000-4000-8000-00000000ffff",
        schema_version=1,
        occurred_at=b.T0 + _h(hours + 1),
        trust_code=b.TRUST,
        site_code=b.SITE,
        ward_code="ZZ",
        beds_open=0,
    )
    for event in [*events, tick]:
        out.extend(engine.process(event))
    when = b.T0 + _h(hours)
    return values_at(out, when), engine


def test_a_cancelled_admission_frees_the_bed_and_its_later_events_adopt_nothing() -> None:
    s, _, other = _stream_with_two_patients()
    s.add(AdmissionCancelled, b.T0 + _h(2.5), spell_ref=other, ward_code="W1")
    # the PAS resends an update for the cancelled spell: it must not be adopted back into a bed
    s.add(ReadyForDischarge, b.T0 + _h(3.5), spell_ref=other, ward_code="W1")
    values, engine = _readings(s.events(), 5)
    assert values["occupied_beds"] == 1
    assert values["nctr_patients"] == 0
    assert engine.counters["after_close"] == 1


def test_an_admission_cancelled_after_its_transfer_and_discharge_counts_no_discharge() -> None:
    s, _, other = _stream_with_two_patients()
    s.add(Transfer, b.T0 + _h(1.5), spell_ref=other, from_ward_code="W1", to_ward_code="W2")
    s.add(Discharge, b.T0 + _h(2.5), spell_ref=other, ward_code="W2", destination="other")
    s.add(AdmissionCancelled, b.T0 + _h(3.5), spell_ref=other, ward_code="W2")
    before, _ = _readings(s.events(), 3)
    assert before["discharges_7d"] == 1
    values, _ = _readings(s.events(), 5)
    assert values["occupied_beds"] == 1
    assert values["discharges_7d"] == 0


def test_a_cancelled_discharge_puts_the_patient_back_in_a_bed_as_nctr() -> None:
    s, _, other = _stream_with_two_patients()
    s.add(Discharge, b.T0 + _h(2.5), spell_ref=other, ward_code="W1", destination="care_home")
    after_discharge, _ = _readings(s.events(), 3)
    assert after_discharge["occupied_beds"] == 1
    assert after_discharge["nctr_patients"] == 0
    s.add(DischargeCancelled, b.T0 + _h(3.5), spell_ref=other, ward_code="W1")
    values, _ = _readings(s.events(), 5)
    assert values["occupied_beds"] == 2
    assert values["nctr_patients"] == 1
    assert values["discharges_7d"] == 0


def test_a_discharge_cancelled_after_a_late_update_still_reopens_the_spell() -> None:
    s, _, other = _stream_with_two_patients()
    s.add(Discharge, b.T0 + _h(2.5), spell_ref=other, ward_code="W1", destination="care_home")
    # an update after the discharge (counted after_close), then the A13
    s.add(Transfer, b.T0 + _h(3.2), spell_ref=other, from_ward_code="W1", to_ward_code="W1")
    s.add(DischargeCancelled, b.T0 + _h(3.5), spell_ref=other, ward_code="W1")
    s.add(Discharge, b.T0 + _h(4.5), spell_ref=other, ward_code="W1", destination="care_home")
    values, _ = _readings(s.events(), 5)
    # discharged again for real: one discharge in the week, not two, and the bed free
    assert values["occupied_beds"] == 1
    assert values["discharges_7d"] == 1


def test_a_cancelled_discharge_of_a_spell_never_seen_adopts_it_into_a_bed() -> None:
    s, _, _ = _stream_with_two_patients()
    s.add(DischargeCancelled, b.T0 + _h(2.5), spell_ref=s.ref(), ward_code="W1")
    values, _ = _readings(s.events(), 5)
    assert values["occupied_beds"] == 3


def test_a_cancelled_transfer_keeps_the_patient_in_a_bed() -> None:
    s, kept, _ = _stream_with_two_patients()
    s.add(Transfer, b.T0 + _h(1.5), spell_ref=kept, from_ward_code="W1", to_ward_code="W2")
    s.add(TransferCancelled, b.T0 + _h(2.5), spell_ref=kept, ward_code="W1")
    values, _ = _readings(s.events(), 5)
    assert values["occupied_beds"] == 2


def test_a_transfer_cancelled_after_the_discharge_changes_no_count() -> None:
    s, kept, _ = _stream_with_two_patients()
    s.add(Transfer, b.T0 + _h(1.5), spell_ref=kept, from_ward_code="W1", to_ward_code="W2")
    s.add(Discharge, b.T0 + _h(2.5), spell_ref=kept, ward_code="W2", destination="other")
    s.add(TransferCancelled, b.T0 + _h(3.5), spell_ref=kept, ward_code="W1")
    values, engine = _readings(s.events(), 5)
    assert values["occupied_beds"] == 1
    assert values["discharges_7d"] == 1
    assert engine.counters["after_close"] == 1


def test_a_cancellation_later_than_the_lateness_allowance_still_applies() -> None:
    s, _, other = _stream_with_two_patients()
    s.add(WardCapacity, b.T0 + _h(10), ward_code="W2", beds_open=1, beds_escalation=0)
    events = s.events()
    late = s.add(AdmissionCancelled, b.T0 + _h(1), spell_ref=other, ward_code="W1")
    values, _ = _readings([*events, late], 12)
    assert values["occupied_beds"] == 1
