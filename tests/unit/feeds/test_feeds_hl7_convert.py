"""HL7 v2 ADT -> bed-flow events: the mapping rules, framing, pseudonyms and the identifier edge."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.hl7.adt import AdtConverter, parse_timestamp
from feeds.hl7.framing import frame, split_messages
from feeds.hl7.site_map import SiteMap
from models.events import (
    Admission,
    AdmissionCancelled,
    Discharge,
    DischargeCancelled,
    Transfer,
    TransferCancelled,
)
from streams.cli import main
from tests import hl7_support
from tests.unit.contract import canaries

pytestmark = pytest.mark.unit

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


def adt(
    trigger: str,
    *,
    ward: str = "W12",
    site: str = "RJ122",
    visit: str = "V0001",
    patient_class: str = "I",
    prior: str = "",
    disposition: str = "",
    evn2: str = "20260105081500",
    evn6: str = "",
    msh7: str = "20260105081400",
    message_type: str = "ADT",
    control_id: str = "C1",
    admitted: str = "",
    discharged: str = "",
) -> str:
    pv1 = [""] * 51
    pv1[:5] = ["PV1", "1", patient_class, f"{ward}^B1^3^{site}", "21"]
    pv1[44], pv1[45] = admitted, discharged
    pv1[6] = f"{prior}^^^{site}" if prior else ""
    pv1[10] = "300"
    pv1[19] = f"{visit}^^^RJ1^VN" if visit else ""
    pv1[36] = disposition
    return "\r".join(
        [
            f"MSH|^~\\&|PAS|RJ1|OPSR|RJ1|{msh7}||{message_type}^{trigger}|{control_id}|P|2.5",
            f"EVN|{trigger}|{evn2}||||{evn6}",
            f"PID|1||{canaries.NHS_NUMBER}^^^NHS^NH||SMITH^JO||19470312|F|||1 St^^Ldn^^"
            f"{canaries.POSTCODE}",
            "|".join(pv1),
            "ZU1|local|extension",
        ]
    )


def convert(*texts: str, key: bytes = KEY, **options: object) -> list[object]:
    converter = AdtConverter(key=key, **options)  # type: ignore[arg-type]
    return [converter.convert(t) for t in texts]


def test_an_a01_maps_to_an_admission_of_the_ward_and_site_in_pv1_3() -> None:
    (outcome,) = convert(adt("A01", ward="Ward 7A", evn6="20260105080000"))
    assert outcome.status == "accepted"  # type: ignore[attr-defined]
    (event,) = outcome.events  # type: ignore[attr-defined]
    assert isinstance(event, Admission)
    assert (event.trust_code, event.site_code, event.ward_code) == ("RJ1", "RJ122", "WARD_7A")
    assert (event.specialty_code, event.admission_method) == ("300", "emergency")
    # EVN-6 first; no offset means UK local time: 08:00 GMT in January
    assert event.occurred_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert event.spell_ref == hmac.new(KEY, b"V0001", hashlib.sha256).hexdigest()


def test_occurred_at_falls_back_to_evn_2_then_msh_7_in_uk_local_time() -> None:
    summer, only_msh = convert(
        adt("A01", evn2="20260705081500"),
        adt("A01", evn2="", msh7="20260705091500+0100", control_id="C2"),
    )
    assert summer.events[0].occurred_at == datetime(2026, 7, 5, 7, 15, tzinfo=UTC)  # type: ignore[attr-defined]
    assert only_msh.events[0].occurred_at == datetime(2026, 7, 5, 8, 15, tzinfo=UTC)  # type: ignore[attr-defined]
    assert parse_timestamp("202601050815") == datetime(2026, 1, 5, 8, 15, tzinfo=UTC)


def test_every_trigger_maps_as_the_issue_says() -> None:
    outcomes = convert(
        adt("A01", control_id="1"),
        adt("A02", ward="W14", prior="W12", control_id="2"),
        adt("A08", ward="W14", control_id="3"),  # same ward: nothing changed
        adt("A08", ward="W15", control_id="4"),  # the ward changed: a transfer
        adt("A12", ward="W14", control_id="5"),
        adt("A03", ward="W14", disposition="54", control_id="6"),
        adt("A13", ward="W14", control_id="7"),
        adt("A11", ward="W14", control_id="8"),
    )
    kinds = [type(o.events[0]) if o.events else o.reason for o in outcomes]  # type: ignore[attr-defined]
    assert kinds == [
        Admission,
        Transfer,
        "ignored_update_unchanged",
        Transfer,
        TransferCancelled,
        Discharge,
        DischargeCancelled,
        AdmissionCancelled,
    ]
    update = outcomes[3].events[0]  # type: ignore[attr-defined]
    assert (update.from_ward_code, update.to_ward_code) == ("W14", "W15")
    assert outcomes[5].events[0].destination == "care_home"  # type: ignore[attr-defined]
    ids = {o.events[0].event_id for o in outcomes if o.events}  # type: ignore[attr-defined]
    assert len(ids) == 7


@pytest.mark.parametrize(
    ("code", "destination"),
    [("19", "usual_residence"), ("79", "died"), ("49", "other_provider"), ("", "other")],
)
def test_pv1_36_discharge_disposition_maps_to_the_destination(code: str, destination: str) -> None:
    (outcome,) = convert(adt("A03", disposition=code))
    assert outcome.events[0].destination == destination  # type: ignore[attr-defined]


def test_registrations_and_outpatients_are_ignored_other_types_rejected() -> None:
    outcomes = convert(
        adt("A04"),
        adt("A05"),
        adt("A01", patient_class="O"),
        adt("A28"),
        adt("X99"),
        adt("R01", message_type="ORU"),
        adt("A01", visit=""),
        adt("A01", evn2="yesterday", msh7=""),
        adt("A02", prior=""),  # a transfer of a spell never seen, without PV1-6
        "PID|1||not a message",
        "MSH|",
    )
    assert [(o.status, o.reason) for o in outcomes] == [  # type: ignore[attr-defined]
        ("ignored", "ignored_a04"),
        ("ignored", "ignored_a05"),
        ("ignored", "ignored_patient_class"),
        ("ignored", "ignored_trigger"),  # an ADT trigger opsradar does not use: AA
        ("rejected", "unsupported_trigger"),
        ("rejected", "not_adt"),
        ("rejected", "no_visit_number"),
        ("rejected", "bad_timestamp"),
        ("rejected", "no_prior_ward"),
        ("rejected", "not_hl7"),
        ("rejected", "not_hl7"),
    ]


def test_the_trust_code_and_the_site_map_override_the_message() -> None:
    site_map = SiteMap(sites={"STH": "RJ7AB"}, wards={"Ward 7A": "W7A"})
    (outcome,) = convert(
        adt("A01", ward="Ward 7A", site="STH"), trust_code="RJ7", site_map=site_map
    )
    event = outcome.events[0]  # type: ignore[attr-defined]
    assert (event.trust_code, event.site_code, event.ward_code) == ("RJ7", "RJ7AB", "W7A")
    (unmapped,) = convert(adt("A01", site="STH"))
    assert unmapped.reason == "no_site_code"  # type: ignore[attr-defined]


def test_the_visit_number_falls_back_to_pid_18() -> None:
    segments = adt("A01", visit="").split("\r")
    segments[2] += "|||||||ACC991"  # PID-11 is the last field written: this is PID-18
    (outcome,) = convert("\r".join(segments))
    expected = hmac.new(KEY, b"ACC991", hashlib.sha256).hexdigest()
    assert outcome.events[0].spell_ref == expected  # type: ignore[attr-defined]


def test_cr_crlf_lf_and_mllp_framing_give_the_same_messages() -> None:
    messages = [adt("A01", control_id="1"), adt("A03", control_id="2")]
    cr = "\n".join(messages).encode()
    crlf = "\n".join(m.replace("\r", "\r\n") for m in messages).encode()
    lf = "\n".join(m.replace("\r", "\n") for m in messages).encode()
    mllp = b"".join(frame(m) for m in messages)
    batch = b"FHS|^~\\&\rBHS|^~\\&\r" + "\r".join(messages).encode() + b"\rBTS|2\rFTS|1\r"
    for data in (cr, crlf, lf, mllp, batch):
        assert list(split_messages(data)) == messages


def _convert_cli(tmp_path: Path, key: bytes, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    from tests.unit.engine import builders as b

    s = b.Stream()
    ref = s.ref()
    s.add(
        Admission,
        b.T0,
        spell_ref=ref,
        ward_code="AMU",
        specialty_code="300",
        admission_method="emergency",
    )
    s.add(Transfer, b.T0.replace(hour=3), spell_ref=ref, from_ward_code="AMU", to_ward_code="W2")
    s.add(Discharge, b.T0.replace(hour=9), spell_ref=ref, ward_code="W2", destination="died")
    source = tmp_path / "adt.hl7"
    source.write_bytes(b"".join(frame(m) for m in hl7_support.render_all(s.events())))
    (tmp_path / "key").write_bytes(key)
    out = tmp_path / f"out-{key[:1].decode()}.jsonl"
    code = main(
        ["hl7", "convert", str(source), "--key-file", str(tmp_path / "key"), "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out) == {
        "messages": 3,
        "events": 3,
        "ignored": 0,
        "rejected": 0,
        "reasons": {},
    }
    text = out.read_text()
    assert canaries.leaked([text, printed.out, printed.err]) == []
    assert not any(value in text for value in hl7_support.canary_texts())
    assert canaries.leaked([source.read_text()]), "the input must carry the canaries"
    return [json.loads(line) for line in text.splitlines()]


def test_convert_outputs_no_identifier_and_one_spell_ref_per_visit_per_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _convert_cli(tmp_path, KEY, capsys)
    second = _convert_cli(tmp_path, OTHER_KEY, capsys)
    assert [e["event_type"] for e in first] == ["admission", "transfer", "discharge"]
    assert len({e["spell_ref"] for e in first}) == 1
    assert len({e["spell_ref"] for e in second}) == 1
    assert first[0]["spell_ref"] != second[0]["spell_ref"]


def test_a_short_key_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "key").write_bytes(b"short")
    (tmp_path / "in.hl7").write_text(adt("A01"))
    code = main(
        [
            "hl7",
            "convert",
            str(tmp_path / "in.hl7"),
            "--key-file",
            str(tmp_path / "key"),
            "--out",
            str(tmp_path / "out.jsonl"),
        ]
    )
    assert code == 2
    assert "short" not in capsys.readouterr().err


def test_a_run_that_fails_on_its_second_file_leaves_the_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the first file converts; the second is missing: a partial output would later be
    # produced as if it were the whole batch
    (tmp_path / "key").write_bytes(KEY)
    (tmp_path / "in.hl7").write_text(adt("A01"))
    out = tmp_path / "out.jsonl"
    out.write_text("the previous run\n")
    files = [str(tmp_path / "in.hl7"), str(tmp_path / "missing.hl7")]
    code = main(["hl7", "convert", *files, "--key-file", str(tmp_path / "key"), "--out", str(out)])
    assert code == 2
    assert "missing.hl7" in capsys.readouterr().err
    assert out.read_text() == "the previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.hl7", "key", "out.jsonl"]


def test_a_discharge_keyed_next_morning_is_dated_by_pv1_45_and_an_admission_by_pv1_44() -> None:
    # A PAS that leaves EVN-6 empty on a discharge entered the next morning: EVN-2 is when it
    # was keyed in, PV1-45 when the patient left (the before-noon share read 0.50 for 0.23)
    discharge, admission, plain = convert(
        adt("A03", evn2="20260106091000", discharged="20260105143000", control_id="1"),
        adt("A01", evn2="20260105120000", admitted="20260105023000", control_id="2"),
        adt("A03", evn2="20260106091000", control_id="3"),
    )
    assert discharge.events[0].occurred_at == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    assert admission.events[0].occurred_at == datetime(2026, 1, 5, 2, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    assert plain.events[0].occurred_at == datetime(2026, 1, 6, 9, 10, tzinfo=UTC)  # type: ignore[attr-defined]
    (evn6_first,) = convert(
        adt("A03", evn6="20260105150000", discharged="20260105143000", control_id="4")
    )
    assert evn6_first.events[0].occurred_at == datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # type: ignore[attr-defined]


def test_other_adt_triggers_are_acknowledged_and_a06_admits() -> None:
    # A31, A28, A17, A21, A50: a full trust feed is full of them; answered AR, an engine
    # retries or blocks behind each. A06 turns an ED or outpatient encounter into an inpatient
    # one: the admission.
    from feeds.hl7.ack import ack_code

    outcomes = convert(*(adt(t, control_id=t) for t in ("A31", "A17", "A21", "A50", "A06")))
    assert [(o.status, o.reason) for o in outcomes[:4]] == [("ignored", "ignored_trigger")] * 4  # type: ignore[attr-defined]
    assert {ack_code(o.status, o.reason) for o in outcomes[:4]} == {"AA"}  # type: ignore[attr-defined]
    assert isinstance(outcomes[4].events[0], Admission)  # type: ignore[attr-defined]


def test_a_discharge_or_cancel_without_its_current_location_uses_the_last_ward() -> None:
    # some PAS clear PV1-3 on discharge or cancel-admit and keep the ward in PV1-6; rejected
    # (AE, never resent), the patient kept a bed for 42 days
    converter = AdtConverter(key=KEY)
    converter.remember(converter.convert(adt("A01", ward="W12", visit="V7", control_id="1")))
    from_prior = converter.convert(adt("A03", ward="", prior="W12", visit="V8", control_id="2"))
    remembered = converter.convert(adt("A03", ward="", visit="V7", control_id="3"))
    cancelled = converter.convert(adt("A11", ward="", prior="W9", visit="V9", control_id="4"))
    assert [o.events[0].ward_code for o in (from_prior, remembered, cancelled)] == [  # type: ignore[attr-defined]
        "W12",
        "W12",
        "W9",
    ]
    (nowhere,) = convert(adt("A03", ward="", visit="V10"))
    assert (nowhere.status, nowhere.reason) == ("rejected", "no_ward_code")  # type: ignore[attr-defined]


def test_an_inpatient_reclassified_as_an_outpatient_leaves_the_bed() -> None:
    # An SDEC or assessment patient admitted as an inpatient and re-graded an outpatient (A07,
    # or an A08 with PV1-2 O), then discharged with PV1-2 O: every message after the A01 was
    # ignored and the patient kept a bed for 42 days.
    converter = AdtConverter(key=KEY)

    def send(text: str) -> object:
        outcome = converter.convert(text)
        return outcome

    send(adt("A01", visit="V1", control_id="1"))
    reclassified = send(adt("A07", visit="V1", patient_class="O", control_id="2"))
    send(adt("A01", visit="V2", control_id="3"))
    updated = send(adt("A08", visit="V2", patient_class="O", control_id="4"))
    send(adt("A01", visit="V3", control_id="5"))
    left = send(adt("A03", visit="V3", patient_class="O", control_id="6"))
    never = send(adt("A03", visit="V4", patient_class="O", control_id="7"))  # never an inpatient
    assert [type(o.events[0]) for o in (reclassified, updated, left)] == [  # type: ignore[attr-defined]
        AdmissionCancelled,
        AdmissionCancelled,
        Discharge,
    ]
    assert (never.status, never.reason) == ("ignored", "ignored_patient_class")  # type: ignore[attr-defined]


def test_a_transfer_to_another_site_of_the_trust_leaves_the_first_site_and_enters_the_second() -> (
    None
):
    # A patient moved to the trust's community hospital: one A02 of the same provider spell,
    # with the new site in PV1-3.4. Scopes are per site: the destination adopted the spell and
    # the origin never closed it, a phantom bed there for 42 days.
    converter = AdtConverter(key=KEY)
    converter.remember(converter.convert(adt("A01", site="RJ122", ward="W12", control_id="1")))
    moved = converter.convert(adt("A02", site="RJ123", ward="C1", control_id="2"))
    converter.remember(moved)
    left, entered = moved.events  # type: ignore[attr-defined]
    assert isinstance(left, Discharge) and isinstance(entered, Admission)
    assert (left.site_code, left.ward_code, left.destination) == ("RJ122", "W12", "other_provider")
    assert (entered.site_code, entered.ward_code, entered.admission_method) == (
        "RJ123",
        "C1",
        "transfer_in",
    )
    assert left.event_id != entered.event_id and left.occurred_at == entered.occurred_at
    # the next move, within the second site, is a transfer there
    (within,) = converter.convert(adt("A02", site="RJ123", ward="C2", control_id="3")).events  # type: ignore[attr-defined]
    assert isinstance(within, Transfer) and within.site_code == "RJ123"
    # PV1-6's facility names the site left, with nothing remembered (a converter just started)
    text = adt("A02", site="RJ123", ward="C1", prior="W12", control_id="4")
    fresh = AdtConverter(key=KEY).convert(text.replace("W12^^^RJ123", "W12^^^RJ122"))
    assert [(type(e), e.site_code) for e in fresh.events] == [  # type: ignore[attr-defined]
        (Discharge, "RJ122"),
        (Admission, "RJ123"),
    ]
