"""The simulator: byte-determinism, contract validity, truth content, healthy margins, scenarios."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from feeds.simulator import SCENARIOS, SimulationConfig, simulate
from feeds.simulator.ids import event_id, slow_event_id
from models.decoding import RecordDecoder

pytestmark = pytest.mark.unit

END = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, tzinfo=UTC)
CATALOGUE_KINDS = {
    "discharge_documentation_automation",
    "transport_booking_automation",
    "care_transfer_referral_automation",
    "discharge_coordination",
    "discharge_timing_prediction",
    "capacity_forecasting",
    "roster_optimisation",
    "auto_rostering",
    "absence_backfill_automation",
    "referral_triage_automation",
    "waiting_list_validation",
    "dna_reduction",
    "demand_capacity_planning",
    "ambulance_handover_automation",
    "ed_demand_forecasting",
    "ed_bed_allocation",
}


def _lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as stream:
        yield from stream


def _events(path: Path) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for line in _lines(path):
        value = msgspec.json.decode(line)
        out.extend(value if isinstance(value, list) else [value])
    return out


@pytest.fixture(scope="module")
def healthy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One trust (two sites), no scenario at all: every site healthy, for 28 days (clean feeds:
    the processes' own calibration; the realistic delivery is tested in
    ``test_feeds_simulator_quirks.py``)."""
    folder = tmp_path_factory.mktemp("healthy")
    out, truth = folder / "events.jsonl", folder / "truth.json"
    config = SimulationConfig(trusts=1, days=28, seed=11, end=END, scenarios=(), realistic=False)
    simulate(config, out, truth)
    return out, truth


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("mixed")
    out, truth = folder / "events.jsonl.gz", folder / "truth.json"
    simulate(SimulationConfig(trusts=1, days=21, seed=5, end=END, realistic=False), out, truth)
    return out, truth


def test_fast_event_ids_equal_uuid4_from_the_same_bits() -> None:
    for seed in range(200):
        assert event_id(random.Random(seed)) == slow_event_id(random.Random(seed))


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    config = SimulationConfig(trusts=1, days=3, seed=7, end=END, scenarios=("winter_surge",))
    simulate(config, tmp_path / "a.jsonl.gz", tmp_path / "a.json")
    simulate(config, tmp_path / "b.jsonl.gz", tmp_path / "b.json")
    simulate(
        SimulationConfig(trusts=1, days=3, seed=8, end=END, scenarios=("winter_surge",)),
        tmp_path / "c.jsonl.gz",
    )
    a = (tmp_path / "a.jsonl.gz").read_bytes()
    assert a == (tmp_path / "b.jsonl.gz").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert a != (tmp_path / "c.jsonl.gz").read_bytes()


def test_batch_lines_carry_the_same_events_in_the_same_order(tmp_path: Path) -> None:
    config = SimulationConfig(trusts=1, days=2, seed=3, end=END, scenarios=())
    simulate(config, tmp_path / "single.jsonl")
    simulate(replace(config, batch=250), tmp_path / "batch.jsonl")
    batch_lines = list(_lines(tmp_path / "batch.jsonl"))
    assert all(line.startswith(b"[") for line in batch_lines)
    assert max(len(msgspec.json.decode(line)) for line in batch_lines) == 250
    assert _events(tmp_path / "single.jsonl") == _events(tmp_path / "batch.jsonl")


def test_every_event_is_valid_and_the_file_is_in_time_order(mixed_run: tuple[Path, Path]) -> None:
    out, _ = mixed_run
    decoder = RecordDecoder(None, past_horizon=None)
    accepted = rejected = 0
    last = ""
    for line in _lines(out):
        record = decoder.decode(line, now=NOW)
        accepted += len(record.events)
        rejected += len(record.rejections)
        occurred = msgspec.json.decode(line)["occurred_at"]
        assert occurred >= last  # same format everywhere, so strings order like times
        last = occurred
    assert rejected == 0
    assert accepted > 10_000
    assert last < "2026-03-02"  # nothing at or after the end (00:00 UTC of --end)


def test_truth_lists_every_kind_at_valid_sites_inside_the_period(
    mixed_run: tuple[Path, Path],
) -> None:
    out, truth_path = mixed_run
    truth = json.loads(truth_path.read_text())
    injected = truth["injected"]
    assert {i["kind"] for i in injected} == CATALOGUE_KINDS
    assert {i["scenario"] for i in injected} == set(SCENARIOS)
    sites = {e["site_code"] for e in _events(out) if "site_code" in e}
    start, end = truth["period"]["start"], truth["period"]["end"]
    assert (start, end) == ("2026-02-09T00:00:00Z", "2026-03-02T00:00:00Z")
    for injection in injected:
        assert injection["site_code"] in sites
        assert injection["site_code"].startswith(injection["trust_code"])
        assert start < injection["onset_at"] < injection["until_at"] < end
    # one trust has two sites: one carries the scenarios, the other stays healthy
    assert len({i["site_code"] for i in injected}) == 1
    assert len(sites) == 2


