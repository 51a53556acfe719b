"""``opsradar validate FILE...``: check JSONL event files against the contract.

Each line is one event or a batch array; every event is routed by its ``event_type`` and judged
on its own (the time-of-receipt rule uses the wall clock, the past horizon is off). Prints one
JSON object ``{"accepted": n, "rejected": n, "reasons": {reason: count}}`` and exits 0, or writes a
one-line message to stderr and exits 2 when a file cannot be read. Files are streamed; gzip is
recognised by its magic bytes. Nothing a rejected event carried is ever printed.

``--errors`` first prints one line per rejected event, so a trust can find and fix it in its
feed: ``FILE:LINE: reason [field=PATH] [event_type=TYPE] [event_id=UUID]`` (the line number
counts every line of the decompressed file, blank ones too; a batch line with several
rejected events gets one line each). These are the scrubbed rejection's own fields: the
contract's field path, and the event id only when it is a well-formed UUID.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from models.rejection import Rejection

NAME = "validate"
HELP = "check JSONL events against the contract"
_GZIP_MAGIC = b"\x1f\x8b"

log = logging.getLogger(__name__)


class UnreadableFile(Exception):
    """A file that cannot be opened or decompressed; the message is safe to print."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSONL file, plain or gzip")
    parser.add_argument(
        "--errors",
        action="store_true",
        help="also print each rejected event as FILE:LINE: reason (never its values)",
    )


@contextmanager
def open_events(path: Path) -> Iterator[BinaryIO]:
    """Open a JSONL file for binary line reading, decompressing it when it starts like gzip."""
    with path.open("rb") as raw:
        if raw.read(2) == _GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            raw.seek(0)
            yield raw


def iter_lines(path: Path) -> Iterator[bytes]:
    """The non-blank lines of an event file; raises UnreadableFile with a printable reason."""
    for _number, line in numbered_lines(path):
        yield line


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for the non-blank lines of an event file; raises UnreadableFile with
    a printable reason."""
    try:
        with open_events(path) as stream:
            for number, line in enumerate(stream, start=1):
                if not line.isspace():  # the same test as line.strip(), without a copy
                    yield number, line
    except OSError as error:  # includes gzip.BadGzipFile
        raise UnreadableFile(f"{path}: {error.strerror or error}") from None
    except (EOFError, zlib.error) as error:
        raise UnreadableFile(f"{path}: corrupt gzip data ({type(error).__name__})") from None


def error_line(name: str, number: int, rejection: Rejection) -> str:
    """One rejected event, as ``FILE:LINE: reason`` and the rejection's scrubbed details."""
    details = [
        f"{label}={value}"
        for label, value in (
            ("field", rejection.field),
            ("event_type", rejection.event_type),
            ("event_id", rejection.event_id),
        )
        if value is not None
    ]
    return " ".join([f"{name}:{number}: {rejection.reason}", *details])


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    import orjson

    from models.decoding import RecordDecoder

    decoder = RecordDecoder(None, past_horizon=None)
    accepted = 0
    reasons: Counter[str] = Counter()
    try:
        for name in args.files:
            for number, line in numbered_lines(Path(name)):
                record = decoder.decode(line, now=datetime.now(UTC))
                accepted += len(record.events)
                reasons.update(rejection.reason for rejection in record.rejections)
                if args.errors:
                    for rejection in record.rejections:
                        sys.stdout.write(error_line(name, number, rejection) + "\n")
            log.debug(
                "validated %s: %d accepted, %d rejected so far", name, accepted, reasons.total()
            )
    except UnreadableFile as error:
        sys.stderr.write(f"opsradar validate: cannot read {error}\n")
        return 2
    summary = {
        "accepted": accepted,
        "rejected": reasons.total(),
        "reasons": dict(sorted(reasons.items())),
    }
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0
