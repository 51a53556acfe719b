"""``roster convert``: a shift export's rows -> rostering events, staff columns never read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.cli import main
from tests.unit.contract import canaries

pytestmark = pytest.mark.unit

MAPPING = """
trust_code = "RJ1"
site_code = "RJ122"
time_format = "%d/%m/%Y %H:%M"
[columns]
shift_id = "Duty ID"
unit = "Unit"
staff_group = "Grade"
start = "Start"
end = "End"
created = "Created"
status = "Status"
fill_source = "Fill Type"
filled_at = "Filled"
hourly_rate = "Rate"
[staff_groups]
"Band 5 Staff Nurse" = "registered_nurse"
"HCA" = "healthcare_support_worker"
[fill_sources]
"NHSP" = "bank"
"Agency" = "agency"
[statuses]
"Assigned" = "filled"
"Vacant" = "unfilled"
"Cancelled" = "cancelled"
"""

HEADER = (
    "Duty ID,Unit,Grade,Start,End,Created,Status,Fill Type,Filled,Rate,"
    "Staff Name,Staff Number,Email\n"
)
ROWS = [
    "D1,W12,Band 5 Staff Nurse,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Assigned,NHSP,"
    f"03/07/2026 10:00,£31.50,CANARYSURNAME Jo,{canaries.NHS_NUMBER},{canaries.EMAIL}\n",
    "D2,W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Vacant,,,,,,\n",
    "D3,AMU,HCA,07/07/2026 19:30,08/07/2026 08:00,01/06/2026 09:00,Cancelled,,,,,,\n",
    "D4,AMU,Porter,07/07/2026 19:30,08/07/2026 08:00,01/06/2026 09:00,Vacant,,,,,,\n",
    "D5,AMU,HCA,yesterday,08/07/2026 08:00,01/06/2026 09:00,Vacant,,,,,,\n",
]


def test_a_shift_export_becomes_rostering_events_without_staff_identifiers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "export.csv").write_text(HEADER + "".join(ROWS), encoding="utf-8")
    (tmp_path / "map.toml").write_text(MAPPING)
    out = tmp_path / "out.jsonl"
    args = [
        "roster",
        "convert",
        str(tmp_path / "export.csv"),
        "--mapping",
        str(tmp_path / "map.toml"),
    ]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out) == {
        "rows": 5,
        "events": 6,
        "ignored": 0,
        "rejected": 2,
        "reasons": {"bad_staff_group": 1, "bad_timestamp": 1},
    }
    events = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [(e["event_type"], e.get("fill_source") or e.get("change")) for e in events]
    assert kinds == [
        ("shift_planned", None),
        ("shift_filled", "bank"),
        ("shift_planned", None),
        ("shift_unfilled", None),
        ("shift_planned", None),
        ("shift_changed", "cancelled"),
    ]
    planned = events[0]
    # 07:30 BST is 06:30 UTC
    assert planned["starts_at"].startswith("2026-07-06T06:30:00")
    assert (planned["unit_code"], planned["staff_group"]) == ("W12", "registered_nurse")
    assert events[1]["hourly_rate_gbp"] == 31.5
    assert events[0]["shift_ref"] == events[1]["shift_ref"] != events[2]["shift_ref"]
    text = out.read_text() + printed.out + printed.err
    assert canaries.leaked([text]) == []
    assert "CANARYSURNAME" not in text

    # the same export again gives the same event ids (the engine counts repeats as duplicates)
    again = tmp_path / "again.jsonl"
    assert main([*args, "--out", str(again)]) == 0
    assert again.read_text() == out.read_text()


CANCELLED_HEADER = "Duty ID,Unit,Grade,Start,End,Created,Status,Last Modified\n"
CANCELLED_ROWS = (
    "D3,AMU,HCA,07/07/2026 19:30,08/07/2026 08:00,01/06/2026 09:00,Cancelled,06/07/2026 16:45\n"
    "D6,AMU,HCA,08/07/2026 19:30,09/07/2026 08:00,01/06/2026 09:00,Cancelled,\n"
    "D7,AMU,HCA,08/07/2026 19:30,09/07/2026 08:00,01/06/2026 09:00,Cancelled,31/05/2026 09:00\n"
)


def _convert_cancellations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *, mapping: str
) -> tuple[dict[str, object], list[dict[str, str]], str]:
    (tmp_path / "export.csv").write_text(CANCELLED_HEADER + CANCELLED_ROWS, encoding="utf-8")
    (tmp_path / "map.toml").write_text(mapping)
    out = tmp_path / "out.jsonl"
    args = ["roster", "convert", str(tmp_path / "export.csv"), "--mapping"]
    assert main([*args, str(tmp_path / "map.toml"), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    events = [json.loads(line) for line in out.read_text().splitlines()]
    changes = [e for e in events if e["event_type"] == "shift_changed"]
    return json.loads(printed.out), changes, printed.err


def test_a_cancellation_is_dated_by_the_export_s_cancellation_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    column = 'status = "Status"\ncancelled_at = "Last Modified"'
    mapping = MAPPING.replace('status = "Status"', column)
    summary, changes, err = _convert_cancellations(tmp_path, capsys, mapping=mapping)
    # D3 at its cancellation time (16:45 BST the day before the shift), D6 (the cell empty)
    # at its planning, as without the column; D7 cancelled before it was planned is refused
    assert [c["occurred_at"] for c in changes] == ["2026-07-06T15:45:00Z", "2026-06-01T08:00:00Z"]
    assert summary["rejected"] == 1
    assert summary["reasons"] == {"cancelled_before_created": 1}
    assert "1 cancelled shift" in err and "planning time" in err


def test_without_a_cancellation_column_a_cancellation_is_dated_at_planning_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary, changes, err = _convert_cancellations(tmp_path, capsys, mapping=MAPPING)
    assert summary["rejected"] == 0
    assert [c["occurred_at"] for c in changes] == ["2026-06-01T08:00:00Z"] * 3
    assert "3 cancelled shifts" in err and "planning time" in err
