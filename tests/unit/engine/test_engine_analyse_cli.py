"""``opsradar analyse`` end to end on small files: merge order, counts, JSON, SQLite."""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest

from streams.cli import main
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import run, steps


def _write(path: Path, events: Sequence[object], extra: Sequence[bytes] = ()) -> None:
    lines = [msgspec.json.encode(e) for e in events] + list(extra)
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


@pytest.mark.unit
def test_analyse_writes_the_summary_and_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = b.Stream()
    b.bedflow(site, 30, before_noon=b.window(6, 16, 0.1, 0.5))
    trust = b.Stream(site="RX102")
    b.sitreps(trust, 12)
    site_events = site.events(30)
    # A redelivered event next to its original (duplicate) and one far behind the rest of its
    # file (beyond the reorder buffer and the lateness: late): counted, not processed.
    with_faults = [*site_events[:101], site_events[100], *site_events[101:], site_events[5]]
    _write(tmp_path / "site.jsonl.gz", with_faults)
    _write(tmp_path / "trust.jsonl", trust.events(13), [b'{"event_type": "admission"}'])
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "analyse",
            str(tmp_path / "site.jsonl.gz"),
            str(tmp_path / "trust.jsonl"),
            "--json",
            str(tmp_path / "out.json"),
            "--reorder-buffer",
            "10",
        ]
    )
    assert code == 0
    summary = json.loads((tmp_path / "out.json").read_text())
    total = len(site_events) + len(trust.events(13))
    assert summary["events"] == {
        "accepted": total,
        "rejected": 1,
        "duplicate": 1,
        "late": 1,
        "after_close": 0,
        "expired": 0,
        "occupancy_clamped": 0,
        "unplanned_shift_events": 0,
        "implausible_handovers": 0,
    }
    timing = [o for o in summary["opportunities"] if o["kind"] == "discharge_timing_prediction"]
    expected = steps(run(site_events), "discharge_timing_prediction")
    assert len(timing) == 1 and timing[0]["status"] == "resolved"
    assert timing[0]["first_active_at"] == expected[1][2].isoformat()
    assert set(timing[0]) == {
        "trust_code",
        "site_code",
        "kind",
        "episode",
        "status",
        "first_emerging_at",
        "first_active_at",
        "resolved_at",
        "severity",
        "weekly_bed_days",
        "weekly_staff_hours",
        "weekly_gbp",
        "evidence",
        "data_behind_days",
        "stale",
    }
    # one site, its feed running to the end: nothing is behind, nothing stale
    assert (timing[0]["data_behind_days"], timing[0]["stale"]) == (0.0, False)
    # the default database: opsradar.sqlite in the working directory, migrated on first use
    with sqlite3.connect(tmp_path / "opsradar.sqlite") as db:
        kinds = db.execute("select kind, status from opportunities").fetchall()
        metrics = db.execute("select count(*) from scope_metrics").fetchone()[0]
    assert ("discharge_timing_prediction", "resolved") in kinds
    assert metrics > 1000


@pytest.mark.unit
def test_analyse_counts_events_for_a_discharged_spell_after_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s = b.Stream()
    b.coded_after_discharge(s, reasons_at_hours=(3, 30))
    _write(tmp_path / "site.jsonl", s.events())
    monkeypatch.chdir(tmp_path)
    assert main(["analyse", str(tmp_path / "site.jsonl"), "--json", str(tmp_path / "o.json")]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["after_close"] == 2 and printed["accepted"] == 5
    assert json.loads((tmp_path / "o.json").read_text())["events"]["after_close"] == 2


@pytest.mark.unit
def test_analyse_reports_an_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["analyse", str(tmp_path / "missing.jsonl"), "--no-db"])
    assert code == 2
    assert "missing.jsonl" in capsys.readouterr().err


@pytest.mark.unit
def test_analyse_rejects_an_event_from_year_one_instead_of_crashing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = b.Stream()
    b.bedflow(site, 2)
    events = site.events(2)
    ancient = {**msgspec.to_builtins(events[0]), "occurred_at": "0001-01-01T00:30:00Z"}
    ancient["event_id"] = "00000000-0000-4000-8000-000000000001"
    _write(tmp_path / "events.jsonl", [ancient, *events])
    code = main(
        ["analyse", str(tmp_path / "events.jsonl"), "--db", f"sqlite+aiosqlite:///{tmp_path}/x.db"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["rejected"] == 1
