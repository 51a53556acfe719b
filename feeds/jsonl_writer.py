"""JSONL output: one event a line, or batch arrays of up to N events; gzip if the name says so."""

from __future__ import annotations

import gzip
from pathlib import Path
from types import TracebackType
from typing import IO

import msgspec

from models.events import Event

_FLUSH_BYTES = 1 << 20


class EventWriter:
    """Writes events in the order given; ``batch`` > 1 groups consecutive events into one line.

    A batch line holds consecutive events of the file (mixed topics and sites): ``produce``
    regroups by topic and key, and ``analyse``/``validate`` accept either shape.
    """

    def __init__(self, path: Path, batch: int = 1, *, omit_none: bool = False) -> None:
        self._batch = max(1, batch)
        # optional fields left as None are written as absent, not null (sitrep site_code etc.)
        self._omit_none = omit_none
        self._pending: list[object] = []
        self._encoder = msgspec.json.Encoder()
        self._buffer = bytearray()
        self.count = 0
        self._file: IO[bytes] = open(path, "wb")
        self._gzip: gzip.GzipFile | None = None
        if path.name.endswith(".gz"):
            # mtime=0 and no name in the header: the same events give the same bytes
            self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._file, mtime=0)

    def write(self, event: Event) -> None:
        self.count += 1
        if self._omit_none:
            event = {  # type: ignore[assignment]
                k: v for k, v in msgspec.to_builtins(event).items() if v is not None
            }
        if self._batch == 1:
            self._encoder.encode_into(event, self._buffer, -1)
            self._buffer += b"\n"
        else:
            self._pending.append(event)
            if len(self._pending) >= self._batch:
                self._flush_batch()
        if len(self._buffer) >= _FLUSH_BYTES:
            self._flush()

    def _flush_batch(self) -> None:
        if self._pending:
            self._encoder.encode_into(self._pending, self._buffer, -1)
            self._buffer += b"\n"
            self._pending.clear()

    def _flush(self) -> None:
        (self._gzip or self._file).write(self._buffer)
        self._buffer.clear()

    def close(self) -> None:
        self._flush_batch()
        self._flush()
        if self._gzip is not None:
            self._gzip.close()
        self._file.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
