"""Output files that appear whole or not at all: written beside their path, renamed on success."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replaced_on_success(out: Path) -> Iterator[Path]:
    """A new path beside ``out`` to write the output to; renamed onto ``out`` when the block
    ends without an error, deleted when it raises. A run that fails half-way (a missing second
    file, a row that stops it, Ctrl-C) leaves neither a partial file, which a later ``produce``
    would send as if it were whole, nor the previous output overwritten."""
    # An ``out`` that is a symlink is written through, as ``open(out, "wb")`` would: the part
    # goes beside its target and replaces the target, and the link stays.
    target = out.resolve() if out.is_symlink() else out
    # the name ends with ``out``'s, so a writer that chooses gzip by the suffix still does;
    # the leading dot keeps it out of a shell glob such as ``*.jsonl``
    part = target.with_name(f".{secrets.token_hex(8)}.part.{target.name}")
    try:
        yield part
        if target.exists():
            # a replaced file keeps its permissions (an output made private stays private)
            shutil.copymode(target, part)
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
