"""Reading JSONL event files: plain or gzip (by magic bytes), one event or a batch array a line."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import msgspec

_GZIP_MAGIC = b"\x1f\x8b"
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])


class EventFileError(OSError):
    """A file that cannot be opened or decompressed; the message is safe to print."""


def iter_lines(path: Path) -> Iterator[bytes]:
    """The non-blank lines of an event file."""
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if magic == _GZIP_MAGIC else raw
            for line in stream:
                if line.strip():
                    yield line
    except (EOFError, zlib.error) as error:
        raise EventFileError(f"{path}: corrupt gzip data ({type(error).__name__})") from None
    except OSError as error:
        raise EventFileError(f"{path}: {error.strerror or error}") from None


def split_line(line: bytes) -> list[bytes] | None:
    """The raw JSON of each event a line carries (a batch array is split); None if not JSON."""
    stripped = line.strip()
    if not stripped.startswith(b"["):
        return [stripped]
    try:
        return [bytes(element) for element in _ARRAY.decode(stripped)]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
