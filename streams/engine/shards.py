"""Sharded maps: per-spell/shift/pathway entries split into parts by a stable hash of the ref.

A site's open pathways (tens of thousands) must never be one persisted value: each shard is one
part of the scope state, persisted only when it changed. The hash is CRC-32 of the ref, stable
across processes (Python's own ``hash`` of a str is salted per process).

A shard can also be *frozen* between saves: held only as the msgpack it was last saved or
restored as, and decoded again the first time it is touched. A national worker holds millions of
entries, and their msgpack is several times smaller than the objects, while the events of one
batch touch a small share of the shards. Every access goes through ``_thawed``, so callers see
the same dicts either way; only ``release`` (after a save) freezes.

Given ``read_saved`` (how to read a part back as last saved, from the store the worker saves
to), a frozen shard does not even keep its msgpack: the store has it, so the worker's memory
holds only the shards a batch touched, as Kafka Streams' record cache in front of its store.
Without it (``analyse``, the tests' engine) the bytes stay in memory.

A part's name says its layout: ``shifts/007`` is shard 7 of the map's *first* layout (the count
it had before counts were named, ``first_count``), ``shifts/256/007`` shard 7 of 256. A state
saved under another count is re-sharded when restored (``reshard``): its entries move to this
layout's shards, which the next save writes, and its old parts are deleted. A changed count
therefore needs no migration step and no stop of the workers.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import msgspec

E = TypeVar("E")


class ShardedMap(Generic[E]):
    """``ref -> entry`` in ``count`` dicts; ``dirty`` collects the part names that changed."""

    def __init__(
        self,
        prefix: str,
        count: int,
        entry_type: type[E],
        dirty: set[str],
        *,
        first_count: int,
    ) -> None:
        self.prefix = prefix
        self.count = count
        #: the count of the first layout, whose part names carry none: fixed for ever, since
        #: saved states read it back from the names alone
        self.first_count = first_count
        self.entry_type = entry_type
        # a shard is its dict, or None while frozen; ``_saved`` holds the msgpack of a shard as
        # last saved or restored (None: never), equal to the dict while the shard is not dirty
        self._shards: list[dict[str, E] | None] = [{} for _ in range(count)]
        self._saved: list[bytes | None] = [None] * count
        layout = prefix if count == self.first_count else f"{prefix}/{count}"
        self._names = [f"{layout}/{index:03d}" for index in range(count)]
        self._dirty = dirty
        self._decoder = msgspec.msgpack.Decoder(dict[str, entry_type])  # type: ignore[valid-type]
        #: part name -> its bytes as last saved, read from the store (None: kept in ``_saved``)
        self.read_saved: Callable[[str], bytes] | None = None
        #: frozen shards whose bytes only the store holds (``_saved`` None)
        self._in_store: set[int] = set()
        #: shards decoded, saved or restored since the last ``release``: the only ones it can
        #: freeze, so a save visits the shards a batch touched, not all of a map's hundreds
        self._live: set[int] = set()
        #: restored parts of another layout (name -> bytes), until ``reshard`` moves them
        self._other_layout: dict[str, bytes] = {}

    def _saved_bytes(self, index: int) -> bytes:
        saved = self._saved[index]
        if saved is None:
            assert self.read_saved is not None and index in self._in_store, "a frozen shard"
            saved = self.read_saved(self._names[index])
        return saved

    def _thawed(self, index: int) -> dict[str, E]:
        shard = self._shards[index]
        if shard is None:
            saved = self._saved[index] = self._saved_bytes(index)
            self._in_store.discard(index)
            shard = self._shards[index] = self._decoder.decode(saved)
            self._live.add(index)
        return shard

    def shard_at(self, index: int) -> dict[str, E]:
        """Shard ``index``'s dict, to read or change in place (then ``touch_shard(index)``)."""
        return self._thawed(index)

    def all_shards(self) -> Iterator[tuple[int, dict[str, E]]]:
        """Every shard with its index, for a sweep (thaws the frozen ones)."""
        for index in range(self.count):
            yield index, self._thawed(index)

    def release(self) -> int:
        """Freeze every shard whose saved bytes are current (not dirty); the number frozen.
        Call after a save: the next touch decodes the shard again (with ``read_saved``, from
        the bytes read back from the store)."""
        frozen = 0
        to_store = self.read_saved is not None
        live, self._live = self._live, set()
        for index in live:
            if self._saved[index] is None:
                continue  # never saved: its first save makes it live again
            if self._names[index] in self._dirty:
                self._live.add(index)
                continue
            shard = self._shards[index]
            if shard is not None:
                self._shards[index] = None
                frozen += 1
            if to_store:
                self._saved[index] = None
                self._in_store.add(index)
        return frozen

    def index(self, ref: str) -> int:
        """The shard that holds (or would hold) ``ref``."""
        return zlib.crc32(ref.encode()) % self.count

    def shard(self, ref: str) -> tuple[dict[str, E], str]:
        """The dict holding ``ref`` and its part name (one hash for a get-then-put)."""
        index = self.index(ref)
        return self._thawed(index), self._names[index]

    def get(self, ref: str) -> E | None:
        return self._thawed(self.index(ref)).get(ref)

    def touch(self, ref: str) -> None:
        """Mark the shard holding ``ref`` changed (after mutating its entry in place)."""
        self._dirty.add(self._names[self.index(ref)])

    def touch_shard(self, index: int) -> None:
        self._dirty.add(self._names[index])

    def put(self, ref: str, entry: E) -> None:
        index = self.index(ref)
        self._thawed(index)[ref] = entry
        self._dirty.add(self._names[index])

    def pop(self, ref: str) -> E | None:
        index = self.index(ref)
        entry = self._thawed(index).pop(ref, None)
        if entry is not None:
            self._dirty.add(self._names[index])
        return entry

    def __len__(self) -> int:
        return sum(
            len(shard) if shard is not None else _map_length(self._saved_bytes(index))
            for index, shard in enumerate(self._shards)
        )

    def remove_where(self, stale: Callable[[E], bool]) -> int:
        """Drop every entry for which ``stale(entry)`` is true; the number dropped."""
        dropped = 0
        for index, shard in self.all_shards():
            dropped += self.drop(index, [ref for ref, entry in shard.items() if stale(entry)])
        return dropped

    def drop(self, index: int, refs: list[str]) -> int:
        """Drop ``refs`` (all in shard ``index``); the number dropped. For a sweep that picks
        its entries with an inline test, a call per entry being most of a sweep's cost."""
        shard = self._thawed(index)
        for ref in refs:
            del shard[ref]
        if refs:
            self._dirty.add(self._names[index])
        return len(refs)

    def owns(self, part: str) -> bool:
        return part.startswith(self.prefix + "/")

    def encode(self, part: str, encoder: msgspec.msgpack.Encoder) -> bytes:
        index = int(part.rsplit("/", 1)[1])
        data = encoder.encode(self._thawed(index))
        self._saved[index] = data
        self._live.add(index)
        return data

    def decode(self, part: str, data: bytes) -> None:
        """Restore a shard from its saved bytes; decoded only when first touched. A part of
        another layout is held until ``reshard``."""
        count, index = self._layout_of(part)
        if count != self.count:
            self._other_layout[part] = data
            return
        self._saved[index] = data
        self._shards[index] = None
        self._in_store.discard(index)
        self._live.add(index)

    def reshard(self) -> list[str]:
        """Move the entries of restored parts of another layout to this one's shards (marked
        dirty: the next save writes them); the names of those parts, for the caller to delete.
        Call once every part is decoded, after the restore has marked everything clean."""
        moved = sorted(self._other_layout)
        for part in moved:
            for ref, entry in self._decoder.decode(self._other_layout.pop(part)).items():
                self.put(ref, entry)
        return moved

    def _layout_of(self, part: str) -> tuple[int, int]:
        """(shard count, shard index) of a part name of this map, in either name form."""
        pieces = part.split("/")
        count = self.first_count if len(pieces) == 2 else int(pieces[1])
        return count, int(pieces[-1])

    def part_names(self) -> list[str]:
        return list(self._names)


def _map_length(data: bytes | None) -> int:
    """The entry count in the header of a msgpack map (fixmap, map 16 or map 32)."""
    if not data:
        return 0
    first = data[0]
    if 0x80 <= first <= 0x8F:
        return first & 0x0F
    if first == 0xDE:
        return int.from_bytes(data[1:3], "big")
    if first == 0xDF:
        return int.from_bytes(data[1:5], "big")
    raise ValueError(f"not a msgpack map: first byte {first:#x}")
