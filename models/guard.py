"""The identifier guard: finds NHS numbers, postcodes, e-mail addresses, phone numbers and
identifying field names in an event, without ever returning the value it found.

Rules (EVENTS.md, "What is rejected"):

- **NHS number**: 10 digits passing the Modulus 11 check, written plain (``9434765919``), spaced
  3-3-4 (``943 476 5919``), dashed (``943-476-5919``), underscored or dotted (``943_476_5919``,
  ``943.476.5919``: what an adapter mapping spaces to ``_`` makes of a spaced number, or a
  system writing numbers with dots), or ten digits in any other grouping with one or two
  separators between groups (``9434-765-919``), bounded by non-digits; inside a longer
  run of digits (11 or more) every 10-digit window is checked too. Numbers count as well: a
  JSON number whose integer part has 10 digits is checked as those digits (longer numbers are
  out of range anyway, and a 30-digit count labelled "nhs_number" would mislead).
- **Phone**: a UK number, ``0``, ``44`` or ``+44``/``0044`` (optionally ``(0)``) followed by 9
  or 10 digits, with spaces, dashes, underscores, dots or brackets between them; not preceded
  by a digit, a ``+`` or a digit and ``.`` (so a decimal fraction's digits are not a phone
  number, while ``PAS.07700900123`` is one: ``.`` is a code character).
- **Postcode**: the full form only (outward code of a real postcode area + inward code
  ``9AA``), with up to two of space, ``_``, ``.``, ``-`` or nothing between, as a whole
  alphanumeric run: ``SW1A 1AA``, ``SW1A1AA`` and ``X-M11AE`` are postcodes; an outward code
  alone (``W1``, ``B10``) is not, because ward codes look like that.
- **E-mail**: anything of the form ``x@y``; no contract value can contain ``@``.
- **National Insurance number**: two letters, six digits and a suffix letter A-D, as a whole
  alphanumeric run, with or without a space, ``_``, ``.`` or ``-`` between the pairs
  (``QQ 12 34 56 C``): a staff identifier a roster's unit column could carry.
- **Identifying field names**: keys that normalise to an NHS/CHI number, a birth date, a postcode,
  an address, a name, an e-mail, a phone or a hospital number.
- **Pseudonymous tokens** are judged by their own rule: an ``event_id`` that is a UUID, or a
  ``*_ref`` that is hex with at least one letter, is exempt from the digit rules (hashes hold
  digit runs by chance); a ``*_ref`` of decimal digits only is rejected as ``numeric_ref``.
  Timestamps and dates in the contract's time fields are exempt likewise.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Collection, Iterator
from itertools import repeat
from typing import Final, NamedTuple

from models.events import DATE_PATTERN, DATETIME_PATTERN, UUID_PATTERN
from models.rejection import (
    EMAIL,
    IDENTIFIER_FIELD,
    NHS_NUMBER,
    NI_NUMBER,
    NUMERIC_REF,
    PHONE,
    POSTCODE,
)

_WEIGHTS: Final = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def nhs_check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit of nine digits, or None when there is none (11 - r == 10)."""
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_nhs_number(digits: str) -> bool:
    """Whether ten digits (any Unicode decimal digits) form a number passing the Mod 11 check."""
    if len(digits) != 10 or not digits.isdecimal():
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


