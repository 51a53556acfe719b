"""Wards that hold no bed: a virtual ward, a discharge lounge, an assessment area.

A PAS admits patients to them with the same ADT messages as to any ward; the capacity feed lists
no beds for them. Counted as in a bed, a virtual ward of 4 patients beside a 20-bed ward with 17
read an occupancy of 1.0 (21 clamped to 20) instead of 0.85. They are left out of the occupied
beds only; the NCTR counts, delay reasons and discharges keep them (``streams/engine/bedflow.py``).
"""

from __future__ import annotations

import random
import uuid
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
    s = _site(capacity_wards={"W1": 20}, on_ward=17, on_virtual_ward=4)
    s.add(WardCapacity, b.T0 + timedelta(hours=3), ward_code="W1", beds_open=20, beds_escalation=0)
    assert _at(s, "occupied_beds", 2) == 17
    assert _at(s, "bed_occupancy_ratio", 2) == pytest.approx(0.85)


def test_the_nctr_share_counts_virtual_ward_patients_unclamped() -> None:
    """19 patients on a 20-bed ward (5 NCTR) and 4 on the virtual ward (all NCTR): 9 of 23
    patients, not 9 of the 20 that clamping every patient to the beds left (a false 0.45)."""
    s = b.Stream()
    s.add(WardCapacity, b.T0, ward_code="W1", beds_open=20, beds_escalation=0)
    for number in range(23):
        ward = "W1" if number < 19 else "VW1"
        ref = _admit(s, 1 + number, ward)
        if number < 5 or ward == "VW1":
            s.add(ReadyForDischarge, b.T0 + timedelta(minutes=40), spell_ref=ref, ward_code=ward)
    s.add(WardCapacity, b.T0 + timedelta(hours=3), ward_code="W1", beds_open=20, beds_escalation=0)
    out = run(s.events())
    when = b.T0 + timedelta(hours=2)
    assert value_at(out, "occupied_beds", when) == 19
    assert value_at(out, "nctr_patients", when) == 9
    assert value_at(out, "nctr_share", when) == pytest.approx(9 / 23)


def test_capacity_under_codes_no_patient_ward_has_counts_every_patient() -> None:
    """One capacity row for the whole site: no ward can be told apart, so none is left out."""
    s = _site(capacity_wards={"ALL": 40}, on_ward=15, on_virtual_ward=10)
    s.add(WardCapacity, b.T0 + timedelta(hours=3), ward_code="ALL", beds_open=40, beds_escalation=0)
    assert _at(s, "occupied_beds", 2) == 25


def test_no_capacity_feed_counts_every_patient() -> None:
    s = _site(capacity_wards={}, on_ward=15, on_virtual_ward=10)
    s.add(WardCapacity, b.T0 + timedelta(hours=3), ward_code="W1", beds_open=20, beds_escalation=0)
    assert _at(s, "occupied_beds", 2) == 25


def test_a_ward_listed_with_no_beds_holds_no_bed() -> None:
    s = _site(capacity_wards={"W1": 20, "VW1": 0}, on_ward=17, on_virtual_ward=4)
    s.add(WardCapacity, b.T0 + timedelta(hours=3), ward_code="W1", beds_open=20, beds_escalation=0)
    assert _at(s, "occupied_beds", 2) == 17


def test_a_listed_ward_empty_for_a_day_beside_an_unlisted_one_means_another_spelling() -> None:
    """Ten wards of 25 beds, 24 patients each; the tenth is W10 in the capacity feed and WD10 in
    the PAS. Its patients left out read 0.86 for a hospital at 0.96: once W10 has stayed empty
    for a day, every patient counts."""
    s = b.Stream()
    minute = 0
    for number in range(1, 11):
        s.add(WardCapacity, b.T0, ward_code=f"W{number}", beds_open=25, beds_escalation=0)
        for _ in range(24):
            minute += 1
            _admit(s, minute % 50, f"W{number}" if number < 10 else "WD10")
    for hour in range(1, 31):
        s.add(WardCapacity, b.T0 + timedelta(hours=hour), ward_code="W1", beds_open=25)
    out = run(s.events())
    assert value_at(out, "occupied_beds", b.T0 + timedelta(hours=28)) == 240
    assert value_at(out, "bed_occupancy_ratio", b.T0 + timedelta(hours=28)) == pytest.approx(0.96)


