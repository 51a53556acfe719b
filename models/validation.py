"""Rules across fields and against the clock, applied to events the types have accepted.

None of these can be written in JSON Schema (a prefix shared between two fields, an order
between two timestamps, "now"), so the published schemas list them as exceptions.
"""

from __future__ import annotations

import contextlib
import operator
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import compress, repeat
from operator import attrgetter
from typing import Any, Final, NamedTuple

from models.events import AmbulanceHandover, Event, RosterPublished, ShiftPlanned
from models.rejection import BAD_INTERVAL, FUTURE_TIME, SITE_NOT_IN_TRUST, TOO_OLD

#: No operational event is older, and the engine's hour and day arithmetic around an event from
#: year 1 leaves datetime's range: ``too_old`` whatever the past horizon (off for replays).
EARLIEST_OCCURRED_AT: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: The cross-field rules, for the schema's description (the clock rules are listed separately).
CROSS_FIELD_RULES: tuple[str, ...] = (
    "site_code starts with trust_code (site_not_in_trust)",
    "shift_planned: ends_at is after starts_at (bad_interval)",
    "roster_published: period_end is not before period_start (bad_interval)",
    "ambulance_handover: arrived_at is not after occurred_at (bad_interval)",
)


class ClockBounds(NamedTuple):
    """The clock rules for one ``now``, as the two instants an ``occurred_at`` must lie within."""

    latest: datetime
    #: None: no bound beyond ``EARLIEST_OCCURRED_AT`` (no past horizon, or one before year 1)
    oldest: datetime | None


def clock_bounds(
    now: datetime, *, past_horizon: timedelta | None, future_limit: timedelta
) -> ClockBounds:
    """``occurred_at - now > future_limit`` is ``occurred_at > now + future_limit`` and
    ``now - occurred_at > past_horizon`` is ``occurred_at < now - past_horizon`` (datetime
    arithmetic is exact), so a decoder computes them once per ``now``, not once per event."""
    oldest: datetime | None = None
    if past_horizon is not None:
        try:
            oldest = now - past_horizon
        except OverflowError:  # before year 1: no event is older
            oldest = None
    return ClockBounds(latest=now + future_limit, oldest=oldest)


class _IntervalRule(NamedTuple):
    """Broken when ``broken(event.<first>, event.<second>)``; a rejection names ``first``."""

    first: str
    broken: Callable[[Any, Any], bool]
    second: str


_INTERVAL_RULES: Final[dict[type, _IntervalRule]] = {
    ShiftPlanned: _IntervalRule("ends_at", operator.le, "starts_at"),
    RosterPublished: _IntervalRule("period_end", operator.lt, "period_start"),
    AmbulanceHandover: _IntervalRule("arrived_at", operator.gt, "occurred_at"),
}
#: the same rules with their fields' getters, for a batch's events at once (C-level passes)
_INTERVAL_GETTERS: Final = {
    cls: (attrgetter(rule.first), rule.broken, attrgetter(rule.second))
    for cls, rule in _INTERVAL_RULES.items()
}


def check_event(
    event: Event,
    *,
    now: datetime,
    past_horizon: timedelta | None,
    future_limit: timedelta,
) -> tuple[str, str] | None:
    """(reason, field) for the first rule the event breaks, or None."""
    bounds = clock_bounds(now, past_horizon=past_horizon, future_limit=future_limit)
    return check_event_within(event, bounds)


def check_event_within(event: Event, bounds: ClockBounds) -> tuple[str, str] | None:
    """:func:`check_event` with the clock rules' bounds computed beforehand."""
    if event.site_code is not None and not event.site_code.startswith(event.trust_code):
        return SITE_NOT_IN_TRUST, "site_code"
    interval = _INTERVAL_RULES.get(type(event))
    if interval is not None and interval.broken(
        getattr(event, interval.first), getattr(event, interval.second)
    ):
        return BAD_INTERVAL, interval.first
    occurred_at = event.occurred_at
    if occurred_at > bounds.latest:
        return FUTURE_TIME, "occurred_at"
    if occurred_at < EARLIEST_OCCURRED_AT:
        return TOO_OLD, "occurred_at"
    if bounds.oldest is not None and occurred_at < bounds.oldest:
        return TOO_OLD, "occurred_at"
    return None


_TZINFO: Final = attrgetter("tzinfo")


def columns_within(
    sites: Sequence[str | None],
    trusts: Sequence[str],
    times: Sequence[datetime],
    by_type: Mapping[type, Sequence[Event]],
    bounds: ClockBounds,
) -> bool:
    """True when no event of a batch breaks a rule of :func:`check_event_within`: the same
    rules, each run once over the batch in C-level passes, for the decoder's whole-batch path.
    ``sites``, ``trusts``, ``times``: each event's site code, trust code and ``occurred_at``, in
    order (the decoder reads each field once per batch for every rule); ``by_type``: the same
    events grouped by type."""
    if None in sites:  # a sitrep without a site: its scope is the trust
        present = list(map(operator.is_not, sites, repeat(None)))
        sites, trusts = list(compress(sites, present)), list(compress(trusts, present))
    if not all(map(str.startswith, typing.cast("Sequence[str]", sites), trusts)):
        return False
    for cls, group in by_type.items():
        getters = _INTERVAL_GETTERS.get(cls)
        if getters is not None:
            first, broken, second = getters
            if any(map(broken, map(first, group), map(second, group))):
                return False
    if not all(map(operator.is_, map(_TZINFO, times), repeat(times[0].tzinfo))):
        # Aware datetimes of different tzinfo objects compare through utcoffset() (~15x the
        # cost of two of the same): one conversion each is cheaper than max and min's compares.
        # (An identity test, stopping at the first other tzinfo: cheaper than a set of them, and
        # converting when it need not changes no instant.)
        with contextlib.suppress(OverflowError):  # an instant beyond year 9999 in UTC
            times = list(map(datetime.astimezone, times, repeat(UTC)))
    latest, earliest = max(times), min(times)
    if latest > bounds.latest or earliest < EARLIEST_OCCURRED_AT:
        return False
    return bounds.oldest is None or earliest >= bounds.oldest
