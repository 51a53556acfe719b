"""Sharded maps: per-spell/shift/pathway entries split into parts by a stable hash of the ref.

A site's open pathways (tens of thousands) must never be one persisted value: each shard is one
part of the scope state, persisted only when it changed. The hash is CRC-32 of the ref, stable
across processes (Python's own ``hash`` of a str is salted per process).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec

E = TypeVar("E")


class ShardedMap(Generic[E]):
    """``ref -> entry`` in ``count`` dicts; ``dirty`` collects the part names that changed."""

    def __init__(self, prefix: str, count: int, entry_type: type[E], dirty: set[str]) -> None:
        self.prefix = prefix
        self.count = count
        self.entry_type = entry_type
        self.shards: list[dict[str, E]] = [{} for _ in range(count)]
        self._names = [f"{prefix}/{index:03d}" for index in range(count)]
        self._dirty = dirty
        self._decoder = msgspec.msgpack.Decoder(dict[str, entry_type])  # type: ignore[valid-type]

    def _index(self, ref: str) -> int:
        return zlib.crc32(ref.encode()) % self.count

    def index(self, ref: str) -> int:
        """The shard that holds (or would hold) ``ref``."""
        return zlib.crc32(ref.encode()) % self.count

    def shard(self, ref: str) -> tuple[dict[str, E], str]:
        """The dict holding ``ref`` and its part name (one hash for a get-then-put)."""
        index = zlib.crc32(ref.encode()) % self.count
        return self.shards[index], self._names[index]

    def get(self, ref: str) -> E | None:
        return self.shards[self._index(ref)].get(ref)

    def touch(self, ref: str) -> None:
        """Mark the shard holding ``ref`` changed (after mutating its entry in place)."""
        self._dirty.add(self._names[self._index(ref)])

    def touch_shard(self, index: int) -> None:
        self._dirty.add(self._names[index])

    def put(self, ref: str, entry: E) -> None:
        index = self._index(ref)
        self.shards[index][ref] = entry
        self._dirty.add(self._names[index])

    def pop(self, ref: str) -> E | None:
        index = self._index(ref)
        entry = self.shards[index].pop(ref, None)
        if entry is not None:
            self._dirty.add(self._names[index])
        return entry

    def __len__(self) -> int:
        return sum(len(shard) for shard in self.shards)

    def remove_where(self, stale: Callable[[E], bool]) -> int:
        """Drop every entry for which ``stale(entry)`` is true; the number dropped."""
        dropped = 0
        for index, shard in enumerate(self.shards):
            dropped += self.drop(index, [ref for ref, entry in shard.items() if stale(entry)])
        return dropped

    def drop(self, index: int, refs: list[str]) -> int:
        """Drop ``refs`` (all in shard ``index``); the number dropped. For a sweep that picks
        its entries with an inline test, a call per entry being most of a sweep's cost."""
        shard = self.shards[index]
        for ref in refs:
            del shard[ref]
        if refs:
            self._dirty.add(self._names[index])
        return len(refs)

    def owns(self, part: str) -> bool:
        return part.startswith(self.prefix + "/")

    def encode(self, part: str, encoder: msgspec.msgpack.Encoder) -> bytes:
        return encoder.encode(self.shards[int(part.rsplit("/", 1)[1])])

    def decode(self, part: str, data: bytes) -> None:
        self.shards[int(part.rsplit("/", 1)[1])] = self._decoder.decode(data)

    def part_names(self) -> list[str]:
        return list(self._names)
