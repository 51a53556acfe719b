"""The decoder's fast paths reach the verdicts of the plain ones.

- A batch record is first judged whole (one msgspec pass, each rule once per event type): its
  verdict must be the one its events get as single-event records, one by one.
- Patterns are checked in bulk by :mod:`models.pattern_checks`: each check must agree with the
  pattern's regex (as msgspec applies it) on any list of strings.
- A single event is decoded without msgspec's patterns and then checked: it is accepted only
  when its strict twin (msgspec enforcing every pattern) would be.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import msgspec
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from models import events as contract
from models.decoding import RecordDecoder
from models.events import EVENT_TYPE_TOPIC
from models.pattern_checks import compile_check
from models.patterns import MEMO_LIMIT
from models.strict import StrictEvent
from tests.unit.contract.examples import EVENT_TYPES, NOW
from tests.unit.contract.legit_events import LegitEvents
from tests.unit.contract.test_contract_fuzz import FUZZ, _encode_event, mutated_events

pytestmark = pytest.mark.unit

CONTRACT_PATTERNS: Final = (
    contract.UUID_PATTERN,
    contract.TRUST_CODE_PATTERN,
    contract.SITE_CODE_PATTERN,
    contract.SOURCE_SYSTEM_PATTERN,
    contract.LOCAL_CODE_PATTERN,
    contract.REF_PATTERN,
    contract.SPECIALTY_CODE_PATTERN,
)
ANY_TOPIC: Final = RecordDecoder(None, past_horizon=None)
STRICT: Final = msgspec.json.Decoder(StrictEvent)

_PATTERNED_KEYS: Final = frozenset(
    {"event_id", "trust_code", "site_code", "source_system", "ward_code", "from_ward_code",
     "to_ward_code", "unit_code", "specialty_code", "spell_ref", "shift_ref", "referral_ref",
     "attendance_ref"}
)  # fmt: skip
#: characters either side of every class edge, and the ones that break joined checks
_ALPHABET: Final = "0189afAFgGzZR-_. \n\x00é\u0661"


def _legit_events(seed: int, count: int) -> list[dict[str, Any]]:
    source = LegitEvents(seed, plant_rate=0.05)
    return [source.event() for _ in range(count)]


def _verdict(decoded: Any) -> tuple[list[Any], list[Any]]:
    return [msgspec.to_builtins(e) for e in decoded.events], list(decoded.rejections)


def _is_json(raw: bytes) -> bool:
    try:
        msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return False
    return True


def _one_by_one(raws: list[bytes]) -> tuple[list[Any], list[Any]]:
    events: list[Any] = []
    rejections: list[Any] = []
    for raw in raws:
        found, rejected = _verdict(ANY_TOPIC.decode(raw, now=NOW))
        events += found
        rejections += rejected
    return events, rejections


_near_valid = st.sampled_from(
    ["RJ1", "RJ1AB", "R0A", "sim", "PAS-2.3.1", "W12A", "0a1b2c3d4e5f6a7b", "110",
     "795e8229-451a-4d81-b1d6-9ed617f5e837", "795E8229-451A-4D81-B1D6-9ED617F5E837"]
)  # fmt: skip


@st.composite
def candidate_values(draw: st.DrawFn) -> str:
    """A string near a contract value (one or two characters changed, added or removed)."""
    if draw(st.booleans()):
        return draw(st.text(alphabet=_ALPHABET, max_size=70))
    value = list(draw(_near_valid))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(value)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        char = draw(st.sampled_from(_ALPHABET))
        if action == "insert" or not value:
            value.insert(at, char)
        elif action == "replace":
            value[min(at, len(value) - 1)] = char
        else:
            del value[min(at, len(value) - 1)]
    return "".join(value)


@st.composite
def batch_members(draw: st.DrawFn) -> bytes:
    """One event of a batch: legitimate (as written by several kinds of producer) or mutated."""
    kind = draw(
        st.sampled_from(["legit", "legit", "nulls", "defaults", "mutated", "repeated", "pattern"])
    )
    if kind == "mutated":
        return _encode_event(draw(mutated_events()), None)
    event = _legit_events(draw(st.integers(0, 10_000)), 1)[0]
    if kind == "nulls":  # a producer writing every absent optional field as null
        event.setdefault("source_system", None)
        if event["event_type"].endswith("_sitrep"):
            event.setdefault("site_code", None)
    elif kind == "defaults" and event["event_type"] == "ward_capacity":
        event["beds_escalation"] = 0
    elif kind == "pattern":  # a patterned string replaced by a string near a valid one
        key = draw(st.sampled_from([k for k in sorted(event) if k in _PATTERNED_KEYS]))
        event[key] = draw(candidate_values())
    elif kind == "repeated":
        key = draw(st.sampled_from(sorted(event)))
        text = json.dumps(event)
        return ("{" + json.dumps(key) + ": null, " + text[1:]).encode()
    return json.dumps(event).encode()


@FUZZ
@given(st.lists(batch_members(), min_size=1, max_size=6))
def test_a_batch_is_judged_as_its_events_one_by_one(raws: list[bytes]) -> None:
    # a batch that is not JSON as a whole is one rejection, whatever its members (tested apart)
    assume(all(_is_json(raw) for raw in raws))
    batch = b"[" + b",".join(raws) + b"]"
    assert _verdict(ANY_TOPIC.decode(batch, now=NOW)) == _one_by_one(raws)


@pytest.mark.parametrize("seed", range(5))
def test_a_clean_batch_is_judged_in_one_pass_with_the_same_events(seed: int) -> None:
    # per topic, as on the wire; the fast path must not only exist but also agree
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for event in _legit_events(seed, 400):
        by_topic.setdefault(EVENT_TYPE_TOPIC[event["event_type"]], []).append(event)
    for topic, events in by_topic.items():
        decoder = RecordDecoder(topic, past_horizon=None)
        raws = [json.dumps(event).encode() for event in events]
        batch = b"[" + b",".join(raws) + b"]"
        typed = decoder._typed_batch.decode(batch)
        whole = decoder._clean_batch(batch, typed, NOW)  # the path under test
        assert whole is not None, topic
        assert [msgspec.to_builtins(e) for e in whole] == _one_by_one(raws)[0]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_planted_code_or_a_numeric_ref_in_a_batch_is_rejected_as_alone(event_type: str) -> None:
    source = LegitEvents(11, plant_rate=0)
    events = [source.event(event_type) for _ in range(5)]
    code = next((k for k in ("ward_code", "unit_code", "from_ward_code") if k in events[2]), None)
    ref = next((k for k in events[3] if k.endswith("_ref")), None)
    if code is not None:
        events[2][code] = "W9434765919"
    if ref is not None:
        events[3][ref] = "1234567890123456"
    events[4]["source_system"] = "a@b.nhs.uk"
    raws = [json.dumps(event).encode() for event in events]
    judged = _verdict(ANY_TOPIC.decode(b"[" + b",".join(raws) + b"]", now=NOW))
    assert judged == _one_by_one(raws)
    assert len(judged[1]) == 1 + (code is not None) + (ref is not None)


@pytest.mark.parametrize(
    ("event_type", "first", "second"),
    [
        ("shift_planned", "ends_at", "starts_at"),  # ends_at at or before starts_at
        ("roster_published", "period_end", "period_start"),
        ("ambulance_handover", "occurred_at", "arrived_at"),  # arrived after the event
    ],
)
def test_a_broken_interval_in_a_batch_is_rejected_as_alone(
    event_type: str, first: str, second: str
) -> None:
    source = LegitEvents(12, plant_rate=0)
    events = [source.event(event_type) for _ in range(4)]
    events[1][first] = events[1][second]  # equal: broken for shifts, allowed for rosters
    events[2][first], events[2][second] = events[2][second], events[2][first]  # reversed
    raws = [json.dumps(event).encode() for event in events]
    judged = _verdict(ANY_TOPIC.decode(b"[" + b",".join(raws) + b"]", now=NOW))
    assert judged == _one_by_one(raws)
    assert "bad_interval" in [rejection.reason for rejection in judged[1]]


def test_a_code_remembered_from_an_earlier_batch_does_not_vouch_for_a_different_one() -> None:
    # the memo of matched and clean codes is per value: a bad code beside remembered good ones
    # in the same field is still found, by pattern and by the identifier scan
    decoder = RecordDecoder(None, past_horizon=None)
    source = LegitEvents(5, plant_rate=0)
    events = [source.event("ready_for_discharge") for _ in range(4)]
    raws = [json.dumps(event).encode() for event in events]
    clean = decoder.decode(b"[" + b",".join(raws) + b"]", now=NOW)
    assert len(clean.events) == 4 and not clean.rejections
    bad_pattern = dict(events[1], ward_code="ward 1")
    identifying = dict(events[2], source_system="9434765919")
    again = [raws[0], json.dumps(bad_pattern).encode(), json.dumps(identifying).encode(), raws[3]]
    judged = _verdict(decoder.decode(b"[" + b",".join(again) + b"]", now=NOW))
    assert judged == _one_by_one(again)
    assert [r.reason for r in judged[1]] == ["bad_pattern", "nhs_number"]


def test_an_identifying_code_is_never_remembered_as_clean() -> None:
    # the patterns' memo vouches for a code's identifier scan too: a code that matched its
    # pattern but held an identifier must be scanned again, and refused, every time it comes
    decoder = RecordDecoder(None, past_horizon=None)
    source = LegitEvents(8, plant_rate=0)
    for _ in range(3):
        events = [source.event("ready_for_discharge") for _ in range(3)]
        events[1]["ward_code"] = "9434765919"  # an NHS number, within the ward code's pattern
        raws = [json.dumps(event).encode() for event in events]
        judged = _verdict(decoder.decode(b"[" + b",".join(raws) + b"]", now=NOW))
        assert judged == _one_by_one(raws)
        assert [r.reason for r in judged[1]] == ["nhs_number"]
        assert len(judged[0]) == 2


def test_the_memo_of_known_codes_stays_bounded() -> None:
    decoder = RecordDecoder(None, past_horizon=None)
    source = LegitEvents(6, plant_rate=0)
    for start in range(0, 2 * MEMO_LIMIT, 500):
        events = [source.event("ready_for_discharge") for _ in range(500)]
        for offset, event in enumerate(events):
            event["source_system"] = f"SYS{start + offset}"
        decoded = decoder.decode(json.dumps(events).encode(), now=NOW)
        assert len(decoded.events) == 500
    remembered = decoder._patterns._matched[contract.SOURCE_SYSTEM_PATTERN]
    assert 0 < len(remembered) <= MEMO_LIMIT


@pytest.mark.parametrize("pattern", CONTRACT_PATTERNS)
@FUZZ
@given(values=st.lists(candidate_values(), min_size=1, max_size=5))
def test_each_bulk_pattern_check_agrees_with_its_regex(pattern: str, values: list[str]) -> None:
    regex = re.compile(pattern)
    assert compile_check(pattern)(values) == all(regex.search(v) for v in values)


@FUZZ
@given(batch_members())
def test_a_single_event_is_accepted_only_when_its_strict_twin_is(raw: bytes) -> None:
    decoded = ANY_TOPIC.decode(raw, now=NOW)
    try:
        STRICT.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        assert not decoded.events


def _batch_verdict(events: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """The whole-batch verdict, checked against the events' one by one."""
    raws = [json.dumps(event).encode() for event in events]
    judged = _verdict(ANY_TOPIC.decode(b"[" + b",".join(raws) + b"]", now=NOW))
    assert judged == _one_by_one(raws)
    return judged


