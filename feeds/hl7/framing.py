"""Splitting HL7 v2 batch text into messages, as integration engines write it.

Segments are separated by CR (the standard), CRLF or LF; messages by MLLP framing
(``<VT> message <FS><CR>``) or simply follow each other, a new one starting at each MSH segment.
FHS/BHS/BTS/FTS batch envelope segments carry no event and are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

START_BLOCK: Final = b"\x0b"
END_BLOCK: Final = b"\x1c"
_SEGMENT_BREAK: Final = re.compile(r"\r\n|\r|\n")
_ENVELOPE: Final = ("FHS", "BHS", "BTS", "FTS")
_BYTE_ORDER_MARK: Final = "\ufeff"


def segments_of(text: str) -> list[str]:
    """The non-blank segments of a message, whatever its line endings; a byte-order mark (which
    Windows tools put ahead of a file they write) is dropped, or the MSH after it goes unseen."""
    segments = (s.lstrip(_BYTE_ORDER_MARK) for s in _SEGMENT_BREAK.split(text))
    return [s for s in segments if s.strip()]


def split_messages(data: bytes, encoding: str = "utf-8") -> Iterator[str]:
    """Each message of ``data`` with its segments joined by CR, in order.

    Text before the first MSH (or a block without one) is yielded as it is, so that the caller
    rejects it as not HL7 instead of losing it silently.
    """
    text = data.replace(START_BLOCK, b"\n").replace(END_BLOCK, b"\n").decode(encoding, "replace")
    current: list[str] = []
    for segment in segments_of(text):
        if segment.startswith(_ENVELOPE):
            continue
        if segment.startswith("MSH") and current:
            yield "\r".join(current)
            current = []
        current.append(segment)
    if current:
        yield "\r".join(current)


def frame(message: str, encoding: str = "utf-8") -> bytes:
    """One message in MLLP framing, segments separated by CR."""
    return START_BLOCK + "\r".join(segments_of(message)).encode(encoding) + END_BLOCK + b"\r"
