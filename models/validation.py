"""Rules across fields and against the clock, applied to events the types have accepted.

None of these can be written in JSON Schema (a prefix shared between two fields, an order
between two timestamps, "now"), so the published schemas list them as exceptions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from models.events import Event, RosterPublished, ShiftPlanned
from models.rejection import BAD_INTERVAL, FUTURE_TIME, SITE_NOT_IN_TRUST, TOO_OLD

#: No operational event is older, and the engine's hour and day arithmetic around an event from
#: year 1 leaves datetime's range: ``too_old`` whatever the past horizon (off for replays).
EARLIEST_OCCURRED_AT: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: The cross-field rules, for the schema's description (the clock rules are listed separately).
CROSS_FIELD_RULES: tuple[str, ...] = (
    "site_code starts with trust_code (site_not_in_trust)",
    "shift_planned: ends_at is after starts_at (bad_interval)",
    "roster_published: period_end is not before period_start (bad_interval)",
)


def check_event(
    event: Event,
    *,
    now: datetime,
    past_horizon: timedelta | None,
    future_limit: timedelta,
) -> tuple[str, str] | None:
    """(reason, field) for the first rule the event breaks, or None."""
    if event.site_code is not None and not event.site_code.startswith(event.trust_code):
        return SITE_NOT_IN_TRUST, "site_code"
    if isinstance(event, ShiftPlanned) and event.ends_at <= event.starts_at:
        return BAD_INTERVAL, "ends_at"
    if isinstance(event, RosterPublished) and event.period_end < event.period_start:
        return BAD_INTERVAL, "period_end"
    if event.occurred_at - now > future_limit:
        return FUTURE_TIME, "occurred_at"
    if event.occurred_at < EARLIEST_OCCURRED_AT:
        return TOO_OLD, "occurred_at"
    if past_horizon is not None and now - event.occurred_at > past_horizon:
        return TOO_OLD, "occurred_at"
    return None
