"""Occupancy forecast error beside a seasonal-naive baseline, on simulated sites and on the real
daily NCTR series per trust, in one run.

    .venv/bin/python bench/forecast.py [--json OUT] [--trusts 3] [--days 56] [--seed 1]

- **Simulated**: healthy trusts (no scenario) through the engine; every hourly
  ``bed_occupancy_forecast_24h`` against the ``bed_occupancy_ratio`` evaluated 24 h later, and
  the seasonal-naive forecast (the ratio at the same hour a week before the target) against
  the same; the first 14 days are left out (the model learns a week, then its errors a week).
  ``coverage_80``: the share of targets inside the forecast's 80% interval.
- **Real**: the daily NCTR series of every trust in the published file (121 trusts, April 2022 -
  August 2025, ``bench/data/``, as published; zeros are "not submitted"), 7 days ahead with
  ``daily_stock_forecast`` from each day with 4 weeks of history, against the seasonal-naive
  forecast (the same weekday a week before the target: 7 days ahead, the last known day);
  ``real_mae_vs_naive_by_subset``: the same ratio on 4 disjoint subsets of the trusts (CRC-32
  of the trust code mod 4), so no one sample decides it; ``real_coverage_80``: its 80% interval
  from the series' own errors of the last 16 weeks (those already known), their 10th and 90th
  percentiles.

Writes ``{"sim_mae_vs_naive", "real_mae_vs_naive", "coverage_80", ...}``: MAE ratios (< 1 is
better than naive; the target is <= 0.9) and the details.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import zlib
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import pandas as pd  # noqa: E402

from feeds.event_files import iter_lines  # noqa: E402
from feeds.simulator.run import SimulationConfig, simulate  # noqa: E402
from models.catalogue import load_catalogue  # noqa: E402
from models.events import BEDFLOW_TOPIC, EVENT_TYPE_TOPIC, Event, event_type_of  # noqa: E402
from models.outputs import MetricPoint  # noqa: E402
from streams.engine import Engine  # noqa: E402
from streams.engine.forecast import daily_stock_forecast, quantile  # noqa: E402

#: the published daily NCTR file, every trust (bench/data/README.md)
REAL_SERIES = ROOT / "bench" / "data" / "nctr_daily_by_trust.csv.gz"
#: the real series' interval: their errors of the last 16 weeks (8 covered 74%: too few to hold
#: a winter's swings)
ERROR_DAYS = 16 * 7
SUBSETS = 4
WARM_HOURS = 14 * 24
HORIZON_H = 24
HORIZON_D = 7


def _mae(errors: list[float]) -> float:
    return sum(abs(e) for e in errors) / len(errors)


def simulated(trusts: int, days: int, seed: int, end: date) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        simulate(SimulationConfig(trusts=trusts, days=days, seed=seed, end=end, scenarios=()), path)
        engine = Engine(load_catalogue())
        points: list[MetricPoint] = []
        decoder = msgspec.json.Decoder(Event)
        for line in iter_lines(path):
            event = decoder.decode(line)
            if EVENT_TYPE_TOPIC[event_type_of(event)] != BEDFLOW_TOPIC:
                continue
            points.extend(o for o in engine.process(event) if isinstance(o, MetricPoint))
    series: dict[tuple[str, str], dict[str, dict[int, float]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for point in points:
        hour = int(point.evaluated_at.timestamp() // 3600)
        series[(point.trust_code, point.site_code or "")][point.metric][hour] = point.value
    for metrics in series.values():
        _hold(metrics)
    model, naive, inside, total = [], [], 0, 0
    for metrics in series.values():
        actual = metrics["bed_occupancy_ratio"]
        forecast = metrics["bed_occupancy_forecast_24h"]
        low, high = (
            metrics["bed_occupancy_forecast_24h_low"],
            metrics["bed_occupancy_forecast_24h_high"],
        )
        first = min(actual) + WARM_HOURS
        for made, value in forecast.items():
            target = made + HORIZON_H
            if made < first or target not in actual or target - 168 not in actual:
                continue
            model.append(value - actual[target])
            naive.append(actual[target - 168] - actual[target])
            total += 1
            inside += low[made] <= actual[target] <= high[made]
    return {
        "sim_mae": _mae(model),
        "sim_naive_mae": _mae(naive),
        "sim_mae_vs_naive": _mae(model) / _mae(naive),
        "coverage_80": inside / total,
        "sim_forecasts": total,
    }


def _daily(rows: pd.DataFrame) -> list[float]:
    """A trust's counts on a full calendar (a day missing from the file is NaN), so that 7
    positions back is the same weekday."""
    counts = rows.set_index("day")["do_not_meet_criteria_to_reside"]
    counts = counts[~counts.index.duplicated()]
    calendar = pd.date_range(counts.index.min(), counts.index.max(), freq="D")
    return [float(v) for v in counts.reindex(calendar)]


def _hold(metrics: dict[str, dict[int, float]]) -> None:
    """Every hour of a scope's series from their points: a point holds until the next point of
    its series (the engine emits a metric when it changes: streams/engine/emission.py), the last
    one up to the scope's last evaluated hour."""
    last = max(max(values) for values in metrics.values())
    for values in metrics.values():
        first = min(values)
        held = values[first]
        for hour in range(first, last + 1):
            held = values.setdefault(hour, held)


def real() -> dict[str, Any]:
    frame = pd.read_csv(REAL_SERIES).dropna(subset=["nhs_trust22_code"])
    frame["day"] = pd.to_datetime(frame["date"])
    model, naive = [], []
    subset_model, subset_naive = [0.0] * SUBSETS, [0.0] * SUBSETS
    inside = scored = 0
    for code, rows in frame.sort_values("day").groupby("nhs_trust22_code"):
        subset = zlib.crc32(str(code).encode()) % SUBSETS
        errors: dict[int, float] = {}  # forecast day -> its error, known 7 days later
        values = _daily(rows)
        all_zero = all(v == 0 for v in values)
        history: list[float | None] = [
            None if (pd.isna(v) or (v == 0 and not all_zero)) else float(v) for v in values
        ]
        for t in range(28, len(history) - HORIZON_D):
            target = history[t + HORIZON_D]
            last = history[t]  # the same weekday as the target, a week before it
            forecast = daily_stock_forecast(history[: t + 1], HORIZON_D)
            if target is None or last is None or forecast is None:
                continue
            # the 80% interval as the engine makes it: the series' own errors known by day t
            known = [e for day, e in errors.items() if t - ERROR_DAYS <= day <= t - HORIZON_D]
            if len(known) >= 28:
                low, high = quantile(known, 0.1), quantile(known, 0.9)
                scored += 1
                inside += forecast + low <= target <= forecast + high
            errors[t] = target - forecast
            model.append(forecast - target)
            naive.append(last - target)
            subset_model[subset] += abs(forecast - target)
            subset_naive[subset] += abs(last - target)
    return {
        "real_mae": _mae(model),
        "real_naive_mae": _mae(naive),
        "real_mae_vs_naive": _mae(model) / _mae(naive),
        "real_mae_vs_naive_by_subset": [
            round(m / n, 4) for m, n in zip(subset_model, subset_naive, strict=True)
        ],
        "real_coverage_80": inside / scored,
        "real_forecasts": len(model),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--trusts", type=int, default=3)
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 27))
    args = parser.parse_args()
    result = {**simulated(args.trusts, args.days, args.seed, args.end), **real()}
    result = {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