# Unicode \d on purpose: full-width or Arabic-Indic digits are still an NHS number to a reader.
_NHS_SHAPED: Final = re.compile(r"(?<!\d)(\d{3})[ _.-]?(\d{3})[ _.-]?(\d{4})(?!\d)")
# Digits in groups of any size, one or two separators between (``9434-765-919``,
# ``94 34 76 59 19``): an NHS number when the run holds exactly ten digits passing Mod 11
_GROUPED_DIGITS: Final = re.compile(r"(?<!\d)\d+(?:[ _.-]{1,2}\d+)+(?!\d)")
_NOT_DIGIT: Final = re.compile(r"\D")
_LONG_DIGITS: Final = re.compile(r"\d{11,}")
_PHONE: Final = re.compile(
    r"(?<![\d+])(?<!\d\.)(?:(?:\+|00)[ ]?44[ ]?(?:\(0\)[ ]?)?|44(?=[1-9])|\(?0)"
    r"(?:[ )_.-]{0,2}\d){9,10}(?!\d)"
)
_EMAIL: Final = re.compile(r"[^\s@]@[^\s@]")
# HMRC's layout, any two letters (its own example, QQ 12 34 56 C, uses a prefix it never issues)
_NI_NUMBER: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}[ _.-]?(?:\d{2}[ _.-]?){3}[A-Da-d](?![A-Za-z0-9])"
)
# The UK postcode areas (Royal Mail); restricting to them keeps ward codes such as "CCU2AB" out.
_AREAS: Final = (
    "AB AL B BA BB BD BF BH BL BN BR BS BT BX CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL "
    "DN DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY "
    "L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA "
    "SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV "
    "YO ZE"
).split()
_POSTCODE: Final = re.compile(
    r"(?<![A-Za-z0-9])(?:GIR[ _.-]{0,2}0AA|(?:"
    + "|".join(sorted(_AREAS, key=len, reverse=True))
    + r")[0-9][A-Za-z0-9]?[ _.-]{0,2}[0-9][ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_IDENTIFYING_NAME: Final = re.compile(
    r"nhsn(?:o|um)|^nhs$|^chi$|chinumber|birth|^dob|dob$|postcode|^zip|email|phone|mobile"
    r"|^mrn|hospitalnumber|patientname|surname|forename|firstname|lastname|fullname|address"
)
#: Identifying field names that are safe to echo as a field path (they name, not carry, data).
ECHOABLE_IDENTIFYING_NAMES: Final = frozenset(
    {
        "nhs_number",
        "nhsnumber",
        "nhs_no",
        "nhs_num",
        "dob",
        "date_of_birth",
        "birth_date",
        "birthdate",
        "postcode",
        "post_code",
        "address",
        "email",
        "phone",
        "phone_number",
        "telephone",
        "mobile",
        "mrn",
        "hospital_number",
        "patient_name",
        "surname",
        "forename",
        "first_name",
        "last_name",
    }
)

_UUID: Final = re.compile(UUID_PATTERN)
_HEX_TOKEN: Final = re.compile(r"[0-9a-fA-F]{16,64}")
_DATETIME: Final = re.compile(DATETIME_PATTERN)
_DATE: Final = re.compile(DATE_PATTERN)
_TIME_FIELDS: Final = frozenset(
    {"occurred_at", "starts_at", "ends_at", "appointment_at", "arrived_at"}
)
_DATE_FIELDS: Final = frozenset({"period_start", "period_end", "report_date"})


class Finding(NamedTuple):
    """What the guard found and where: a reason code and a field path, never the value."""

    reason: str
    field: str | None


def _windows_pass(digits: str) -> bool:
    return any(is_nhs_number(digits[i : i + 10]) for i in range(len(digits) - 9))


# Every identifier form has nine digits close together, an "@", or ends in a postcode's inward
# code (digit, two letters) or a National Insurance number's six digits and suffix letter A-D:
# a superset test, one regex instead of six.
# (Each branch after "@" starts with a digit, so the engine skips ahead to digits.)
SUSPECT: Final = re.compile(
    r"@|\d(?:[A-Za-z]{2}(?![A-Za-z0-9])|(?:\D{0,3}\d){8}"
    r"|\d(?:[^A-Za-z0-9]?\d\d){2}[^A-Za-z0-9]?[A-Da-d](?![A-Za-z0-9]))"
)


def may_hold_identifier(text: str) -> bool:
    """False when ``text`` certainly holds no identifier :func:`find_in_text` would find."""
    return SUSPECT.search(text) is not None


