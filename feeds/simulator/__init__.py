"""Synthetic, anonymised trust events with injected bottlenecks and their ground truth.

``simulate(config, out)`` streams bed-flow, rostering and referral events for a few fake trusts in
event-time order; :mod:`feeds.simulator.scenarios` says which catalogue kind is injected where.
"""

from feeds.simulator.run import SimulationConfig, SimulationStats, simulate
from feeds.simulator.scenarios import SCENARIOS, Injection

__all__ = ["SCENARIOS", "Injection", "SimulationConfig", "SimulationStats", "simulate"]
