"""Fuzzing decode + guard with mutated real-looking records.

Each case starts from a valid event (every type, the examples and the seeded generator), applies
a few structural mutations (values replaced by arbitrary JSON or planted identifiers, keys
renamed, dropped, added or repeated, events nested or batched) and byte-level ones (flipped,
inserted, deleted bytes, truncation), then checks the decoder's promises:

- it never raises, whatever the bytes;
- every event in the record is accounted for: accepted, or rejected with a known reason;
- a rejection holds nothing of the input: its field path is made of contract names, ``*`` and
  indices, its ``event_id`` is a UUID the input carried as ``event_id``, its ``event_type`` one of
  the contract's; and no planted identifier appears in the dead letter;
- an accepted event never carries a planted identifier, and its event time is a real instant.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from models.decoding import MAX_BATCH_EVENTS, VOCABULARY, RecordDecoder
from models.events import EVENT_TYPE_TOPIC, INPUT_TOPICS, UUID_PATTERN
from models.guard import ECHOABLE_IDENTIFYING_NAMES
from models.rejection import REASONS
from tests.unit.contract import canaries
from tests.unit.contract.examples import EVENT_TYPES, NOW
from tests.unit.contract.examples import example as valid_example
from tests.unit.contract.legit_events import LegitEvents

pytestmark = pytest.mark.unit

FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DECODERS: Final = {
    topic: RecordDecoder(topic, past_horizon=None) for topic in (None, *INPUT_TOPICS)
}

#: What a planted value may be: a canary in any of its forms, or an identifier-shaped variant.
PLANTED: Final = (
    *canaries.CANARIES,
    f"NHS {canaries.NHS_NUMBER_SPACED}",
    f"W{canaries.NHS_NUMBER}",
    f"{canaries.POSTCODE_COMPACT.lower()}",
    canaries.EMAIL.upper(),
    canaries.PHONE_MOBILE.replace(" ", "-"),
)
PLANTED_NUMBERS: Final = (int(canaries.NHS_NUMBER), float(canaries.NHS_NUMBER), 447700900123)
IDENTIFYING_KEYS: Final = (
    "nhs_number",
    "NHSNumber",
    "dob",
    "postcode",
    "email",
    "patient_name",
    "mobile",
    canaries.NHS_NUMBER,
    canaries.EMAIL,
)

_UUID: Final = re.compile(UUID_PATTERN)
_PATH_PART: Final = re.compile(r"[A-Za-z0-9_]+|\*|\[\d+\]")


def _legit(seed: int) -> dict[str, Any]:
    # no planted digit runs in hashes: those are legitimate, and would look like leaked canaries
    source = LegitEvents(seed, plant_rate=0)
    return source.event(EVENT_TYPES[seed % len(EVENT_TYPES)])


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(PLANTED),
    st.sampled_from(PLANTED_NUMBERS),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=12) | st.sampled_from(IDENTIFYING_KEYS), inner, max_size=4
        )
    ),
    max_leaves=12,
)


TIME_FIELDS: Final = ("occurred_at", "starts_at", "ends_at", "appointment_at")
DATE_FIELDS: Final = ("period_start", "period_end", "report_date")


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """An RFC 3339 timestamp anywhere in datetime's range, with any offset: near year 1 or
    9999, the instant in UTC may not exist."""
    edges = st.builds(
        datetime.combine,
        st.sampled_from([date(1, 1, 1), date(1969, 12, 31), date(9999, 12, 31)]),
        st.times(),
    )
    moment = draw(edges | st.datetimes()).isoformat(
        timespec=draw(st.sampled_from(["seconds", "auto"]))
    )
    minutes = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    if minutes == 0 and draw(st.booleans()):
        return moment + "Z"
    sign = "+" if minutes >= 0 else "-"
    return f"{moment}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@st.composite
def base_events(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return valid_example(draw(st.sampled_from(EVENT_TYPES)))
    return _legit(draw(st.integers(0, 10_000)))


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A real-looking event with up to four structural mutations."""
    event = draw(base_events())
    for _ in range(draw(st.integers(0, 4))):
        keys = list(event)
        action = draw(
            st.sampled_from(["replace", "drop", "add", "rename", "nest", "counts", "time"])
        )
        key = draw(st.sampled_from(keys)) if keys else "event_type"
        if action == "time":
            times = [k for k in keys if k in TIME_FIELDS] or ["occurred_at"]
            dates = [k for k in keys if k in DATE_FIELDS]
            if dates and draw(st.booleans()):
                event[draw(st.sampled_from(dates))] = draw(st.dates()).isoformat()
            else:
                event[draw(st.sampled_from(times))] = draw(timestamps())
        elif action == "replace":
            event[key] = draw(json_values)
        elif action == "drop":
            event.pop(key, None)
        elif action == "add":
            new_key = draw(st.text(max_size=16) | st.sampled_from(IDENTIFYING_KEYS))
            event[new_key] = draw(json_values)
        elif action == "rename":
            new_key = draw(st.text(max_size=16) | st.sampled_from(IDENTIFYING_KEYS))
            event[new_key] = event.pop(key, None)
        elif action == "nest":
            event[key] = {draw(st.sampled_from(IDENTIFYING_KEYS)): event.get(key)}
        else:
            event["counts"] = draw(
                st.dictionaries(
                    st.sampled_from(["hub_referrals", *IDENTIFYING_KEYS]) | st.text(max_size=8),
                    st.integers(-5, 2**40) | st.sampled_from(PLANTED),
                    max_size=3,
                )
            )
    return event


