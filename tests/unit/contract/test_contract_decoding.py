"""RecordDecoder: every type decodes; every rule rejects with its reason, scrubbed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, get_args

import msgspec
import pytest

from models.decoding import MAX_BATCH_EVENTS, RecordDecoder
from models.events import EVENT_TYPE_TOPIC, INPUT_TOPICS, Event, event_type_of, scope_of
from models.rejection import REASONS, Rejection
from tests.unit.contract import canaries
from tests.unit.contract.examples import EVENT_TYPES, NOW, TOPICS, all_examples, example

pytestmark = pytest.mark.unit

ANY_TOPIC = RecordDecoder(None, past_horizon=None)


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def only_rejection(value: bytes | None, decoder: RecordDecoder = ANY_TOPIC) -> Rejection:
    record = decoder.decode(value, now=NOW)
    assert record.events == []
    assert len(record.rejections) == 1
    return record.rejections[0]


def test_the_examples_cover_every_event_type_of_the_contract() -> None:
    # the canary, fuzz and schema tests plant and mutate EVENT_TYPES: a type added to the
    # contract without an example would escape all of them
    contract_types = {cls.__struct_config__.tag for cls in get_args(Event)}
    assert set(EVENT_TYPES) == contract_types == set(EVENT_TYPE_TOPIC) == set(TOPICS)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_example_is_accepted_on_its_topic_and_by_type(event_type: str) -> None:
    value = encode(example(event_type))
    for decoder in (ANY_TOPIC, RecordDecoder(TOPICS[event_type], past_horizon=timedelta(days=90))):
        record = decoder.decode(value, now=NOW)
        assert record.rejections == []
        (event,) = record.events
        assert event_type_of(event) == event_type
        assert EVENT_TYPE_TOPIC[event_type] == TOPICS[event_type]
        assert event.event_id == "8c7a3c8e-1f2b-4c3d-9e4f-0a1b2c3d4e5f"
        assert scope_of(event) == ("RJ1", "RJ122")


def test_sitrep_without_site_is_scoped_to_the_trust() -> None:
    event = example("bed_sitrep")
    del event["site_code"]
    (decoded,) = ANY_TOPIC.decode(encode(event), now=NOW).events
    assert scope_of(decoded) == ("RJ1", None)


def test_optional_fields_default() -> None:
    event = example("ward_capacity")
    del event["beds_escalation"], event["source_system"]
    (decoded,) = ANY_TOPIC.decode(encode(event), now=NOW).events
    assert decoded.beds_escalation == 0  # type: ignore[union-attr]
    assert decoded.source_system is None


def without(event_type: str, name: str) -> dict[str, Any]:
    event = example(event_type)
    del event[name]
    return event


# (case id, raw value, reason, field)
RULES: list[tuple[str, bytes, str, str | None]] = [
    ("not utf-8", b'{"event_type": "admission", "x": "\xff"}', "invalid_utf8", None),
    ("not json", b'{"event_type": ', "invalid_json", None),
    ("nan", b'{"beds_open": NaN}', "invalid_json", None),
    ("trailing data", encode(example("admission")) + b" {}", "invalid_json", None),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, "invalid_json", None),
    ("a string", b'"admission"', "not_an_object", None),
    ("null", b"null", "not_an_object", None),
    ("empty batch", b"[]", "empty_batch", None),
    ("missing field", encode(without("admission", "ward_code")), "missing_field", "ward_code"),
    ("missing type", encode(without("admission", "event_type")), "missing_field", "event_type"),
    ("unknown field", encode(example("admission", comment="x")), "unknown_field", "*"),
    (
        "field of another type",
        encode(example("admission", beds_open=3)),
        "unknown_field",
        "beds_open",
    ),
    (
        "dob field",
        encode(example("admission", date_of_birth="x")),
        "identifier_field",
        "date_of_birth",
    ),
    ("nhs field", encode(example("discharge", NHSNo=None)), "identifier_field", "*"),
    ("pattern", encode(example("admission", ward_code="amu")), "bad_pattern", "ward_code"),
    (
        "trailing newline",
        encode(example("admission", ward_code="AMU\n")),
        "bad_pattern",
        "ward_code",
    ),
    ("trust pattern", encode(example("admission", trust_code="XJ1")), "bad_pattern", "trust_code"),
    ("uuid", encode(example("admission", event_id="not-a-uuid")), "bad_pattern", "event_id"),
    ("short ref", encode(example("admission", spell_ref="abc123")), "bad_pattern", "spell_ref"),
    ("enum", encode(example("discharge", destination="home")), "bad_enum", "destination"),
    (
        "counts key",
        encode(example("delay_reasons_sitrep", counts={"waiting": 1})),
        "bad_enum",
        "counts.*",
    ),
    (
        "schema version",
        encode(example("admission", schema_version=2)),
        "bad_schema_version",
        "schema_version",
    ),
    (
        "version true",
        encode(example("admission", schema_version=True)),
        "bad_schema_version",
        "schema_version",
    ),
    (
        "unknown type",
        encode(example("admission", event_type="admitted")),
        "unknown_event_type",
        "event_type",
    ),
    ("wrong type", encode(example("ward_capacity", beds_open="28")), "wrong_type", "beds_open"),
    ("bool for int", encode(example("ward_capacity", beds_open=True)), "wrong_type", "beds_open"),
    ("float for int", encode(example("ward_capacity", beds_open=28.0)), "wrong_type", "beds_open"),
    (
        "counts value",
        encode(example("delay_reasons_sitrep", counts={"hub_referrals": "1"})),
        "wrong_type",
        "counts.*",
    ),
    ("negative", encode(example("ward_capacity", beds_open=-1)), "out_of_range", "beds_open"),
    ("huge", encode(example("ward_capacity", beds_open=10**30)), "out_of_range", "beds_open"),
    (
        "huge float",
        b'{"event_type": "shift_filled", "hourly_rate_gbp": 1e400}',
        "out_of_range",
        "hourly_rate_gbp",
    ),
    (
        "negative count",
        encode(example("delay_reasons_sitrep", counts={"hub_referrals": -2})),
        "out_of_range",
        "counts.*",
    ),
    (
        "no offset",
        encode(example("admission", occurred_at="2026-01-05T08:15:00")),
        "bad_datetime",
        "occurred_at",
    ),
    (
        "bad date",
        encode(example("bed_sitrep", period_start="2026-02-29")),
        "bad_datetime",
        "period_start",
    ),
    (
        "site of another trust",
        encode(example("admission", site_code="RXX22")),
        "site_not_in_trust",
        "site_code",
    ),
    (
        "shift ends before it starts",
        encode(example("shift_planned", ends_at="2026-01-06T07:30:00Z")),
        "bad_interval",
        "ends_at",
    ),
    (
        "roster period reversed",
        encode(example("roster_published", period_end="2026-02-01")),
        "bad_interval",
        "period_end",
    ),
    (
        "future",
        encode(example("admission", occurred_at="2026-01-05T10:00:01Z")),
        "future_time",
        "occurred_at",
    ),
    (
        "nhs number",
        encode(example("admission", ward_code=canaries.NHS_NUMBER)),
        "nhs_number",
        "ward_code",
    ),
    (
        "postcode",
        encode(example("admission", ward_code=canaries.POSTCODE_COMPACT)),
        "postcode",
        "ward_code",
    ),
    ("email", encode(example("admission", source_system=canaries.EMAIL)), "email", "source_system"),
    ("phone", encode(example("admission", source_system="07700-900123")), "phone", "source_system"),
    (
        "ni number",
        encode(example("admission", ward_code="QQ123456C")),
        "ni_number",
        "ward_code",
    ),
    (
        "numeric ref",
        encode(example("admission", spell_ref="1234567890123456")),
        "numeric_ref",
        "spell_ref",
    ),
]


@pytest.mark.parametrize(
    ("value", "reason", "field"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_each_rule_rejects_with_its_reason(value: bytes, reason: str, field: str | None) -> None:
    rejection = only_rejection(value)
    assert (rejection.reason, rejection.field) == (reason, field)
    assert rejection.reason in REASONS


def test_every_reason_code_is_exercised() -> None:
    exercised = {reason for _, _, reason, _ in RULES}
    exercised |= {"too_old", "wrong_topic", "batch_too_large", "duplicate_field"}
    # invalid_value is the fallback for a msgspec message this code does not recognise
    assert exercised | {"invalid_value"} == REASONS


def test_too_old_only_with_a_horizon() -> None:
    value = encode(example("admission", occurred_at="2025-09-01T00:00:00Z"))
    assert ANY_TOPIC.decode(value, now=NOW).events
    live = RecordDecoder("nhs.bedflow.v1", past_horizon=timedelta(days=90))
    rejection = only_rejection(value, live)
    assert (rejection.reason, rejection.field) == ("too_old", "occurred_at")


@pytest.mark.parametrize(
    "occurred_at", ["0001-01-01T00:30:00Z", "0001-01-01T00:30:00+01:00", "1969-12-31T23:59:59Z"]
)
def test_an_event_before_1970_is_too_old_even_without_a_horizon(occurred_at: str) -> None:
    """The engine evaluates the hours and days around an event: one in year 1 took it below
    datetime's range (ValueError: year 0), crashing analyse and a worker replaying history."""
    rejection = only_rejection(encode(example("admission", occurred_at=occurred_at)))
    assert (rejection.reason, rejection.field) == ("too_old", "occurred_at")
    assert ANY_TOPIC.decode(
        encode(example("admission", occurred_at="1970-01-01T00:00:00Z")), now=NOW
    ).events


