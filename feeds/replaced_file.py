"""Output files that appear whole or not at all: written beside their path, renamed on success."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replaced_on_success(out: Path) -> Iterator[Path]:
    """A new path beside ``out`` to write the output to; renamed onto ``out`` when the block
    ends without an error, deleted when it raises. A run that fails half-way (a missing second
    file, a row that stops it, Ctrl-C) leaves neither a partial file, which a later ``produce``
    would send as if it were whole, nor the previous output overwritten."""
    # the name ends with ``out``'s, so a writer that chooses gzip by the suffix still does;
    # the leading dot keeps it out of a shell glob such as ``*.jsonl``
    part = out.with_name(f".{secrets.token_hex(8)}.part.{out.name}")
    try:
        yield part
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
