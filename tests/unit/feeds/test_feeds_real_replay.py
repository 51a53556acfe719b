"""Real published data through the whole offline path, checked against an independent reading.

The vendored slice (8 trusts, 2024-06 -> 2024-11) is imported with ``import-sitrep`` and run
through the engine with ``opsradar analyse``; the (trust, month) pairs where
``discharge_coordination`` or ``care_transfer_referral_automation`` was *active* must equal those
of a pandas computation written here from the CSVs and the catalogue's rules (OPPORTUNITIES.md;
defaults from ``models/catalogue.toml``), sharing no code with the importer or the engine:

- discharge_coordination (daily reports): NCTR share of occupied G&A beds at or over its threshold,
  or discharges per NCTR patient per day under its own, both over the 7 days up to the report
  (days with a submission); the discharge arm only where the 7 days' discharges a day per
  occupied G&A bed are at least 0.04 (under it the count is partial, ``streams/engine/sitrep.py``);
  min sample 20 NCTR patients (7-day mean); active once the trigger held for 7 consecutive reports.
- care_transfer_referral_automation (monthly reports): hospital_hub_referral + hub reasons >= 30 %
  of delayed patients; min sample 20; active after 3 consecutive monthly reports.
- resolved after 3 consecutive evaluations clear of the hysteresis line (90 % of the threshold).
"""

from __future__ import annotations

import importlib.util
import json
import tomllib
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from streams.cli import main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SLICE = ROOT / "feeds" / "data" / "nhs_published"
CATALOGUE = tomllib.loads((ROOT / "models" / "catalogue.toml").read_text())
LIFECYCLE = CATALOGUE["lifecycle"]
KINDS = ("discharge_coordination", "care_transfer_referral_automation")
HUB_WORDING_STARTS = ("care transfer hub process",)
HUB_REFERRAL_WORDING = "awaiting referral to care transfer hub"
#: discharges a day per occupied G&A bed under which a trust's count is partial (written here, not
#: imported, so that a change in the engine's constant shows up as a failure)
PARTIAL_COUNT_BELOW = 0.04


def _condition(kind: str, name: str) -> dict[str, object]:
    return next(c for c in CATALOGUE["kinds"][kind]["conditions"] if c["name"] == name)


def _submitted(series: pd.Series) -> pd.Series:
    """True where a trust's daily value was submitted (the README: a 0 means not submitted)."""
    if (series == 0).all():
        return series.notna()
    return series.notna() & (series != 0)


def _daily() -> pd.DataFrame:
    nctr = pd.read_csv(SLICE / "nctr_daily_by_trust.csv.gz")
    discharges = pd.read_csv(SLICE / "discharges_daily_by_trust.csv.gz")
    daily = nctr.merge(discharges, on=["nhs_trust22_code", "date"]).dropna(
        subset=["nhs_trust22_code"]
    )
    daily["day"] = pd.to_datetime(daily["date"])
    daily = daily.sort_values(["nhs_trust22_code", "day"])
    keep = daily.groupby("nhs_trust22_code")["do_not_meet_criteria_to_reside"].transform(_submitted)
    keep &= daily.groupby("nhs_trust22_code")["discharged_total"].transform(_submitted)
    daily = daily[keep].copy()
    beds = pd.read_csv(SLICE / "beds_monthly_by_trust.csv.gz")
    beds["month"] = pd.to_datetime(beds["date"], format="%B %Y").dt.to_period("M")
    occupied = beds.set_index(["nhs_trust22_code", "month"])["general_acute_beds_occupied"].round()
    daily["month"] = daily["day"].dt.to_period("M")
    daily["occupied"] = [
        occupied.get((t, m)) for t, m in zip(daily["nhs_trust22_code"], daily["month"], strict=True)
    ]
    daily["share"] = daily["do_not_meet_criteria_to_reside"] / daily["occupied"]
    return daily


def _lifecycle(
    evaluations: Iterable[tuple[date, bool | None, bool | None]], persistence: int
) -> set[str]:
    """Months where the kind was active; evaluations are (day, trigger, clear), None: no sample."""
    months: set[str] = set()
    held = quiet = 0
    active = False
    for day, trigger, clear in evaluations:
        if trigger is None:
            continue  # under the minimum sample: nothing changes
        if not active:
            held = held + 1 if trigger else 0
            if held >= persistence:
                active, quiet = True, 0
        else:
            quiet = quiet + 1 if clear else 0
            if quiet >= LIFECYCLE["resolve_after_evaluations"]:
                active, held = False, 0
                months.add(day.strftime("%Y-%m"))  # the resolving evaluation's month
                continue
        if active:
            months.add(day.strftime("%Y-%m"))
    return months


