"""The forecast bench's "done" line, on a small run: MAE at most 0.9 x the seasonal-naive
baseline on simulated occupancy and on the real daily NCTR series (every trust, and each of 4
disjoint subsets of them), and the 80% interval covering 70-90% of outcomes
(``bench/forecast.py``; the README quotes the full run)."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[3] / "bench" / "forecast.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("forecast_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_forecasts_beat_seasonal_naive_with_calibrated_intervals() -> None:
    bench = _bench()
    sim = bench.simulated(trusts=1, days=42, seed=1, end=date(2026, 11, 27))
    assert sim["sim_forecasts"] > 1000
    assert sim["sim_mae_vs_naive"] <= 0.9
    assert 0.7 <= sim["coverage_80"] <= 0.9
    real = bench.real()
    # every trust of the published file, and each of 4 disjoint subsets of them, with a margin
    assert real["real_forecasts"] > 100_000
    assert real["real_mae_vs_naive"] <= 0.87
    assert max(real["real_mae_vs_naive_by_subset"]) <= 0.88
    assert 0.75 <= real["real_coverage_80"] <= 0.85