_REF_TYPES: Final = ("admission", "shift_planned", "referral_triaged", "ed_arrival")


@pytest.mark.parametrize("event_type", (*_REF_TYPES, "absence_reported"))
def test_a_numeric_ref_alone_in_a_clean_batch_is_rejected_as_alone(event_type: str) -> None:
    # the batch's only fault, so the whole-batch path's own ref test is what must catch it
    source = LegitEvents(13, plant_rate=0)
    events = [source.event(event_type) for _ in range(5)]
    ref = next(key for key in events[3] if key.endswith("_ref"))
    events[3][ref] = "1234567890123456"
    if event_type == "absence_reported":  # and another without its optional ref
        events[1].pop("shift_ref", None)
    judged = _batch_verdict(events)
    assert len(judged[0]) == 4 and len(judged[1]) == 1
    assert judged[1][0].field == ref


@pytest.mark.parametrize("event_type", ["discharge_sitrep", "bed_sitrep", "ae_sitrep"])
def test_a_site_outside_its_trust_beside_sitreps_without_a_site_is_rejected_as_alone(
    event_type: str,
) -> None:
    # sitreps without a site are left out of the site rule: the codes of the others must stay
    # paired with their own trusts, whichever events before them have no site
    source = LegitEvents(14, plant_rate=0)
    events = [source.event(event_type) for _ in range(6)]
    for at, event in enumerate(events):  # each its own trust, so that a mispairing shows
        event["trust_code"] = f"R{at}A"
        event["site_code"] = f"R{at}AB1"
    for at in (0, 2):
        del events[at]["site_code"]
    events[4]["site_code"] = "R3AB1"  # the trust of the event before
    judged = _batch_verdict(events)
    assert [(r.reason, r.event_id) for r in judged[1]] == [
        ("site_not_in_trust", events[4]["event_id"])
    ]


