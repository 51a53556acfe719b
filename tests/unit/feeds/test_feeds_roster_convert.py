"""``roster convert``: a shift export's rows -> rostering events, staff columns never read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.roster_export import local_time
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

#: for exports without the fill columns: every column the mapping names must be in the header
UNFILLED_MAPPING = MAPPING.replace(
    'fill_source = "Fill Type"\nfilled_at = "Filled"\nhourly_rate = "Rate"\n', ""
)

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
    # in event-time order: the three plans (and D3's cancellation, dated at its planning
    # without a cancellation column), then D1's fill and D2's vacancy at its start
    assert kinds == [
        ("shift_planned", None),
        ("shift_planned", None),
        ("shift_planned", None),
        ("shift_changed", "cancelled"),
        ("shift_filled", "bank"),
        ("shift_unfilled", None),
    ]
    planned = events[0]
    # 07:30 BST is 06:30 UTC
    assert planned["starts_at"].startswith("2026-07-06T06:30:00")
    assert (planned["unit_code"], planned["staff_group"]) == ("W12", "registered_nurse")
    assert events[4]["hourly_rate_gbp"] == 31.5
    assert events[0]["shift_ref"] == events[4]["shift_ref"] != events[1]["shift_ref"]
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
    mapping = UNFILLED_MAPPING.replace('status = "Status"', column)
    summary, changes, err = _convert_cancellations(tmp_path, capsys, mapping=mapping)
    # D3 at its cancellation time (16:45 BST the day before the shift), D6 (the cell empty)
    # at its planning, as without the column; D7 cancelled before it was planned is refused
    assert [c["occurred_at"] for c in changes] == ["2026-06-01T08:00:00Z", "2026-07-06T15:45:00Z"]
    assert summary["rejected"] == 1
    assert summary["reasons"] == {"cancelled_before_created": 1}
    assert "1 cancelled shift" in err and "planning time" in err


def test_without_a_cancellation_column_a_cancellation_is_dated_at_planning_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary, changes, err = _convert_cancellations(tmp_path, capsys, mapping=UNFILLED_MAPPING)
    assert summary["rejected"] == 0
    assert [c["occurred_at"] for c in changes] == ["2026-06-01T08:00:00Z"] * 3
    assert "3 cancelled shifts" in err and "planning time" in err


# --- the export as Excel and e-rostering systems really write it --------------------------------

VACANT = "W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Vacant"
NOTES_HEADER = "Duty ID,Unit,Grade,Start,End,Created,Status,Notes\r\n"


def _run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    export: bytes,
    *,
    mapping: str = UNFILLED_MAPPING,
) -> tuple[int, str, str, Path]:
    (tmp_path / "export.csv").write_bytes(export)
    (tmp_path / "map.toml").write_text(mapping)
    out = tmp_path / "out.jsonl"
    args = ["roster", "convert", str(tmp_path / "export.csv")]
    code = main([*args, "--mapping", str(tmp_path / "map.toml"), "--out", str(out)])
    printed = capsys.readouterr()
    return code, printed.out, printed.err, out


@pytest.mark.parametrize("tail", ["", "x" * 140_000], ids=["short", "past_the_field_limit"])
def test_an_unterminated_quote_is_an_error_naming_its_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tail: str
) -> None:
    rows = [f"D1,{VACANT},ok\r\n", f'D2,{VACANT},"CANARYNOTE {tail}\r\n', f"D3,{VACANT},\r\n"]
    (tmp_path / "out.jsonl").write_text("the previous run\n")
    code, out, err, path = _run(tmp_path, capsys, (NOTES_HEADER + "".join(rows)).encode())
    assert code == 2
    assert out == ""
    assert "line 3" in err and "quote" in err
    assert "CANARYNOTE" not in err
    # the previous output stays as it was, and no temporary file is left beside it
    assert path.read_text() == "the previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv", "map.toml", "out.jsonl"]


def test_a_quote_closed_early_is_an_error_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = NOTES_HEADER + f"D1,{VACANT},ok\r\n" + f'D2,{VACANT},"CANARYNOTE"x\r\n'
    code, out, err, path = _run(tmp_path, capsys, export.encode())
    assert (code, out, path.exists()) == (2, "", False)
    assert "line 3" in err and "CANARYNOTE" not in err


def test_a_windows_1252_export_is_read_as_such_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "Duty ID,Unit,Grade,Start,End,Created,Status,Fill Type,Filled,Rate,Staff Name\r\n"
    filled = "W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Assigned,Agency"
    export = header + f"D1,{filled},03/07/2026 10:00,£31.50,CANARYRenée\r\n" * 2
    code, out, err, path = _run(tmp_path, capsys, export.encode("cp1252"), mapping=MAPPING)
    assert code == 0
    assert json.loads(out)["events"] == 4
    rates = [json.loads(line).get("hourly_rate_gbp") for line in path.read_text().splitlines()]
    assert rates == [None, None, 31.5, 31.5]  # in time order: both plans, then both fills
    assert "Windows-1252" in err
    assert "CANARY" not in err + out


def test_a_utf_8_export_with_a_byte_order_mark_is_read_without_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = NOTES_HEADER + f"D1,{VACANT},Renée\r\n"
    code, out, err, _ = _run(tmp_path, capsys, export.encode("utf-8-sig"))
    assert (code, json.loads(out)["events"], err) == (0, 2, "")


def test_an_export_in_neither_encoding_is_an_error_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0x81 is undefined in Windows-1252 and not UTF-8
    export = (NOTES_HEADER + f"D1,{VACANT},ok\r\n").encode() + f"D2,{VACANT},CANARY".encode()
    code, out, err, path = _run(tmp_path, capsys, export + b"\x81\r\n")
    assert (code, out, path.exists()) == (2, "", False)
    assert "line 3" in err and "UTF-8" in err and "CANARY" not in err


def test_a_vacant_shift_gives_its_shift_unfilled_only_once_it_has_started(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from feeds.roster_export import ShiftExportConverter, convert_export, load_mapping

    header = "Duty ID,Unit,Grade,Start,End,Created,Status\n"
    rows = (
        # started yesterday / starting now (07:30 BST = 06:30 UTC) / tomorrow, next month
        "D1,W12,HCA,05/07/2026 07:30,05/07/2026 20:00,01/06/2026 09:00,Vacant\n"
        "D2,W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Vacant\n"
        "D3,W12,HCA,07/07/2026 07:30,07/07/2026 20:00,01/06/2026 09:00,Vacant\n"
        "D4,W12,HCA,07/08/2026 07:30,07/08/2026 20:00,01/06/2026 09:00,Vacant\n"
    )
    (tmp_path / "export.csv").write_text(header + rows)
    (tmp_path / "map.toml").write_text(UNFILLED_MAPPING)
    converter = ShiftExportConverter(
        mapping=load_mapping(tmp_path / "map.toml"),
        clock=lambda: datetime(2026, 7, 6, 6, 30, tzinfo=UTC),
    )
    out = tmp_path / "out.jsonl"
    stats = convert_export([tmp_path / "export.csv"], converter=converter, out=out)
    assert (stats.rejected, stats.events) == (0, 6)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    unfilled = [e["occurred_at"] for e in events if e["event_type"] == "shift_unfilled"]
    assert unfilled == ["2026-07-05T06:30:00Z", "2026-07-06T06:30:00Z"]
    assert converter.upcoming_vacancies == 2


def test_the_upcoming_roster_s_vacant_shifts_are_kept_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    start = (datetime.now(UTC) + timedelta(days=30)).strftime("%d/%m/%Y")
    export = f"Duty ID,Unit,Grade,Start,End,Created,Status\nD1,W12,HCA,{start} 07:30,"
    export += f"{start} 20:00,01/06/2026 09:00,Vacant\n"
    code, out, err, path = _run(tmp_path, capsys, export.encode())
    assert code == 0
    assert json.loads(out)["rejected"] == 0
    events = [json.loads(line)["event_type"] for line in path.read_text().splitlines()]
    assert events == ["shift_planned"]
    assert "1 vacant shift" in err and "not started" in err


def test_a_mapped_column_missing_from_the_header_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = (
        "Duty ID,Unit,Grade,Start,End,Created,Status,Fill type,Filled On,Rate (GBP)\r\n"
        "D1,W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Assigned,Agency,"
        "03/07/2026 10:00,85.00\r\n"
    )
    code, out, err, path = _run(tmp_path, capsys, export.encode(), mapping=MAPPING)
    assert (code, out, path.exists()) == (2, "", False)
    assert "filled_at" in err and '"Filled"' in err and "hourly_rate" in err
    # the header's own names are listed, so the mapping can be corrected
    assert "Filled On" in err and "Rate (GBP)" in err
    assert "85.00" not in err


def test_a_headerless_export_is_an_error_that_lists_no_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = "D1,W12,CANARYSURNAME Jo,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Vacant\n"
    code, out, err, _ = _run(tmp_path, capsys, export.encode())
    assert (code, out) == (2, "")
    assert "header" in err and "CANARYSURNAME" not in err


def test_headers_match_the_mapping_ignoring_case_and_surrounding_spaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = (
        " duty id ,UNIT,grade,Start ,End,Created,STATUS,fill type,FILLED,rate\r\n"
        "D1,W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Assigned,Agency,"
        "03/07/2026 10:00,85.00\r\n"
    )
    code, out, _, path = _run(tmp_path, capsys, export.encode(), mapping=MAPPING)
    assert (code, json.loads(out)["rejected"]) == (0, 0)
    filled = json.loads(path.read_text().splitlines()[1])
    assert (filled["fill_source"], filled["hourly_rate_gbp"]) == ("agency", 85.0)


def test_an_empty_cancellation_cell_names_the_mapped_column_not_the_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    column = 'status = "Status"\ncancelled_at = "Last Modified"'
    mapping = UNFILLED_MAPPING.replace('status = "Status"', column)
    _, _, err = _convert_cancellations(tmp_path, capsys, mapping=mapping)
    assert "Last Modified" in err and "map [columns]" not in err


def test_an_unknown_key_in_columns_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = MAPPING.replace('filled_at = "Filled"', 'filed_at = "Filled"')
    code, out, err, _ = _run(tmp_path, capsys, NOTES_HEADER.encode(), mapping=mapping)
    assert (code, out) == (2, "")
    assert "filed_at" in err and "filled_at" in err


@pytest.mark.parametrize("rate", ["inf", "nan", "1_000", "1e3", "-5", "1,000", "٣١", "£"])
def test_a_rate_that_is_not_a_plain_decimal_rejects_the_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rate: str
) -> None:
    header = "Duty ID,Unit,Grade,Start,End,Created,Status,Fill Type,Filled,Rate\n"
    filled = "W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Assigned,Agency,"
    export = header + f'D1,{filled}03/07/2026 10:00,"{rate}"\n' + f"D2,{filled},£ 31.50\n"
    code, out, _, path = _run(tmp_path, capsys, export.encode(), mapping=MAPPING)
    assert code == 0
    assert json.loads(out)["reasons"] == {"bad_rate": 1}
    assert json.loads(path.read_text().splitlines()[1])["hourly_rate_gbp"] == 31.5


def test_times_with_seconds_and_a_night_ending_at_24_00_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # exports write seconds where the mapping's format stops at the minute, and some write a
    # night shift's midnight end as 24:00; both were rejected as bad_timestamp
    rows = [
        "D1,W12,HCA,06/07/2026 07:30:00,06/07/2026 20:00:00,01/06/2026 09:00:00,Vacant\n",
        "D2,W12,HCA,06/07/2026 16:00,06/07/2026 24:00,01/06/2026 09:00,Vacant\n",
        "D3,W12,HCA,06/07/2026 16:00,06/07/2026 24:00:00,01/06/2026 09:00,Vacant\n",
        "D4,W12,HCA,06/07/2026 25:00,06/07/2026 24:30,01/06/2026 09:00,Vacant\n",
        # the minutes and seconds of 07:24:00 are no 24:00
        "D5,W12,HCA,06/07/2026 07:24:00,06/07/2026 19:24:00,01/06/2026 09:24:00,Vacant\n",
    ]
    export = "Duty ID,Unit,Grade,Start,End,Created,Status\n" + "".join(rows)
    code, out, _, path = _run(tmp_path, capsys, export.encode())
    assert code == 0
    assert json.loads(out)["reasons"] == {"bad_timestamp": 1}
    planned = [json.loads(x) for x in path.read_text().splitlines()]
    planned = [e for e in planned if e["event_type"] == "shift_planned"]
    # BST: local 07:30 is 06:30 UTC, and 24:00 on 6 July is 23:00 UTC that day
    assert [(e["starts_at"][:16], e["ends_at"][:16]) for e in planned] == [
        ("2026-07-06T06:30", "2026-07-06T19:00"),
        ("2026-07-06T15:00", "2026-07-06T23:00"),
        ("2026-07-06T15:00", "2026-07-06T23:00"),
        ("2026-07-06T06:24", "2026-07-06T18:24"),
    ]


@pytest.mark.parametrize(
    ("cell", "utc"),
    [
        # the repeated autumn hour is its first occurrence (BST), as the HL7 adapter reads it
        ("25/10/2026 01:30", "2026-10-25T00:30"),
        # a time in the skipped spring hour reads as an hour later (02:30 BST = 01:30 UTC)
        ("29/03/2026 01:30", "2026-03-29T01:30"),
        ("29/03/2026 03:00", "2026-03-29T02:00"),
    ],
)
def test_clock_change_times_read_as_the_hl7_adapter_reads_them(
    cell: str, utc: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = f"D1,W12,HCA,{cell},{cell[:10]} 09:00,01/03/2026 09:00,Vacant\n"
    export = "Duty ID,Unit,Grade,Start,End,Created,Status\n" + row
    code, _, _, path = _run(tmp_path, capsys, export.encode())
    assert code == 0
    assert json.loads(path.read_text().splitlines()[0])["starts_at"][:16] == utc


def test_a_time_with_its_own_offset_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an export (or an integration engine) writing ISO 8601 with Z or an offset: the offset
    # stands; London time is only for times written without one
    mapping = UNFILLED_MAPPING.replace('"%d/%m/%Y %H:%M"', '"%Y-%m-%dT%H:%M:%S%z"')
    rows = [
        "D1,W12,HCA,2026-07-06T06:30:00Z,2026-07-06T19:00:00Z,2026-06-01T08:00:00Z,Vacant\n",
        "D2,W12,HCA,2026-07-06T07:30:00+01:00,2026-07-06T20:00:00+01:00,"
        "2026-06-01T09:00:00+01:00,Vacant\n",
        "D3,W12,HCA,2026-01-06T07:30:00+00:00,2026-01-06T20:00:00+00:00,"
        "2026-01-01T09:00:00+00:00,Vacant\n",
    ]
    export = "Duty ID,Unit,Grade,Start,End,Created,Status\n" + "".join(rows)
    code, _, _, path = _run(tmp_path, capsys, export.encode(), mapping=mapping)
    assert code == 0
    planned = [json.loads(x) for x in path.read_text().splitlines()]
    planned = [e for e in planned if e["event_type"] == "shift_planned"]
    assert sorted((e["starts_at"][:16], e["ends_at"][:16]) for e in planned) == [
        ("2026-01-06T07:30", "2026-01-06T20:00"),
        ("2026-07-06T06:30", "2026-07-06T19:00"),
        ("2026-07-06T06:30", "2026-07-06T19:00"),
    ]


def test_the_converted_events_are_in_time_order_across_units_and_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Exports are sorted by unit (and a trust sends one file a unit): written in row order,
    # the worker's clock ran through the first unit's weeks and the other units' events came
    # late, into hours already evaluated. The output is in event-time order.
    first = [
        "A1,W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Vacant\n",
        "A2,W12,HCA,20/07/2026 07:30,20/07/2026 20:00,15/06/2026 09:00,Vacant\n",
        "B1,AMU,HCA,07/07/2026 07:30,07/07/2026 20:00,02/06/2026 09:00,Vacant\n",
    ]
    second = ["C1,ED,HCA,08/07/2026 07:30,08/07/2026 20:00,03/06/2026 09:00,Vacant\n"]
    header = "Duty ID,Unit,Grade,Start,End,Created,Status\n"
    (tmp_path / "a.csv").write_text(header + "".join(first))
    (tmp_path / "b.csv").write_text(header + "".join(second))
    (tmp_path / "map.toml").write_text(UNFILLED_MAPPING)
    out = tmp_path / "out.jsonl"
    code = main(
        ["roster", "convert", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
         "--mapping", str(tmp_path / "map.toml"), "--out", str(out)]
    )  # fmt: skip
    capsys.readouterr()
    assert code == 0
    events = [json.loads(x) for x in out.read_text().splitlines()]
    times = [e["occurred_at"] for e in events]
    assert len(events) >= 4 and times == sorted(times)
    planned = [e["starts_at"][:10] for e in events if e["event_type"] == "shift_planned"]
    assert planned == ["2026-07-06", "2026-07-07", "2026-07-08", "2026-07-20"]


def _convert_night(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, rows: str
) -> Path:
    header = "Duty ID,Unit,Grade,Start,End,Created,Status,Fill Type,Filled,Rate\n"
    (tmp_path / f"{name}.csv").write_text(header + rows)
    (tmp_path / "map.toml").write_text(MAPPING)
    out = tmp_path / f"{name}.jsonl"
    args = ["roster", "convert", str(tmp_path / f"{name}.csv"), "--mapping"]
    assert main([*args, str(tmp_path / "map.toml"), "--out", str(out)]) == 0
    capsys.readouterr()
    return out


KEPT = "D9,W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Vacant,,,\n"


def _filled(source: str, day: str = "06") -> str:
    return (
        f"D1,W12,HCA,{day}/07/2026 07:30,{day}/07/2026 20:00,01/06/2026 09:00,Assigned,{source},,\n"
    )


def test_a_row_changed_since_the_last_conversion_of_an_export_gives_new_event_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same export converted again after a shift moved and its bank fill became agency:
    # ids keyed on the shift and the kind alone repeated the old ones, and the engine dropped
    # the changed events as duplicates (the move and the agency fill were lost).
    def ids(rows: str) -> dict[tuple[str, str], str]:
        out = _convert_night(tmp_path, capsys, "roster", rows)
        events = [json.loads(line) for line in out.read_text().splitlines()]
        return {(e["shift_ref"][:8], e["event_type"]): e["event_id"] for e in events}

    first, second = ids(KEPT + _filled("NHSP")), ids(KEPT + _filled("Agency", day="13"))
    changed = {key for key in first if first[key] != second[key]}
    assert len(first) == len(second) == 4  # D9 planned and unfilled, D1 planned and filled
    assert len(changed) == 2  # D1's plan and fill; D9's events are the same events again


def test_nightly_exports_give_the_last_night_s_state_merged_by_time_or_one_by_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A fill changed and changed back over three nights (bank, agency, bank), each dated at
    # the shift's creation: keyed on content alone, the third night repeated the first's ids,
    # which analyse (the nights merged by time) dropped as duplicates while a live worker,
    # getting the nights a day apart, applied them. Each night's export has its own ids.
    import msgspec

    from models.events import Event
    from streams.engine import Engine
    from tests.unit.engine.engine_support import CATALOGUE

    nights = [
        _convert_night(tmp_path, capsys, f"night{n}", KEPT + _filled(source))
        for n, source in enumerate(["NHSP", "Agency", "NHSP"])
    ]
    per_night = [
        [msgspec.json.decode(line, type=Event) for line in night.read_bytes().splitlines()]
        for night in nights
    ]
    merged = sorted(
        (event for events in per_night for event in events), key=lambda e: e.occurred_at
    )  # stable: the nights' order breaks ties, as analyse's merge does
    fills = []
    for order in (merged, [event for events in per_night for event in events]):
        engine = Engine(CATALOGUE)
        for event in order:
            engine.process(event)
        shifts = engine.scope("RJ1", "RJ122", "nhs.rostering.v1").rostering.shifts
        fills.append({shift.fill for _, shard in shifts.all_shards() for shift in shard.values()})
    assert fills == [{"bank", None}, {"bank", None}]


def test_a_night_shift_s_end_on_its_duty_date_is_the_next_morning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # exports that date both times with the duty date: a 19:30 start "ends" at 08:00 that day
    rows = [
        "N1,W12,HCA,06/07/2026 19:30,06/07/2026 08:00,01/06/2026 09:00,Vacant\n",
    ]
    export = "Duty ID,Unit,Grade,Start,End,Created,Status\n" + "".join(rows)
    code, _, _, path = _run(tmp_path, capsys, export.encode())
    assert code == 0
    planned = [json.loads(x) for x in path.read_text().splitlines()]
    planned = [e for e in planned if e["event_type"] == "shift_planned"]
    assert [(e["starts_at"][:16], e["ends_at"][:16]) for e in planned] == [
        ("2026-07-06T18:30", "2026-07-07T07:00"),
    ]


def test_a_shift_of_more_than_72_hours_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a day and month swapped: 7 June to 7 July read as one 732-hour shift
    row = "L1,W12,HCA,07/06/2026 19:30,07/07/2026 08:00,01/06/2026 09:00,Vacant\n"
    export = "Duty ID,Unit,Grade,Start,End,Created,Status\n" + row
    code, out, _, path = _run(tmp_path, capsys, export.encode())
    assert code == 0
    assert json.loads(out)["reasons"] == {"implausible_shift_length": 1}
    assert path.read_text() == ""


def test_unit_names_become_codes_or_are_mapped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # real exports name units as people write them; [units] maps a name to a code
    mapping = UNFILLED_MAPPING + '[units]\n"Acute Medical Unit 2" = "AMU2"\n'
    names = ["Ward 7 (Elderly)", "St Mary's", "A&E", "Acute Medical Unit 2", "Ward 7 - Elderly"]
    rows = [
        f'U{i},"{name}",HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Vacant\n'
        for i, name in enumerate(names)
    ]
    rows.append('U9,"Paediatric Assessment Unit",HCA,06/07/2026 07:30,06/07/2026 20:00,'
                "01/06/2026 09:00,Vacant\n")  # fmt: skip
    export = "Duty ID,Unit,Grade,Start,End,Created,Status\n" + "".join(rows)
    code, out, err, path = _run(tmp_path, capsys, export.encode(), mapping=mapping)
    assert code == 0
    planned = [json.loads(x) for x in path.read_text().splitlines()]
    units = [e["unit_code"] for e in planned if e["event_type"] == "shift_planned"]
    assert units == ["WARD_7_ELDERLY", "ST_MARY_S", "A_E", "AMU2", "WARD_7-ELDERLY"]
    assert json.loads(out)["reasons"] == {"unit_name_too_long": 1}
    assert "[units]" in err


def test_a_semicolon_delimited_export_is_read_with_the_mapping_s_delimiter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = "Duty ID;Unit;Grade;Start;End;Created;Status\n" + (
        "S1;W12;HCA;06/07/2026 07:30;06/07/2026 20:00;01/06/2026 09:00;Vacant\n"
    )
    code, _, err, _ = _run(tmp_path, capsys, export.encode())
    assert code == 2 and 'delimiter = ";"' in err  # the error says what to set
    mapping = 'delimiter = ";"\n' + UNFILLED_MAPPING
    code, out, _, path = _run(tmp_path, capsys, export.encode(), mapping=mapping)
    assert code == 0 and json.loads(out)["rejected"] == 0
    assert [json.loads(x)["event_type"] for x in path.read_text().splitlines()] == [
        "shift_planned",
        "shift_unfilled",
    ]


def test_a_shift_entered_after_it_started_is_planned_before_its_vacancy_and_fill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # written in time order, a vacancy dated at the start (or a fill dated before the row was
    # created) came before the shift's plan, and the engine found no shift for it
    rows = [
        "E1,W12,HCA,06/07/2026 07:30,06/07/2026 20:00,06/07/2026 09:00,Vacant\n",
    ]
    code, _, _, path = _run(tmp_path, capsys, ("Duty ID,Unit,Grade,Start,End,Created,Status\n"
                                                + "".join(rows)).encode())  # fmt: skip
    assert code == 0
    events = [json.loads(x) for x in path.read_text().splitlines()]
    assert [e["event_type"] for e in events] == ["shift_planned", "shift_unfilled"]
    assert events[1]["occurred_at"] >= events[0]["occurred_at"]
    filled = "F1,W12,HCA,06/07/2026 07:30,06/07/2026 20:00,01/06/2026 09:00,Assigned,NHSP,"
    code, _, _, path = _run(
        tmp_path, capsys, (HEADER + filled + "20/05/2026 10:00,,,,\n").encode(), mapping=MAPPING
    )
    events = [json.loads(x) for x in path.read_text().splitlines()]
    assert [e["event_type"] for e in events] == ["shift_planned", "shift_filled"]
    assert events[1]["occurred_at"] == events[0]["occurred_at"]


def test_a_midnight_end_written_24_00_with_its_offset_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ISO 8601's end of day with an offset (Z or ±hh:mm) after it: was bad_timestamp
    mapping = UNFILLED_MAPPING.replace('"%d/%m/%Y %H:%M"', '"%Y-%m-%dT%H:%M:%S%z"')
    rows = [
        "D1,W12,HCA,2026-01-06T16:00:00Z,2026-01-06T24:00:00Z,2026-01-01T09:00:00Z,Vacant\n",
        "D2,W12,HCA,2026-07-06T16:00:00+01:00,2026-07-06T24:00:00+01:00,"
        "2026-06-01T09:00:00+01:00,Vacant\n",
    ]
    export = "Duty ID,Unit,Grade,Start,End,Created,Status\n" + "".join(rows)
    code, out, _, path = _run(tmp_path, capsys, export.encode(), mapping=mapping)
    assert code == 0
    assert json.loads(out)["reasons"] == {}
    planned = [json.loads(x) for x in path.read_text().splitlines()]
    planned = [e for e in planned if e["event_type"] == "shift_planned"]
    assert sorted((e["starts_at"][:16], e["ends_at"][:16]) for e in planned) == [
        ("2026-01-06T16:00", "2026-01-07T00:00"),
        ("2026-07-06T15:00", "2026-07-06T23:00"),
    ]


@pytest.mark.parametrize(
    ("cell", "time_format", "read"),
    [
        ("2026-07-06 24:00 +01:00", "%Y-%m-%d %H:%M %z", "2026-07-07T00:00:00+01:00"),
        ("2026-07-06 24:00:00 Z", "%Y-%m-%d %H:%M:%S %z", "2026-07-07T00:00:00+00:00"),
        ("2026-07-06T24:00:00.000Z", "%Y-%m-%dT%H:%M:%S.%f%z", "2026-07-07T00:00:00+00:00"),
        # not an end of day: the year 2024, and the minutes and seconds of 12:24:00
        ("2024:00", "%Y:%M", "2024-01-01T00:00:00"),
        ("2026-07-06 12:24:00+01:00", "%Y-%m-%d %H:%M:%S%z", "2026-07-06T12:24:00+01:00"),
    ],
)
def test_a_24_00_end_of_day_is_read_beside_a_space_a_fraction_or_a_zone(
    cell: str, time_format: str, read: str
) -> None:
    assert local_time(cell, time_format).isoformat() == read


def test_a_night_dated_with_its_duty_date_and_written_in_utc_ends_a_day_later_in_utc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the night of the autumn clock change, written with Z: 19:00Z to "07:00Z" that date ends
    # 24 h after 07:00Z, not at 07:00 London time the next day (08:00Z, an hour late)
    mapping = UNFILLED_MAPPING.replace('"%d/%m/%Y %H:%M"', '"%Y-%m-%dT%H:%M:%S%z"')
    row = "D1,W12,HCA,2026-10-24T19:00:00Z,2026-10-24T07:00:00Z,2026-10-01T09:00:00Z,Vacant\n"
    export = "Duty ID,Unit,Grade,Start,End,Created,Status\n" + row
    code, _, _, path = _run(tmp_path, capsys, export.encode(), mapping=mapping)
    assert code == 0
    planned = [json.loads(x) for x in path.read_text().splitlines()]
    assert [e["ends_at"][:16] for e in planned if e["event_type"] == "shift_planned"] == [
        "2026-10-25T07:00"
    ]
