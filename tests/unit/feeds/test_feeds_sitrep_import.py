"""import-sitrep on the vendored slice of published data, and on small hand-made CSVs."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from feeds.delay_reasons import UnknownDelayReason, reason_for
from feeds.sitrep_import import SitrepInputError, import_sitrep
from models.decoding import RecordDecoder
from streams.cli import main

pytestmark = pytest.mark.unit

SLICE = Path(__file__).resolve().parents[3] / "feeds" / "data" / "nhs_published"
NCTR = SLICE / "nctr_daily_by_trust.csv.gz"
DISCHARGES = SLICE / "discharges_daily_by_trust.csv.gz"
BEDS = SLICE / "beds_monthly_by_trust.csv.gz"
DELAYS = SLICE / "discharge_delay_reasons_monthly_by_trust.csv.gz"


def _events(path: Path) -> list[dict[str, object]]:
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("sitrep") / "sitrep.jsonl"
    stats = import_sitrep(nctr=NCTR, discharges=DISCHARGES, beds=BEDS, delays=DELAYS, out=out)
    return out, stats


def test_vendored_slice_is_small_and_has_six_or_more_trusts() -> None:
    assert sum(p.stat().st_size for p in SLICE.glob("*.csv.gz")) < 1_000_000
    trusts = set(pd.read_csv(NCTR)["nhs_trust22_code"].dropna())
    assert len(trusts) >= 6


def test_counts_match_the_slice(imported: tuple[Path, object]) -> None:
    out, stats = imported
    events = pd.DataFrame(_events(out))
    counts = events["event_type"].value_counts().to_dict()
    nctr = pd.read_csv(NCTR).dropna(subset=["nhs_trust22_code"])
    beds = pd.read_csv(BEDS)
    delays = pd.read_csv(DELAYS)
    assert counts["bed_sitrep"] == len(beds)  # every trust-month has G&A beds
    # a trust-month whose counts are all NA was not submitted: no event
    submitted = delays.dropna(subset=["delay_count"]).groupby(["nhs_trust22_code", "date"])
    assert len(submitted) < len(delays.groupby(["nhs_trust22_code", "date"]))
    assert counts["delay_reasons_sitrep"] == len(submitted)
    # one discharge_sitrep per trust-day, less the days not submitted
    assert counts["discharge_sitrep"] == len(nctr) - stats.missing_days  # type: ignore[attr-defined]
    assert stats.skipped_rows == 4  # type: ignore[attr-defined]  # 2 NA padding rows a daily file
    assert events["occurred_at"].is_monotonic_increasing


def test_every_event_passes_the_contract(imported: tuple[Path, object]) -> None:
    decoder = RecordDecoder(None, past_horizon=None)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    out, _ = imported
    rejected = sum(
        len(decoder.decode(line, now=now).rejections) for line in out.read_bytes().splitlines()
    )
    assert rejected == 0
    assert b"null" not in out.read_bytes()  # absent optional fields are left out, not null


def test_zero_days_between_submissions_are_missing_not_zero(imported: tuple[Path, object]) -> None:
    out, stats = imported
    events = pd.DataFrame(_events(out))
    daily = events[events["event_type"] == "discharge_sitrep"]
    # the published slice has trusts reporting 0 on days around real numbers; none survive
    assert (daily["nctr_patients"] > 0).all()
    assert (daily["discharged_total"] > 0).all()
    assert stats.missing_days > 100  # type: ignore[attr-defined]
    # RD1 did not submit discharges for months (0 every day) -> no discharge_sitrep then
    rd1 = daily[daily["trust_code"] == "RD1"]
    assert rd1["report_date"].min() > "2024-06-01"


def test_reimport_is_idempotent_and_ids_are_stable(
    tmp_path: Path, imported: tuple[Path, object]
) -> None:
    out, _ = imported
    again = tmp_path / "again.jsonl"
    import_sitrep(nctr=NCTR, discharges=DISCHARGES, beds=BEDS, delays=DELAYS, out=again)
    assert again.read_bytes() == out.read_bytes()


def test_date_range_and_event_shape(tmp_path: Path) -> None:
    out = tmp_path / "aug.jsonl.gz"
    import_sitrep(
        nctr=NCTR,
        discharges=DISCHARGES,
        beds=BEDS,
        delays=DELAYS,
        out=out,
        date_from=pd.Timestamp("2024-08-01").date(),
        date_to=pd.Timestamp("2024-08-31").date(),
    )
    events = [json.loads(line) for line in gzip.decompress(out.read_bytes()).splitlines()]
    bed = next(e for e in events if e["event_type"] == "bed_sitrep")
    assert (bed["period_start"], bed["period"], bed["occurred_at"]) == (
        "2024-08-01",
        "month",
        "2024-08-01T00:00:00Z",
    )
    daily = [e for e in events if e["event_type"] == "discharge_sitrep"]
    assert {e["report_date"][:7] for e in daily} == {"2024-08"}
    assert all("discharged_by_1700" not in e for e in daily)  # the split ended in May 2023
    reasons = next(e for e in events if e["event_type"] == "delay_reasons_sitrep")
    assert len(reasons["counts"]) == 37


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_hand_made_missing_day_and_split(tmp_path: Path) -> None:
    nctr = _write(
        tmp_path / "n.csv",
        "nhs_trust22_code,date,do_not_meet_criteria_to_reside\n"
        "RAA,2023-05-01,50\nRAA,2023-05-02,0\nRAA,2023-05-03,52\nNA,2023-05-04,NA\n",
    )
    discharges = _write(
        tmp_path / "d.csv",
        "nhs_trust22_code,date,discharged_by_1700,"
        "discharged_between_1701_2359,discharged_total\n"
        "RAA,2023-05-01,10,5,15\nRAA,2023-05-02,12,4,16\nRAA,2023-05-03,NA,NA,17\n",
    )
    beds = _write(
        tmp_path / "b.csv",
        "nhs_trust22_code,date,general_acute_beds_available,"
        "general_acute_beds_occupied\nRAA,May 2023,200.4,180.6\n",
    )
    out = tmp_path / "out.jsonl"
    stats = import_sitrep(nctr=nctr, discharges=discharges, beds=beds, delays=None, out=out)
    events = _events(out)
    daily = [e for e in events if e["event_type"] == "discharge_sitrep"]
    assert [e["report_date"] for e in daily] == ["2023-05-01", "2023-05-03"]
    assert daily[0]["discharged_by_1700"] == 10 and "discharged_by_1700" not in daily[1]
    assert stats.missing_days == 1 and stats.skipped_rows == 1
    bed = next(e for e in events if e["event_type"] == "bed_sitrep")
    assert (bed["ga_beds_available"], bed["ga_beds_occupied"]) == (200, 181)


def test_unknown_wording_fails_loudly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    delays = _write(
        tmp_path / "r.csv",
        "nhs_trust22_code,date,delay_reason,delay_count\n"
        "RAA,2024-06-01,Hospital process – Awaiting a unicorn,3\n",
    )
    out = tmp_path / "out.jsonl"
    # named by file and line: the cell itself is not repeated (it may be anything)
    with pytest.raises(UnknownDelayReason, match=r"r\.csv: line 2: delay_reason") as raised:
        import_sitrep(nctr=NCTR, discharges=DISCHARGES, beds=BEDS, delays=delays, out=out)
    assert "unicorn" not in str(raised.value)
    assert not out.exists()  # nothing written before the input was judged
    code = main(
        [
            "import-sitrep",
            "--nctr",
            str(NCTR),
            "--discharges",
            str(DISCHARGES),
            "--beds",
            str(BEDS),
            "--delays",
            str(delays),
            "--out",
            str(out),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "WORDING_TO_REASON" in err and "unicorn" not in err


def test_missing_file_or_column_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path / "n.csv", "nhs_trust22_code,date\nRAA,2024-06-01\n")
    with pytest.raises(SitrepInputError, match="do_not_meet_criteria_to_reside"):
        import_sitrep(nctr=bad, discharges=DISCHARGES, beds=BEDS, delays=None, out=tmp_path / "o")
    code = main(
        [
            "import-sitrep",
            "--nctr",
            str(tmp_path / "nope.csv"),
            "--discharges",
            str(DISCHARGES),
            "--beds",
            str(BEDS),
            "--out",
            str(tmp_path / "o.jsonl"),
        ]
    )
    assert code == 2
    assert "no such file" in capsys.readouterr().err


def test_published_wordings_all_map_including_typographic_variants() -> None:
    wordings = pd.read_csv(DELAYS)["delay_reason"].unique()
    assert len({reason_for(w) for w in wordings}) == 37
    assert (
        reason_for("Care transfer hub process– Awaiting necessary referrals by care transfer hub")
        == "hub_referrals"
    )
    assert reason_for("Interface\xa0process – Homeless with no recourse to public funds?") == (
        "interface_no_recourse_public_funds"
    )


def test_an_import_stopped_while_writing_leaves_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a full disk or Ctrl-C part-way through the events: a partial file would later be
    # produced as if it were the whole history
    from feeds.jsonl_writer import EventWriter

    written = EventWriter.write

    def write_then_stop(self: EventWriter, event: object) -> None:
        if self.count == 100:
            raise KeyboardInterrupt
        written(self, event)  # type: ignore[arg-type]

    monkeypatch.setattr(EventWriter, "write", write_then_stop)
    out = tmp_path / "out.jsonl"
    out.write_text("the previous run\n")
    with pytest.raises(KeyboardInterrupt):
        import_sitrep(nctr=NCTR, discharges=DISCHARGES, beds=BEDS, delays=DELAYS, out=out)
    assert out.read_text() == "the previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