@pytest.mark.parametrize(
    ("event_type", "code"),
    [("admission", "ward_code"), ("transfer", "to_ward_code"), ("absence_reported", "unit_code")],
)
def test_an_identifying_code_alone_in_a_clean_batch_is_rejected_as_alone(
    event_type: str, code: str
) -> None:
    source = LegitEvents(16, plant_rate=0)
    events = [source.event(event_type) for _ in range(5)]
    events[2][code] = "W9434765919"  # matches the code pattern: only the guard finds it
    judged = _batch_verdict(events)
    assert [(r.field, r.event_id) for r in judged[1]] == [(code, events[2]["event_id"])]


def test_an_event_after_now_in_a_batch_of_mixed_offsets_is_rejected_as_alone() -> None:
    # latest is NOW + 1h (10:00Z): judged by instant, not by wall clock, whatever the offsets
    source = LegitEvents(15, plant_rate=0)
    events = [source.event("admission") for _ in range(4)]
    events[0]["occurred_at"] = "2026-01-05T09:50:00+01:00"  # 08:50Z
    events[1]["occurred_at"] = "2026-01-05T05:01:00-05:00"  # 10:01Z: future, wall clock before
    events[2]["occurred_at"] = "2026-01-05T09:59:59Z"
    judged = _batch_verdict(events)
    assert [(r.reason, r.event_id) for r in judged[1]] == [("future_time", events[1]["event_id"])]


def test_a_repeated_key_is_found_beside_another_types_explicit_defaults() -> None:
    # ward_capacity events writing beds_escalation 0 put the record's quote count off the
    # batch formula; the count is then settled type by type, and a key repeated in an event
    # of a type whose own count looked clean must still be found
    source = LegitEvents(17, plant_rate=0)
    capacity = [dict(source.event("ward_capacity"), beds_escalation=0) for _ in range(3)]
    admissions = [source.event("admission") for _ in range(3)]
    raws = [json.dumps(event).encode() for event in capacity + admissions]
    raws[4] = b'{"ward_code": "W1", ' + raws[4][1:]
    judged = _verdict(ANY_TOPIC.decode(b"[" + b",".join(raws) + b"]", now=NOW))
    assert judged == _one_by_one(raws)
    assert [(r.reason, r.event_id) for r in judged[1]] == [
        ("duplicate_field", admissions[1]["event_id"])
    ]
    clean = [json.dumps(event).encode() for event in capacity + admissions]
    assert len(ANY_TOPIC.decode(b"[" + b",".join(clean) + b"]", now=NOW).events) == 6