def test_future_limit_is_configurable() -> None:
    value = encode(example("admission", occurred_at="2026-01-05T10:30:00Z"))
    assert only_rejection(value).reason == "future_time"
    lenient = RecordDecoder(None, past_horizon=None, future_limit=timedelta(hours=2))
    assert lenient.decode(value, now=NOW).events


def test_the_clock_rules_hold_at_their_exact_bounds_for_every_now_a_decoder_sees() -> None:
    """The decoder computes ``now + future_limit`` and ``now - past_horizon`` once per ``now``:
    an event exactly at a bound passes, one microsecond beyond it does not, and a later ``now``
    (the worker's clock moves between records) moves the bounds with it."""
    decoder = RecordDecoder(None, past_horizon=timedelta(days=90))
    limit, horizon = timedelta(hours=1), timedelta(days=90)
    tick = timedelta(microseconds=1)

    def verdict(occurred_at: datetime, now: datetime) -> str | None:
        value = encode(example("admission", occurred_at=occurred_at.isoformat()))
        rejections = decoder.decode(value, now=now).rejections
        return rejections[0].reason if rejections else None

    for now in (NOW, NOW + timedelta(minutes=7, microseconds=3)):
        assert verdict(now + limit, now) is None
        assert verdict(now + limit + tick, now) == "future_time"
        assert verdict(now - horizon, now) is None
        assert verdict(now - horizon - tick, now) == "too_old"


