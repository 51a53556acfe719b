"""The pure, deterministic event-time engine: per-scope state, metrics, detectors, lifecycle.

Imports only ``models`` and the standard library (plus msgspec, the contract's codec): no Faust,
Kafka, database or clock, so a replay of the same events gives exactly the same outputs.
"""

from __future__ import annotations

from streams.engine.engine import Engine
from streams.engine.metric_names import ALL_METRICS
from streams.engine.scope import DEFAULT_LATENESS, Output, ScopeState

__all__ = ["ALL_METRICS", "DEFAULT_LATENESS", "Engine", "Output", "ScopeState"]
