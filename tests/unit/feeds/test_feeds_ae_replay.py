"""Real monthly A&E statistics through ``import-sitrep --ae`` and ``analyse``, checked against an
independent pandas reading of the vendored slice (9 trusts, 2023-04 -> 2024-11).

The reading shares no code with the importer or the engine: from the CSV and the catalogue's
rules it computes each trust-month's 4-hour share (1 - over 4 h / attendances; months without the
over-4-hours count are not submitted) and share of emergency admissions over 4 h from decision to
admit, and the months where ``ed_demand_forecasting`` (4-hour share < 78%, 200 attendances) and
``ed_bed_allocation`` (>= 40%, 50 admissions) are active: after 3 consecutive monthly reports
over the line, resolved after 3 consecutive reports clear of the hysteresis line.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from streams.cli import main
from tests.unit.feeds.test_feeds_real_replay import CATALOGUE, LIFECYCLE, SLICE, _lifecycle

pytestmark = pytest.mark.unit

AE = SLICE / "ae_monthly_by_trust.csv.gz"
LAST_MONTH = "2024-11"


def _reading() -> pd.DataFrame:
    frame = pd.read_csv(AE)
    frame = frame[frame["attendances_over_4hours"].notna() & (frame["total_attendances"] > 0)]
    frame = frame.assign(
        month=pd.to_datetime(frame["date"], format="%B %Y").dt.date,
        four_hour=1 - frame["attendances_over_4hours"] / frame["total_attendances"],
        trolley=frame["emergency_admissions_over_4hours"] / frame["total_emergency_admissions"],
    )
    return frame.sort_values(["nhs_trust22_code", "month"])


def _rule(kind: str) -> dict[str, object]:
    return CATALOGUE["kinds"][kind]["conditions"][0]


def _active_months(kind: str, column: str, sample_column: str) -> set[tuple[str, str]]:
    rule = _rule(kind)
    # a trust's monthly statistics are judged against the condition's sitrep line, if it has one
    threshold = float(rule.get("sitrep_threshold", rule["threshold"]))  # type: ignore[arg-type]
    below = rule["op"] == "<"
    ratio = LIFECYCLE["hysteresis_ratio"]
    flagged: set[tuple[str, str]] = set()
    for trust, rows in _reading().groupby("nhs_trust22_code"):
        evaluations: list[tuple[date, bool | None, bool | None]] = []
        for month, value, sample in zip(
            rows["month"], rows[column], rows[sample_column], strict=True
        ):
            if pd.isna(value) or sample < rule["min_sample"]:  # type: ignore[operator]
                evaluations.append((month, None, None))
            elif below:
                evaluations.append((month, value < threshold, value >= threshold / ratio))
            else:
                evaluations.append((month, value >= threshold, value < threshold * ratio))
        flagged |= {(str(trust), m) for m in _lifecycle(evaluations, 3)}
    return flagged


def _months(start: str, end: str | None) -> set[str]:
    last = pd.Period(end[:7] if end else LAST_MONTH, "M")
    return {str(p) for p in pd.period_range(pd.Period(start[:7], "M"), last, freq="M")}


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("ae")
    events, summary, db = folder / "ae.jsonl", folder / "out.json", folder / "replay.sqlite"
    assert main(["import-sitrep", "--ae", str(AE), "--out", str(events)]) == 0
    assert (
        main(["analyse", str(events), "--json", str(summary), "--db", f"sqlite+aiosqlite:///{db}"])
        == 0
    )
    document = json.loads(summary.read_text())
    assert document["events"]["rejected"] == 0
    return document, db


def test_the_4_hour_view_equals_the_pandas_reading(replay: tuple[dict, Path]) -> None:
    _, db = replay
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT trust_code, evaluated_at, metric, value FROM scope_metrics"
            " WHERE site_code IS NULL AND metric IN ('ed_4h_share', 'trolley_wait_4h_share')"
        ).fetchall()
    engine = {(t, str(at)[:7], m): v for t, at, m, v in rows}
    reading = _reading()
    expected = {
        (t, str(m)[:7], "ed_4h_share"): v
        for t, m, v in zip(
            reading["nhs_trust22_code"], reading["month"], reading["four_hour"], strict=True
        )
    }
    expected |= {
        (t, str(m)[:7], "trolley_wait_4h_share"): v
        for t, m, v in zip(
            reading["nhs_trust22_code"], reading["month"], reading["trolley"], strict=True
        )
        if not pd.isna(v)
    }
    assert len(expected) > 300
    assert engine.keys() == expected.keys()
    for key, value in expected.items():
        assert engine[key] == pytest.approx(value, abs=1e-9), key


@pytest.mark.parametrize(
    ("kind", "column", "sample"),
    [
        ("ed_demand_forecasting", "four_hour", "total_attendances"),
        ("ed_bed_allocation", "trolley", "total_emergency_admissions"),
    ],
)
def test_active_trust_months_equal_the_pandas_reading(
    replay: tuple[dict, Path], kind: str, column: str, sample: str
) -> None:
    document, _ = replay
    engine: set[tuple[str, str]] = set()
    for episode in document["opportunities"]:
        if episode["kind"] == kind and episode["first_active_at"]:
            months = _months(episode["first_active_at"], episode["resolved_at"])
            engine |= {(episode["trust_code"], m) for m in months}
    expected = _active_months(kind, column, sample)
    assert expected, "the slice holds trusts over the line"
    assert engine == expected
