"""The benchmarks' pure helpers (bench/figures.py): the percentile behind p99_event_to_row_s,
the headline ratios and their targets, and the table ``make bench`` prints."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


figures = _module("figures")


def test_p99_is_an_observed_value_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 201)]  # 1..200
    assert figures.percentile(values, 99) == 198.0  # ceil(0.99 * 200) = 198th
    assert figures.percentile(values, 50) == 100.0
    assert figures.percentile(list(reversed(values)), 100) == 200.0
    assert figures.percentile([3.5], 99) == 3.5
    # one slow evaluation in 100 is the p99; two in 100 are beyond it
    assert figures.percentile([0.1] * 99 + [9.0], 99) == 0.1
    assert figures.percentile([0.1] * 98 + [9.0, 9.0], 99) == 9.0


@pytest.mark.parametrize("q", [0, -1, 101])
def test_percentile_refuses_a_rank_outside_the_range(q: float) -> None:
    with pytest.raises(ValueError):
        figures.percentile([1.0], q)


def test_percentile_of_nothing_is_an_error_not_zero() -> None:
    with pytest.raises(ValueError):
        figures.percentile([], 99)


def test_ratios_come_from_the_raw_figures_of_the_same_run() -> None:
    raw = {
        "worker_batch_events_per_s": 50_000.0,
        "raw_batch_events_per_s": 200_000.0,
        "worker_single_events_per_s": 300.0,
        "noop_agent_single_events_per_s": 0.0,  # a baseline of zero gives no ratio
        "decode_batch_events_per_s": 60_000.0,
    }
    out = figures.with_ratios(raw)
    assert out["worker_batch_vs_raw"] == 0.25
    assert out["worker_single_vs_noop_agent"] is None
    assert out["decode_vs_orjson"] is None  # its baseline is missing
    assert out["analyse_vs_orjson_parse"] is None
    assert out["raw_batch_events_per_s"] == 200_000.0  # the raw numbers stay beside the ratio


def test_targets_compare_in_their_own_direction() -> None:
    assert figures.meets("worker_batch_vs_raw", 0.25) is True
    assert figures.meets("worker_batch_vs_raw", 0.2499) is False
    assert figures.meets("national_rss_mb", 2048.0) is True
    assert figures.meets("national_rss_mb", 2049.0) is False
    assert figures.meets("p99_event_to_row_s", 2.5) is False
    assert figures.meets("p99_event_to_row_s", None) is None
    assert figures.meets("analyse_events_per_s", 1.0) is None  # no target


def test_rounding_keeps_four_significant_figures_everywhere() -> None:
    assert figures.rounded({"a": [123456.789, 0.000123456], "b": 3, "c": "x"}) == {
        "a": [123500.0, 0.0001235],
        "b": 3,
        "c": "x",
    }


def test_summary_shows_each_target_and_says_when_it_is_missed() -> None:
    results = figures.with_ratios(
        {
            "worker_batch_events_per_s": 5_000.0,
            "raw_batch_events_per_s": 300_000.0,
            "national_rss_mb": 1500.0,
            "national_open_pathways": 7_500_000,
            "national_planned_shifts": 3_700_000,
        }
    )
    lines = figures.summary_lines(results)
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert set(figures.TARGETS) <= set(by_name)
    assert by_name["worker_batch_vs_raw"].endswith("NO")
    assert "5,000 ev/s / 300,000 ev/s" in by_name["worker_batch_vs_raw"]
    assert by_name["national_rss_mb"].endswith("yes")
    assert "7,500,000 pathways" in by_name["national_rss_mb"]
    assert by_name["p99_event_to_row_s"].endswith("-")  # not measured: no verdict
