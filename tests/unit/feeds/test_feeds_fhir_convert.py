"""FHIR R4 Encounter -> bed-flow events: status, period, location history, discharge
disposition; Bundle and NDJSON input; identifying elements never in the output."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from tests.unit.contract import canaries

pytestmark = pytest.mark.unit

KEY = b"fhir-test-key-0123456789abcdef01"

ENCOUNTER: dict[str, Any] = {
    "resourceType": "Encounter",
    "id": "enc-1",
    "identifier": [
        {"system": "https://trust.example/Id/hospital-number", "value": "H998877"},
        {
            "system": "https://trust.example/Id/visit-number",
            "type": {"coding": [{"code": "VN"}]},
            "value": "V0042",
        },
    ],
    "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
    "priority": {"coding": [{"code": "EM"}]},
    "serviceType": {"coding": [{"code": "300"}]},
    "subject": {
        "reference": "Patient/p1",
        "display": "CANARYSURNAME, Jo",
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": canaries.NHS_NUMBER},
    },
    "participant": [{"individual": {"display": canaries.EMAIL}}],
    "period": {"start": "2026-01-05T08:15:00+00:00", "end": "2026-01-08T11:00:00+00:00"},
    "location": [
        {
            "location": {"reference": "Location/amu", "identifier": {"value": "AMU"}},
            "status": "completed",
            "period": {"start": "2026-01-05T08:15:00+00:00", "end": "2026-01-05T20:00:00+00:00"},
        },
        {
            "location": {"reference": "Location/W12"},
            "status": "completed",
            "period": {"start": "2026-01-05T20:00:00+00:00", "end": "2026-01-08T11:00:00+00:00"},
        },
    ],
    "hospitalization": {
        "dischargeDisposition": {"coding": [{"code": "54"}]},
        "destination": {"display": f"Care home, {canaries.POSTCODE}"},
    },
    "serviceProvider": {
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-site-code", "value": "RJ122"}
    },
}


def encounter(**changes: Any) -> dict[str, Any]:
    resource = copy.deepcopy(ENCOUNTER)
    resource.update(changes)
    return resource


def run_convert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, key: bytes = KEY
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    source = tmp_path / "in.json"
    source.write_bytes(content if isinstance(content, bytes) else content.encode())
    (tmp_path / "key").write_bytes(key)
    out = tmp_path / "out.jsonl"
    code = main(
        ["fhir", "convert", str(source), "--key-file", str(tmp_path / "key"), "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr()
    text = out.read_text()
    return (
        json.loads(printed.out),
        [json.loads(x) for x in text.splitlines()],
        text + printed.out + printed.err,
    )


def test_a_finished_encounter_gives_admission_transfer_and_discharge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary, events, text = run_convert(tmp_path, capsys, json.dumps(ENCOUNTER))
    assert summary == {"resources": 1, "events": 3, "ignored": 0, "rejected": 0, "reasons": {}}
    assert [e["event_type"] for e in events] == ["admission", "transfer", "discharge"]
    admission, transfer, discharge = events
    assert (admission["ward_code"], admission["admission_method"]) == ("AMU", "emergency")
    assert (admission["trust_code"], admission["site_code"]) == ("RJ1", "RJ122")
    assert (transfer["from_ward_code"], transfer["to_ward_code"]) == ("AMU", "W12")
    assert transfer["occurred_at"].startswith("2026-01-05T20:00:00")
    assert (discharge["ward_code"], discharge["destination"]) == ("W12", "care_home")
    expected = hmac.new(KEY, b"V0042", hashlib.sha256).hexdigest()
    assert {e["spell_ref"] for e in events} == {expected}
    assert canaries.leaked([text]) == []
    assert "CANARYSURNAME" not in text and "H998877" not in text


def test_bundle_and_ndjson_and_statuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    in_progress = encounter(id="enc-2", status="in-progress", identifier=[{"value": "V2"}])
    del in_progress["period"]["end"]
    resources = [
        in_progress,
        encounter(id="enc-3", status="planned"),
        encounter(id="enc-4", **{"class": {"code": "AMB"}}),
        encounter(id="enc-5", status="entered-in-error"),
        {"resourceType": "Patient", "id": "p1"},
        encounter(id="enc-6", status="not-a-status"),
        encounter(id="enc-7", location=[]),
        encounter(id="enc-8", period={"start": "yesterday"}),
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    summary, events, _ = run_convert(tmp_path, capsys, json.dumps(bundle))
    assert summary == {
        "resources": 8,
        "events": 3,
        "ignored": 3,
        "rejected": 3,
        "reasons": {
            "ignored_class": 1,
            "ignored_resource": 1,
            "ignored_status": 1,
            "invalid_resource": 1,
            "invalid_status": 1,
            "no_location": 1,
        },
    }
    # in progress: admitted and moved, not discharged; entered in error: cancelled
    kinds = [e["event_type"] for e in events]
    assert kinds == ["admission", "transfer", "admission_cancelled"]
    ndjson = "\n".join(json.dumps(r) for r in resources) + "\nnot json\n"
    again, _, _ = run_convert(tmp_path, capsys, ndjson)
    assert again["resources"] == 9
    assert again["reasons"]["not_json"] == 1


def test_one_visit_one_spell_ref_per_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, first, _ = run_convert(tmp_path, capsys, json.dumps(ENCOUNTER))
    _, second, _ = run_convert(
        tmp_path, capsys, json.dumps(ENCOUNTER), key=b"another-key-0123456789abcdef"
    )
    assert first[0]["spell_ref"] != second[0]["spell_ref"]
    assert [e["event_id"] for e in first] != [e["event_id"] for e in second]


def _location(code: str, start: str, *, status: str = "completed", kind: str = "") -> dict:
    entry: dict[str, Any] = {
        "location": {"identifier": {"value": code}},
        "status": status,
        "period": {"start": start},
    }
    if kind:
        system = "http://terminology.hl7.org/CodeSystem/location-physical-type"
        entry["physicalType"] = {"coding": [{"system": system, "code": kind}]}
    return entry


def test_a_planned_or_reserved_location_is_no_transfer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a PAS lists the bed booked on the next ward before the move (location.status planned or
    # reserved): the patient is not there yet
    resource = encounter(
        status="in-progress",
        location=[
            _location("AMU", "2026-01-05T08:15:00+00:00", status="active"),
            _location("W12", "2026-01-06T10:00:00+00:00", status="planned"),
            _location("W14", "2026-01-06T11:00:00+00:00", status="reserved"),
        ],
    )
    summary, events, _ = run_convert(tmp_path, capsys, json.dumps(resource))
    assert summary["events"] == 1, summary
    assert [(e["event_type"], e["ward_code"]) for e in events] == [("admission", "AMU")]


def test_bed_and_room_locations_within_the_ward_are_no_transfers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # UK Core lists the ward, the bay and the bed of one stay as separate locations,
    # told apart by physicalType (wa ward, ro room, bd bed)
    at = "2026-01-05T08:15:00+00:00"
    later = "2026-01-05T20:00:00+00:00"
    resource = encounter(
        location=[
            _location("AMU", at, kind="wa"),
            _location("AMU-BAY2", at, kind="ro"),
            _location("AMU-B7", at, kind="bd"),
            _location("W12", later, kind="wa"),
            _location("W12-B3", later, kind="bd"),
        ],
    )
    summary, events, _ = run_convert(tmp_path, capsys, json.dumps(resource))
    assert [e["event_type"] for e in events] == ["admission", "transfer", "discharge"], summary
    admission, transfer, discharge = events
    assert admission["ward_code"] == "AMU"
    assert (transfer["from_ward_code"], transfer["to_ward_code"]) == ("AMU", "W12")
    assert discharge["ward_code"] == "W12"


@pytest.mark.parametrize("code", ["943 476 5919", "0114 271 1900"])
def test_a_spaced_identifier_as_a_ward_is_refused_after_its_spaces_become_underscores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], code: str
) -> None:
    # the converter maps a ward's spaces to "_" (ward codes have none): "943_476_5919" is
    # still an NHS number, "0114_271_1900" still a phone number
    resource = encounter(location=[_location(code, "2026-01-05T08:15:00+00:00")])
    summary, events, text = run_convert(tmp_path, capsys, json.dumps(resource))
    assert (summary["rejected"], events) == (1, [])
    assert set(summary["reasons"]) <= {"nhs_number", "phone"}, summary
    assert code.replace(" ", "_") not in text and code not in text


def test_a_date_only_location_start_beside_full_times_is_refused_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # FHIR dateTime allows a date alone; a stay needs its time of day, as the encounter does
    resource = encounter(
        status="in-progress",
        location=[
            _location("AMU", "2026-01-05T08:15:00+00:00"),
            _location("W12", "2026-01-06"),
        ],
    )
    summary, events, _ = run_convert(tmp_path, capsys, json.dumps(resource))
    assert (summary["rejected"], summary["reasons"], events) == (1, {"bad_datetime": 1}, [])


def test_a_contained_resource_of_a_type_the_models_do_not_know_is_refused_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resource = encounter(contained=[{"resourceType": "UKCorePatient", "id": "p1"}])
    summary, events, _ = run_convert(tmp_path, capsys, json.dumps(resource))
    assert (summary["rejected"], summary["reasons"], events) == (1, {"invalid_resource": 1}, [])


def test_a_bundle_file_starting_with_a_byte_order_mark_loses_no_resource(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # PowerShell 5's Out-File -Encoding utf8 and Notepad write a BOM ahead of the JSON
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": ENCOUNTER}]}
    content = b"\xef\xbb\xbf" + json.dumps(bundle, indent=1).encode()
    summary, events, _ = run_convert(tmp_path, capsys, content)
    assert len(events) == 3
    assert summary == {"resources": 1, "events": 3, "ignored": 0, "rejected": 0, "reasons": {}}


def test_a_run_that_fails_on_its_second_file_leaves_the_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "key").write_bytes(KEY)
    (tmp_path / "in.json").write_text(json.dumps(encounter()))
    out = tmp_path / "out.jsonl"
    out.write_text("the previous run\n")
    files = [str(tmp_path / "in.json"), str(tmp_path / "missing.json")]
    code = main(["fhir", "convert", *files, "--key-file", str(tmp_path / "key"), "--out", str(out)])
    assert code == 2
    assert "No such file" in capsys.readouterr().err
    assert out.read_text() == "the previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "key", "out.jsonl"]


def test_a_cancelled_encounter_that_had_started_cancels_its_admission(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Cerner sends an admission cancelled after it was recorded as status "cancelled": ignored,
    # the admission the in-progress version gave kept a bed. One that never started (no
    # period, or planned only) is still nothing.
    started = encounter(id="enc-9", status="cancelled", identifier=[{"value": "V9"}])
    never = encounter(id="enc-10", status="cancelled", identifier=[{"value": "V10"}])
    del never["period"]
    del never["location"]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (started, never)],
    }
    summary, events, _ = run_convert(tmp_path, capsys, json.dumps(bundle))
    assert [e["event_type"] for e in events] == ["admission_cancelled"]
    assert summary["reasons"] == {"ignored_status": 1}


def test_a_discharge_undone_in_a_later_version_of_the_encounter_is_cancelled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An Encounter recorded finished in error goes back to in-progress with no period.end:
    # the admission and transfers came again under the same ids (duplicates) and nothing
    # undid the discharge, so the patient was missing from occupancy.
    finished = encounter(id="enc-11", identifier=[{"value": "V11"}])
    undone = copy.deepcopy(finished)
    undone["status"] = "in-progress"
    del undone["period"]["end"]
    undone["meta"] = {"lastUpdated": "2026-01-07T09:30:00Z"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (finished, undone)],
    }
    _, events, _ = run_convert(tmp_path, capsys, json.dumps(bundle))
    kinds = [e["event_type"] for e in events]
    assert kinds[-1] == "discharge_cancelled"
    assert events[-1]["occurred_at"].startswith("2026-01-07T09:30:00")
    assert kinds.count("discharge") == 1