def test_most_patients_on_unlisted_wards_means_other_codes_so_every_patient_counts() -> None:
    """Capacity for A, B and AMU, patients on A, B under codes of another spelling and on AMU:
    only AMU's 15 of 65 patients would count against all 80 beds (0.19 for 0.81)."""
    s = b.Stream()
    for ward, beds in (("WARD_A", 30), ("WARD_B", 30), ("AMU", 20)):
        s.add(WardCapacity, b.T0, ward_code=ward, beds_open=beds, beds_escalation=0)
    minute = 1
    for ward, patients in (("A", 25), ("B", 25), ("AMU", 15)):
        for _ in range(patients):
            _admit(s, minute, ward)
    s.add(WardCapacity, b.T0 + timedelta(hours=3), ward_code="AMU", beds_open=20, beds_escalation=0)
    assert _at(s, "occupied_beds", 2) == 65


def _lounge_day() -> b.Stream:
    """Ten patients on W1 and one leaving: NCTR, waiting for transport, moved to the discharge
    lounge at 03:05 and discharged from it at 05:40."""
    s = _site(capacity_wards={"W1": 20}, on_ward=10, on_virtual_ward=0)
    leaving = _admit(s, 50, "W1")
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
    return s


def test_a_discharge_lounge_frees_the_bed_and_keeps_the_patients_delay() -> None:
    out = run(_lounge_day().events())

    def at(metric: str, hours: int) -> float | None:
        return value_at(out, metric, b.T0 + timedelta(hours=hours))

    assert (at("occupied_beds", 3), at("nctr_patients", 3)) == (11, 1)
    # in the lounge from 03:05: out of the beds, still an NCTR patient waiting for transport
    assert (at("occupied_beds", 4), at("nctr_patients", 4)) == (10, 1)
    assert at("nctr_share", 4) == pytest.approx(1 / 11)  # of the hospital's patients
    # the delay reasons read as if the patient had stayed on the ward
    stayed = run([e for e in _lounge_day().events() if not isinstance(e, Transfer)])
    for hours in (4, 5):
        when = b.T0 + timedelta(hours=hours)
        assert at("delay_share_patient_transport", hours) == value_at(
            stayed, "delay_share_patient_transport", when
        )
        assert at("delay_patients_patient_transport", hours) == value_at(
            stayed, "delay_patients_patient_transport", when
        )
    assert at("occupied_beds", 6) == 10
    assert (at("discharges_7d", 5), at("discharges_7d", 6)) == (0, 1)


def test_two_events_of_one_hour_arriving_out_of_order_leave_the_later_ward() -> None:
    """The transfer to the lounge (01:40) comes before the ready-for-discharge (01:10, on W1)
    from a separate discharge tracker: the patient stays in the lounge."""
    s = _site(capacity_wards={"W1": 20}, on_ward=10, on_virtual_ward=0)
    ref = _admit(s, 50, "W1")
    events = s.events()
    transfer = Transfer(
        event_id=s.event_id(),
        schema_version=1,
        occurred_at=b.T0 + timedelta(hours=1, minutes=40),
        trust_code=b.TRUST,
        site_code=b.SITE,
        spell_ref=ref,
        from_ward_code="W1",
        to_ward_code="DL",
    )
    ready = ReadyForDischarge(
        event_id=s.event_id(),
        schema_version=1,
        occurred_at=b.T0 + timedelta(hours=1, minutes=10),
        trust_code=b.TRUST,
        site_code=b.SITE,
        spell_ref=ref,
        ward_code="W1",
    )
    capacity = WardCapacity(
        event_id=s.event_id(),
        schema_version=1,
        occurred_at=b.T0 + timedelta(hours=4),
        trust_code=b.TRUST,
        site_code=b.SITE,
        ward_code="W1",
        beds_open=20,
    )
    out = run([*events, transfer, ready, capacity])
    assert value_at(out, "occupied_beds", b.T0 + timedelta(hours=3)) == 10


