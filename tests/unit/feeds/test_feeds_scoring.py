"""Scoring on hand-made truth and opportunity files: exact precision, recall and delays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from feeds.scoring import format_markdown, format_table, score_files
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


# -- feed gaps: what a gap hides is neither a detection nor a miss ---------------------------------

GAP_TRUTH: dict[str, Any] = {
    "injected": [
        # bed flow at RC3CC, 10 days; a 6-day feed gap covers 60% of it -> masked
        {
            "trust_code": "RC3",
            "site_code": "RC3CC",
            "kind": "discharge_coordination",
            "onset_at": "2026-01-10T00:00:00Z",
            "until_at": "2026-01-20T00:00:00Z",
        },
        # referrals at RC3CC; the two gaps cover 8 of its 26 days -> still counted
        {
            "trust_code": "RC3",
            "site_code": "RC3CC",
            "kind": "dna_reduction",
            "onset_at": "2026-01-05T00:00:00Z",
            "until_at": "2026-01-31T00:00:00Z",
        },
    ],
    "period": {"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
    "quirks": [
        {
            "kind": "feed_gap",
            "trust_code": "RC3",
            "site_code": "RC3CC",
            "domain": "all",
            "start_at": "2026-01-12T00:00:00Z",
            "end_at": "2026-01-18T00:00:00Z",
        },
        {
            "kind": "event_type_gap",
            "trust_code": "RC3",
            "site_code": "RC3CC",
            "domain": "referrals",
            "event_type": "referral_triaged",
            "delivery": "lost",
            "start_at": "2026-01-06T00:00:00Z",
            "end_at": "2026-01-08T00:00:00Z",
        },
        {
            "kind": "connected_mid_stream",
            "trust_code": "RD4",
            "site_code": "RD4DD",
            "domain": "all",
            "start_at": "2026-01-01T00:00:00Z",
            "end_at": "2026-01-09T00:00:00Z",
        },
        # not a gap: excuses nothing
        {
            "kind": "source_lag",
            "trust_code": "RD4",
            "site_code": None,
            "domain": "rostering",
            "lag_hours": 6.0,
            "start_at": "2026-01-01T00:00:00Z",
            "end_at": "2026-03-01T00:00:00Z",
        },
    ],
}

GAP_OPPORTUNITIES = {
    "opportunities": [
        # matches only the masked injection: neither a detection nor a false positive
        _episode("RC3CC", "discharge_coordination", "2026-01-14T00:00:00Z", None),
        # dna during the referrals gap, matching the counted injection: a detection
        _episode("RC3CC", "dna_reduction", "2026-01-07T00:00:00Z", "2026-01-09T00:00:00Z"),
        # triage at RC3CC after the triage gap, before the feed gap: excused by the former
        _episode("RC3CC", "referral_triage_automation", "2026-01-09T00:00:00Z", None),
        # bed flow during the referrals-only gap: another domain, so a false positive
        _episode("RC3CC", "capacity_forecasting", "2026-01-07T00:00:00Z", None),
        # capacity 2 days after the feed gap (3-day recovery): excused, though active
        _episode("RC3CC", "capacity_forecasting", None, "2026-01-20T00:00:00Z"),
        # capacity 4 days after it: beyond the recovery -> a false positive in a domain that
        # had an injection (not "healthy")
        _episode("RC3CC", "capacity_forecasting", None, "2026-01-22T00:00:00Z"),
        # after the mid-stream connection, inside the 7-day lookback: excused
        _episode("RD4DD", "roster_optimisation", "2026-01-12T00:00:00Z", "2026-01-13T00:00:00Z"),
        # rostering at RD4DD a month after the connection: a false positive, active, in a
        # domain with nothing injected -> an alarm at a healthy domain; the lag excuses nothing
        _episode("RD4DD", "roster_optimisation", "2026-02-10T00:00:00Z", "2026-02-11T00:00:00Z"),
    ]
}


@pytest.fixture
def gap_files(tmp_path: Path) -> tuple[Path, Path]:
    truth, opportunities = tmp_path / "truth.json", tmp_path / "opps.json"
    truth.write_text(json.dumps(GAP_TRUTH))
    opportunities.write_text(json.dumps(GAP_OPPORTUNITIES))
    return truth, opportunities


def test_an_injection_mostly_in_a_gap_is_masked_and_its_episode_not_counted(
    gap_files: tuple[Path, Path],
) -> None:
    result = score_files(*gap_files)
    assert result["gaps"] == 3  # the source lag is not a gap
    assert result["masked_injections"] == 1
    assert [m["kind"] for m in result["masked"]] == ["discharge_coordination"]
    assert result["injected"] == 1 and result["recall"] == 1.0
    assert result["per_kind"]["discharge_coordination"]["masked"] == 1
    assert result["per_kind"]["discharge_coordination"]["detected"] == 0
    by = {(e["kind"], e["detected_at"][:10]): e["by"] for e in result["excused"]}
    assert by[("discharge_coordination", "2026-01-14")] == "masked injection"


def test_consequences_of_a_gap_within_the_recovery_period_are_excused(
    gap_files: tuple[Path, Path],
) -> None:
    result = score_files(*gap_files)
    by = {(e["kind"], e["detected_at"][:10]): e["by"] for e in result["excused"]}
    assert by == {
        ("discharge_coordination", "2026-01-14"): "masked injection",
        ("referral_triage_automation", "2026-01-09"): "event_type_gap",
        ("capacity_forecasting", "2026-01-20"): "feed_gap",
        ("roster_optimisation", "2026-01-12"): "connected_mid_stream",
    }
    assert result["excused_episodes"] == 4
    # counted: the dna detection (inside a gap, but of a counted injection) and three false
    # alarms
    assert result["detected"] == 4 and result["precision"] == 0.25
    assert sorted((f["kind"], f["detected_at"][:10]) for f in result["false_positives"]) == [
        ("capacity_forecasting", "2026-01-07"),
        ("capacity_forecasting", "2026-01-22"),
        ("roster_optimisation", "2026-02-10"),
    ]


def test_active_false_alarms_in_healthy_domains_are_listed(gap_files: tuple[Path, Path]) -> None:
    healthy = score_files(*gap_files)["active_in_healthy_domains"]
    assert [(h["site_code"], h["kind"]) for h in healthy] == [("RD4DD", "roster_optimisation")]


def test_a_truth_file_without_quirks_scores_as_before(files: tuple[Path, Path]) -> None:
    result = score_files(*files)
    assert (result["gaps"], result["masked_injections"], result["excused_episodes"]) == (0, 0, 0)


def test_score_help_states_the_gap_rule(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "masked" in text and "recovery" in text and "lookback" in text


def test_the_markdown_table_has_a_row_per_kind_and_the_gap_summary(
    gap_files: tuple[Path, Path],
) -> None:
    lines = format_markdown(score_files(*gap_files)).splitlines()
    assert lines[2].startswith("| capacity_forecasting | 0 | 2 | 0.00 | n/a |")
    assert lines[-3].startswith("| **overall** | **1** | **4** | **0.25** | **1.00** |")
    assert lines[-1] == (
        "Feed gaps: 3; injections masked by them: 1; episodes excused: 4; "
        "active false alarms in healthy domains: 1."
    )


def test_a_mid_stream_connection_masks_until_the_kinds_lookback_has_passed(tmp_path: Path) -> None:
    """Connected on 9 January: a 28-day waiting-list injection from the 5th is blind until
    9 January + 84 days (masked); a 7-day-lookback one from the 20th is not (9 + 7 = the 16th)."""
    truth = {
        "injected": [
            {
                "trust_code": "RD4",
                "site_code": "RD4DD",
                "kind": "waiting_list_validation",
                "onset_at": "2026-01-05T00:00:00Z",
                "until_at": "2026-02-02T00:00:00Z",
            },
            {
                "trust_code": "RD4",
                "site_code": "RD4DD",
                "kind": "roster_optimisation",
                "onset_at": "2026-01-20T00:00:00Z",
                "until_at": "2026-02-01T00:00:00Z",
            },
        ],
        "period": GAP_TRUTH["period"],
        "quirks": [q for q in GAP_TRUTH["quirks"] if q["kind"] == "connected_mid_stream"],
    }
    (tmp_path / "t.json").write_text(json.dumps(truth))
    (tmp_path / "o.json").write_text(json.dumps({"opportunities": []}))
    result = score_files(tmp_path / "t.json", tmp_path / "o.json")
    assert [m["kind"] for m in result["masked"]] == ["waiting_list_validation"]
    assert [m["kind"] for m in result["missed"]] == ["roster_optimisation"]


def test_an_ed_type_gap_masks_and_excuses_ed_kinds_only(tmp_path: Path) -> None:
    """A 5-day silence of a site's ED departures (domain ``ed``) masks an 8-day exit-block
    injection there and excuses an ED episode in its recovery; a bed-flow episode at the same
    site and time stays a false positive, and a handover episode a month later is an active
    alarm in a healthy ED domain."""
    truth = {
        "injected": [
            {
                "trust_code": "RE5",
                "site_code": "RE5EE",
                "kind": "ed_bed_allocation",
                "onset_at": "2026-01-10T00:00:00Z",
                "until_at": "2026-01-18T00:00:00Z",
            },
        ],
        "period": GAP_TRUTH["period"],
        "quirks": [
            {
                "kind": "event_type_gap",
                "trust_code": "RE5",
                "site_code": "RE5EE",
                "domain": "ed",
                "event_type": "ed_departure",
                "delivery": "lost",
                "start_at": "2026-01-11T00:00:00Z",
                "end_at": "2026-01-16T00:00:00Z",
            }
        ],
    }
    opportunities = {
        "opportunities": [
            _episode("RE5EE", "ed_demand_forecasting", "2026-01-19T00:00:00Z", None),
            _episode("RE5EE", "capacity_forecasting", "2026-01-19T00:00:00Z", None),
            _episode(
                "RF6FF",
                "ambulance_handover_automation",
                "2026-02-10T00:00:00Z",
                "2026-02-11T00:00:00Z",
            ),
        ]
    }
    (tmp_path / "t.json").write_text(json.dumps(truth))
    (tmp_path / "o.json").write_text(json.dumps(opportunities))
    result = score_files(tmp_path / "t.json", tmp_path / "o.json")
    assert [m["kind"] for m in result["masked"]] == ["ed_bed_allocation"]
    assert [(e["kind"], e["by"]) for e in result["excused"]] == [
        ("ed_demand_forecasting", "event_type_gap")
    ]
    assert sorted(f["kind"] for f in result["false_positives"]) == [
        "ambulance_handover_automation",
        "capacity_forecasting",
    ]
    healthy = result["active_in_healthy_domains"]
    assert [(h["site_code"], h["kind"]) for h in healthy] == [
        ("RF6FF", "ambulance_handover_automation")
    ]
