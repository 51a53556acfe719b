"""Turn a Kafka record value (or a line of a file) into events and scrubbed rejections.

The hot path is one typed msgspec decode per event. An event the types accept can only carry an
identifier in a few places (local codes, ``source_system``, an all-digit ``*_ref``, a duplicated
key), so those are all the guard looks at then; the full guard (every key, string and number of
the parsed document) runs only when the types reject the event, so that the identifying reason is
reported first. ``tests/unit/contract`` proves both paths reach the same verdict.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import compress, repeat
from operator import attrgetter
from typing import Any, Final, get_args

import msgspec
import numpy

from models import guard, patterns
from models.events import (
    EVENT_TYPE_TOPIC,
    SCHEMA_VERSION,
    TOPIC_EVENT_TYPES,
    UUID_PATTERN,
    DelayReason,
    DelayReasonsSitrep,
    Event,
    event_type_of,
)
from models.rejection import (
    BAD_DATETIME,
    BAD_ENUM,
    BAD_PATTERN,
    BAD_SCHEMA_VERSION,
    BATCH_TOO_LARGE,
    DUPLICATE_FIELD,
    EMPTY_BATCH,
    IDENTIFIER_FIELD,
    INVALID_JSON,
    INVALID_UTF8,
    INVALID_VALUE,
    MISSING_FIELD,
    NOT_AN_OBJECT,
    NUMERIC_REF,
    OUT_OF_RANGE,
    UNKNOWN_EVENT_TYPE,
    UNKNOWN_FIELD,
    WRONG_TOPIC,
    WRONG_TYPE,
    Rejection,
)
from models.strict import STRICT_TOPIC_TYPES, StrictEvent
from models.validation import ClockBounds, check_event_within, clock_bounds, columns_within

__all__ = ["MAX_BATCH_EVENTS", "DecodedRecord", "RecordDecoder", "Rejection"]

#: The most events one batch record may carry (EVENTS.md).
MAX_BATCH_EVENTS: Final = 10_000

_ALL_TYPES: Final[tuple[type[Any], ...]] = get_args(Event)
_CODE_FIELDS: Final = frozenset(
    {"ward_code", "from_ward_code", "to_ward_code", "unit_code", "source_system"}
)

#: Names that may appear in a rejection's field path: the contract's own vocabulary.
VOCABULARY: Final = frozenset(
    {"event_type"}
    | {field.name for cls in _ALL_TYPES for field in msgspec.structs.fields(cls)}
    | set(get_args(DelayReason))
)


class _Shape(msgspec.Struct, frozen=True):
    """What the fast paths need to know about one event type."""

    quotes: int  # '"' in the JSON of the required fields and the event_type tag
    optional: tuple[tuple[str, bytes, object, int], ...]  # (name, b'"name"', default, quotes)
    code_fields: tuple[str, ...]
    ref_fields: tuple[str, ...]
    # For a whole batch's events of this type at once (each getter is operator.attrgetter;
    # source_system, which every type has, is read over all events at once):
    optional_getters: tuple[tuple[str, Callable[[Any], Any], object, int], ...]  # name, getter,
    # default, quotes
    own_patterned: tuple[tuple[str, str, Callable[[Any], Any]], ...]  # name, regex, getter: the
    # patterned fields not every type has; its refs and its codes but source_system among them
    counted: bool  # a delay_reasons_sitrep: each count's key adds two quotes


def _quotes(field: msgspec.structs.FieldInfo) -> int:
    """Quote characters a present, non-null field adds: its key, and its value if a string."""
    info = msgspec.inspect.type_info(field.type)
    options = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    stringly = (
        msgspec.inspect.StrType,
        msgspec.inspect.DateType,
        msgspec.inspect.DateTimeType,
    )
    options = tuple(o.type if isinstance(o, msgspec.inspect.Metadata) else o for o in options)
    is_string = any(
        isinstance(option, stringly)
        or (isinstance(option, msgspec.inspect.LiteralType) and isinstance(option.values[0], str))
        for option in options
    )
    return 4 if is_string else 2


def _shape(cls: type[Any]) -> _Shape:
    fields = msgspec.structs.fields(cls)
    code_fields = tuple(field.name for field in fields if field.name in _CODE_FIELDS)
    ref_fields = tuple(field.name for field in fields if field.name.endswith("_ref"))
    optional = tuple(
        (field.name, f'"{field.name}"'.encode(), field.default, _quotes(field))
        for field in fields
        if not field.required
    )
    own = {name for name, _ in patterns.OWN_FIELDS[cls]}
    # the batch path reads codes and refs from the patterned columns
    assert own.issuperset(ref_fields) and own.issuperset(set(code_fields) - {"source_system"})
    return _Shape(
        quotes=4 + sum(_quotes(field) for field in fields if field.required),
        optional=optional,
        code_fields=code_fields,
        ref_fields=ref_fields,
        optional_getters=tuple(
            (name, attrgetter(name), default, q)
            for name, _, default, q in optional
            if name != "source_system"
        ),
        own_patterned=tuple(
            (name, regex, attrgetter(name)) for name, regex in patterns.OWN_FIELDS[cls]
        ),
        counted=cls is DelayReasonsSitrep,
    )


_SHAPES: Final = {cls: _shape(cls) for cls in _ALL_TYPES}
#: The patterns of the code fields. No other field shares them, so each pattern's memo holds
#: codes only (tested): the identifier scan runs on a code the first time it is seen.
_CODE_REGEXES: Final = frozenset(
    regex
    for cls in _ALL_TYPES
    for name, regex in (*patterns.COMMON_FIELDS, *patterns.OWN_FIELDS[cls])
    if name in _CODE_FIELDS
)
assert all(
    name in _CODE_FIELDS
    for cls in _ALL_TYPES
    for name, regex in (*patterns.COMMON_FIELDS, *patterns.OWN_FIELDS[cls])
    if regex in _CODE_REGEXES
), "a code's pattern is shared with a field that is not a code"
#: The fields a batch path reads over all of a batch's events: the patterned ones every type
#: has (event_id, trust_code, site_code, source_system) and occurred_at for the clock rules.
_COMMON_COLUMNS: Final = tuple(
    (name, attrgetter(name))
    for name in (*(name for name, _ in patterns.COMMON_FIELDS), "occurred_at")
)
assert {"trust_code", "site_code", "source_system"} <= {n for n, _ in patterns.COMMON_FIELDS}
_COUNTS: Final = attrgetter("counts")
_SOURCE_SYSTEM_QUOTES: Final = 4  # its key and its string value
_SOURCE_SYSTEM: Final = attrgetter("source_system")
_QUOTE: Final = ord('"')
#: Below this many bytes (a single event is ~300) ``bytes.count`` beats numpy's call overhead.
_VECTOR_COUNT_MIN_BYTES: Final = 2048
_WHITESPACE: Final = b" \t\r\n"
_ERROR_PATH: Final = re.compile(r" - at `(key` in `)?\$([^`]*)`$")
_UNKNOWN_FIELD: Final = re.compile(r"^Object contains unknown field `(.*)`")
_MISSING_FIELD: Final = re.compile(r"^Object missing required field `([A-Za-z0-9_]+)`")
_BOUND: Final = re.compile(r"^Expected `\w+` [<>]=? ")


class DecodedRecord(msgspec.Struct):
    """The events a record carried that passed every rule, and one rejection per other event."""

    events: list[Event]
    rejections: list[Rejection]


class RecordDecoder:
    """Decodes and judges the records of one topic (or, with ``topic=None``, of any topic).

    ``past_horizon`` None switches the "too old" rule off (files, replays, ``analyse``);
    ``future_limit`` is how far after ``now`` an ``occurred_at`` may be.
    """

    def __init__(
        self,
        topic: str | None,
        *,
        past_horizon: timedelta | None,
        future_limit: timedelta = timedelta(hours=1),
    ) -> None:
        if topic is not None and topic not in TOPIC_EVENT_TYPES:
            raise ValueError(f"not an input topic of the contract: {topic!r}")
        self.topic = topic
        self.past_horizon = past_horizon
        self.future_limit = future_limit
        union = Event if topic is None else TOPIC_EVENT_TYPES[topic]
        self._decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(union)
        self._batch = msgspec.json.Decoder(list[msgspec.Raw])
        self._typed_batch: msgspec.json.Decoder[list[Event]] = msgspec.json.Decoder(
            list[union]  # type: ignore[valid-type]
        )
        # Only ever fails, where the decoder above or a pattern did: its error is the explanation.
        self._strict = msgspec.json.Decoder(
            StrictEvent if topic is None else STRICT_TOPIC_TYPES[topic]
        )
        self._types = frozenset(
            name for name, owner in EVENT_TYPE_TOPIC.items() if topic is None or owner == topic
        )
        self._bounds: tuple[datetime, ClockBounds] | None = None
        # A code is remembered once it matched its pattern and held no identifier.
        self._patterns = patterns.BatchPatterns(
            vetting=dict.fromkeys(_CODE_REGEXES, _no_identifier)
        )

    def _clock(self, now: datetime) -> ClockBounds:
        """The clock rules' bounds for ``now``; computed again only when ``now`` changes."""
        cached = self._bounds
        if cached is None or cached[0] is not now:
            bounds = clock_bounds(
                now, past_horizon=self.past_horizon, future_limit=self.future_limit
            )
            cached = self._bounds = (now, bounds)
        return cached[1]

    def decode(self, value: bytes | None, *, now: datetime) -> DecodedRecord:
        """Judge a record value: one event object, or a JSON array of 1 to 10,000 of them.

        ``None`` is a Kafka record without a value (a tombstone): not one JSON text either.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        record = DecodedRecord(events=[], rejections=[])
        if value is None:
            record.rejections.append(Rejection(INVALID_JSON))
            return record
        if value[:1] == b"{":  # the common case, one event: no copy of the value to strip it
            self._judge(value, now, record)
            return record
        start = len(value) - len(value.lstrip(_WHITESPACE))
        if value[start : start + 1] != b"[":
            self._judge(value, now, record)
            return record
        try:
            events: list[Event] | None = self._typed_batch.decode(value)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
            events = None  # the element-by-element path below says which and why
        # The common cases first, from the one typed pass: every event passes every rule.
        if events is not None and len(events) == 1:
            (event,) = events
            if patterns.event_matches(event) and self._check_accepted(value, event, now) is None:
                record.events.append(event)
                return record
        elif events is not None and 1 < len(events) <= MAX_BATCH_EVENTS:
            clean = self._clean_batch(value, events, now)
            if clean is not None:
                record.events.extend(clean)
                return record
        elements: list[msgspec.Raw] | list[bytes] | None
        try:
            elements = self._batch.decode(value)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
            elements = _elements_read_by_python(value)
        if elements is None:
            record.rejections.append(self._unparsed(value, INVALID_JSON))
            return record
        if not elements:
            record.rejections.append(Rejection(EMPTY_BATCH))
        elif len(elements) > MAX_BATCH_EVENTS:
            record.rejections.append(Rejection(BATCH_TOO_LARGE))
        else:
            for element in elements:
                self._judge(bytes(element), now, record)
        return record

    def _clean_batch(self, value: bytes, events: list[Event], now: datetime) -> list[Event] | None:
        """A batch's events (as the typed pass decoded them) when every one of them passes every
        rule, else None (then the per-element path decides and explains).

        The common case, without a Python step per rule and event: each rule once per event
        type present, over all of its events. Any doubt (a rejection, a repeated key, a code
        that may hold an identifier) returns None. ``tests/unit/contract`` proves that both
        paths reach the same verdict.
        """
        by_type: dict[type[Any], list[Event]] = {}
        for event in events:
            by_type.setdefault(type(event), []).append(event)
        # Columnar: each field read once per batch (one C-level map), its values shared by the
        # patterns, the quote count, the guard and the cross-field and clock rules.
        common: dict[str, list[Any]] = {
            name: list(map(getter, events)) for name, getter in _COMMON_COLUMNS
        }
        by_regex: dict[str, list[str | None]] = {}
        for name, regex in patterns.COMMON_FIELDS:
            by_regex.setdefault(regex, []).extend(common[name])
        sources: list[str | None] = common["source_system"]
        quotes = _SOURCE_SYSTEM_QUOTES * (len(sources) - sources.count(None))
        refs: list[str | None] = []
        group_quotes: dict[type[Any], int] = {}  # but source_system's
        for cls, group in by_type.items():
            shape = _SHAPES[cls]
            own = {name: list(map(getter, group)) for name, _, getter in shape.own_patterned}
            for name, regex, _ in shape.own_patterned:
                by_regex.setdefault(regex, []).extend(own[name])
            counted = shape.quotes * len(group)
            for name, getter, default, field_quotes in shape.optional_getters:
                values = own[name] if name in own else list(map(getter, group))
                counted += field_quotes * (len(values) - values.count(default))
            if shape.counted:
                counted += 2 * sum(map(len, map(_COUNTS, group)))
            group_quotes[cls] = counted
            quotes += counted
            for name in shape.ref_fields:
                refs.extend(own[name])
        # the codes' identifier scan too: the patterns' memo vets a code before remembering it
        if not self._patterns.all_values_match(by_regex):
            return None
        # Equal counts: no key repeats and no optional key is written at its default (null, or
        # 0 for beds_escalation); otherwise each type's count, then each event's, decides.
        if _quote_count(value) != quotes and not _quotes_by_type(
            self._batch.decode(value), events, by_type, group_quotes
        ):
            return None
        # Every ref matched [0-9a-f]{16,64} above (ASCII, never empty): all-digit is isdecimal,
        # the single-event path's test, here in one C-level pass (None: an absent optional ref).
        if any(map(str.isdecimal, filter(None, refs))):
            return None
        sites, trusts = common["site_code"], common["trust_code"]
        times = common["occurred_at"]
        return events if columns_within(sites, trusts, times, by_type, self._clock(now)) else None

    # One event

    def _judge(self, raw: bytes, now: datetime, record: DecodedRecord) -> None:
        try:
            event = self._decoder.decode(raw)
        except msgspec.ValidationError:
            record.rejections.append(self._explain_strictly(raw))
            return
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            record.rejections.append(self._explain(raw, None))
            return
        if not patterns.event_matches(event):
            record.rejections.append(self._explain_strictly(raw))
            return
        rejection = self._check_accepted(raw, event, now)
        if rejection is None:
            record.events.append(event)
        else:
            record.rejections.append(rejection)

    def _check_accepted(self, raw: bytes, event: Event, now: datetime) -> Rejection | None:
        """The rules the types cannot apply, for an event the types accepted."""
        shape = _SHAPES[type(event)]
        if raw.count(b'"') != _expected_quotes(raw, event, shape):
            # A key appears twice (or one is escaped): judge the parsed pairs, which keep both.
            try:
                document = guard.parse_pairs(raw.decode("utf-8"))
            except (ValueError, RecursionError):  # msgspec accepted it: cannot happen
                document = None
            finding = guard.find_in_document(document, VOCABULARY)
            if finding is not None:
                return _rejection(finding.reason, finding.field, event)
            duplicate = _duplicate_path(document)
            if duplicate is not None:
                return _rejection(DUPLICATE_FIELD, duplicate, event)
        for name in shape.code_fields:
            value = getattr(event, name)
            # A cheap superset test first: most codes are short and plainly not identifiers.
            if value is not None and guard.may_hold_identifier(value):
                reason = guard.find_in_text(value)
                if reason is not None:
                    return _rejection(reason, name, event)
        for name in shape.ref_fields:
            value = getattr(event, name)
            if value is not None and value.isdecimal():
                return _rejection(guard.find_in_token(name, value) or NUMERIC_REF, name, event)
        broken = check_event_within(event, self._clock(now))
        if broken is not None:
            return _rejection(broken[0], broken[1], event)
        return None

    def _explain_strictly(self, raw: bytes) -> Rejection:
        """Why an event the types or a pattern refused fails: the strict twins (msgspec checking
        every pattern in document order) name the first broken rule, as the contract states it."""
        try:
            self._strict.decode(raw)
        except msgspec.ValidationError as error:
            return self._explain(raw, str(error))
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return self._explain(raw, None)
        return self._explain(raw, "")  # the twins are stricter: cannot happen

    def _explain(self, raw: bytes, message: str | None) -> Rejection:
        """Why an event fails, identifying reasons first (``message``: msgspec's, None: syntax)."""
        try:
            text = raw.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
            utf8 = False
        try:
            document = guard.parse_pairs(text)
        except (ValueError, RecursionError):
            return self._unparsed(raw, INVALID_JSON if utf8 else INVALID_UTF8, text)
        finding = guard.find_in_document(document, VOCABULARY)
        pairs = document if isinstance(document, guard.JsonObject) else guard.JsonObject()
        event_id, event_type = _readable_ids(pairs)
        if finding is not None:
            return Rejection(finding.reason, finding.field, event_id, event_type)
        if not utf8:
            return Rejection(INVALID_UTF8, None, event_id, event_type)
        if message is None:  # msgspec's syntax error (NaN, a number it cannot hold, ...)
            return Rejection(INVALID_JSON, None, event_id, event_type)
        if not isinstance(document, guard.JsonObject):
            return Rejection(NOT_AN_OBJECT)
        duplicate = _duplicate_path(document)
        if duplicate is not None:
            return Rejection(DUPLICATE_FIELD, duplicate, event_id, event_type)
        values = dict(document)
        version = values.get("schema_version", SCHEMA_VERSION)
        if type(version) is not int or version != SCHEMA_VERSION:
            return Rejection(BAD_SCHEMA_VERSION, "schema_version", event_id, event_type)
        claimed = values.get("event_type")
        if isinstance(claimed, str) and claimed not in self._types:
            reason = WRONG_TOPIC if claimed in EVENT_TYPE_TOPIC else UNKNOWN_EVENT_TYPE
            return Rejection(reason, "event_type", event_id, event_type)
        reason, field = _from_message(message)
        return Rejection(reason, field, event_id, event_type)

    def _unparsed(self, raw: bytes, reason: str, text: str | None = None) -> Rejection:
        """A value that is not JSON at all: only the raw text can be scanned."""
        if text is None:
            text = raw.decode("utf-8", "replace")
            if reason == INVALID_JSON and not _is_utf8(raw):
                reason = INVALID_UTF8
        return Rejection(guard.find_in_raw_text(text) or reason)


def _no_identifier(codes: list[str]) -> bool:
    """True when no code holds an identifier (a cheap test over all of them first: most codes
    are short and plainly not identifiers)."""
    if not guard.any_may_hold_identifier(codes):
        return True
    return not any(
        guard.may_hold_identifier(code) and guard.find_in_text(code) is not None for code in codes
    )


def _not_json(constant: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


_PYTHON_JSON: Final = json.JSONDecoder(parse_constant=_not_json)
_JSON_SPACE: Final = " \t\n\r"


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in _JSON_SPACE:
        index += 1
    return index


def _elements_read_by_python(value: bytes) -> list[bytes] | None:
    """A JSON array's elements as their own bytes, split by Python's json; None when the value
    is no JSON array. Only for arrays msgspec's splitter refused: it refuses a lone surrogate
    escape (``"\\ud800"``), which JSON's grammar allows, and the array's other events must
    get the verdicts they get alone."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    index = _skip_space(text, 0)
    if text[index : index + 1] != "[":
        return None
    index = _skip_space(text, index + 1)
    elements: list[bytes] = []
    closed = text[index : index + 1] == "]"
    while not closed:
        try:
            _, end = _PYTHON_JSON.raw_decode(text, index)
        except (ValueError, RecursionError):
            return None
        elements.append(text[index:end].encode())
        index = _skip_space(text, end)
        separator = text[index : index + 1]
        if separator not in (",", "]"):
            return None
        closed = separator == "]"
        if not closed:
            index = _skip_space(text, index + 1)
    return elements if _skip_space(text, index + 1) == len(text) else None


def _quote_count(value: bytes) -> int:
    """The '"' in a record value: numpy's vectorised compare on a batch record (~4x
    ``bytes.count``, a byte at a time), ``bytes.count`` below its call overhead."""
    if len(value) < _VECTOR_COUNT_MIN_BYTES:
        return value.count(b'"')
    return int(numpy.count_nonzero(numpy.frombuffer(value, numpy.uint8) == _QUOTE))


def _quotes_by_type(
    elements: list[msgspec.Raw],
    events: list[Event],
    by_type: dict[type[Any], list[Event]],
    group_quotes: dict[type[Any], int],
) -> bool:
    """True when each event's JSON holds the quotes it would without a repeated key.

    A record's count differs from the batch's formula when an event repeats a key or writes an
    optional key at its default (a feed writing ``"beds_escalation": 0`` does it in every
    event of that type). No event holds fewer quotes than the formula says, so a type whose
    events' total agrees is clean event by event: only the other types' events are counted
    one at a time.
    """
    types = list(map(type, events))
    for cls, group in by_type.items():
        raws = list(map(bytes, compress(elements, map(operator.is_, types, repeat(cls)))))
        sources = list(map(_SOURCE_SYSTEM, group))
        formula = group_quotes[cls] + _SOURCE_SYSTEM_QUOTES * (len(sources) - sources.count(None))
        if sum(map(bytes.count, raws, repeat(b'"'))) == formula:
            continue
        shape = _SHAPES[cls]
        for raw, event in zip(raws, group, strict=True):
            if raw.count(b'"') != _expected_quotes(raw, event, shape):
                return False
    return True


def _rejection(reason: str, field: str | None, event: Event) -> Rejection:
    return Rejection(reason, field, event.event_id, event_type_of(event))


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _expected_quotes(raw: bytes, event: Event, shape: _Shape) -> int:
    """How many '"' the event's JSON holds when no key repeats.

    Counting quotes is exact for an event the types accepted: no accepted string can contain
    one (patterns, enums, timestamps), whitespace and escapes add none, and a repeated key adds
    at least two. Where the count differs, the slow path decides.
    """
    count = shape.quotes
    for name, quoted, default, quotes in shape.optional:
        value = getattr(event, name)
        if value != default:
            count += quotes
        elif quoted in raw:
            count += 2 if value is None else quotes
    if isinstance(event, DelayReasonsSitrep):
        count += 2 * len(event.counts)
    return count


def _readable_ids(pairs: guard.JsonObject) -> tuple[str | None, str | None]:
    """event_id and event_type of a rejected event, only when they are safe to write out: a
    well-formed UUID (exempt from the guard) and a type the contract names."""
    event_id: str | None = None
    event_type: str | None = None
    for key, value in pairs:
        if key == "event_id":
            event_id = value if isinstance(value, str) and _UUID.match(value) else None
        elif key == "event_type":
            event_type = value if isinstance(value, str) and value in EVENT_TYPE_TOPIC else None
    return event_id, event_type


_UUID: Final = re.compile(UUID_PATTERN)


def _duplicate_path(value: object, path: str | None = None) -> str | None:
    if isinstance(value, guard.JsonObject):
        seen: set[str] = set()
        for key, item in value:
            where = guard.safe_name(key, VOCABULARY)
            where = where if path is None else f"{path}.{where}"
            if key in seen:
                return where
            seen.add(key)
            nested = _duplicate_path(item, where)
            if nested is not None:
                return nested
    elif isinstance(value, list):
        for index, item in enumerate(value):
            nested = _duplicate_path(item, f"{path or ''}[{index}]")
            if nested is not None:
                return nested
    return None


def _from_message(message: str) -> tuple[str, str | None]:
    """Map a msgspec ValidationError message to (reason, field path); the message's input text
    (an enum value, an unknown key) is never copied."""
    at = _ERROR_PATH.search(message)
    field: str | None = None
    if at is not None:
        path = at.group(2).replace("[...]", ".*").lstrip(".")
        if at.group(1):
            path = f"{path}.*" if path else "*"
        # msgspec quotes an unknown key unescaped, before the path: a key ending in a path of
        # its own would be read as one, so each step must be a name of the contract
        steps = path.split(".") if path else []
        field = ".".join(guard.safe_name(step, VOCABULARY) for step in steps) or None
    unknown = _UNKNOWN_FIELD.match(message)
    if unknown is not None:
        name = unknown.group(1)
        reason = IDENTIFIER_FIELD if guard.is_identifying_name(name) else UNKNOWN_FIELD
        leaf = guard.safe_name(name, VOCABULARY)
        return reason, leaf if field is None else f"{field}.{leaf}"
    missing = _MISSING_FIELD.match(message)
    if missing is not None:
        name = missing.group(1)
        return MISSING_FIELD, name if field is None else f"{field}.{name}"
    if message.startswith("Expected `object`, got") and field is None:
        return NOT_AN_OBJECT, None
    if message.startswith("Expected `str` matching regex"):
        return BAD_PATTERN, field
    if message.startswith(("Invalid enum value", "Invalid value")):
        return BAD_ENUM, field
    if message.startswith(("Invalid RFC3339", "Expected `datetime` with a timezone")):
        return BAD_DATETIME, field
    if _BOUND.match(message) or message.startswith(("Number out of range", "Integer value out")):
        return OUT_OF_RANGE, field
    if message.startswith("Expected `"):
        return WRONG_TYPE, field
    return INVALID_VALUE, field
