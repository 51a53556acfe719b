"""import-sitrep on malformed and published-style CSVs: values are read where unambiguous, else
the row is rejected and counted (or, for a broken file, exit 2 naming file and line), and no
value from the file ever reaches stdout, stderr or an exception message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from feeds.delay_reasons import UnknownDelayReason, reason_for
from streams.cli import main

pytestmark = pytest.mark.unit

AE_HEADER = (
    '"nhs_trust22_code","total_attendances","attendances_over_4hours",'
    '"total_emergency_admissions","emergency_admissions_over_4hours","date"\n'
)
DELAY_HEADER = "nhs_trust22_code,date,delay_reason,delay_count\n"
NCTR_HEADER = "nhs_trust22_code,date,do_not_meet_criteria_to_reside\n"
DISCHARGE_HEADER = "nhs_trust22_code,date,discharged_by_1700,discharged_total\n"
BED_HEADER = "nhs_trust22_code,date,general_acute_beds_available,general_acute_beds_occupied\n"
HUB = "Care transfer hub process – Awaiting necessary referrals by care transfer hub"
TRANSPORT = "Hospital process – Awaiting patient transport services"
#: two published wordings of one reason (wellbeing_family_concerns)
FAMILY = "Wellbeing concerns – Patient/family/carer concerns over discharge readiness"
FAMILY_SPACED = "Wellbeing concerns – Patient /family/carer concerns over discharge readiness"
#: stand-ins for identifying text a malformed export might carry in any cell
SECRET = "jane.smith@nhs.net"
SECRET_WORDING = f"Awaiting Dr Jane Smith {SECRET}"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, **files: Path
) -> tuple[int, dict[str, Any], list[dict[str, Any]], str]:
    """(exit code, printed summary or {}, events written, stderr) of one import-sitrep run."""
    out = tmp_path / "out.jsonl"
    flags = [part for name, path in files.items() for part in (f"--{name}", str(path))]
    code = main(["import-sitrep", *flags, "--out", str(out)])
    captured = capsys.readouterr()
    summary = json.loads(captured.out) if captured.out else {}
    events = (
        [msgspec.json.decode(line) for line in out.read_bytes().splitlines()]
        if out.exists()
        else []
    )
    return code, summary, events, captured.err


def _ae(tmp_path: Path, *rows: str) -> Path:
    return _write(tmp_path / "ae.csv", AE_HEADER + "".join(row + "\n" for row in rows))


def _delays(tmp_path: Path, *rows: str) -> Path:
    return _write(tmp_path / "delays.csv", DELAY_HEADER + "".join(row + "\n" for row in rows))


def _run_delays(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, *rows: str
) -> tuple[int, dict[str, Any], list[dict[str, Any]], str]:
    """:func:`_run` on a delay-reason file of ``rows`` beside one trust's A&E month (a delay
    file comes with the A&E or the bed-flow files)."""
    ae = _ae(tmp_path, '"RAJ",100,5,10,1,"June 2024"')
    return _run(capsys, tmp_path, ae=ae, delays=_delays(tmp_path, *rows))


def _delay_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == "delay_reasons_sitrep"]


def _no_leak(text: str, *values: str) -> None:
    for value in values:
        assert value.lower() not in text.lower()


# 1. an unknown wording is named by file and line, never echoed


def test_unknown_wording_exits_2_with_file_and_line_not_the_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, events, err = _run_delays(
        capsys, tmp_path, f"RAJ,2024-06-01,{TRANSPORT},2", f"RAJ,2024-06-01,{SECRET_WORDING},3"
    )
    assert code == 2 and summary == {} and events == []
    assert "delays.csv: line 3" in err and "delay_reason" in err
    assert "feeds/delay_reasons.py" in err  # where the known wordings live
    _no_leak(err, "Jane", SECRET)


def test_reason_for_never_puts_the_wording_in_its_message() -> None:
    with pytest.raises(UnknownDelayReason) as raised:
        reason_for(SECRET_WORDING)
    _no_leak(str(raised.value), "Jane", SECRET)


# 2. a bad cell is a rejected row, counted by column and reason: no traceback, no value


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (f'"RAJ",100,{SECRET},10,1,"May 2023"', "bad_number:attendances_over_4hours"),
        (f'"RAJ",100,5,10,1,"{SECRET}"', "bad_date:date"),
        ('"RAJ",100,5,10,inf,"May 2023"', "bad_number:emergency_admissions_over_4hours"),
        ('"RAJ",100,-5,10,1,"May 2023"', "out_of_range:attendances_over_4hours"),
        ('"RAJ",1000000000,5,10,1,"May 2023"', "out_of_range:total_attendances"),
        ('"RAJ",100,5,10,1,"Jan-23"', "bad_date:date"),  # January 2023, or 23 January?
        ('"RAJ",100,5,10,1,"44927"', "bad_date:date"),  # an Excel serial day
        ('"RAJ",100,5,10,1,""', "bad_date:date"),
        ('"RAJ",100,5,10,1,"2023-13-01"', "bad_date:date"),
    ],
)
def test_a_bad_ae_cell_rejects_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, reason: str
) -> None:
    ae = _ae(tmp_path, row, '"RAJ",200,20,30,3,"June 2023"')
    code, summary, events, err = _run(capsys, tmp_path, ae=ae)
    assert code == 0
    assert summary["rejected_rows"] == {reason: 1}
    assert [e["period_start"] for e in events] == ["2023-06-01"]
    assert "ae.csv: line 2" in err  # where to look, for the first rejections
    _no_leak(err + json.dumps(summary), SECRET, "inf", "44927", "Jan-23", "1000000000")


def test_a_bad_daily_cell_rejects_its_row_not_the_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nctr = _write(
        tmp_path / "n.csv",
        NCTR_HEADER + f"RAA,2023-05-01,50\nRAA,2023-05-02,{SECRET}\nRAA,2023-05-03,52\n",
    )
    discharges = _write(
        tmp_path / "d.csv",
        DISCHARGE_HEADER + "RAA,2023-05-01,5,20\nRAA,2023-05-02,4,16\nRAA,2023-05-03,12,10\n",
    )
    beds = _write(tmp_path / "b.csv", BED_HEADER + "RAA,May 2023,200.4,abc\n")
    code, summary, events, err = _run(capsys, tmp_path, nctr=nctr, discharges=discharges, beds=beds)
    assert code == 0
    assert summary["rejected_rows"] == {
        "bad_number:do_not_meet_criteria_to_reside": 1,
        "bad_number:general_acute_beds_occupied": 1,
    }
    daily = [e for e in events if e["event_type"] == "discharge_sitrep"]
    # the rejected day is neither an event nor a "missing" (not submitted) day
    assert [e["report_date"] for e in daily] == ["2023-05-01", "2023-05-03"]
    assert summary["missing_days"] == 0
    assert daily[0]["discharged_by_1700"] == 5
    assert "discharged_by_1700" not in daily[1]  # 12 by 17:00 of 10: no split
    assert not [e for e in events if e["event_type"] == "bed_sitrep"]
    _no_leak(err + json.dumps(summary), SECRET, "abc")


# 3. published-style values that are unambiguous are read


def test_thousands_separators_spaces_and_uk_dates_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ae = _ae(
        tmp_path,
        '"RAJ","1,234",5,10,1," May 2023"',
        '"RAJ"," 2,000 ",50,"1,100",11,"Jun-2023"',
        '"RAJ",300,30,20,2,"01-Jul-2023"',
        '"RAJ",400,40,20,2,"01/08/2023"',
        '"RAJ",500,50,20,2,"September 2023"',
    )
    code, summary, events, _ = _run(capsys, tmp_path, ae=ae)
    assert code == 0 and summary["rejected_rows"] == {}
    assert [(e["period_start"], e["attendances"]) for e in events] == [
        ("2023-05-01", 1234),
        ("2023-06-01", 2000),
        ("2023-07-01", 300),
        ("2023-08-01", 400),
        ("2023-09-01", 500),
    ]
    assert events[1]["emergency_admissions"] == 1100


def test_day_first_daily_dates_and_thousands_in_beds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nctr = _write(tmp_path / "n.csv", NCTR_HEADER + "RAA,01/05/2023,50\nRAA,02-May-2023,51\n")
    discharges = _write(
        tmp_path / "d.csv", DISCHARGE_HEADER + "RAA,2023-05-01,5,15\nRAA,2023-05-02,6,16\n"
    )
    beds = _write(tmp_path / "b.csv", BED_HEADER + 'RAA,May 2023,"1,200.4","1,100.6"\n')
    code, summary, events, _ = _run(capsys, tmp_path, nctr=nctr, discharges=discharges, beds=beds)
    assert code == 0 and summary["rejected_rows"] == {}
    daily = [e for e in events if e["event_type"] == "discharge_sitrep"]
    assert [(e["report_date"], e["nctr_patients"]) for e in daily] == [
        ("2023-05-01", 50),
        ("2023-05-02", 51),
    ]
    bed = next(e for e in events if e["event_type"] == "bed_sitrep")
    assert (bed["ga_beds_available"], bed["ga_beds_occupied"]) == (1200, 1101)


def test_a_monthly_form_is_not_a_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nctr = _write(tmp_path / "n.csv", NCTR_HEADER + "RAA,May 2023,50\nRAA,2023-05-02,51\n")
    discharges = _write(tmp_path / "d.csv", DISCHARGE_HEADER + "RAA,2023-05-02,6,16\n")
    beds = _write(tmp_path / "b.csv", BED_HEADER + "RAA,May 2023,200,180\n")
    code, summary, _, _ = _run(capsys, tmp_path, nctr=nctr, discharges=discharges, beds=beds)
    assert code == 0 and summary["rejected_rows"] == {"bad_date:date": 1}


@pytest.mark.parametrize("marker", ["*", "-", "..", " ", "", "NA"])
def test_suppression_markers_are_missing_not_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], marker: str
) -> None:
    ae = _ae(
        tmp_path,
        f'"RAJ",100,"{marker}",10,1,"May 2023"',  # no over-4-hours count: no event, as NA
        f'"RAJ",200,20,30,"{marker}","June 2023"',  # the optional count is left out
    )
    code, summary, events, _ = _run(capsys, tmp_path, ae=ae)
    assert code == 0 and summary["rejected_rows"] == {}
    assert [e["period_start"] for e in events] == ["2023-06-01"]
    assert "emergency_admissions_over_4h" not in events[0]


@pytest.mark.parametrize("marker", ["*", "..", " "])
def test_a_suppressed_delay_count_is_left_out_like_na(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], marker: str
) -> None:
    code, summary, events, _ = _run_delays(
        capsys, tmp_path, f"RAJ,2024-06-01,{HUB},4", f'RAJ,2024-06-01,{TRANSPORT},"{marker}"'
    )
    assert code == 0 and summary["rejected_rows"] == {}
    (reasons,) = _delay_events(events)
    assert reasons["counts"] == {"hub_referrals": 4}


def test_a_suppressed_daily_count_is_a_missing_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nctr = _write(tmp_path / "n.csv", NCTR_HEADER + "RAA,2023-05-01,50\nRAA,2023-05-02,*\n")
    discharges = _write(
        tmp_path / "d.csv", DISCHARGE_HEADER + "RAA,2023-05-01,*,15\nRAA,2023-05-02,6,16\n"
    )
    beds = _write(tmp_path / "b.csv", BED_HEADER + "RAA,May 2023,200,180\n")
    code, summary, events, _ = _run(capsys, tmp_path, nctr=nctr, discharges=discharges, beds=beds)
    assert code == 0 and summary["rejected_rows"] == {} and summary["missing_days"] == 1
    daily = [e for e in events if e["event_type"] == "discharge_sitrep"]
    assert [e["report_date"] for e in daily] == ["2023-05-01"]
    assert "discharged_by_1700" not in daily[0]


# 4. only contract-valid events are written; the others are counted by the decoder's reason


def test_events_the_contract_refuses_are_counted_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nctr = _write(tmp_path / "n.csv", NCTR_HEADER + "RAA,2023-05-01,50\n")
    discharges = _write(tmp_path / "d.csv", DISCHARGE_HEADER + "RAA,2023-05-01,5,15\n")
    beds = _write(
        tmp_path / "b.csv",
        BED_HEADER + "RAA,May 2023,1000000000.4,180\nRAA,May 2099,200,180\n",
    )
    delays = _delays(
        tmp_path, f"RAA,2024-06-01,{FAMILY},600000000", f"RAA,2024-06-01,{FAMILY_SPACED},600000000"
    )
    code, summary, events, _ = _run(
        capsys, tmp_path, nctr=nctr, discharges=discharges, beds=beds, delays=delays
    )
    assert code == 0
    assert summary["rejected_rows"] == {"out_of_range:general_acute_beds_available": 1}
    # a sum of counts can leave the contract's range; a month in 2099 is in the future
    assert summary["rejected_events"] == {"out_of_range": 1, "future_time": 1}
    assert [e["event_type"] for e in events] == ["discharge_sitrep"]
    assert summary["events"] == 1


# 5. an exact duplicate delay row counts once; different wordings of one reason still add up


def test_an_exact_duplicate_delay_row_counts_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, events, _ = _run_delays(
        capsys,
        tmp_path,
        f"RAJ,2024-06-01,{HUB},4",
        f"RAJ,2024-06-01,{HUB},4",
        f"RAJ,2024-06-01,{TRANSPORT},1",
    )
    assert code == 0 and summary["rejected_rows"] == {"duplicate_row": 1}
    (reasons,) = _delay_events(events)
    assert reasons["counts"] == {"hub_referrals": 4, "hospital_patient_transport": 1}


def test_a_conflicting_duplicate_rejects_the_trust_month(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, events, err = _run_delays(
        capsys,
        tmp_path,
        f"RAJ,2024-06-01,{HUB},4",
        f"RAJ,2024-06-01,{TRANSPORT},1",
        f"RAJ,June 2024,{HUB},5",  # the same trust, month and wording, another count
        f"RAJ,2024-07-01,{HUB},2",
    )
    # the two conflicting rows, and the month's other row: the month has no event
    assert summary["rejected_rows"] == {"conflicting_duplicate": 2, "month_rejected": 1}
    assert code == 0
    months = [e["period_start"] for e in _delay_events(events)]
    assert months == ["2024-07-01"]
    assert "delays.csv: line 4" in err


def test_two_wordings_of_one_reason_add_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, events, _ = _run_delays(
        capsys, tmp_path, f"RAJ,2024-06-01,{FAMILY_SPACED},2", f"RAJ,2024-06-01,{FAMILY},3"
    )
    assert code == 0 and summary["rejected_rows"] == {}
    (reasons,) = _delay_events(events)
    assert reasons["counts"] == {"wellbeing_family_concerns": 5}


# 6. a title block above the header is skipped; a file without the header says what it needs


def test_a_title_block_above_the_header_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ae = _write(
        tmp_path / "ae.csv",
        "Title:,A&E Attendances and Emergency Admissions\n"
        "Period:,May 2023\n"
        "\n" + AE_HEADER + '"RAJ",100,5,10,1,"May 2023"\n"RAJ",100,x,10,1,"June 2023"\n',
    )
    code, _, events, err = _run(capsys, tmp_path, ae=ae)
    assert code == 0 and [e["attendances"] for e in events] == [100]
    assert "ae.csv: line 6" in err  # line numbers count the title block


def test_no_header_row_names_the_expected_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ae = _write(tmp_path / "ae.csv", f"Title:,{SECRET}\ntrust,attendances\nRAJ,100\n")
    code, summary, _, err = _run(capsys, tmp_path, ae=ae)
    assert code == 2 and summary == {}
    assert "ae.csv: no header row" in err and "nhs_trust22_code" in err
    assert "total_attendances" in err
    _no_leak(err, SECRET)


def test_a_structurally_broken_file_exits_2_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ae = _ae(tmp_path, '"RAJ",100,5,10,1,"May 2023"', f'"RAJ",100,5,10,1,"June 2023",{SECRET}')
    code, summary, _, err = _run(capsys, tmp_path, ae=ae)
    assert code == 2 and summary == {}
    assert "ae.csv: line 3" in err and "Traceback" not in err
    _no_leak(err, SECRET)


def test_text_that_is_not_utf8_exits_2_without_the_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ae = tmp_path / "ae.csv"
    ae.write_bytes(AE_HEADER.encode() + b'"RAJ",100,5,10,1,"May 2023 \xe9t\xe9"\n')
    code, _, _, err = _run(capsys, tmp_path, ae=ae)
    assert code == 2 and "ae.csv" in err and "UTF-8" in err
    _no_leak(err, "xe9", "0xe9")


def test_a_bad_delay_count_leaves_its_trust_month_without_an_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, events, err = _run_delays(
        capsys,
        tmp_path,
        f"RAJ,2024-06-01,{HUB},{SECRET}",
        f"RAJ,2024-06-01,{TRANSPORT},1",
        f"RAJ,2024-07-01,{HUB},2",
    )
    assert code == 0
    # June without one of its reasons would overstate every other reason's share
    assert summary["rejected_rows"] == {"bad_number:delay_count": 1, "month_rejected": 1}
    months = [e["period_start"] for e in _delay_events(events)]
    assert months == ["2024-07-01"]
    _no_leak(err + json.dumps(summary), SECRET)


# 7. what spreadsheets and later publications do to the files


def _bedflow(
    tmp_path: Path, *, nctr: str, discharges: str, beds: str = "RAA,May 2023,200,180\n"
) -> dict[str, Path]:
    return {
        "nctr": _write(tmp_path / "n.csv", nctr),
        "discharges": _write(tmp_path / "d.csv", discharges),
        "beds": _write(tmp_path / "b.csv", BED_HEADER + beds),
    }


def _daily(events: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    return [
        (e["report_date"], e["nctr_patients"], e["discharged_total"])
        for e in events
        if e["event_type"] == "discharge_sitrep"
    ]


def test_rows_ending_in_a_comma_are_read_not_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Excel writes a trailing comma per row when the sheet has an empty last column; pandas then
    # took the trust code as the row index and every row was skipped as padding, silently
    files = _bedflow(
        tmp_path,
        nctr=NCTR_HEADER + "RAA,2023-05-01,50,\nRAA,2023-05-02,51,\n",
        discharges=DISCHARGE_HEADER + "RAA,2023-05-01,5,20,\nRAA,2023-05-02,4,16,\n",
        beds="RAA,May 2023,200,180,\n",
    )
    code, summary, events, _ = _run(capsys, tmp_path, **files)
    assert code == 0
    assert _daily(events) == [("2023-05-01", 50, 20), ("2023-05-02", 51, 16)]
    assert summary["skipped_rows"] == 0 and summary["by_type"]["bed_sitrep"] == 1


@pytest.mark.parametrize(
    ("rows", "line", "fields"),
    [
        # a value in the extra field of a later row
        ("RAA,2023-05-01,50,\nRAA,2023-05-02,51,7\n", 3, 4),
        # an unquoted 1,234 in a row that also ends in a comma: read as 1 before
        ("RAA,2023-05-01,1,234,\nRAA,2023-05-02,50,\n", 2, 5),
    ],
)
def test_a_value_beyond_the_header_is_an_error_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: str, line: int, fields: int
) -> None:
    files = _bedflow(
        tmp_path, nctr=NCTR_HEADER + rows, discharges=DISCHARGE_HEADER + "RAA,2023-05-01,5,20\n"
    )
    code, summary, _, err = _run(capsys, tmp_path, **files)
    assert code == 2 and summary == {}
    assert f"n.csv: line {line}: {fields} fields where the header has 3" in err


def test_trailing_commas_after_a_blank_first_row_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _bedflow(
        tmp_path,
        nctr=NCTR_HEADER + "\nRAA,2023-05-01,50,\nRAA,2023-05-02,51,\n",
        discharges=DISCHARGE_HEADER + "RAA,2023-05-01,5,20\nRAA,2023-05-02,4,16\n",
    )
    code, _, events, _ = _run(capsys, tmp_path, **files)
    assert code == 0
    assert _daily(events) == [("2023-05-01", 50, 20), ("2023-05-02", 51, 16)]


def test_a_revised_day_appended_to_the_file_gives_no_event_and_is_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A later publication's figures appended to the first: which row is the revision is not in
    # the file. The day was written with crossed figures (one id, four events) before.
    files = _bedflow(
        tmp_path,
        nctr=NCTR_HEADER + "RAA,2023-05-01,50\nRAA,2023-05-02,51\nRAA,2023-05-01,55\n",
        discharges=DISCHARGE_HEADER
        + "RAA,2023-05-01,5,20\nRAA,2023-05-02,4,16\nRAA,2023-05-01,5,20\nRAA,2023-05-01,6,22\n",
        beds="RAA,May 2023,200,180\nRAA,May 2023,200,180\n",
    )
    code, summary, events, err = _run(capsys, tmp_path, **files)
    assert code == 0
    assert _daily(events) == [("2023-05-02", 51, 16)]
    # NCTR 50 / 55; discharges 5,20 (twice: once a repeat) / 6,22; the bed month repeated
    assert summary["rejected_rows"] == {"conflicting_duplicate": 4, "duplicate_row": 2}
    assert summary["missing_days"] == 0  # rejected, not "not submitted"
    assert summary["by_type"]["bed_sitrep"] == 1  # the exact repeat counts once
    assert "n.csv: line 2: conflicting_duplicate" in err


def test_a_revised_ae_month_gives_no_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ae = _ae(
        tmp_path,
        '"RAJ",100,5,10,1,"May 2023"',
        '"RAJ",200,20,10,1,"June 2023"',
        '"RAJ",110,6,10,1,"May 2023"',
    )
    code, summary, events, _ = _run(capsys, tmp_path, ae=ae)
    assert code == 0
    assert [e["period_start"] for e in events] == ["2023-06-01"]
    assert summary["rejected_rows"] == {"conflicting_duplicate": 2}


def test_month_first_dates_stop_the_import_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 05/02/2023 would be read as 5 February; 05/13 and 05/14 show the file is month-first
    files = _bedflow(
        tmp_path,
        nctr=NCTR_HEADER + "RAA,05/02/2023,50\nRAA,05/13/2023,51\nRAA,05/14/2023,52\n",
        discharges=DISCHARGE_HEADER + "RAA,2023-05-02,4,16\n",
    )
    code, summary, events, err = _run(capsys, tmp_path, **files)
    assert (code, summary, events) == (2, {}, [])
    assert "n.csv: line 3" in err and "month-first" in err


def test_one_month_first_date_in_a_day_first_file_is_a_typo_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _bedflow(
        tmp_path,
        nctr=NCTR_HEADER + "RAA,01/05/2023,50\nRAA,05/13/2023,51\nRAA,03/05/2023,52\n",
        discharges=DISCHARGE_HEADER + "RAA,2023-05-01,4,16\nRAA,2023-05-03,5,17\n",
    )
    code, summary, events, _ = _run(capsys, tmp_path, **files)
    assert code == 0 and summary["rejected_rows"] == {"bad_date:date": 1}
    assert [d for d, _, _ in _daily(events)] == ["2023-05-01", "2023-05-03"]


def test_an_ae_file_without_trust_rows_imports_nothing_without_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, events, _ = _run(
        capsys, tmp_path, ae=_ae(tmp_path, '"ENG",100,5,10,1,"May 2023"')
    )
    assert (code, events, summary["skipped_rows"]) == (0, [], 1)


def test_a_discharge_file_without_the_17_00_split_is_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # NHS England stopped the split after May 2023: later files lack the column
    files = _bedflow(
        tmp_path,
        nctr=NCTR_HEADER + "RAA,2023-06-01,50\n",
        discharges="nhs_trust22_code,date,discharged_total\nRAA,2023-06-01,20\n",
        beds="RAA,June 2023,200,180\n",
    )
    code, summary, events, _ = _run(capsys, tmp_path, **files)
    assert code == 0 and summary["rejected_rows"] == {}
    (daily,) = [e for e in events if e["event_type"] == "discharge_sitrep"]
    assert daily["discharged_total"] == 20 and "discharged_by_1700" not in daily


def test_a_quoted_title_over_several_lines_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ae = _write(
        tmp_path / "ae.csv",
        '"A&E Attendances\nand Emergency Admissions"\n\n'
        + AE_HEADER
        + '"RAJ",100,5,10,1,"May 2023"\n"RAJ",100,x,10,1,"June 2023"\n',
    )
    code, _, events, err = _run(capsys, tmp_path, ae=ae)
    assert code == 0 and [e["attendances"] for e in events] == [100]
    assert "ae.csv: line 6" in err and "Traceback" not in err


def test_a_month_without_its_emergency_admissions_is_rejected_not_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ae = _ae(
        tmp_path,
        '"RAJ",1000,50,,12,"May 2023"',
        '"RAJ",1000,50,200,12,"June 2023"',
        # no attendances: no submission, left out as before, not a rejection
        '"RAJ",0,0,,,"July 2023"',
    )
    code, summary, events, _ = _run(capsys, tmp_path, ae=ae)
    assert code == 0
    assert [e["period_start"] for e in events] == ["2023-06-01"]
    assert summary["rejected_rows"] == {"missing_count:total_emergency_admissions": 1}


def test_a_month_that_copies_the_year_before_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the shared compilation's February 2025 is February 2024, count for count
    ae = _ae(
        tmp_path,
        '"RAJ",9100,2950,2010,640,"February 2024"',
        '"RAJ",9400,3050,2100,600,"March 2024"',
        '"RAJ",9100,2950,2010,640,"February 2025"',
        '"RAJ",9400,3051,2100,600,"March 2025"',
        # a small unit's month may repeat by chance: too few attendances to tell
        '"RYX",40,0,0,,"February 2024"',
        '"RYX",40,0,0,,"February 2025"',
    )
    code, summary, events, err = _run(capsys, tmp_path, ae=ae)
    assert code == 0
    assert [(e["trust_code"], e["period_start"]) for e in events] == [
        ("RAJ", "2024-02-01"),
        ("RYX", "2024-02-01"),
        ("RAJ", "2024-03-01"),
        ("RYX", "2025-02-01"),
        ("RAJ", "2025-03-01"),
    ]
    assert summary["rejected_rows"] == {"copy_of_year_before": 1}
    assert "ae.csv: line 4: copy_of_year_before" in err