def test_a_late_move_to_the_lounge_corrects_the_hours_since() -> None:
    """Keyed in two hours late, behind the watermark: the 24-hour occupancy of the hours since
    reads as event-time order gives."""
    in_order = _lounge_day().events()
    late = [e for e in in_order if not isinstance(e, Transfer)]
    transfer = next(e for e in in_order if isinstance(e, Transfer))
    later = [
        e for e in late if e.occurred_at > transfer.occurred_at + timedelta(hours=2, minutes=30)
    ]
    keyed_late = [e for e in late if e not in later] + [transfer] + later

    def occupancy_24h(events: list[object]) -> float | None:
        return value_at(run(events), "bed_occupancy_ratio_24h", b.T0 + timedelta(hours=7))  # type: ignore[arg-type]

    assert occupancy_24h(keyed_late) == pytest.approx(occupancy_24h(in_order))


def test_the_daily_sweep_counts_the_ward_census_again() -> None:
    """A state whose census went wrong (saved by code that did not keep it) is right again after
    the next sweep."""
    flow = BedFlow(set())
    shard, _ = flow.spells.shard("ab00000000000000000001")
    shard["ab00000000000000000001"] = Spell(10, ward="W1")
    shard, _ = flow.spells.shard("ab00000000000000000002")
    shard["ab00000000000000000002"] = Spell(10, ward="VW1")
    flow.agg.occupied = 2
    flow.agg.wards = {"VW1": 7}
    flow.maintain(24)
    assert flow.agg.wards == {"W1": 1, "VW1": 1}


def test_a_spell_saved_before_wards_were_remembered_counts_as_in_a_bed() -> None:
    # a Spell as states saved it before it had a ward: six fields
    old = msgspec.msgpack.decode(
        msgspec.msgpack.encode([5, False, None, -1, True, False]), type=Spell
    )
    assert (old.ward, old.ward_at) == ("", 0)
    flow = BedFlow(set())
    flow.agg.ward_beds["W1"] = 20
    flow.agg.wards = {"W1": 4, "VW1": 1}
    flow.agg.listed_wards_held = True
    flow.agg.occupied = 6  # the old spell, W1's four and VW1's one
    assert flow.site_counts()[-1] == 5


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


@pytest.mark.parametrize("seed", range(30))
def test_late_corrections_never_put_more_patients_in_beds_than_patients(seed: int) -> None:
    """Random moves between wards with beds, an unlisted lounge and a ward whose beds close,
    with late events corrected into the snapshots: a snapshot's patients in beds never exceed
    its patients, and neither is below zero."""
    rng = random.Random(seed)
    flow = BedFlow(set())
    refs = [f"ab{seed:04x}{n:016x}" for n in range(60)]
    wards = ["W1", "W2", "DL", "VW1"]
    envelope = {
        "event_id": str(uuid.UUID(int=0)),
        "schema_version": 1,
        "trust_code": b.TRUST,
        "site_code": b.SITE,
    }
    for hour in range(1, 120):
        at = b.T0 + timedelta(hours=hour)
        for ward, beds in (("W1", 40), ("W2", rng.choice((0, 12)))):
            flow.capacity(
                WardCapacity(**envelope, occurred_at=at, ward_code=ward, beds_open=beds),
                at.timestamp(),
                hour,
            )
        for _ in range(rng.randrange(1, 8)):
            late = rng.random() < 0.3
            when = hour - rng.randrange(1, 12) if late else hour
            ts = (b.T0 + timedelta(hours=when, minutes=rng.randrange(60))).timestamp()
            ref, ward = rng.choice(refs), rng.choice(wards)
            before = flow.site_counts()
            roll = rng.random()
            if roll < 0.4:
                flow.admission(
                    Admission(
                        **envelope,
                        occurred_at=at,
                        spell_ref=ref,
                        ward_code=ward,
                        specialty_code="300",
                        admission_method="emergency",
                    ),
                    ts,
                    when,
                )
            elif roll < 0.7:
                flow.transfer(
                    Transfer(
                        **envelope,
                        occurred_at=at,
                        spell_ref=ref,
                        from_ward_code="W1",
                        to_ward_code=ward,
                    ),
                    ts,
                    when,
                )
            else:
                flow.discharge(
                    Discharge(
                        **envelope,
                        occurred_at=at,
                        spell_ref=ref,
                        ward_code=ward,
                        destination="usual_residence",
                    ),
                    ts,
                    when,
                )
            if late:
                flow.correct_snapshots(since_hour=when, before=before)
        flow.evaluate(hour + 1)
        for key, snapshot in flow.agg.snapshots.items():
            in_beds = flow.agg.bed_snapshots.get(key, snapshot[0])
            assert 0 <= in_beds <= snapshot[0]