def reference_discharge_coordination() -> set[tuple[str, str]]:
    share_rule = _condition("discharge_coordination", "nctr_share")
    rate_rule = _condition("discharge_coordination", "discharge_rate")
    ratio = LIFECYCLE["hysteresis_ratio"]
    flagged: set[tuple[str, str]] = set()
    for trust, rows in _daily().groupby("nhs_trust22_code"):
        rows = rows.set_index("day")
        evaluations = []
        for day in rows.index:
            window = rows.loc[day - pd.Timedelta(days=6) : day]
            mean_nctr = round(window["do_not_meet_criteria_to_reside"].mean())
            if mean_nctr < share_rule["min_sample"]:
                evaluations.append((day.date(), None, None))
                continue
            share = window["share"].dropna().mean()
            rate = window["discharged_total"].sum() / window["do_not_meet_criteria_to_reside"].sum()
            per_bed = window["discharged_total"].mean() / rows.loc[day, "occupied"]
            # without a bed month the count cannot be judged, and the arm stands
            full_count = bool(pd.isna(per_bed) or per_bed >= PARTIAL_COUNT_BELOW)
            rate_holds = full_count and rate < rate_rule["threshold"]
            trigger = bool(share >= share_rule["threshold"] or rate_holds)
            clear = bool(
                not share >= share_rule["threshold"] * ratio
                and not (full_count and rate < rate_rule["threshold"] / ratio)
            )
            evaluations.append((day.date(), trigger, clear))
        persistence = CATALOGUE["kinds"]["discharge_coordination"].get(
            "persistence_daily_reports", 7
        )
        flagged |= {(str(trust), month) for month in _lifecycle(evaluations, persistence)}
    return flagged


def reference_hub_share() -> set[tuple[str, str]]:
    rule = _condition("care_transfer_referral_automation", "hub_share")
    ratio = LIFECYCLE["hysteresis_ratio"]
    delays = pd.read_csv(SLICE / "discharge_delay_reasons_monthly_by_trust.csv.gz")
    wording = delays["delay_reason"].str.replace("\xa0", " ").str.lower()
    delays["hub"] = wording.str.startswith(HUB_WORDING_STARTS) | wording.str.contains(
        HUB_REFERRAL_WORDING
    )
    flagged: set[tuple[str, str]] = set()
    for trust, rows in delays.dropna(subset=["delay_count"]).groupby("nhs_trust22_code"):
        evaluations = []
        for month, group in rows.groupby("date"):
            total = group["delay_count"].sum()
            if total < rule["min_sample"]:
                evaluations.append((date.fromisoformat(month), None, None))
                continue
            share = group.loc[group["hub"], "delay_count"].sum() / total
            evaluations.append(
                (
                    date.fromisoformat(month),
                    bool(share >= rule["threshold"]),
                    bool(share < rule["threshold"] * ratio),
                )
            )
        persistence = CATALOGUE["lifecycle"].get("persistence_periodic_reports", 3)
        flagged |= {(str(trust), month) for month in _lifecycle(evaluations, persistence)}
    return flagged


def _months(start: str, end: str | None) -> set[str]:
    last = pd.Period(end[:7] if end else "2024-11", "M")
    return {str(p) for p in pd.period_range(pd.Period(start[:7], "M"), last, freq="M")}


@pytest.fixture(scope="module")
def engine_flags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[str, str]]]:
    folder = tmp_path_factory.mktemp("replay")
    events, summary = folder / "sitrep.jsonl", folder / "opportunities.json"
    assert (
        main(
            [
                "import-sitrep",
                "--nctr",
                str(SLICE / "nctr_daily_by_trust.csv.gz"),
                "--discharges",
                str(SLICE / "discharges_daily_by_trust.csv.gz"),
                "--beds",
                str(SLICE / "beds_monthly_by_trust.csv.gz"),
                "--delays",
                str(SLICE / "discharge_delay_reasons_monthly_by_trust.csv.gz"),
                "--out",
                str(events),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "analyse",
                str(events),
                "--json",
                str(summary),
                "--db",
                f"sqlite+aiosqlite:///{folder / 'replay.sqlite'}",
            ]
        )
        == 0
    )
    document = json.loads(summary.read_text())
    assert document["events"]["rejected"] == 0
    flags: dict[str, set[tuple[str, str]]] = {kind: set() for kind in KINDS}
    for episode in document["opportunities"]:
        if episode["kind"] in KINDS and episode["first_active_at"]:
            months = _months(episode["first_active_at"], episode["resolved_at"])
            flags[episode["kind"]] |= {(episode["trust_code"], m) for m in months}
    return flags


