"""Rules across fields and against the clock, applied to events the types have accepted.

None of these can be written in JSON Schema (a prefix shared between two fields, an order
between two timestamps, "now"), so the published schemas list them as exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
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


def _shift_interval(event: ShiftPlanned) -> bool:
    return event.ends_at <= event.starts_at


def _roster_interval(event: RosterPublished) -> bool:
    return event.period_end < event.period_start


def _handover_interval(event: AmbulanceHandover) -> bool:
    return event.arrived_at > event.occurred_at


#: event type -> (its interval rule: True when broken, the field named)
_INTERVAL_RULES: Final[dict[type, tuple[Callable[[Any], bool], str]]] = {
    ShiftPlanned: (_shift_interval, "ends_at"),
    RosterPublished: (_roster_interval, "period_end"),
    AmbulanceHandover: (_handover_interval, "arrived_at"),
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
    if interval is not None and interval[0](event):
        return BAD_INTERVAL, interval[1]
    occurred_at = event.occurred_at
    if occurred_at > bounds.latest:
        return FUTURE_TIME, "occurred_at"
    if occurred_at < EARLIEST_OCCURRED_AT:
        return TOO_OLD, "occurred_at"
    if bounds.oldest is not None and occurred_at < bounds.oldest:
        return TOO_OLD, "occurred_at"
    return None


_SITE_CODE: Final = attrgetter("site_code")
_TRUST_CODE: Final = attrgetter("trust_code")
_OCCURRED_AT: Final = attrgetter("occurred_at")


def all_within(
    events: Sequence[Event], by_type: Mapping[type, Sequence[Event]], bounds: ClockBounds
) -> bool:
    """True when no event breaks a rule of :func:`check_event_within`: the same rules, each
    run once over a batch's events (``by_type``: the same events grouped by type) in C-level
    passes, for the decoder's whole-batch path."""
    for cls, group in by_type.items():
        sites, trusts = map(_SITE_CODE, group), map(_TRUST_CODE, group)
        if not all(site is None or site.startswith(trust)
                   for site, trust in zip(sites, trusts, strict=True)):  # fmt: skip
            return False
        interval = _INTERVAL_RULES.get(cls)
        if interval is not None and any(map(interval[0], group)):
            return False
    times = list(map(_OCCURRED_AT, events))
    latest, earliest = max(times), min(times)
    if latest > bounds.latest or earliest < EARLIEST_OCCURRED_AT:
        return False
    return bounds.oldest is None or earliest >= bounds.oldest