def _encode_event(event: dict[str, Any], duplicate: str | None) -> bytes:
    text = json.dumps(event, ensure_ascii=False, allow_nan=True)
    if duplicate is not None and text.startswith("{"):
        # a repeated key: JSON parsers disagree which value wins, so the first one hides here
        text = "{" + json.dumps(duplicate) + ': "' + canaries.NHS_NUMBER + '", ' + text[1:]
    return text.encode()


@st.composite
def byte_mutations(draw: st.DrawFn, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(
                st.binary(max_size=6)
                | st.sampled_from([b"{", b"[", b'"', b"\\", b"\\u0000", b"\xff", b"NaN", b"1e999"])
            )
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        else:
            del data[position:]
    return bytes(data)


@st.composite
def records(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """(record value, events it holds when it is a well-formed array or object; None: unknown)."""
    count = draw(st.integers(1, 4))
    events = [draw(mutated_events()) for _ in range(count)]
    duplicate = draw(st.none() | st.sampled_from(["ward_code", "event_type", "trust_code", "x"]))
    raws = [_encode_event(event, duplicate if i == 0 else None) for i, event in enumerate(events)]
    if count == 1 and draw(st.booleans()):
        value, expected = raws[0], 1
    else:
        value, expected = b"[" + b",".join(raws) + b"]", count
    mutated = draw(byte_mutations(value))
    return mutated, expected if mutated == value else None


def _check_rejection_is_scrubbed(rejection: Any, value: bytes | None) -> None:
    assert rejection.reason in REASONS
    if rejection.field is not None:
        for part in re.split(r"\.|(?=\[)", rejection.field):
            assert _PATH_PART.fullmatch(part), rejection.field
            name = part.strip("[]")
            assert (
                name in VOCABULARY
                or name in ECHOABLE_IDENTIFYING_NAMES
                or name == "*"
                or name.isdecimal()
            ), rejection.field
    if rejection.event_id is not None:
        assert _UUID.match(rejection.event_id)
        assert value is not None and rejection.event_id.encode() in value
    if rejection.event_type is not None:
        assert rejection.event_type in EVENT_TYPE_TOPIC
    letter = msgspec.json.encode(rejection.to_deadletter("nhs.bedflow.v1", 0, 0)).decode()
    assert canaries.leaked([letter, repr(rejection)]) == []


def _check(value: bytes | None, expected: int | None, topic: str | None) -> None:
    decoded = DECODERS[topic].decode(value, now=NOW)
    judged = len(decoded.events) + len(decoded.rejections)
    if expected is not None:
        # a whole record is one rejection when it cannot be split into events at all
        assert judged == expected or (judged == 1 and decoded.rejections), (judged, expected)
    else:
        assert judged >= 1
    assert judged <= MAX_BATCH_EVENTS
    for rejection in decoded.rejections:
        _check_rejection_is_scrubbed(rejection, value)
    for event in decoded.events:
        assert canaries.leaked([msgspec.json.encode(event).decode()]) == [], event
        # event time is a real instant, with a day's room either side for the engine's hours
        assert event.occurred_at.astimezone(UTC) - timedelta(days=1) < NOW


@FUZZ
@given(record=records(), topic=st.sampled_from([None, *INPUT_TOPICS]))
def test_mutated_records_are_judged_and_never_leak(
    record: tuple[bytes, int | None], topic: str | None
) -> None:
    value, expected = record
    _check(value, expected, topic)


@FUZZ
@given(value=st.none() | st.binary(max_size=200))
@example(value=None)  # a tombstone: a Kafka record without a value
@example(value=b"")
@example(value=b"[" * 10_000)
@example(value=b'{"a":' * 5_000)
def test_arbitrary_bytes_never_crash_the_decoder(value: bytes | None) -> None:
    _check(value, 1 if value is None else None, None)


@FUZZ
@given(data=st.data(), moment=timestamps())
def test_any_timestamp_in_any_time_field_is_judged(data: st.DataObject, moment: str) -> None:
    """Valid events with one timestamp anywhere in datetime's range (year 1 with an offset east
    of UTC is no instant at all): judged like any other record, and an accepted one has an
    event time the engine can work around."""
    event_type = data.draw(st.sampled_from(EVENT_TYPES))
    event = valid_example(event_type)
    field = data.draw(st.sampled_from([f for f in TIME_FIELDS if f in event]))
    event[field] = moment
    _check(json.dumps(event).encode(), 1, None)
