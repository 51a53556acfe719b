"""Duplicate detection: event ids seen, bucketed by the hour of their ``occurred_at``.

A redelivered event carries the same ``occurred_at``, so a lookup touches one hour. Hours older
than the scope's watermark minus the horizon are dropped. The horizon is at least the lateness
allowance: anything older is dropped as late anyway.

Persisted parts: an hour's ids are one part, ``dedupe/<hour>``, until they pass
``WHOLE_HOUR_MAX``; that hour is then split for good into ``SHARDS`` parts by the id's last hex
digit, ``dedupe/<hour>/<n>``, so even a burst of thousands of events an hour stays small values.
A live feed (a few events a scope an hour) thus writes one dedupe part a record and deletes one
an hour, where sixteen buckets an hour wrote one part per event and deleted sixteen at every
hour boundary, when every scope evaluates at once. A state saved when every hour was split
(the layout before whole hours) reads back as split hours; the layout of an hour is its own
part names, so a restored state continues exactly as one that never stopped.

After a save an hour or bucket can be frozen (``release``): held as its saved msgpack, decoded
again when an id of it comes. A catch-up of millions of events keeps every id within the
horizon, and as bytes they take a third of the memory of a set of str.
"""

from __future__ import annotations

from typing import Final

import msgspec

PREFIX: Final = "dedupe/"
SHARDS: Final = 16
#: ids an hour may hold as one part (~38 B each in msgpack: ~19 KB) before it is split
WHOLE_HOUR_MAX: Final = 512
_HEX: Final = {digit: int(digit, 16) for digit in "0123456789abcdefABCDEF"}


#: a bucket's key: (hour, last hex digit of its ids), the digit None for a whole hour
Key = tuple[int, int | None]


class Dedupe:
    def __init__(self, dirty: set[str], deleted: set[str]) -> None:
        #: every bucket (a whole hour, or one sixteenth of a split hour): its ids, or None while
        #: frozen (then ``_saved`` holds them)
        self.buckets: dict[Key, set[str] | None] = {}
        #: a bucket's msgpack as last saved or restored: current while it is not dirty
        self._saved: dict[Key, bytes] = {}
        #: every split hour (a split hour's bucket may not exist yet)
        self._split: set[int] = set()
        self._dirty = dirty
        self._deleted = deleted
        self._decoder = msgspec.msgpack.Decoder(set[str])
        self._names: dict[Key, str] = {}

    def key(self, event_id: str, hour: int) -> Key:
        if hour not in self._split:
            return hour, None
        # ids are UUIDs (the contract's pattern): their last hex digit spreads them evenly
        return hour, _HEX[event_id[-1]]

    def held_hours(self) -> set[int]:
        """Every hour some ids are held for."""
        return {hour for hour, _ in self.buckets}

    def _bucket(self, key: Key) -> set[str] | None:
        bucket = self.buckets.get(key)
        if bucket is None and key in self._saved:  # frozen
            bucket = self.buckets[key] = self._decoder.decode(self._saved[key])
        return bucket

    def seen(self, event_id: str, key: Key) -> bool:
        bucket = self._bucket(key)
        return bucket is not None and event_id in bucket

    def add(self, event_id: str, key: Key) -> None:
        bucket = self._bucket(key)
        if bucket is None:
            bucket = self.buckets[key] = set()
            self._names[key] = _name(key)
        bucket.add(event_id)
        if key[1] is None and len(bucket) > WHOLE_HOUR_MAX:
            self._split_hour(key[0], bucket)
        else:
            self._dirty.add(self._names[key])

    def _split_hour(self, hour: int, ids: set[str]) -> None:
        """Move a whole hour's ids to its buckets (each then written) and delete its part."""
        self._drop((hour, None))
        self._split.add(hour)
        for event_id in ids:
            self.add(event_id, self.key(event_id, hour))

    def _drop(self, key: Key) -> None:
        del self.buckets[key]
        self._saved.pop(key, None)
        name = self._names.pop(key, None) or _name(key)
        self._dirty.discard(name)
        self._deleted.add(name)

    def purge(self, before_hour: int) -> None:
        for key in [key for key in self.buckets if key[0] < before_hour]:
            self._drop(key)
        self._split = {hour for hour in self._split if hour >= before_hour}

    @staticmethod
    def _parse(part: str) -> Key:
        hour, _, shard = part[len(PREFIX) :].partition("/")
        return int(hour), int(shard) if shard else None

    def encode(self, part: str, encoder: msgspec.msgpack.Encoder) -> bytes:
        key = self._parse(part)
        data = encoder.encode(sorted(self._bucket(key) or ()))
        self._saved[key] = data
        return data

    def decode(self, part: str, data: bytes) -> None:
        """Restore a bucket from its saved bytes; decoded only when an id of it comes."""
        key = self._parse(part)
        if key[1] is not None:
            self._split.add(key[0])
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


def _name(key: Key) -> str:
    hour, shard = key
    return f"{PREFIX}{hour}" if shard is None else f"{PREFIX}{hour}/{shard}"