def test_a_past_horizon_reaching_before_year_one_rejects_nothing_more() -> None:
    decoder = RecordDecoder(None, past_horizon=timedelta(days=999_999))
    value = encode(example("admission", occurred_at="1970-01-01T00:00:00Z"))
    assert decoder.decode(value, now=NOW).events


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_an_event_of_another_topic_is_wrong_topic(topic: str) -> None:
    decoder = RecordDecoder(topic, past_horizon=None)
    for event in all_examples():
        record = decoder.decode(encode(event), now=NOW)
        if TOPICS[event["event_type"]] == topic:
            assert len(record.events) == 1
        else:
            assert record.rejections == [
                Rejection("wrong_topic", "event_type", event["event_id"], event["event_type"])
            ]


def test_unknown_topic_is_refused() -> None:
    with pytest.raises(ValueError, match="not an input topic"):
        RecordDecoder("nhs.bedflow.v2", past_horizon=None)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ANY_TOPIC.decode(b"{}", now=NOW.replace(tzinfo=None))


def test_a_record_without_a_value_is_rejected_not_raised() -> None:
    """A tombstone (null value) on an input topic reaches the decoder as None: it is one
    rejection, like an empty value, never an exception that would crash the agent."""
    assert only_rejection(None) == Rejection("invalid_json")
    assert only_rejection(b"") == Rejection("invalid_json")


