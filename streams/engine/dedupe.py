"""Duplicate detection: event ids seen, bucketed by the hour of their ``occurred_at``.

A redelivered event carries the same ``occurred_at``, so a lookup touches one bucket. Buckets
older than the scope's watermark minus the horizon are dropped; each hour is split into
``SHARDS`` persisted parts by the id's last hex digit (``dedupe/<hour>/<n>``), so even a burst
of thousands of events an hour stays small values. The horizon is at least the
lateness allowance: anything older is dropped as late anyway.

After a save a bucket can be frozen (``release``): held as its saved msgpack, decoded again when
an id of its hour comes. A catch-up of millions of events keeps every id within the horizon, and
as bytes they take a third of the memory of a set of str.
"""

from __future__ import annotations

from typing import Final

import msgspec

PREFIX: Final = "dedupe/"
SHARDS: Final = 16
_HEX: Final = {digit: int(digit, 16) for digit in "0123456789abcdefABCDEF"}


class Dedupe:
    def __init__(self, dirty: set[str], deleted: set[str]) -> None:
        #: every bucket: its ids, or None while frozen (then ``_saved`` holds them)
        self.buckets: dict[tuple[int, int], set[str] | None] = {}
        #: a bucket's msgpack as last saved or restored: current while it is not dirty
        self._saved: dict[tuple[int, int], bytes] = {}
        self._dirty = dirty
        self._deleted = deleted
        self._decoder = msgspec.msgpack.Decoder(set[str])
        self._names: dict[tuple[int, int], str] = {}

    @staticmethod
    def key(event_id: str, hour: int) -> tuple[int, int]:
        # ids are UUIDs (the contract's pattern): their last hex digit spreads them evenly
        return hour, _HEX[event_id[-1]]

    def _bucket(self, key: tuple[int, int]) -> set[str] | None:
        bucket = self.buckets.get(key)
        if bucket is None and key in self._saved:  # frozen
            bucket = self.buckets[key] = self._decoder.decode(self._saved[key])
        return bucket

    def seen(self, event_id: str, key: tuple[int, int]) -> bool:
        bucket = self._bucket(key)
        return bucket is not None and event_id in bucket

    def add(self, event_id: str, key: tuple[int, int]) -> None:
        bucket = self._bucket(key)
        if bucket is None:
            bucket = self.buckets[key] = set()
            self._names[key] = f"{PREFIX}{key[0]}/{key[1]}"
        bucket.add(event_id)
        self._dirty.add(self._names[key])

    def purge(self, before_hour: int) -> None:
        for key in [key for key in self.buckets if key[0] < before_hour]:
            del self.buckets[key]
            self._saved.pop(key, None)
            name = self._names.pop(key, f"{PREFIX}{key[0]}/{key[1]}")
            self._dirty.discard(name)
            self._deleted.add(name)

    @staticmethod
    def _parse(part: str) -> tuple[int, int]:
        hour, shard = part[len(PREFIX) :].split("/")
        return int(hour), int(shard)

    def encode(self, part: str, encoder: msgspec.msgpack.Encoder) -> bytes:
        key = self._parse(part)
        data = encoder.encode(sorted(self._bucket(key) or ()))
        self._saved[key] = data
        return data

    def decode(self, part: str, data: bytes) -> None:
        """Restore a bucket from its saved bytes; decoded only when an id of it comes."""
        key = self._parse(part)
        self.buckets[key] = None
        self._saved[key] = data
        self._names[key] = part

    def release(self) -> int:
        """Freeze every bucket whose saved bytes are current; the number frozen."""
        frozen = 0
        for key, bucket in self.buckets.items():
            if bucket is not None and key in self._saved and self._names[key] not in self._dirty:
                self.buckets[key] = None
                frozen += 1
        return frozen