def _shape_table(letters_as: bytes) -> bytes:
    """A ``bytes.translate`` table: ASCII digits to ``0``, letters to ``letters_as``, the rest
    to ``.``."""
    table = bytearray(b"." * 256)
    for digit in b"0123456789":
        table[digit] = ord("0")
    for letter in string.ascii_letters.encode():
        table[letter] = letters_as[0]
    return bytes(table)


_DIGITS_AND_LETTERS: Final = _shape_table(b"a")
_DIGITS_ONLY: Final = _shape_table(b".")
#: shapes with the letters a National Insurance number ends in (A-D) as ``b``
_DIGITS_AND_SUFFIXES: Final = bytes(
    ord("b") if chr(byte) in "ABCDabcd" else shape for byte, shape in enumerate(_DIGITS_AND_LETTERS)
)
_NI_SHAPE: Final = re.compile(rb"00(?:\.?00){2}\.?b[.]")
#: Four non-digits: :data:`SUSPECT`'s digit runs allow at most three between digits.
_RUN_BREAK: Final = b"...."


def any_may_hold_identifier(texts: Collection[str]) -> bool:
    """``any(map(may_hold_identifier, texts))``, in a few C-level passes over all of them.

    Python's regex engine tries :data:`SUSPECT` at every digit of every code; for ASCII texts
    its branches are substrings of the texts' shapes (digits as ``0``, letters as ``a``, the
    rest and the gaps between texts as ``.``): an ``@``; ``0aa.``; nine digits with no ``....``
    between them; three pairs of digits and a letter A-D, at most one ``.`` between each
    (:data:`_NI_SHAPE`, over shapes where A-D are ``b``). ``tests/unit/contract`` checks this
    against the regex.
    """
    joined = "\n\n\n\n".join(texts) + "\n"
    try:
        raw = joined.encode("ascii")
    except UnicodeEncodeError:  # \d is any Unicode digit: the regex decides
        return SUSPECT.search(joined) is not None
    if b"@" in raw:
        return True
    shapes = raw.translate(_DIGITS_AND_LETTERS)
    if b"0aa." in shapes:
        return True
    if _NI_SHAPE.search(raw.translate(_DIGITS_AND_SUFFIXES)):
        return True
    runs = shapes.translate(_DIGITS_ONLY).split(_RUN_BREAK)
    return max(map(bytes.count, runs, repeat(b"0"))) >= 9


def find_in_text(text: str) -> str | None:
    """The reason code for the first identifier in a code or text value, or None."""
    for match in _NHS_SHAPED.finditer(text):
        if is_nhs_number("".join(match.groups())):
            return NHS_NUMBER
    if _PHONE.search(text):
        return PHONE
    # after the phone rule: a spaced phone number's last ten digits pass Mod 11 one time in 11
    for match in _GROUPED_DIGITS.finditer(text):
        if is_nhs_number(_NOT_DIGIT.sub("", match.group())):
            return NHS_NUMBER
    for match in _LONG_DIGITS.finditer(text):
        if _windows_pass(match.group()):
            return NHS_NUMBER
    if _EMAIL.search(text):
        return EMAIL
    if _POSTCODE.search(text):
        return POSTCODE
    if _NI_NUMBER.search(text):
        return NI_NUMBER
    return None


def find_in_number(number: float) -> str | None:
    """The reason code when a JSON number's integer part is an NHS or UK phone number, or None."""
    if isinstance(number, bool) or not math.isfinite(number) or abs(number) < 1e9:
        return None
    digits = str(int(abs(number)))
    if is_nhs_number(digits):
        return NHS_NUMBER
    if re.fullmatch(r"44[1-9][0-9]{8,9}", digits):
        return PHONE
    return None


def is_identifying_name(name: str) -> bool:
    """Whether a field name says it holds an identifier (``nhs_number``, ``DOB``, ``e-mail``...)."""
    return _IDENTIFYING_NAME.search(re.sub(r"[^a-z]", "", name.lower())) is not None


