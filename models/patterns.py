"""Every pattern of a whole record's events checked in one regex pass per pattern.

msgspec would run a field's regex once per string (three quarters of a decode's time for our
events); here the values of one pattern across a record are joined by newlines and matched once
by ``(?:pattern\\n)*``. No pattern matches a newline, so the joined text matches exactly when
every value does and none of them holds a newline (the count of newlines tells).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import Annotated, Any, Final, Union, get_args, get_origin

import msgspec

from models.events import REF_PATTERN, UUID_PATTERN, Event, Pattern
from models.pattern_checks import body_of, compile_check

__all__ = [
    "COMMON_FIELDS",
    "MEMO_LIMIT",
    "OWN_FIELDS",
    "BatchPatterns",
    "event_matches",
    "pattern_of",
    "remember",
]


def pattern_of(annotation: Any) -> str | None:
    """The regex a field's annotation (``Annotated[str, Pattern(...)]``, optionally ``| None``)
    carries, or None."""
    if get_origin(annotation) is Annotated:
        return next((m.regex for m in annotation.__metadata__ if isinstance(m, Pattern)), None)
    if get_origin(annotation) in (Union, types.UnionType):
        found = {pattern_of(option) for option in get_args(annotation)} - {None}
        return found.pop() if found else None
    return None


def _core(regex: str) -> str:
    """``^X$(?!\\n)`` as ``(?:X)``, to be matched within a longer text."""
    return f"(?:{body_of(regex)})"


def _fields(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    """(name, regex) for each patterned field of an event type."""
    hints = typing.get_type_hints(cls, include_extras=True)
    found = ((field.name, pattern_of(hints[field.name])) for field in msgspec.structs.fields(cls))
    return tuple((name, regex) for name, regex in found if regex is not None)


_FIELDS: Final = {cls: _fields(cls) for cls in get_args(Event)}
#: (name, regex) of the patterned fields every event type has, with the same pattern (event_id,
#: trust_code, ...), and of each type's others: the decoder reads each field's values once per
#: batch (the common ones over all its events, the others over each type's) and keys them so.
COMMON_FIELDS: Final = tuple(sorted(frozenset.intersection(*map(frozenset, _FIELDS.values()))))
OWN_FIELDS: Final = {
    cls: tuple((name, regex) for name, regex in fields if (name, regex) not in COMMON_FIELDS)
    for cls, fields in _FIELDS.items()
}
_CHECKS: Final = {regex: compile_check(regex) for fields in _FIELDS.values() for _, regex in fields}


class _Combined(typing.NamedTuple):
    """One event type's patterned fields as one regex over their values joined by newlines, an
    absent (None) value written as NUL."""

    values: Callable[[Any], tuple[str | None, ...]]  # attrgetter: with one name, wrapped
    regex: re.Pattern[str]
    separators: int


_NUL: Final = "\x00"


def _combined(cls: type[Any]) -> _Combined:
    hints = typing.get_type_hints(cls, include_extras=True)
    names: list[str] = []
    parts: list[str] = []
    for field in msgspec.structs.fields(cls):
        regex = pattern_of(hints[field.name])
        if regex is None:
            continue
        core = _core(regex)
        names.append(field.name)
        parts.append(core if field.required else f"(?:{core}|\x00)")
    getter: Callable[[Any], Any] = attrgetter(*names)
    values: Callable[[Any], Any] = getter if len(names) > 1 else (lambda event: (getter(event),))
    return _Combined(values, re.compile("\n".join(parts)), len(names) - 1)


_COMBINED: Final = {cls: _combined(cls) for cls in get_args(Event)}


def event_matches(event: Event) -> bool:
    """True when every patterned field of one event matches its pattern (None: absent).

    One regex call: a value holding a newline or a NUL would change the counts checked first.
    """
    combined = _COMBINED[type(event)]
    values = combined.values(event)
    absent = values.count(None)
    present = [_NUL if v is None else v for v in values] if absent else values
    text = "\n".join(typing.cast("Sequence[str]", present))
    return (
        text.count("\n") == combined.separators
        and text.count(_NUL) == absent
        and combined.regex.fullmatch(text) is not None
    )


#: The patterns of pseudonymous tokens (event_id, *_ref): a new value in almost every event.
_UNIQUE_VALUED: Final = frozenset({UUID_PATTERN, REF_PATTERN})
#: The most values one :class:`BatchPatterns` remembers per pattern (then it starts again).
MEMO_LIMIT: Final = 4096


class BatchPatterns:
    """Checks every patterned field of a batch's events, remembering the codes that matched.

    A batch of 100 events holds one or two trust and site codes, a handful of ward codes and
    source systems: those are checked once each (a value matches or not, whatever the event),
    and a code seen in an earlier batch is not checked again. Tokens, new in each event, are
    checked every time.
    """

    def __init__(self, *, vetting: Mapping[str, Callable[[list[str]], bool]] | None = None) -> None:
        """``vetting``: for some patterns, a second test their new values must also pass (the
        decoder's identifier scan of codes) before they are remembered; a memo then vouches
        for both, so a repeated code costs neither again."""
        # None (an absent optional value) is in every memo, so that a batch whose values were
        # all seen before is one C-level ``issuperset``, with no set built.
        self._matched: dict[str, set[str | None]] = {
            regex: {None} for regex in _CHECKS if regex not in _UNIQUE_VALUED
        }
        self._vetting = dict(vetting or {})
        unknown = set(self._vetting) - set(self._matched)
        if unknown:
            raise ValueError(f"only remembered patterns can be vetted: {sorted(unknown)}")

    def all_values_match(self, values: Mapping[str, Sequence[str | None]]) -> bool:
        """True when every value matches its pattern (``values``: by regex; None: absent)."""
        for regex, found in values.items():
            matched = self._matched.get(regex)
            if matched is None:
                present = (
                    [value for value in found if value is not None] if None in found else found
                )
                if present and not _CHECKS[regex](typing.cast("list[str]", present)):
                    return False
                continue
            if matched.issuperset(found):
                continue
            fresh = set(found)
            fresh -= matched  # None among them too
            new_values = typing.cast("list[str]", list(fresh))
            if not _CHECKS[regex](new_values):
                return False
            vet = self._vetting.get(regex)
            if vet is not None and not vet(new_values):
                return False
            remember(matched, fresh)
        return True


def remember(known: set[str | None], fresh: set[str | None]) -> None:
    """Add ``fresh`` to a memo of values with a known verdict, starting it again rather than
    letting it grow past :data:`MEMO_LIMIT` (a feed of ever-new codes costs a check each, not
    memory). A memo holds None (absent: nothing to check) from the start and keeps it."""
    if len(known) + len(fresh) > MEMO_LIMIT:
        known.clear()
        known.add(None)
    known |= fresh
