"""One contract pattern checked over many strings at once, at C speed.

Python's regex engine spends ~10 ns a character on a class like ``[0-9a-f]``; the contract's
patterns are simple enough to be checked instead with ``bytes.translate`` (under 1 ns a
character) and a few C-level passes over the values:

- **class**: a literal prefix, then one character class repeated ``{m,n}`` times
  (``^R[A-Z0-9]{4}$``, ``^[0-9a-f]{16,64}$``): every value's length within bounds, starts with
  the prefix, and no character outside the class;
- **layout**: fixed-width runs of one class between literal separators (a UUID): every value
  of the fixed length, the separators exactly where the layout puts them, and no other
  character outside the class.

Any other pattern is matched by the regex itself, joined values at once. ``tests/unit/contract``
checks each checker against ``re`` on random and edge-case strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

__all__ = ["Check", "body_of", "compile_check"]

#: True when every value matches (values: strings, none of them None)
Check = Callable[[Sequence[str]], bool]

_ANCHORED: Final = re.compile(r"^\^(.*)\$\(\?!\\n\)$")
_TOKEN: Final = re.compile(r"\[([^\]\\]+)\](?:\{(\d+)(?:,(\d+))?\})?|([A-Za-z0-9_-])")


def _class_chars(spec: str) -> frozenset[str]:
    """The characters of a regex class body such as ``A-Za-z0-9_.-`` (a trailing ``-`` is one)."""
    chars: set[str] = set()
    at = 0
    while at < len(spec):
        if at + 2 < len(spec) and spec[at + 1] == "-":
            chars.update(chr(c) for c in range(ord(spec[at]), ord(spec[at + 2]) + 1))
            at += 3
        else:
            chars.add(spec[at])
            at += 1
    return frozenset(chars)


def _tokens(body: str) -> list[tuple[frozenset[str], int, int]] | None:
    """The pattern body as (characters, min, max) runs, or None beyond this simple grammar."""
    tokens: list[tuple[frozenset[str], int, int]] = []
    at = 0
    while at < len(body):
        token = _TOKEN.match(body, at)
        if token is None:
            return None
        spec, low, high, literal = token.groups()
        if spec is not None and spec.startswith("^"):  # a negated class
            return None
        if literal is not None:
            tokens.append((frozenset(literal), 1, 1))
        else:
            least = int(low) if low is not None else 1
            tokens.append((_class_chars(spec), least, int(high) if high is not None else least))
        at = token.end()
    return tokens


def _ascii_outside(chars: frozenset[str]) -> Callable[[str], bool]:
    """A test that a text holds a character outside ``chars`` (all ASCII)."""
    allowed = "".join(sorted(chars)).encode("ascii")
    return lambda text: not text.isascii() or bool(text.encode("ascii").translate(None, allowed))


def _class_check(prefix: str, chars: frozenset[str], least: int, most: int) -> Check:
    outside = _ascii_outside(chars | frozenset(prefix) | {"\n"})
    shortest, longest = len(prefix) + least, len(prefix) + most
    starts = "\n" + prefix

    def check(values: Sequence[str]) -> bool:
        lengths = list(map(len, values))
        if min(lengths) < shortest or max(lengths) > longest:
            return False
        text = "\n".join(values)
        # a newline inside a value would add to the count; each value starts after one
        if text.count("\n") != len(values) - 1 or outside(text):
            return False
        return not prefix or ("\n" + text).count(starts) == len(values)

    return check


def _layout_check(tokens: list[tuple[frozenset[str], int, int]]) -> Check | None:
    classes = {chars for chars, _, _ in tokens if len(chars) > 1}
    if len(classes) != 1 or any(low != high for _, low, high in tokens):
        return None
    (chars,) = classes
    separators: dict[int, str] = {}
    at = 0
    for token_chars, width, _ in tokens:
        if len(token_chars) == 1:
            if token_chars <= chars:
                return None
            separators[at] = next(iter(token_chars))
            at += 1
        else:
            at += width
    length = at
    stride = length + 1  # a value and the newline that joins it to the next
    outside = _ascii_outside(chars | frozenset(separators.values()) | {"\n"})
    expected = tuple(separators.values())
    counts = {sep: expected.count(sep) for sep in expected}

    def check(values: Sequence[str]) -> bool:
        text = "\n".join(values)
        n = len(values)
        # Only the joining newlines, each exactly where a value of the fixed length ends: then
        # every value has that length, and a strided slice reads one position of every value.
        if len(text) != n * stride - 1 or text.count("\n") != n - 1:
            return False
        if text[length::stride] != "\n" * (n - 1) or outside(text):
            return False
        # each separator where the layout puts it and nowhere else: then the rest is the class
        if any(text.count(sep) != times * n for sep, times in counts.items()):
            return False
        return all(text[position::stride] == sep * n for position, sep in separators.items())

    return check


def _regex_check(body: str) -> Check:
    repeated = re.compile(f"(?:(?:{body})\\n)*")

    def check(values: Sequence[str]) -> bool:
        text = "\n".join(values) + "\n"
        # no contract pattern matches a newline: a value holding one adds to the count
        return text.count("\n") == len(values) and repeated.fullmatch(text) is not None

    return check


def body_of(regex: str) -> str:
    """A contract pattern's body: ``X`` of ``^X$(?!\\n)``, the one way they are anchored."""
    anchored = _ANCHORED.match(regex)
    if anchored is None:
        raise ValueError(f"a contract pattern is anchored as ^...$(?!\\n): {regex!r}")
    return anchored.group(1)


def compile_check(regex: str) -> Check:
    """The fastest exact check of a contract pattern (anchored as ``^...$(?!\\n)``)."""
    body = body_of(regex)
    tokens = _tokens(body)
    if tokens is not None:
        *literals, (chars, least, most) = tokens
        simple = all(len(c) == 1 and low == high == 1 for c, low, high in literals)
        prefix_chars = frozenset().union(*(c for c, _, _ in literals))
        # the prefix's characters inside the class: the class test over whole values is exact
        if simple and len(chars) > 1 and prefix_chars <= chars:
            prefix = "".join(next(iter(c)) for c, _, _ in literals)
            return _class_check(prefix, chars, least, most)
        layout = _layout_check(tokens)
        if layout is not None:
            return layout
    return _regex_check(body)
