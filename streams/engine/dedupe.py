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


class Dedupe:
    def __init__(self, dirty: set[str], deleted: set[str]) -> None:
        #: the whole hours: their ids, or None while frozen (then ``_hour_saved`` holds them)
        self.hours: dict[int, set[str] | None] = {}
        #: a whole hour's msgpack as last saved or restored: current while it is not dirty
        self._hour_saved: dict[int, bytes] = {}
        #: the buckets of split hours, as ``hours`` for the whole ones
        self.buckets: dict[tuple[int, int], set[str] | None] = {}
        self._saved: dict[tuple[int, int], bytes] = {}
        #: every split hour (a split hour's bucket may not exist yet)
        self._split: set[int] = set()
        self._dirty = dirty
        self._deleted = deleted
        self._decoder = msgspec.msgpack.Decoder(set[str])
        self._names: dict[tuple[int, int], str] = {}

    @staticmethod
    def key(event_id: str, hour: int) -> tuple[int, int]:
        # ids are UUIDs (the contract's pattern): their last hex digit spreads them evenly
        return hour, _HEX[event_id[-1]]

    def held_hours(self) -> set[int]:
        """Every hour some ids are held for."""
        return set(self.hours) | {hour for hour, _ in self.buckets}

    def _hour(self, hour: int) -> set[str] | None:
        ids = self.hours.get(hour)
        if ids is None and hour in self._hour_saved:  # frozen
            ids = self.hours[hour] = self._decoder.decode(self._hour_saved[hour])
        return ids

    def _bucket(self, key: tuple[int, int]) -> set[str] | None:
        bucket = self.buckets.get(key)
        if bucket is None and key in self._saved:  # frozen
            bucket = self.buckets[key] = self._decoder.decode(self._saved[key])
        return bucket

    def seen(self, event_id: str, key: tuple[int, int]) -> bool:
        ids = self._bucket(key) if key[0] in self._split else self._hour(key[0])
        return ids is not None and event_id in ids

    def add(self, event_id: str, key: tuple[int, int]) -> None:
        hour = key[0]
        if hour in self._split:
            self._add_to_bucket(event_id, key)
            return
        ids = self._hour(hour)
        if ids is None:
            ids = self.hours[hour] = set()
        ids.add(event_id)
        if len(ids) <= WHOLE_HOUR_MAX:
            self._dirty.add(f"{PREFIX}{hour}")
        else:
            self._split_hour(hour, ids)

    def _add_to_bucket(self, event_id: str, key: tuple[int, int]) -> None:
        bucket = self._bucket(key)
        if bucket is None:
            bucket = self.buckets[key] = set()
            self._names[key] = f"{PREFIX}{key[0]}/{key[1]}"
        bucket.add(event_id)
        self._dirty.add(self._names[key])

    def _split_hour(self, hour: int, ids: set[str]) -> None:
        """Move a whole hour's ids to its buckets (each then written) and delete its part."""
        del self.hours[hour]
        self._hour_saved.pop(hour, None)
        name = f"{PREFIX}{hour}"
        self._dirty.discard(name)
        self._deleted.add(name)
        self._split.add(hour)
        for event_id in ids:
            self._add_to_bucket(event_id, self.key(event_id, hour))

    def purge(self, before_hour: int) -> None:
        for hour in [hour for hour in self.hours if hour < before_hour]:
            del self.hours[hour]
            self._hour_saved.pop(hour, None)
            name = f"{PREFIX}{hour}"
            self._dirty.discard(name)
            self._deleted.add(name)
        for key in [key for key in self.buckets if key[0] < before_hour]:
            del self.buckets[key]
            self._saved.pop(key, None)
            name = self._names.pop(key, f"{PREFIX}{key[0]}/{key[1]}")
            self._dirty.discard(name)
            self._deleted.add(name)
        self._split = {hour for hour in self._split if hour >= before_hour}

    @staticmethod
    def _parse(part: str) -> tuple[int, int | None]:
        """(hour, shard) of a part name; shard None for a whole hour."""
        hour, _, shard = part[len(PREFIX) :].partition("/")
        return int(hour), int(shard) if shard else None

    def encode(self, part: str, encoder: msgspec.msgpack.Encoder) -> bytes:
        hour, shard = self._parse(part)
        if shard is None:
            data = encoder.encode(sorted(self._hour(hour) or ()))
            self._hour_saved[hour] = data
            return data
        key = (hour, shard)
        data = encoder.encode(sorted(self._bucket(key) or ()))
        self._saved[key] = data
        return data

    def decode(self, part: str, data: bytes) -> None:
        """Restore an hour or a bucket from its saved bytes; decoded only when an id of it
        comes."""
        hour, shard = self._parse(part)
        if shard is None:
            self.hours[hour] = None
            self._hour_saved[hour] = data
            return
        key = (hour, shard)
        self._split.add(hour)
        self.buckets[key] = None
        self._saved[key] = data
        self._names[key] = part

    def release(self) -> int:
        """Freeze every hour and bucket whose saved bytes are current; the number frozen."""
        frozen = 0
        for hour, ids in self.hours.items():
            current = hour in self._hour_saved and f"{PREFIX}{hour}" not in self._dirty
            if ids is not None and current:
                self.hours[hour] = None
                frozen += 1
        for key, bucket in self.buckets.items():
            if bucket is not None and key in self._saved and self._names[key] not in self._dirty:
                self.buckets[key] = None
                frozen += 1
        return frozen