def test_batch_judges_each_event_on_its_own() -> None:
    good = all_examples()
    bad = [example("admission", ward_code="amu"), 5, example("discharge", NHS_number="x")]
    record = ANY_TOPIC.decode(encode(good[:3] + bad + good[3:]), now=NOW)
    assert [event_type_of(e) for e in record.events] == [e["event_type"] for e in good]
    assert [r.reason for r in record.rejections] == [
        "bad_pattern",
        "not_an_object",
        "identifier_field",
    ]


def test_batch_limits() -> None:
    event = example("shift_unfilled")
    full = ANY_TOPIC.decode(encode([event] * MAX_BATCH_EVENTS), now=NOW)
    assert len(full.events) == MAX_BATCH_EVENTS
    assert full.rejections == []
    assert only_rejection(encode([event] * (MAX_BATCH_EVENTS + 1))) == Rejection("batch_too_large")


def test_whitespace_around_a_batch_and_an_event() -> None:
    event = encode(example("shift_unfilled"))
    assert len(ANY_TOPIC.decode(b" \n[" + event + b"]\n", now=NOW).events) == 1
    assert len(ANY_TOPIC.decode(b"\t" + event + b"\r\n", now=NOW).events) == 1


def test_broken_batch_is_one_rejection() -> None:
    assert only_rejection(b"[" + encode(example("admission")) + b",").reason == "invalid_json"


def test_pretty_printed_and_escaped_events_are_accepted() -> None:
    event = example("ward_capacity")
    pretty = json.dumps(event, indent=2, separators=(" , ", " : ")).encode()
    assert len(ANY_TOPIC.decode(pretty, now=NOW).events) == 1
    escaped = json.dumps(event).replace('"ward_code"', '"ward\\u005fcode"').encode()
    assert len(ANY_TOPIC.decode(escaped, now=NOW).events) == 1
    explicit_defaults = example("shift_filled", source_system=None, hourly_rate_gbp=None)
    assert len(ANY_TOPIC.decode(encode(explicit_defaults), now=NOW).events) == 1


ADMISSION = json.dumps(example("admission"))
SITREP = json.dumps(example("delay_reasons_sitrep"))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            ADMISSION.replace('"ward_code": "AMU"', '"ward_code": "W12", "ward_code": "AMU"'),
            "ward_code",
        ),
        (
            ADMISSION.replace('"ward_code": "AMU"', '"ward_code" : "W12" ,"ward_code":"AMU"'),
            "ward_code",
        ),
        (
            ADMISSION.replace('"ward_code": "AMU"', '"ward\\u005fcode": "W", "ward_code": "AMU"'),
            "ward_code",
        ),
        (
            ADMISSION.replace(
                '"source_system": "PAS"', '"source_system": null, "source_system": "PAS"'
            ),
            "source_system",
        ),
        (
            SITREP.replace(
                '"hospital_medical_review": 3',
                '"hospital_medical_review": 3, "hospital_medical_review": 4',
            ),
            "counts.hospital_medical_review",
        ),
    ],
)
def test_a_repeated_key_is_rejected_even_when_the_last_value_is_valid(
    text: str, field: str
) -> None:
    assert only_rejection(text.encode()) == Rejection(
        "duplicate_field",
        field,
        "8c7a3c8e-1f2b-4c3d-9e4f-0a1b2c3d4e5f",
        json.loads(text)["event_type"],
    )


def test_a_repeated_key_hiding_an_identifier_reports_the_identifier() -> None:
    text = json.dumps(example("admission")).replace(
        '"ward_code": "AMU"', f'"ward_code": "{canaries.NHS_NUMBER}", "ward_code": "AMU"'
    )
    assert only_rejection(text.encode()).reason == "nhs_number"


