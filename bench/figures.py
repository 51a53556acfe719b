"""Pure helpers of the benchmarks: percentiles, ratios, the issue's targets, and the table that
``make bench`` prints. No I/O here, so they are unit-tested (tests/unit/bench)."""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

#: the "done" line of each headline figure: (comparison, bound); issue 12
TARGETS: dict[str, tuple[str, float]] = {
    "worker_batch_vs_raw": (">=", 0.25),
    "worker_single_vs_noop_agent": (">=", 0.5),
    "analyse_vs_orjson_parse": (">=", 0.15),
    "decode_vs_orjson": (">=", 0.3),
    "national_rss_mb": ("<=", 2048.0),
    "p99_event_to_row_s": ("<=", 2.0),
}

#: each headline figure, the raw figures it is made of (numerator, baseline) and its unit
HEADLINES: dict[str, tuple[str, str, str]] = {
    "worker_batch_vs_raw": ("worker_batch_events_per_s", "raw_batch_events_per_s", "ev/s"),
    "worker_single_vs_noop_agent": (
        "worker_single_events_per_s",
        "noop_agent_single_events_per_s",
        "ev/s",
    ),
    "analyse_vs_orjson_parse": ("analyse_events_per_s", "orjson_parse_events_per_s", "ev/s"),
    "decode_vs_orjson": ("decode_batch_events_per_s", "orjson_batch_events_per_s", "ev/s"),
}


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100): the smallest value with at least
    q% of the values at or below it. Nearest rank never interpolates, so a p99 is a latency
    that was actually observed."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} outside (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[rank - 1]


def ratio(numerator: float | None, baseline: float | None) -> float | None:
    """``numerator / baseline``, None when either is missing or the baseline is zero."""
    if numerator is None or baseline is None or baseline == 0:
        return None
    return numerator / baseline


def meets(name: str, value: float | None) -> bool | None:
    """Whether ``value`` meets the target of ``name``; None without a value or a target."""
    if value is None or name not in TARGETS:
        return None
    comparison, bound = TARGETS[name]
    return value >= bound if comparison == ">=" else value <= bound


def with_ratios(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` plus every headline ratio computable from it (missing parts give None)."""
    out = dict(raw)
    for name, (numerator, baseline, _unit) in HEADLINES.items():
        out[name] = ratio(raw.get(numerator), raw.get(baseline))
    return out


def machine(now: datetime | None = None) -> dict[str, Any]:
    """Where and when the figures were measured."""
    import os

    return {
        "measured_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def rounded(value: Any) -> Any:
    """Floats to 4 significant figures (json readers do not need 17)."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def summary_lines(results: Mapping[str, Any]) -> list[str]:
    """The headline table: each figure, the two numbers it is made of, its target and verdict."""
    lines = [f"{'figure':<30}{'value':>10}  {'of (same run)':<44}{'target':>9}  met"]
    for name, (comparison, bound) in TARGETS.items():
        value = results.get(name)
        parts = ""
        if name in HEADLINES:
            numerator, baseline, unit = HEADLINES[name]
            parts = (
                f"{_number(results.get(numerator), unit)} / {_number(results.get(baseline), unit)}"
            )
        elif name == "national_rss_mb":
            parts = f"{results.get('national_open_pathways') or 0:,} pathways, " + (
                f"{results.get('national_planned_shifts') or 0:,} shifts"
            )
        elif name == "p99_event_to_row_s":
            parts = f"{results.get('national_steady_events_per_s') or '-'} ev/s steady, " + (
                f"{results.get('national_evaluations_timed') or 0:,} evaluations"
            )
        verdict = {True: "yes", False: "NO", None: "-"}[meets(name, value)]
        lines.append(
            f"{name:<30}{_number(value):>10}  {parts:<44}{comparison + ' ' + f'{bound:g}':>9}"
            f"  {verdict}"
        )
    extra = [("analyse_events_per_s", "ev/s"), ("national_restore_s", "s")]
    for name, unit in extra:
        lines.append(f"{name:<30}{_number(results.get(name)):>10}  {unit}")
    return lines
