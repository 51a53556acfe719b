"""The status lifecycle of one (scope, kind), as a pure transition (``docs/catalogue.md``)::

    (none) --trigger or emerging rule--> emerging --held at every evaluation of the period--> active
    emerging --neither trigger nor rule for a persistence's worth of evaluations--> resolved
    active --clear (hysteresis) for resolve_after evaluations--> resolved --> (none): a new episode

``transition`` takes the kind's state and this evaluation's signals and returns the next state
and the status steps taken; it reads no clock and changes nothing it is given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NamedTuple

import msgspec

from models.catalogue import KindSpec, Lifecycle
from models.outputs import Opportunity, Status
from streams.engine.statistics import DayStats
from streams.engine.timekeys import HOUR

Mode = Literal["hourly", "daily", "periodic"]
Step = tuple[Status | None, Status]


class KindState(msgspec.Struct, kw_only=True):
    episode: int = 0
    status: Status | None = None
    first_emerging_at: datetime | None = None
    first_active_at: datetime | None = None
    held_since: float | None = None
    held_count: int = 0
    quiet_count: int = 0
    last_snapshot_at: float | None = None
    # condition name -> day -> (evaluations, sum, sum of squares): the 28-day baseline
    stats: dict[str, DayStats] = msgspec.field(default_factory=dict)
    latest: Opportunity | None = None
    latest_emitted: bool = True


class Signals(NamedTuple):
    """What one evaluation says about the kind (``statistics.judge`` of its conditions)."""

    triggered: bool
    emerging: bool
    clear: bool  # not even the hysteresis-relaxed trigger holds


class Moved(NamedTuple):
    state: KindState
    steps: tuple[Step, ...]
    lapsed: bool  # an emerging episode that never became active lapsed to resolved

    @property
    def resolved(self) -> bool:
        return bool(self.steps) and self.steps[-1][1] == "resolved"


def broken(state: KindState) -> KindState:
    """The held run broken (an evaluation that could not hold: no sample, or data not ok)."""
    return msgspec.structs.replace(state, held_count=0, held_since=None)


def _needed(spec: KindSpec, mode: Mode) -> int:
    if mode == "hourly":
        return spec.persistence_hours
    return spec.persistence_daily_reports if mode == "daily" else spec.persistence_periodic_reports


def transition(
    state: KindState,
    *,
    signals: Signals,
    spec: KindSpec,
    lc: Lifecycle,
    mode: Mode,
    ts: float,
    at: datetime,
) -> Moved:
    """The next state of the kind after one evaluation at ``at`` (``ts`` its epoch seconds)."""
    triggered, emerging, clear = signals
    if triggered:
        held_count = state.held_count + 1
        held_since = state.held_since if state.held_since is not None else ts
    else:
        held_count, held_since = 0, None
    needed = _needed(spec, mode)
    if mode == "hourly":
        # Every hourly evaluation of the period held: persistence_hours + 1 of them, from the
        # first to the one persistence_hours later.
        persisted = (
            held_since is not None and ts - held_since >= needed * HOUR and held_count > needed
        )
    else:
        persisted = held_count >= needed
    status = state.status
    episode = state.episode
    first_emerging_at = state.first_emerging_at
    first_active_at = state.first_active_at
    quiet = state.quiet_count
    steps: list[Step] = []
    lapsed = False
    if status is None:
        if not (triggered or emerging):
            return Moved(
                msgspec.structs.replace(state, held_count=held_count, held_since=held_since),
                (),
                False,
            )
        episode += 1
        status = "emerging"
        first_emerging_at = at
        quiet = 0
        steps.append((None, "emerging"))
        opened = True
    else:
        opened = False
    if status == "emerging":
        if persisted:
            status = "active"
            first_active_at = at
            quiet = 0
            steps.append(("emerging", "active"))
        elif triggered or emerging:
            quiet = 0
        elif not opened:
            quiet += 1
            if quiet >= needed:
                lapsed = True
                steps.append(("emerging", "resolved"))
    elif state.status == "active":
        if clear:
            quiet += 1
            if quiet >= lc.resolve_after_evaluations:
                steps.append(("active", "resolved"))
        else:
            quiet = 0
    moved = msgspec.structs.replace(
        state,
        episode=episode,
        status=status,
        first_emerging_at=first_emerging_at,
        first_active_at=first_active_at,
        held_count=held_count,
        held_since=held_since,
        quiet_count=quiet,
    )
    return Moved(moved, tuple(steps), lapsed)


def closed(state: KindState) -> KindState:
    """After a resolution: no episode open, a new one may start at the next evaluation."""
    return msgspec.structs.replace(
        state,
        status=None,
        first_emerging_at=None,
        first_active_at=None,
        held_since=None,
        held_count=0,
        quiet_count=0,
        last_snapshot_at=None,
    )
