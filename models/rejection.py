"""Why an event was rejected: the stable reason codes and the scrubbed :class:`Rejection` record.

A rejection names a reason and the *path* of the field that was judged, never the value: it is
written to ``opsradar.deadletter.v1``, counted under a Prometheus label and may be logged, so it
must be safe even when the event carried an NHS number.
"""

from __future__ import annotations

from typing import Final

import msgspec

# The record as a whole
INVALID_UTF8: Final = "invalid_utf8"  # the bytes are not UTF-8
INVALID_JSON: Final = "invalid_json"  # not one JSON text (NaN, trailing data, depth, no value)
NOT_AN_OBJECT: Final = "not_an_object"  # an event (or a batch element) that is not a JSON object
EMPTY_BATCH: Final = "empty_batch"  # a batch array with no events
BATCH_TOO_LARGE: Final = "batch_too_large"  # a batch array of more than 10,000 events

# The identifier guard: checked first, so a record that is invalid anyway still says it leaked
# a 10-digit number passing Mod 11 (plain, or 3-3-4 with " ", "-", "_" or "." between)
NHS_NUMBER: Final = "nhs_number"
POSTCODE: Final = "postcode"  # a full UK postcode (outward and inward code)
EMAIL: Final = "email"  # anything shaped like local@domain
PHONE: Final = "phone"  # a UK phone number (0..., +44..., 0044...)
# two letters, six digits and a suffix letter A-D (``QQ 12 34 56 C``): a staff identifier
NI_NUMBER: Final = "ni_number"
IDENTIFIER_FIELD: Final = "identifier_field"  # a field named like an NHS number, a birth date, ...
NUMERIC_REF: Final = "numeric_ref"  # a *_ref made only of decimal digits (not a keyed hash)

# The envelope and the shape of an event
DUPLICATE_FIELD: Final = "duplicate_field"  # a key twice in one object: parsers disagree on it
BAD_SCHEMA_VERSION: Final = "bad_schema_version"  # schema_version present but not the integer 1
UNKNOWN_EVENT_TYPE: Final = "unknown_event_type"  # event_type names no type of the contract
WRONG_TOPIC: Final = "wrong_topic"  # event_type belongs to another topic than the record's
UNKNOWN_FIELD: Final = "unknown_field"
MISSING_FIELD: Final = "missing_field"
WRONG_TYPE: Final = (
    "wrong_type"  # e.g. a string where an integer is expected, true for 1, 1.0 for 1
)
BAD_PATTERN: Final = "bad_pattern"  # a code, reference or UUID that does not match its pattern
BAD_ENUM: Final = "bad_enum"  # a value (or a counts key) outside its enumeration
BAD_DATETIME: Final = "bad_datetime"  # a timestamp or date that is not RFC 3339 / YYYY-MM-DD
OUT_OF_RANGE: Final = "out_of_range"  # a number below 0 or above MAX_NUMBER
INVALID_VALUE: Final = "invalid_value"  # any other type-level failure (kept for completeness)

# Rules across fields and against the clock (no JSON Schema can express these)
SITE_NOT_IN_TRUST: Final = "site_not_in_trust"  # site_code does not start with trust_code
BAD_INTERVAL: Final = "bad_interval"  # ends_at <= starts_at, or period_end < period_start
FUTURE_TIME: Final = "future_time"  # occurred_at more than the future limit after now
TOO_OLD: Final = "too_old"  # occurred_at before 1970, or more than the past horizon before now

IDENTIFYING_REASONS: Final = frozenset(
    {NHS_NUMBER, POSTCODE, EMAIL, PHONE, NI_NUMBER, IDENTIFIER_FIELD, NUMERIC_REF}
)

#: Every reason a rejection can carry; a metric label's whole value set.
REASONS: Final = frozenset(
    {
        INVALID_UTF8,
        INVALID_JSON,
        NOT_AN_OBJECT,
        EMPTY_BATCH,
        BATCH_TOO_LARGE,
        DUPLICATE_FIELD,
        BAD_SCHEMA_VERSION,
        UNKNOWN_EVENT_TYPE,
        WRONG_TOPIC,
        UNKNOWN_FIELD,
        MISSING_FIELD,
        WRONG_TYPE,
        BAD_PATTERN,
        BAD_ENUM,
        BAD_DATETIME,
        OUT_OF_RANGE,
        INVALID_VALUE,
        SITE_NOT_IN_TRUST,
        BAD_INTERVAL,
        FUTURE_TIME,
        TOO_OLD,
    }
    | IDENTIFYING_REASONS
)


class Rejection(msgspec.Struct, frozen=True):
    """One rejected event (or record), already scrubbed: it holds no value the input carried.

    ``field`` is a path of contract names ("ward_code", "counts.hub_referrals"); a key that is not
    a contract name is written ``*`` because the key itself may be the identifier.
    ``event_id`` is kept only when it is a well-formed UUID (which the guard exempts), and
    ``event_type`` only when it is one of the contract's types.
    """

    reason: str
    field: str | None = None
    event_id: str | None = None
    event_type: str | None = None

    def to_deadletter(
        self, topic: str, partition: int | None, offset: int | None
    ) -> dict[str, object]:
        """The record for ``opsradar.deadletter.v1``."""
        return {
            "reason": self.reason,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "event_id": self.event_id,
            "field": self.field,
        }
