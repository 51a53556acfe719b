"""Occupancy forecast error beside a seasonal-naive baseline, on simulated sites and on the real
daily NCTR series per trust, in one run.

    .venv/bin/python bench/forecast.py [--json OUT] [--trusts 3] [--days 56] [--seed 1]

- **Simulated**: healthy trusts (no scenario) through the engine; every hourly
  ``bed_occupancy_forecast_24h`` against the ``bed_occupancy_ratio`` evaluated 24 h later, and
  the seasonal-naive forecast (the ratio at the same hour a week before the target) against
  the same; the first 14 days are left out (the model learns a week, then its errors a week).
  ``coverage_80``: the share of targets inside the forecast's 80% interval.
- **Real**: the daily NCTR series of 21 trusts (every 6th trust code of the published file,
  April 2023 - March 2025, ``bench/data/``; zeros are "not submitted"), 7 days ahead with
  ``daily_stock_forecast`` from each day with 4 weeks of history, against the seasonal-naive
  forecast (the same weekday a week before the target: 7 days ahead, the last known day);
  ``real_coverage_80``: its 80% interval made as the engine makes one, from the series' own
  errors of the last 8 weeks (those already known).

Writes ``{"sim_mae_vs_naive", "real_mae_vs_naive", "coverage_80", ...}``: MAE ratios (< 1 is
better than naive; the target is <= 0.9) and the details.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

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

#: every 6th trust of the published daily NCTR file, April 2023 - March 2025 (bench/data/README.md)
REAL_SERIES = ROOT / "bench" / "data" / "nctr_daily_by_trust_sample.csv.gz"
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


def real() -> dict[str, float]:
    frame = pd.read_csv(REAL_SERIES).dropna(subset=["nhs_trust22_code"])
    frame["day"] = pd.to_datetime(frame["date"])
    model, naive = [], []
    inside = scored = 0
    for _, rows in frame.sort_values("day").groupby("nhs_trust22_code"):
        errors: dict[int, float] = {}  # forecast day -> its error, known 7 days later
        values = rows["do_not_meet_criteria_to_reside"].tolist()
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
            known = [e for day, e in errors.items() if t - 56 <= day <= t - HORIZON_D]
            if len(known) >= 28:
                low, high = quantile(known, 0.1), quantile(known, 0.9)
                scored += 1
                inside += forecast + low <= target <= forecast + high
            errors[t] = target - forecast
            model.append(forecast - target)
            naive.append(last - target)
    return {
        "real_mae": _mae(model),
        "real_naive_mae": _mae(naive),
        "real_mae_vs_naive": _mae(model) / _mae(naive),
        "real_coverage_80": inside / scored,
        "real_forecasts": len(model),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
