"""The identifier guard: identifiers are caught wherever written; legitimate events never are."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import guard
from models.decoding import VOCABULARY, RecordDecoder
from models.events import DelayReason, Event
from models.rejection import IDENTIFYING_REASONS
from tests.unit.contract import canaries
from tests.unit.contract.examples import EVENT_TYPES, NOW, example
from tests.unit.contract.legit_events import LegitEvents

pytestmark = pytest.mark.unit

DECODER = RecordDecoder(None, past_horizon=None)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reasons_of(event: Any) -> list[str]:
    record = DECODER.decode(json.dumps(event).encode(), now=NOW)
    return [r.reason for r in record.rejections]


# NHS numbers


@pytest.mark.parametrize(
    "number", ["9434765919", "9990000018", "9990000026", "9990000034", "9990000042", "4010232137"]
)
def test_valid_nhs_numbers_pass_the_check(number: str) -> None:
    assert guard.is_nhs_number(number)


@pytest.mark.parametrize(
    # the research notes' pitfalls: docs.rs examples that fail, a wrong digit, a 10-check
    "number",
    ["9991234560", "9876544321", "9434765918", "943476591", "94347659190", "943476591x"],
)
def test_invalid_nhs_numbers_fail_the_check(number: str) -> None:
    assert not guard.is_nhs_number(number)


def test_check_digit_rules() -> None:
    assert guard.nhs_check_digit("943476591") == 9  # 299 mod 11 = 2, 11 - 2 = 9
    assert guard.nhs_check_digit("000000000") == 0  # 11 - 0 = 11 -> 0
    assert guard.nhs_check_digit("000000006") is None  # 6 * 2 = 12, 12 mod 11 = 1 -> 10: invalid
    assert not any(guard.is_nhs_number("000000006" + d) for d in "0123456789")


@st.composite
def nhs_numbers(draw: st.DrawFn) -> str:
    """A valid NHS number from an issued range (400-499m, 600-799m) or the 999 test range."""
    low, high = draw(
        st.sampled_from(
            [(400_000_000, 499_999_999), (600_000_000, 799_999_999), (999_000_000, 999_999_999)]
        )
    )
    first = str(draw(st.integers(low, high)))
    check = guard.nhs_check_digit(first)
    if check is None:
        first = first[:8] + str((int(first[8]) + 1) % 10)
        check = guard.nhs_check_digit(first)
    if check is None:  # both neighbours cannot lack a check digit
        raise AssertionError(first)
    return first + str(check)


def formatted(number: str, style: str) -> str:
    if style == "plain":
        return number
    # underscored and dotted: what an adapter that maps spaces to "_" (ward codes), or a
    # system that writes numbers with dots, makes of a spaced number
    sep = {"spaced": " ", "dashed": "-", "underscored": "_", "dotted": "."}[style]
    return f"{number[:3]}{sep}{number[3:6]}{sep}{number[6:]}"


STRING_FIELDS: dict[str, list[str]] = {
    event_type: [k for k, v in example(event_type).items() if isinstance(v, str)]
    for event_type in EVENT_TYPES
}
NUMBER_FIELDS: dict[str, list[str]] = {
    event_type: [
        k
        for k, v in example(event_type).items()
        if isinstance(v, int | float) and k != "schema_version"
    ]
    for event_type in EVENT_TYPES
}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@FAST
@given(
    number=nhs_numbers(),
    style=st.sampled_from(["plain", "spaced", "dashed", "underscored", "dotted"]),
    wrap=st.sampled_from([("", ""), ("W", ""), ("X-", ""), ("", "-2"), ("ref ", " end")]),
    data=st.data(),
)
def test_an_nhs_number_is_caught_in_every_string_field(
    event_type: str, number: str, style: str, wrap: tuple[str, str], data: st.DataObject
) -> None:
    field = data.draw(st.sampled_from([*STRING_FIELDS[event_type], "unknown", "counts key"]))
    value = wrap[0] + formatted(number, style) + wrap[1]
    event = example(event_type)
    if field == "counts key":
        event["counts"] = {value: 1}
    else:
        event[field] = value
    assert reasons_of(event) == ["nhs_number"]


@pytest.mark.parametrize("event_type", [t for t in EVENT_TYPES if NUMBER_FIELDS[t]])
@FAST
@given(number=nhs_numbers(), as_float=st.booleans(), data=st.data())
def test_an_nhs_number_is_caught_in_every_number_field(
    event_type: str, number: str, as_float: bool, data: st.DataObject
) -> None:
    field = data.draw(st.sampled_from(NUMBER_FIELDS[event_type]))
    event = example(event_type)
    event[field] = float(number) if as_float else int(number)
    assert reasons_of(event) == ["nhs_number"]


@FAST
@given(number=nhs_numbers())
def test_an_nhs_number_is_caught_as_a_counts_value(number: str) -> None:
    event = example("delay_reasons_sitrep", counts={"hub_referrals": int(number)})
    assert reasons_of(event) == ["nhs_number"]


# Postcodes, e-mail addresses, phone numbers

AREAS = ["SW", "M", "B", "EC", "LS", "CF", "G", "BT", "NE", "W", "E", "N"]


@st.composite
def postcodes(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(AREAS))
    district = str(draw(st.integers(1, 29)))
    sub = draw(st.sampled_from(["", "A", "W"])) if len(district) == 1 else ""
    inward = str(draw(st.integers(0, 9))) + "".join(
        draw(st.lists(st.sampled_from("ABDEFGHJLNPQRSTUWXYZ"), min_size=2, max_size=2))
    )
    text = f"{area}{district}{sub}{draw(st.sampled_from([' ', '']))}{inward}"
    return text.lower() if draw(st.booleans()) else text


@st.composite
def phones(draw: st.DrawFn) -> str:
    tail = f"{draw(st.integers(0, 999)):03d}"
    form = draw(
        st.sampled_from(
            [
                "07700 900{t}",
                "07700900{t}",
                "07700-900-{t}",
                "+44 7700 900{t}",
                "+447700900{t}",
                "0044 7700 900{t}",
                "020 7946 0{t}",
                "(020) 7946 0{t}",
                "+44 (0)20 7946 0{t}",
                "0161 496 0{t}",
                "0113 496 0{t}",
                "0114_496_0{t}",
                "07700_900_{t}",
                "0161.496.0{t}",
            ]
        )
    )
    return form.format(t=tail)


emails = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z][a-z0-9._+-]{0,15}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True),
    st.sampled_from(["nhs.net", "com", "co.uk", "org"]),
)


@pytest.mark.parametrize(
    ("kind", "values"), [("postcode", postcodes()), ("phone", phones()), ("email", emails)]
)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_postcodes_phones_and_emails_are_caught_in_every_string_field(
    kind: str, values: st.SearchStrategy[str], data: st.DataObject
) -> None:
    event_type = data.draw(st.sampled_from(EVENT_TYPES))
    field = data.draw(st.sampled_from([*STRING_FIELDS[event_type], "free_text"]))
    value = data.draw(values)
    event = example(event_type)
    event[field] = value
    assert reasons_of(event) == [kind]


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        # values the field's own pattern admits: only the guard stands between them and storage
        ("ward_code", "SW1A1AA", "postcode"),
        ("ward_code", "M1-1AE", "postcode"),
        ("ward_code", "SW1A_1AA", "postcode"),
        ("ward_code", "07700900123", "phone"),
        ("ward_code", "943-476-5919", "nhs_number"),
        ("ward_code", "W9434765919", "nhs_number"),
        ("ward_code", "94347659190", "nhs_number"),
        ("source_system", "9434765919", "nhs_number"),
        ("source_system", "sw1a1aa", "postcode"),
        ("source_system", "07700-900-123", "phone"),
        ("source_system", "PAS.943-476-5919", "nhs_number"),
        # a spaced number after an adapter mapped its spaces to "_" (HL7 PV1-3, FHIR location)
        ("ward_code", "943_476_5919", "nhs_number"),
        ("ward_code", "0114_271_1900", "phone"),
        ("source_system", "943.476.5919", "nhs_number"),
        # ten digits passing Mod 11 in other groupings, or with doubled separators
        ("ward_code", "9434-765-919", "nhs_number"),
        ("ward_code", "94-34-76-59-19", "nhs_number"),
        ("ward_code", "943--476--5919", "nhs_number"),
        ("ward_code", "SW1A__1AA", "postcode"),
        ("source_system", "SW1A.1AA", "postcode"),
        # "." is a code character: only a decimal fraction's digits are spared
        ("source_system", "PAS.07700900123", "phone"),
        ("source_system", "tel.07700900123", "phone"),
        ("ward_code", "447700900123", "phone"),
        # a National Insurance number: a staff identifier a roster's unit column can carry
        ("ward_code", "QQ123456C", "ni_number"),
        ("ward_code", "QQ 12 34 56 C", "ni_number"),
        ("ward_code", "ab123456d", "ni_number"),
        ("source_system", "NI-AB123456A", "ni_number"),
    ],
)
def test_identifiers_the_patterns_admit_are_caught(field: str, value: str, kind: str) -> None:
    assert reasons_of(example("admission", **{field: value})) == [kind]


@pytest.mark.parametrize(
    "name",
    [
        "nhs_number",
        "NHSNumber",
        "nhs_no",
        "date_of_birth",
        "DOB",
        "d.o.b",
        "birthDate",
        "patient_dob",
        "postcode",
        "Email",
    ],
)
def test_identifying_field_names(name: str) -> None:
    assert reasons_of(example("discharge", **{name: "x"})) == ["identifier_field"]


def test_no_contract_name_looks_identifying() -> None:
    assert [name for name in VOCABULARY if guard.is_identifying_name(name)] == []
    assert [name for name in VOCABULARY if guard.find_in_text(name)] == []


# Legitimate values


@pytest.mark.parametrize(
    "value",
    [
        "AMU", "W12", "CCU-2", "B10", "SAU_1", "W1", "EC1", "M1", "WARD7AB", "CCU2AB", "B12", "F4N",
        "PAS", "HEALTHROSTER", "ERS", "PAS-2.3.1", "EPIC_2024.1", "adt.feed-v2",
        "2026-01-05T08:15:00Z", "2026-01-05T08:15:00.0123456789+01:00", "2026-01-05",
        "8c7a3c8e-1f2b-4c3d-9e4f-0a1b2c3d4e5f", "62.5", "300",
    ],
)  # fmt: skip
def test_legitimate_values_are_not_identifiers(value: str) -> None:
    assert guard.find_in_field("occurred_at" if "T08" in value else "ward_code", value) is None


def test_enum_values_are_not_identifiers() -> None:
    for literal in get_args(Event):
        for field in literal.__struct_fields__:
            for value in get_args(literal.__annotations__.get(field, "")):
                assert guard.find_in_text(str(value)) is None
    assert [r for r in get_args(DelayReason) if guard.find_in_text(r)] == []


@st.composite
def hex_tokens_with_a_passing_run(draw: st.DrawFn) -> str:
    number = draw(nhs_numbers())
    length = draw(st.integers(16, 64))
    base = draw(st.text("0123456789abcdef", min_size=length, max_size=length))
    at = draw(st.integers(0, length - 10))
    token = base[:at] + number + base[at + 10 :]
    if token.isdecimal():
        token = "a" + token[1:] if at > 0 else token[:-1] + "f"
    return token


@FAST
@given(token=hex_tokens_with_a_passing_run(), data=st.data())
def test_a_passing_digit_run_inside_a_hash_is_not_an_identifier(
    token: str, data: st.DataObject
) -> None:
    event_type, field = data.draw(
        st.sampled_from(
            [
                ("admission", "spell_ref"),
                ("shift_filled", "shift_ref"),
                ("pathway_closed", "referral_ref"),
                ("absence_reported", "shift_ref"),
            ]
        )
    )
    assert reasons_of(example(event_type, **{field: token})) == []


@FAST
@given(number=nhs_numbers(), prefix=st.text("0123456789abcdef", min_size=2, max_size=2))
def test_a_passing_digit_run_inside_a_uuid_is_not_an_identifier(number: str, prefix: str) -> None:
    event_id = f"8c7a3c8e-1f2b-4c3d-9e4f-{prefix}{number}"
    assert reasons_of(example("admission", event_id=event_id)) == []


def test_a_numeric_ref_is_rejected_whatever_its_length() -> None:
    assert reasons_of(example("admission", spell_ref="1" * 16)) == ["numeric_ref"]
    assert reasons_of(example("admission", spell_ref="0123456789" * 6)) == ["numeric_ref"]
    assert reasons_of(example("admission", spell_ref=canaries.NHS_NUMBER)) == ["nhs_number"]


def test_no_false_rejection_in_20k_generated_legitimate_events() -> None:
    """The measurement of the false-rejection rate (run with 100k+ in the report: also zero)."""
    source = LegitEvents(seed=20260105, plant_rate=0.2)
    events = [source.event() for _ in range(20_000)]
    assert {e["event_type"] for e in events} == set(EVENT_TYPES)
    # one batch record per 100 events, as adapters write them
    accepted = rejected = 0
    for start in range(0, len(events), 100):
        record = DECODER.decode(json.dumps(events[start : start + 100]).encode(), now=NOW)
        accepted += len(record.events)
        rejected += len(record.rejections)
    assert (accepted, rejected) == (20_000, 0)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), plant_rate=st.floats(0, 1))
def test_generated_legitimate_events_are_accepted(seed: int, plant_rate: float) -> None:
    source = LegitEvents(seed, plant_rate=plant_rate)
    event = source.event()
    assert reasons_of(event) == [], event["event_type"]


# The fast path (types first, then only the fields the types admit identifiers in) agrees with the
# full guard over the parsed document.

CODE_VALUES = st.one_of(
    st.from_regex(r"[A-Z0-9_-]{1,16}", fullmatch=True),
    st.builds(
        lambda a, b: a + b,
        st.sampled_from(["", "W", "X-", "9", "SW1A"]),
        st.from_regex(r"[0-9 _-]{4,14}", fullmatch=True),
    ),
    postcodes().map(str.upper),
    phones(),
    nhs_numbers().map(lambda n: formatted(n, "dashed")),
)


@settings(max_examples=300, deadline=None)
@given(
    value=CODE_VALUES,
    target=st.sampled_from(
        [
            ("admission", "ward_code"),
            ("transfer", "to_ward_code"),
            ("roster_published", "unit_code"),
            ("bed_sitrep", "source_system"),
        ]
    ),
)
def test_fast_path_and_full_guard_agree(value: str, target: tuple[str, str]) -> None:
    event = example(target[0], **{target[1]: value})
    text = json.dumps(event)
    full = guard.find_in_document(guard.parse_pairs(text), VOCABULARY)
    reasons = reasons_of(event)
    identifying = [r for r in reasons if r in IDENTIFYING_REASONS]
    assert identifying == ([] if full is None else [full.reason])


_SUSPECT_ALPHABET = "0123456789aZkCd@._-\n é\u0661"


@FAST
@given(st.lists(st.text(alphabet=_SUSPECT_ALPHABET, max_size=24), max_size=8))
def test_the_bulk_suspect_test_agrees_with_the_regex_on_each_text(texts: list[str]) -> None:
    expected = any(guard.SUSPECT.search(text) is not None for text in texts)
    assert guard.any_may_hold_identifier(texts) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["W12", "AMU"], False),
        (["W1AB"], True),  # a postcode's inward code at the end
        (["W1ABC"], False),
        (["1", "AB2"], False),  # not across two codes
        (["QQ123456C"], True),  # a National Insurance number's digits and suffix letter
        (["12 34.56-D"], True),
        (["123456E"], False),
        (["12345C"], False),
        (["12345", "6789"], False),
        (["123-456-789"], True),  # nine digits, three or fewer apart
        (["1234 ", "56789"], False),
        (["a@b"], True),
        ([], False),
    ],
)
def test_the_bulk_suspect_test_on_codes(texts: list[str], expected: bool) -> None:
    assert guard.any_may_hold_identifier(texts) is expected


@pytest.mark.parametrize(
    "code", ["QQ123456E", "QQ12345C", "XQQ123456C", "QQ123456CD", "Q1123456C", "W12", "WARD1A"]
)
def test_codes_that_are_no_national_insurance_number_are_not_taken_for_one(code: str) -> None:
    # a suffix past D, a digit short, part of a longer code, a digit for a prefix letter
    assert "ni_number" not in reasons_of(example("shift_planned", unit_code=code))