def test_codes_are_ods_shaped_and_refs_are_hex(mixed_run: tuple[Path, Path]) -> None:
    frame = pd.DataFrame(_events(mixed_run[0]))
    assert frame["trust_code"].str.fullmatch(r"R[A-Z0-9]{2}").all()
    assert (frame["site_code"].str.slice(0, 3) == frame["trust_code"]).all()
    for column in ("spell_ref", "shift_ref", "referral_ref"):
        refs = frame[column].dropna()
        assert refs.str.fullmatch(r"[0-9a-f]{32}").all()
    assert frame["event_id"].is_unique


def _healthy_frame(path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(_events(path))
    frame["t"] = pd.to_datetime(frame["occurred_at"])
    return frame


def test_healthy_sites_stay_clear_of_every_trigger(healthy_run: tuple[Path, Path]) -> None:
    """A cheap pandas reading of the main rates, per site, against the catalogue's triggers."""
    out, truth_path = healthy_run
    assert json.loads(truth_path.read_text())["injected"] == []
    frame = _healthy_frame(out)
    start = pd.Timestamp(json.loads(truth_path.read_text())["period"]["start"])
    for site, events in frame.groupby("site_code"):
        kind = events["event_type"]
        # DNA rate over outcomes that are attended or DNA (the engine's definition) [8 %]
        outcomes = events[(kind == "appointment_outcome") & (events["t"] >= start)]["outcome"]
        dna = (outcomes == "did_not_attend").sum() / outcomes.isin(
            ["attended", "did_not_attend"]
        ).sum()
        assert 0.03 < dna < 0.07, (site, dna)
        # agency share of fills, unfilled share of planned [8 %, 10 %]
        fills = events[kind == "shift_filled"]["fill_source"]
        assert (fills == "agency").mean() < 0.05, site
        planned = (kind == "shift_planned").sum()
        assert (kind == "shift_unfilled").sum() / planned < 0.05, site
        # short-notice absences [5 %], roster lead [42 days]
        absences = events[kind == "absence_reported"]
        assert (absences["notice_hours"] < 24).sum() / planned < 0.03, site
        rosters = events[kind == "roster_published"]
        leads = (
            pd.to_datetime(rosters["period_start"]).dt.tz_localize("UTC") - rosters["t"]
        ).dt.days
        assert leads.min() >= 55, site
        # discharges before noon [33 %], weekend/weekday rate [0.6]
        discharges = events[(kind == "discharge") & (events["t"] >= start)]["t"]
        assert (discharges.dt.hour < 12).mean() > 0.38, site
        per_day = discharges.dt.floor("D").value_counts()
        weekend = (
            per_day[per_day.index.day_of_week >= 5].mean()
            / per_day[per_day.index.day_of_week < 5].mean()
        )
        assert weekend > 0.75, site
        # documentation and transport: healthy sites see almost none [5 %]
        reasons = events[kind == "discharge_delay"]["reason"]
        assert (reasons == "hospital_discharge_documentation").mean() < 0.01, site
        assert (reasons == "hospital_patient_transport").mean() < 0.01, site
        # referral inflow vs closures over the period [+10 %]
        period = events[events["t"] >= start]
        received = (period["event_type"] == "referral_received").sum()
        closed = (period["event_type"] == "pathway_closed").sum()
        assert received / closed < 1.05, site


def test_healthy_occupancy_and_nctr_share_sit_well_under_their_triggers(
    healthy_run: tuple[Path, Path],
) -> None:
    out, _ = healthy_run
    frame = _healthy_frame(out)
    for site, events in frame.groupby("site_code"):
        beds = (
            events[events["event_type"] == "ward_capacity"]
            .groupby("ward_code")["beds_open"]
            .max()
            .sum()
        )
        moves = events[events["event_type"].isin(["admission", "discharge"])].sort_values("t")
        occupied = (
            (moves["event_type"] == "admission")
            .astype(int)
            .sub((moves["event_type"] == "discharge").astype(int))
            .cumsum()
        )
        late = occupied[moves["t"] >= moves["t"].min() + pd.Timedelta(days=2)]
        assert late.max() / beds < 0.9, site  # [0.92 for 3 days]
        ready = set(events.loc[events["event_type"] == "ready_for_discharge", "spell_ref"])
        gone = set(events.loc[events["event_type"] == "discharge", "spell_ref"])
        share = len(ready - gone) / late.iloc[-1]
        assert 0.1 < share < 0.3, site  # [0.35]


def test_unknown_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        simulate(
            SimulationConfig(trusts=1, days=2, end=END, scenarios=("no_such_thing",)),
            tmp_path / "x.jsonl",
        )