def test_discharge_coordination_matches_the_pandas_reading(
    engine_flags: dict[str, set[tuple[str, str]]],
) -> None:
    expected = reference_discharge_coordination()
    assert expected, "the slice was chosen to hold trusts over the line"
    assert engine_flags["discharge_coordination"] == expected


def test_hub_share_matches_the_pandas_reading(
    engine_flags: dict[str, set[tuple[str, str]]],
) -> None:
    expected = reference_hub_share()
    assert expected
    assert engine_flags["care_transfer_referral_automation"] == expected


def test_the_slice_mixes_flagged_and_clear_trusts(
    engine_flags: dict[str, set[tuple[str, str]]],
) -> None:
    trusts = set(pd.read_csv(SLICE / "nctr_daily_by_trust.csv.gz")["nhs_trust22_code"].dropna())
    flagged = {trust for pairs in engine_flags.values() for trust, _ in pairs}
    assert flagged and trusts - flagged


def _calibration_script() -> object:
    spec = importlib.util.spec_from_file_location(
        "calibrate_sitreps", ROOT / "bench" / "calibrate_sitreps.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_calibration_counts_trusts_active_per_quarter_as_the_pandas_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bench/calibrate_sitreps.py`` on the vendored slice (FY 2024/25: June-November): the
    trusts it counts active per quarter are those of the independent reading's months."""
    script: Any = _calibration_script()
    assert script.main(["--year", "2024", "--data", str(SLICE), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| `discharge_coordination` |" in printed
    result = json.loads((tmp_path / "calibration.json").read_text())
    assert set(result["evaluated_kinds"]) == set(script.SITREP_KINDS)  # delays exist in 2024
    quarters = script.financial_quarters(2024)
    expected: dict[str, set[str]] = {label: set() for label, _, _ in quarters}
    for trust, month in reference_discharge_coordination():
        first = date.fromisoformat(f"{month}-01")
        for label, start, end in quarters:
            if start <= first < end:
                expected[label].add(trust)
    table = result["table"]["discharge_coordination"]
    counted = {label: table[label]["trusts_active"] for label, _, _ in quarters}
    assert counted == {label: len(trusts) for label, trusts in expected.items()}
    assert any(counted.values())
    reporting = {label: table[label]["trusts"] for label, _, _ in quarters}
    assert reporting["2024/25 Q2 (Jul-Sep)"] == 8 and reporting["2024/25 Q4 (Jan-Mar)"] == 0


def test_calibration_reads_activity_and_emerging_only_episodes_by_quarter() -> None:
    script: Any = _calibration_script()
    quarters = script.financial_quarters(2023)
    labels = [label for label, _, _ in quarters]
    reporting = {label: {"RA1", "RB2"} for label in labels}
    reporting[labels[3]] = {"RA1"}  # RB2 sent nothing in January-March

    def episode(
        trust: str, emerging: str | None, active: str | None, resolved: str | None
    ) -> dict[str, str | None]:
        return {
            "trust_code": trust,
            "kind": "discharge_coordination",
            "first_emerging_at": emerging,
            "first_active_at": active,
            "resolved_at": resolved,
        }

    table = script.calibrate(
        [
            # active from May to mid-October: Q1, Q2 and Q3
            episode(
                "RA1",
                "2023-05-01T00:00:00+00:00",
                "2023-05-08T00:00:00+00:00",
                "2023-10-15T00:00:00+00:00",
            ),
            # still active at the end, from February: Q4, but RB2 did not report then
            episode("RB2", None, "2024-02-01T00:00:00+00:00", None),
            # emerging only, in August: one emerging-only episode in Q2
            episode("RB2", "2023-08-03T00:00:00+00:00", None, None),
        ],
        reporting,
        quarters,
    )["discharge_coordination"]
    assert [table[label]["trusts_active"] for label in labels] == [1, 1, 1, 0]
    assert [table[label]["share_active"] for label in labels] == [0.5, 0.5, 0.5, 0.0]
    assert [table[label]["emerging_only"] for label in labels] == [0, 1, 0, 0]
    assert table[labels[1]]["emerging_only_per_trust"] == 0.5
