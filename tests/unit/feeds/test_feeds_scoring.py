"""Scoring on hand-made truth and opportunity files: exact precision, recall and delays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from feeds.scoring import format_table, score_files
from streams.cli import main

pytestmark = pytest.mark.unit

TRUTH: dict[str, Any] = {
    "injected": [
        {
            "trust_code": "RA1",
            "site_code": "RA1AA",
            "kind": "dna_reduction",
            "onset_at": "2026-01-05T00:00:00Z",
            "until_at": "2026-01-19T00:00:00Z",
        },
        {
            "trust_code": "RA1",
            "site_code": "RA1AA",
            "kind": "discharge_documentation_automation",
            "onset_at": "2026-01-05T00:00:00Z",
            "until_at": "2026-01-15T00:00:00Z",
        },
        {
            "trust_code": "RB2",
            "site_code": "RB2BB",
            "kind": "capacity_forecasting",
            "onset_at": "2026-01-10T00:00:00Z",
            "until_at": "2026-01-20T00:00:00Z",
        },
        {
            "trust_code": "RB2",
            "site_code": "RB2BB",
            "kind": "roster_optimisation",
            "onset_at": "2026-01-10T00:00:00Z",
            "until_at": "2026-01-20T00:00:00Z",
        },
    ],
    "period": {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"},
}


def _episode(site: str, kind: str, emerging: str | None, active: str | None) -> dict[str, Any]:
    return {
        "trust_code": site[:3],
        "site_code": site,
        "kind": kind,
        "status": "resolved",
        "first_emerging_at": emerging,
        "first_active_at": active,
        "resolved_at": None,
        "severity": 0.5,
        "weekly_bed_days": 0,
        "weekly_staff_hours": 0,
        "weekly_gbp": 0,
        "evidence": {},
    }


OPPORTUNITIES = {
    "events": {"accepted": 1, "rejected": 0, "duplicate": 0, "late": 0},
    "opportunities": [
        # dna: emerging after 24 h, active after 48 h -> match
        _episode("RA1AA", "dna_reduction", "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z"),
        # dna again, 20 days after until: inside the 28-day grace -> also a match
        _episode("RA1AA", "dna_reduction", "2026-02-08T00:00:00Z", None),
        # documentation: active straight away after 12 h -> match (no emerging time)
        _episode("RA1AA", "discharge_documentation_automation", None, "2026-01-05T12:00:00Z"),
        # capacity at the right site but before the onset -> false positive
        _episode("RB2BB", "capacity_forecasting", "2026-01-09T00:00:00Z", "2026-01-12T00:00:00Z"),
        # capacity 4 days after until: beyond its 3-day grace -> false positive
        _episode("RB2BB", "capacity_forecasting", "2026-01-24T00:00:00Z", None),
        # roster kind at the wrong site -> false positive; the injection is missed
        _episode("RA1AA", "roster_optimisation", "2026-01-11T00:00:00Z", None),
        # during the prelude (before period.start): left out of precision
        _episode("RA1AA", "demand_capacity_planning", "2025-12-20T00:00:00Z", None),
        # never emerging nor active: not an episode that counts
        _episode("RA1AA", "auto_rostering", None, None),
    ],
}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    truth, opportunities = tmp_path / "truth.json", tmp_path / "opps.json"
    truth.write_text(json.dumps(TRUTH))
    opportunities.write_text(json.dumps(OPPORTUNITIES))
    return truth, opportunities


def test_precision_recall_and_delays_are_exact(files: tuple[Path, Path]) -> None:
    result = score_files(*files)
    assert result["precision"] == 0.5  # 3 matching of 6 counted episodes
    assert result["recall"] == 0.5  # dna and documentation of 4 injections
    assert result["detected"] == 6
    assert result["excluded_before_period"] == 1
    assert result["delay_to_emerging_hours"] == {"median": 24.0, "p90": 24.0, "n": 1}
    assert result["delay_to_active_hours"] == {"median": 30.0, "p90": 44.4, "n": 2}  # 12 h and 48 h
    dna = result["per_kind"]["dna_reduction"]
    assert (dna["precision"], dna["recall"], dna["matched_episodes"]) == (1.0, 1.0, 2)
    assert result["per_kind"]["capacity_forecasting"]["precision"] == 0.0
    assert result["per_kind"]["roster_optimisation"]["recall"] == 0.0
    assert {m["kind"] for m in result["missed"]} == {"capacity_forecasting", "roster_optimisation"}
    assert len(result["false_positives"]) == 3


def test_no_detections_gives_zero_recall_and_undefined_precision(tmp_path: Path) -> None:
    truth, opportunities = tmp_path / "t.json", tmp_path / "o.json"
    truth.write_text(json.dumps(TRUTH))
    opportunities.write_text(json.dumps({"opportunities": []}))
    result = score_files(truth, opportunities)
    assert result["recall"] == 0.0
    assert result["precision"] is None


def test_cli_prints_json_or_a_table(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    truth, opportunities = files
    assert main(["score", "--truth", str(truth), "--opportunities", str(opportunities)]) == 0
    assert json.loads(capsys.readouterr().out)["recall"] == 0.5
    assert (
        main(["score", "--truth", str(truth), "--opportunities", str(opportunities), "--table"])
        == 0
    )
    table = capsys.readouterr().out
    assert "overall" in table and "dna_reduction" in table
    assert format_table(score_files(truth, opportunities)).splitlines()[-1].split()[3] == "0.50"


def test_cli_exits_2_on_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.json").write_text("{}")
    (tmp_path / "o.json").write_text("[]")
    assert (
        main(
            [
                "score",
                "--truth",
                str(tmp_path / "t.json"),
                "--opportunities",
                str(tmp_path / "o.json"),
            ]
        )
        == 2
    )
    assert "not a truth file" in capsys.readouterr().err