def test_event_id_and_type_are_kept_only_when_safe() -> None:
    bad_id = only_rejection(encode(example("admission", event_id=canaries.NHS_NUMBER)))
    assert (bad_id.reason, bad_id.event_id, bad_id.event_type) == ("nhs_number", None, "admission")
    bad_type = only_rejection(encode(example("admission", event_type=canaries.EMAIL)))
    assert (bad_type.reason, bad_type.field, bad_type.event_type) == ("email", "event_type", None)
    kept = only_rejection(encode(example("admission", ward_code="amu")))
    assert kept.event_id == "8c7a3c8e-1f2b-4c3d-9e4f-0a1b2c3d4e5f"


def test_deadletter_record_shape() -> None:
    rejection = only_rejection(encode(example("admission", ward_code=canaries.NHS_NUMBER_DASHED)))
    assert rejection.to_deadletter("nhs.bedflow.v1", 3, 1207) == {
        "reason": "nhs_number",
        "topic": "nhs.bedflow.v1",
        "partition": 3,
        "offset": 1207,
        "event_id": "8c7a3c8e-1f2b-4c3d-9e4f-0a1b2c3d4e5f",
        "field": "ward_code",
    }


def test_no_rejection_carries_input_text() -> None:
    """msgspec's messages echo enum values and unknown keys: none of that may reach a Rejection."""
    planted = [
        example("discharge", destination=canaries.NHS_NUMBER_SPACED + "x"),
        example("discharge", **{canaries.EMAIL: 1}),
        example("admission", event_type=canaries.POSTCODE),
        example("delay_reasons_sitrep", counts={canaries.PHONE_MOBILE: 1}),
        example("admission", spell_ref=canaries.NHS_NUMBER_TEST_RANGE),
        {canaries.NHS_NUMBER: canaries.EMAIL},
        [canaries.NHS_NUMBER, {"x": [canaries.POSTCODE]}],
    ]
    texts = [encode(p) for p in planted]
    texts += [
        b'{"a": "' + canaries.NHS_NUMBER.encode() + b'"',
        b'{"x": "' + canaries.EMAIL.encode(),
    ]
    for text in texts:
        for rejection in ANY_TOPIC.decode(text, now=NOW).rejections:
            assert canaries.leaked([msgspec.json.encode(rejection).decode(), repr(rejection)]) == []
            assert rejection.reason in {
                "nhs_number",
                "email",
                "postcode",
                "phone",
                "identifier_field",
            }


@pytest.mark.parametrize(
    "key",
    [
        "x` - at `$.Jane Smith 1990-01-01",  # msgspec's own path syntax, written inside the key
        "x` - at `key` in `$.Jane Smith",
        "x` - at `$[...].Jane.Smith",
    ],
)
def test_a_path_written_inside_an_unknown_key_is_not_copied_to_the_dead_letter(key: str) -> None:
    # msgspec names an unknown key without escaping it, and its path comes last: a key ending
    # in a fake path must not make the feed's text the dead letter's field
    rejection = only_rejection(encode(example("admission", **{key: 1})))
    assert rejection.reason == "unknown_field"
    letter = json.dumps(rejection.to_deadletter("nhs.bedflow.v1", 0, 1))
    assert "Jane" not in letter and "Smith" not in letter and "1990" not in letter


def test_a_lone_surrogate_escape_in_one_event_loses_none_of_its_neighbours() -> None:
    # JSON's grammar allows "\ud800" (Python's json reads it; msgspec's Raw splitter does not):
    # the batch must give each event the verdict it gets alone
    good = encode(example("admission"))
    odd = encode(example("admission", event_id="9c7a3c8e-1f2b-4c3d-9e4f-0a1b2c3d4e5f"))
    odd = odd[:-1] + b', "x": "\\ud800"}'
    alone = [ANY_TOPIC.decode(value, now=NOW) for value in (good, odd)]
    batch = ANY_TOPIC.decode(b"[" + good + b", " + odd + b"]", now=NOW)
    assert batch.events == alone[0].events + alone[1].events
    assert batch.rejections == alone[0].rejections + alone[1].rejections
    assert [r.reason for r in batch.rejections] == ["unknown_field"]