def is_token_field(name: str) -> bool:
    """Fields holding pseudonymous tokens, judged by the token rule instead of the digit rules."""
    return name == "event_id" or name.endswith("_ref")


def find_in_token(name: str, value: str) -> str | None:
    """The token rule for ``event_id`` and ``*_ref`` values (see the module docstring)."""
    if name == "event_id":
        if _UUID.match(value):
            return None
        return find_in_text(value)
    if value.isdecimal():
        if is_nhs_number(value):
            return NHS_NUMBER
        return PHONE if _PHONE.search(value) else NUMERIC_REF
    if _HEX_TOKEN.fullmatch(value):
        return None
    return find_in_text(value)


def find_in_field(name: str, value: str) -> str | None:
    """The reason code for a string value of a top-level field, by that field's own rule."""
    if is_token_field(name):
        return find_in_token(name, value)
    if name in _TIME_FIELDS and _DATETIME.match(value):
        return None
    if name in _DATE_FIELDS and _DATE.match(value):
        return None
    return find_in_text(value)


class JsonObject(list[tuple[str, object]]):
    """A JSON object as its (key, value) pairs in order, duplicates kept."""


def parse_pairs(text: str) -> object:
    """Parse JSON keeping every key of every object (``JsonObject``); raises ValueError."""
    return json.loads(text, object_pairs_hook=JsonObject)


def safe_name(name: str, vocabulary: frozenset[str]) -> str:
    """A key as it may appear in a field path: itself if it is a known name, else ``*``."""
    if name in vocabulary or name in ECHOABLE_IDENTIFYING_NAMES:
        return name
    return "*"


def _join(path: str | None, part: str) -> str:
    return part if path is None else f"{path}.{part}"


def _walk(
    value: object, path: str | None, vocabulary: frozenset[str], top: bool
) -> Iterator[Finding]:
    if isinstance(value, JsonObject):
        for key, item in value:
            where = _join(path, safe_name(key, vocabulary))
            if is_identifying_name(key):
                yield Finding(IDENTIFIER_FIELD, where)
            key_reason = find_in_text(key)
            if key_reason is not None:
                yield Finding(key_reason, where)
            if top and isinstance(item, str):
                item_reason = find_in_field(key, item)
                if item_reason is not None:
                    yield Finding(item_reason, where)
            else:
                yield from _walk(item, where, vocabulary, top=False)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path or ''}[{index}]", vocabulary, top=False)
    elif isinstance(value, str):
        reason = find_in_text(value)
        if reason is not None:
            yield Finding(reason, path)
    elif isinstance(value, int | float):
        reason = find_in_number(value)
        if reason is not None:
            yield Finding(reason, path)


def find_in_document(document: object, vocabulary: frozenset[str]) -> Finding | None:
    """The first identifier anywhere in a parsed event (keys, strings and numbers at any depth).

    ``document`` comes from :func:`parse_pairs`; ``vocabulary`` is the set of names that may be
    echoed in a field path.
    """
    return next(_walk(document, None, vocabulary, top=True), None)


_QUOTED_KEY: Final = re.compile(r'"([^"\\]{1,64})"\s*:')
_TOKEN_RUN: Final = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f-]{16,}(?![0-9A-Za-z])")


def _blank_tokens(match: re.Match[str]) -> str:
    token = match.group()
    # A hex token with letters is a hash or UUID: its digit runs are not identifiers.
    return "x" if any(c.isalpha() for c in token) else token


def find_in_raw_text(text: str) -> str | None:
    """The reason code for an identifier in text that is not valid JSON (keys judged by shape)."""
    if any(is_identifying_name(key) for key in _QUOTED_KEY.findall(text)):
        return IDENTIFIER_FIELD
    return find_in_text(_TOKEN_RUN.sub(_blank_tokens, text))
