"""Realistic feeds (the simulator's default): every quirk the truth file lists is in the stream."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pytest

from feeds.simulator import SimulationConfig, simulate
from feeds.simulator.quirks import clock_changes
from streams.cli import main

pytestmark = pytest.mark.unit

#: 35 days to 2026-04-15: the spring clock change (29 March) is inside the period
END = date(2026, 4, 15)


def _events(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    out: list[dict[str, Any]] = []
    with opener(path, "rb") as stream:
        for line in stream:
            value = msgspec.json.decode(line)
            out.extend(value if isinstance(value, list) else [value])
    return out


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("realistic")
    out, truth = folder / "events.jsonl.gz", folder / "truth.json"
    simulate(SimulationConfig(trusts=2, days=35, seed=21, end=END), out, truth)
    frame = pd.DataFrame(_events(out))
    frame["t"] = pd.to_datetime(frame["occurred_at"], format="ISO8601")
    frame["position"] = range(len(frame))
    return frame, json.loads(truth.read_text())


def _quirks(truth: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [q for q in truth["quirks"] if q["kind"] == kind]


def _at(value: str) -> pd.Timestamp:
    return pd.Timestamp(value)


def test_truth_lists_each_sort_of_quirk_with_site_and_span(
    realistic: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    frame, truth = realistic
    kinds = Counter(q["kind"] for q in truth["quirks"])
    assert set(kinds) == {
        "connected_mid_stream",
        "feed_gap",
        "event_type_gap",
        "source_lag",
        "clock_change",
    }
    sites = set(frame["site_code"])
    for quirk in truth["quirks"]:
        assert quirk["start_at"] <= quirk["end_at"]
        if quirk["kind"] in ("connected_mid_stream", "feed_gap", "event_type_gap"):
            assert quirk["site_code"] in sites
    # the spring change: 01:00 GMT on the last Sunday of March
    assert [q["start_at"] for q in _quirks(truth, "clock_change")] == ["2026-03-29T01:00:00Z"]


def test_a_feed_gap_loses_every_event_of_the_site_in_it(
    realistic: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    frame, truth = realistic
    for gap in _quirks(truth, "feed_gap"):
        site = frame[frame["site_code"] == gap["site_code"]]
        inside = site[(site["t"] >= _at(gap["start_at"])) & (site["t"] < _at(gap["end_at"]))]
        assert inside.empty
        before = site[site["t"] < _at(gap["start_at"])]
        assert not before.empty  # the site was live before the gap


def test_an_event_type_gap_silences_one_type_lost_or_backfilled(
    realistic: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    frame, truth = realistic
    gaps = _quirks(truth, "event_type_gap")
    assert gaps
    for gap in gaps:
        site = frame[frame["site_code"] == gap["site_code"]]
        window = (site["t"] >= _at(gap["start_at"])) & (site["t"] < _at(gap["end_at"]))
        of_type = site[window & (site["event_type"] == gap["event_type"])]
        others = site[window & (site["event_type"] != gap["event_type"])]
        assert not others.empty  # the rest of the feed kept flowing
        if gap["delivery"] == "lost":
            assert of_type.empty
        else:
            # delivered in a burst after everything that happened before the gap ended
            later = frame[frame["t"] >= _at(gap["end_at"])]
            if not of_type.empty:
                assert of_type["position"].min() > later["position"].min()


def test_a_site_connecting_mid_stream_sends_nothing_before_and_loose_ends_after(
    realistic: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    frame, truth = realistic
    (connected,) = _quirks(truth, "connected_mid_stream")
    site = frame[frame["site_code"] == connected["site_code"]]
    assert site["t"].min() >= _at(connected["end_at"])
    admitted = set(site.loc[site["event_type"] == "admission", "spell_ref"])
    discharged = set(site.loc[site["event_type"] == "discharge", "spell_ref"])
    assert discharged - admitted  # patients already in beds when the feed connected
    received = set(site.loc[site["event_type"] == "referral_received", "referral_ref"])
    closed = set(site.loc[site["event_type"] == "pathway_closed", "referral_ref"])
    assert closed - received  # pathways opened before the connection


def test_resends_keep_the_event_id_and_near_duplicates_get_a_new_one(
    realistic: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    frame, _ = realistic
    repeated = frame[frame.duplicated("event_id", keep=False)]
    assert len(repeated) > 20
    payload = [c for c in frame.columns if c not in ("position",)]
    # a resend is the same message: every field equal
    assert (repeated.groupby("event_id")[payload].nunique(dropna=False) == 1).all().all()
    content = [c for c in payload if c != "event_id"]
    restamped = frame[
        frame.duplicated(content, keep=False) & ~frame["event_id"].isin(repeated["event_id"])
    ]
    assert len(restamped) >= 2


def test_updates_are_coded_after_the_patient_left(
    realistic: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    frame, _ = realistic
    beds = frame[frame["spell_ref"].notna()]
    left = beds[beds["event_type"] == "discharge"].groupby("spell_ref")["t"].min()
    later = beds[beds["event_type"].isin(["discharge_delay", "ready_for_discharge", "transfer"])]
    after = later[later["t"] > later["spell_ref"].map(left)]
    assert set(after["event_type"]) == {"discharge_delay", "ready_for_discharge", "transfer"}
    lag = (after["t"] - after["spell_ref"].map(left)).dt.total_seconds()
    assert lag.min() >= 600 and lag.max() <= 4 * 86400 and lag.max() > 86400


def test_one_trusts_rostering_arrives_hours_behind_its_other_feeds(
    realistic: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    frame, truth = realistic
    (lag,) = _quirks(truth, "source_lag")
    # the file is in arrival order: each event's time against the newest time already written
    newest = frame["t"].cummax()
    behind = (newest - frame["t"]).dt.total_seconds() / 3600
    rostering = frame["shift_ref"].notna() | (frame["event_type"] == "roster_published")
    lagged = rostering & (frame["trust_code"] == lag["trust_code"])
    on_time = ~rostering & (frame["event_type"] != "discharge_delay")
    assert behind[lagged].median() == pytest.approx(lag["lag_hours"], abs=0.5)
    assert behind[on_time].median() < 0.1


def test_local_hours_hold_through_the_clock_change(
    realistic: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    """Morning discharges stay 08:00-12:00 UK time: one hour earlier in UTC after 29 March."""
    frame, _ = realistic
    discharges = frame[frame["event_type"] == "discharge"]
    local = discharges["t"].dt.tz_convert("Europe/London").dt.hour
    change = pd.Timestamp("2026-03-29T01:00:00Z")
    for side in (discharges["t"] < change, discharges["t"] >= change):
        share = ((local[side] >= 8) & (local[side] < 12)).mean()
        # ~0.41 in GMT on clean feeds at this size (two trusts, 35 days); 0.2 if the rounds
        # moved an hour against the wall clock
        assert 0.35 < share < 0.75
    # 07:00 UTC is 08:00 BST: the first morning hour after the change, before the rounds in GMT
    seven = discharges["t"].dt.hour == 7
    assert seven[discharges["t"] >= change].mean() > 0.05
    assert seven[discharges["t"] < change].mean() < 0.01


def test_ed_arrivals_keep_local_hours_through_the_clock_change(
    realistic: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    """People come to A&E by the wall clock: the share of arrivals in the morning rise (07:00-10:00
    UK time, ~12.5%) is the same before and after 29 March; on UTC hours it would fall to ~9%
    after it (07:00-10:00 BST is 06:00-09:00 UTC)."""
    frame, _ = realistic
    arrivals = frame[frame["event_type"] == "ed_arrival"]
    local = arrivals["t"].dt.tz_convert("Europe/London").dt.hour
    change = pd.Timestamp("2026-03-29T01:00:00Z")
    before, after = arrivals["t"] < change, arrivals["t"] >= change
    assert before.sum() > 5000 and after.sum() > 5000
    rise = (local >= 7) & (local < 10)
    assert abs(rise[before].mean() - rise[after].mean()) < 0.015


def test_clock_changes_in_both_directions_are_found() -> None:
    autumn = int(pd.Timestamp("2026-10-01T00:00:00Z").timestamp())
    spring = int(pd.Timestamp("2026-03-01T00:00:00Z").timestamp())
    assert clock_changes(autumn, autumn + 40 * 86400) == [
        int(pd.Timestamp("2026-10-25T01:00:00Z").timestamp())
    ]
    assert clock_changes(spring, spring + 40 * 86400) == [
        int(pd.Timestamp("2026-03-29T01:00:00Z").timestamp())
    ]


def test_same_seed_same_bytes_and_clean_turns_every_quirk_off(tmp_path: Path) -> None:
    config = SimulationConfig(trusts=2, days=6, seed=3, end=END, scenarios=())
    simulate(config, tmp_path / "a.jsonl", tmp_path / "a.json")
    simulate(config, tmp_path / "b.jsonl", tmp_path / "b.json")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (
        main(
            [
                "simulate",
                "--trusts",
                "2",
                "--days",
                "6",
                "--seed",
                "3",
                "--end",
                END.isoformat(),
                "--scenario",
                "winter_surge",
                "--clean",
                "--out",
                str(tmp_path / "clean.jsonl"),
                "--truth",
                str(tmp_path / "clean.json"),
            ]
        )
        == 0
    )
    clean = pd.DataFrame(_events(tmp_path / "clean.jsonl"))
    assert clean["event_id"].is_unique
    left = clean[clean["event_type"] == "discharge"].set_index("spell_ref")["occurred_at"]
    delays = clean[clean["event_type"] == "discharge_delay"]
    assert (delays["occurred_at"] < delays["spell_ref"].map(left).fillna("9999")).all()
    assert json.loads((tmp_path / "clean.json").read_text())["quirks"] == []


def test_a_quarter_long_window_runs(tmp_path: Path) -> None:
    out, truth = tmp_path / "q.jsonl.gz", tmp_path / "q.json"
    simulate(
        SimulationConfig(trusts=1, days=91, seed=4, end=date(2026, 11, 27), scenarios=()),
        out,
        truth,
    )
    document = json.loads(truth.read_text())
    assert document["period"] == {"start": "2026-08-28T00:00:00Z", "end": "2026-11-27T00:00:00Z"}
    kinds = Counter(q["kind"] for q in document["quirks"])
    # two gaps of each sort in 91 days, the autumn clock change
    assert kinds["feed_gap"] == 2 and kinds["event_type_gap"] == 2
    assert kinds["clock_change"] == 1
