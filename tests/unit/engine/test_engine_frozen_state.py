"""A state whose saved entity shards and dedupe buckets are frozen after every save (held as
their bytes, decoded when next touched, as the worker does) behaves exactly like one that keeps
everything decoded: the same outputs and the same persisted parts."""

from __future__ import annotations

import msgspec
import pytest

from models.events import Event
from streams.engine import Output, ScopeState
from streams.engine.referrals import Pathway
from streams.engine.shards import ShardedMap
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE

pytestmark = pytest.mark.unit

SCOPE = CATALOGUE.for_scope(b.TRUST, b.SITE)
RECORD = 150  # events between saves, as records of a feed


def _every_domain(days: int) -> list[Event]:
    s = b.Stream()
    b.bedflow(s, days, nctr_days=b.window(8, 16, 4.0, 0.75), beds=b.const(450))
    b.rostering(s, days, agency=b.window(6, 14, 0.2, 0.02))
    b.referrals(s, days)
    b.ed(s, days)
    return s.events(days)


def _run(
    events: list[Event], *, freeze: bool, store: dict[str, bytes] | None = None
) -> tuple[list[Output], list[dict[str, bytes]], int]:
    """``store``: the parts as saved, which the state reads its frozen shards back from."""
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    if store is not None:
        state.read_saved_from(store.__getitem__)
    out: list[Output] = []
    saves: list[dict[str, bytes]] = []
    frozen = 0
    for number, event in enumerate(events, start=1):
        out.extend(state.apply(event))
        if number % RECORD == 0:
            saves.append(state.dirty_parts())
            if store is not None:
                store.update(saves[-1])
            if freeze:
                frozen += state.release()
    out.extend(state.flush())
    saves.append(state.dirty_parts())
    return out, saves, frozen


def test_freezing_after_every_save_changes_no_output_and_no_saved_part() -> None:
    events = _every_domain(21)
    kept_out, kept_saves, _ = _run(events, freeze=False)
    frozen_out, frozen_saves, frozen = _run(events, freeze=True)
    assert frozen > len(kept_saves)  # shards and buckets were really held as bytes
    assert frozen_out == kept_out
    assert frozen_saves == kept_saves


class _CountingStore(dict[str, bytes]):
    """Parts as saved; counts the reads of parts the state let go of."""

    reads = 0

    def __getitem__(self, name: str) -> bytes:
        self.reads += 1
        return super().__getitem__(name)


def test_shards_read_back_from_the_store_change_no_output_and_no_saved_part() -> None:
    events = _every_domain(21)
    kept_out, kept_saves, _ = _run(events, freeze=False)
    store = _CountingStore()
    read_out, read_saves, frozen = _run(events, freeze=True, store=store)
    assert frozen > len(kept_saves)
    assert store.reads > 0  # frozen shards were read back from the store, not kept as bytes
    assert read_out == kept_out
    assert read_saves == kept_saves


ENCODER = msgspec.msgpack.Encoder()


def _saved_pathways(dirty: set[str]) -> tuple[ShardedMap[Pathway], dict[str, bytes]]:
    """A 4-shard map of REF0..REF39 (``received_at`` its number), every shard saved and none
    dirty; with the saved bytes of each part."""
    pathways: ShardedMap[Pathway] = ShardedMap("pathways", 4, Pathway, dirty, first_count=4)
    for number in range(40):
        pathways.put(f"REF{number}", Pathway(received_at=number))
    saved = {name: pathways.encode(name, ENCODER) for name in sorted(dirty)}
    dirty.clear()
    return pathways, saved


def test_a_frozen_shard_with_a_store_keeps_no_bytes_and_reads_them_back() -> None:
    pathways, saved = _saved_pathways(set())
    store = _CountingStore(saved)
    pathways.read_saved = store.__getitem__
    assert pathways.release() == 4
    assert store.reads == 0
    assert len(pathways) == 40  # from the stored bytes' headers
    assert store.reads == 4
    assert pathways.get("REF7") == Pathway(received_at=7)
    assert store.reads == 5  # only the shard holding REF7 was read again
    assert pathways.release() == 1  # not dirty: frozen again, its bytes let go


def test_a_redelivered_event_is_a_duplicate_though_its_bucket_was_frozen() -> None:
    events = _every_domain(2)
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    for event in events[:50]:
        state.apply(event)
    state.dirty_parts()
    assert state.release() > 0
    duplicates = state.duplicate
    assert state.apply(events[49]) == []  # the newest: its hour is within the horizon
    assert state.duplicate == duplicates + 1


def test_a_frozen_shard_counts_and_reads_as_it_was_saved() -> None:
    dirty: set[str] = set()
    pathways, saved = _saved_pathways(dirty)
    assert pathways.release() == 4
    assert len(pathways) == 40  # from the frozen bytes' headers
    entry = pathways.get("REF7")
    assert entry == Pathway(received_at=7)
    assert entry is not None
    entry.triaged = True
    pathways.touch("REF7")
    assert pathways.release() == 0  # the changed shard stays decoded until saved
    changed = pathways.part_names()[pathways.index("REF7")]
    assert pathways.encode(changed, ENCODER) != saved[changed]
    dirty.clear()
    assert pathways.release() == 1
    assert pathways.get("REF7") == Pathway(received_at=7, triaged=True)


def test_restored_shards_never_touched_let_their_bytes_go_at_the_first_release() -> None:
    _, saved = _saved_pathways(set())
    store = _CountingStore(saved)
    restored: ShardedMap[Pathway] = ShardedMap("pathways", 4, Pathway, set(), first_count=4)
    for name in sorted(store):
        restored.decode(name, store[name])
    restored.read_saved = store.__getitem__
    store.reads = 0
    assert len(restored) == 40
    assert store.reads == 0  # the restored bytes are still held
    restored.release()
    assert len(restored) == 40
    assert store.reads == 4  # a release with no event since the restore let them go
