"""One input record's journey through the worker: decode and guard, engine, outputs, state.

Kept free of Faust so it can be unit-tested with a dict as the table: the agent hands in a batch
of records one by one, sends what comes back, waits until the broker has acknowledged it, and
only then calls :meth:`EventPipeline.save` (the consistency rule in the README: outputs, then
state, then the input offsets). States live in memory between saves, as in Kafka Streams' record
cache: a save writes each state the batch advanced once, however many of its records touched it
(a table set costs a changelog send, ~100 µs). Until then each state keeps the records it
applied (their bytes, which the batch holds anyway, not their decoded events: a catch-up batch
has a million), so a record that fails part-way can put its states back to where the batch had
them by decoding those records again.

How a state is laid out in the table, so that a crash in the middle of a save (some keys in the
changelog, others not) can never be restored:

- each part lives in one of two slots, ``<state>/<part>#0`` and ``<state>/<part>#1``; a save
  writes a changed part to the slot the index does NOT point at, so the live slot is never
  overwritten;
- the index ``<state>`` is written last: it names each part's live slot and the input offset the
  state covers. All keys of a state go to one changelog partition in the order they were set,
  so an index in the changelog implies its parts are there too; a save cut short leaves the
  previous index pointing at the previous, intact slots;
- a part first saved at ``INLINE_MAX_BYTES`` or less (the core counters, a domain's head, an
  hour's dedupe ids, a detector) is held in the index itself rather than in slots: at a live
  feed's pace each record changes those, so this saves a table write each (a changelog send)
  for a few hundred bytes more in the index that is written anyway. One that grows past the
  limit moves to the slots for good (no churn at the limit); a state saved before inline parts
  reads back unchanged, its parts staying in their slots.

A record the saved state already covers (redelivered after a crash between the state's write
and the offset commit) is skipped for that state without being counted as a duplicate: its
outputs were delivered before the state was written.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from models.catalogue import Catalogue
from models.decoding import RecordDecoder
from models.events import Event, event_type_of
from models.outputs import MetricPoint, OpportunityUpdate, scope_key
from sinks.prometheus import FEED_ANOMALY_KINDS, PrometheusExporter
from streams.engine import ScopeState

log = logging.getLogger(__name__)

#: dead-letter reason of a record whose processing raised (the record itself is not copied)
PROCESSING_FAILED = "processing_failed"


#: the largest part first saved inside the state's index instead of in slots of its own
INLINE_MAX_BYTES = 1024


class StateIndex(msgspec.Struct, frozen=True):
    """What the index key of a state holds: its parts' live slots, its small parts themselves
    and the offsets it covers."""

    slots: dict[str, int] = {}
    #: ``"<wire topic>/<partition>"`` -> offset of the newest record applied to the state
    covered: dict[str, int] = {}
    #: part name -> its bytes, for the parts held in the index (never also in ``slots``)
    inline: dict[str, bytes] = {}


_index_decoder = msgspec.msgpack.Decoder(StateIndex | list[str])
_encode = msgspec.msgpack.encode


def _part_key(state_key: str, name: str, slot: int | None) -> str:
    # slot None: the layout before slots (one key per part), still read on restore
    return f"{state_key}/{name}" if slot is None else f"{state_key}/{name}#{slot}"


def _source(topic: str, partition: int) -> str:
    return f"{topic}/{partition}"


@dataclass
class RecordOutcome:
    """What one record produced, grouped by the topic it goes to, and the states to save."""

    metrics: dict[str, list[MetricPoint]] = field(default_factory=lambda: defaultdict(list))
    updates: dict[str, list[OpportunityUpdate]] = field(default_factory=lambda: defaultdict(list))
    deadletters: list[dict[str, object]] = field(default_factory=list)
    #: table keys of the states this record advanced, and where the record came from
    touched: list[str] = field(default_factory=list)
    source: str = ""
    offset: int = -1


@dataclass
class _Tally:
    """The exporter's counts and event times of the records handled since the last flush.

    A batch's records run without an await between them, so nothing (not ``/metrics``) can see
    the exporter between two of them: the sums and the newest times are handed over once per
    batch, which leaves every series as record-by-record updates would have (the topic's lag
    taken at the ``now`` of its last record)."""

    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    redelivered: Counter[str] = field(default_factory=Counter)
    #: state key -> (topic, the state, its ``counters`` when the batch first touched it): read
    #: again at the flush for the duplicate, late, after-close and feed-anomaly counts, so a
    #: batch costs two ``counters`` per state, not a read per record
    counters_from: dict[str, tuple[str, ScopeState, dict[str, int]]] = field(default_factory=dict)
    #: (topic, trust, site) -> the newest event time of the scope on that topic
    newest: dict[tuple[str, str, str | None], datetime] = field(default_factory=dict)
    #: topic -> ``now`` of its last record
    now: dict[str, datetime] = field(default_factory=dict)

    def flush(self, exporter: PrometheusExporter) -> None:
        for (topic, event_type), n in self.events.items():
            exporter.count_events(topic, event_type, n)
        for (topic, reason), n in self.rejected.items():
            exporter.count_rejected(topic, reason, n)
        for topic, n in self.redelivered.items():
            exporter.count_redelivered(topic, n)
        for topic, state, before in self.counters_from.values():
            after = state.counters
            exporter.count_duplicate(topic, after["duplicate"] - before["duplicate"])
            exporter.count_late(topic, after["late"] - before["late"])
            exporter.count_after_close(topic, after["after_close"] - before["after_close"])
            for kind in FEED_ANOMALY_KINDS:
                exporter.count_feed_anomaly(topic, kind, after[kind] - before[kind])
        for (topic, trust, site), newest in self.newest.items():
            exporter.observe_event_time(topic, trust, site, newest, self.now[topic])


@dataclass(frozen=True, slots=True)
class _AppliedRecord:
    """A record as decoded: decoding it again at the same ``now`` gives the same events."""

    topic: str
    value: bytes
    now: datetime


@dataclass
class _Unsaved:
    """What a state applied since it was last saved."""

    #: ``"<wire topic>/<partition>"`` -> newest offset applied (the index's ``covered`` to save)
    covered: dict[str, int]
    #: the records, in order: their events of this state are replayed onto the saved state if
    #: a later record fails part-way
    records: list[_AppliedRecord] = field(default_factory=list)
    #: where the newest of them came from: its partition is the state's changelog partition
    source: str = ""


class EventPipeline:
    """Decodes records, runs each scope's engine state and keeps that state in a table."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        topics: dict[str, str],
        past_horizon: timedelta | None,
        table: MutableMapping[str, bytes],
        stored: Callable[[], Mapping[str, bytes]] | None = None,
        exporter: PrometheusExporter,
        clock: Callable[[], datetime],
        lateness: timedelta,
    ) -> None:
        """``topics`` maps each wire topic name to its contract topic (they differ by a suffix).
        ``stored``: what reads go to instead of ``table`` (the same keys and values): a Faust
        table's store, since the table's own ``[]`` and ``get`` first test whether the key is
        there (for its default), which in RocksDB is a second read of the whole value."""
        self._catalogue = catalogue
        self._decoders = {
            wire: RecordDecoder(contract, past_horizon=past_horizon)
            for wire, contract in topics.items()
        }
        self._contract_topic = topics
        self._table = table
        self._stored = stored if stored is not None else lambda: table
        self._exporter = exporter
        self._clock = clock
        self._lateness = lateness
        self._states: dict[str, ScopeState] = {}
        self._indexes: dict[str, StateIndex] = {}
        self._unsaved: dict[str, _Unsaved] = {}
        #: bumped whenever cached states are dropped: a batch processed across a change must
        #: not be acked (its records come again from the committed offsets)
        self.generation = 0
        self.scopes_by_partition: dict[tuple[str, int], set[str]] = defaultdict(set)
        #: the exporter's updates of the batch being processed (None: between batches)
        self._tally: _Tally | None = None

    def process(self, topic: str, partition: int, offset: int, value: bytes) -> RecordOutcome:
        """The record's outputs; never raises for a record (a failure is dead-lettered)."""
        return self.process_batch([(topic, partition, offset, value)])[0]

    def process_batch(self, records: Iterable[tuple[str, int, int, bytes]]) -> list[RecordOutcome]:
        """Each ``(topic, partition, offset, value)`` as :meth:`process` does, in order; the
        exporter is updated once for the batch (:class:`_Tally`)."""
        tally = self._tally = _Tally()
        try:
            return [self._process_one(*record) for record in records]
        finally:
            self._tally = None
            tally.flush(self._exporter)

    def _process_one(self, topic: str, partition: int, offset: int, value: bytes) -> RecordOutcome:
        contract_topic = self._contract_topic[topic]
        outcome = RecordOutcome(source=_source(topic, partition), offset=offset)
        try:
            self._process(outcome, topic, contract_topic, partition, value)
        except Exception as error:
            # A bug or corrupt state must not stop the partition for good, nor be acked
            # silently: the record's coordinates go to the dead-letter topic with the reason,
            # the states it touched are reloaded from their last save (their in-memory copy may
            # be half-advanced), and the failure is counted and logged.
            log.exception(
                "record %s/%d@%d failed (%s); dead-lettered as %s",
                contract_topic, partition, offset, type(error).__name__, PROCESSING_FAILED,
            )  # fmt: skip
            for state_key in outcome.touched:
                self._put_back(state_key)
                self._follow_put_back(state_key)
            failed = RecordOutcome(source=outcome.source, offset=offset)
            failed.deadletters.append(
                {
                    "reason": PROCESSING_FAILED,
                    "topic": contract_topic,
                    "partition": partition,
                    "offset": offset,
                    "event_id": None,
                    "field": type(error).__name__,
                }
            )
            self._exporter.count_failed(contract_topic)
            assert self._tally is not None
            self._tally.rejected[(contract_topic, PROCESSING_FAILED)] += 1
            return failed
        return outcome

    def _process(
        self,
        outcome: RecordOutcome,
        topic: str,
        contract_topic: str,
        partition: int,
        value: bytes,
    ) -> None:
        tally = self._tally
        assert tally is not None, "records are processed through process_batch"
        now = self._clock()
        record = _AppliedRecord(topic=topic, value=value, now=now)
        decoded = self._decoders[topic].decode(value, now=now)
        for rejection in decoded.rejections:
            outcome.deadletters.append(
                rejection.to_deadletter(contract_topic, partition, outcome.offset)
            )
            tally.rejected[(contract_topic, rejection.reason)] += 1

        by_scope: dict[str, list[Event]]
        if len(decoded.events) == 1:  # a single-event record: nothing to group
            only = decoded.events[0]
            by_scope = {scope_key(only.trust_code, only.site_code): decoded.events}
        else:
            by_scope = defaultdict(list)
            for event in decoded.events:
                by_scope[scope_key(event.trust_code, event.site_code)].append(event)

        applied: list[str] = []
        partition_scopes = self.scopes_by_partition[(topic, partition)]
        for scope, events in by_scope.items():
            partition_scopes.add(scope)
            # One state per scope and topic, as in Engine: partitions of different topics are
            # consumed in no fixed order relative to each other.
            state_key = f"{scope}@{contract_topic}"
            state = self._state_for(state_key, events[0])
            if self._covered(state_key).get(outcome.source, -1) >= outcome.offset:
                tally.redelivered[contract_topic] += len(events)
                continue
            outcome.touched.append(state_key)
            if state_key not in tally.counters_from:
                tally.counters_from[state_key] = (contract_topic, state, state.counters)
            for event in events:
                for output in state.apply(event):
                    if isinstance(output, MetricPoint):
                        outcome.metrics[scope].append(output)
                    else:
                        outcome.updates[scope].append(output)
            for event in events:
                tally.events[(contract_topic, event_type_of(event))] += 1
            applied.append(state_key)
            newest = max(event.occurred_at for event in events)
            where = (contract_topic, events[0].trust_code, events[0].site_code)
            seen = tally.newest.get(where)
            if seen is None or newest > seen:
                tally.newest[where] = newest
            tally.now[contract_topic] = now
        # only once the whole record went through: a failure leaves no trace of it
        for state_key in applied:
            unsaved = self._unsaved.get(state_key)
            if unsaved is None:
                unsaved = self._unsaved[state_key] = _Unsaved(covered=self._covered(state_key))
            unsaved.records.append(record)
            unsaved.covered = {**unsaved.covered, outcome.source: outcome.offset}
            unsaved.source = outcome.source

    def _covered(self, state_key: str) -> dict[str, int]:
        """The offsets the state in memory covers, saved or not."""
        unsaved = self._unsaved.get(state_key)
        return unsaved.covered if unsaved is not None else self._index(state_key).covered

    def _follow_put_back(self, state_key: str) -> None:
        """The batch's counts of a put-back state go on from the rebuilt state (as the batch had
        it before the failed record, so the earlier records' counts stay and the failed
        record's are not made); with none rebuilt, no earlier record of the batch had advanced
        it."""
        tally = self._tally
        entry = tally.counters_from.get(state_key) if tally is not None else None
        if tally is None or entry is None:
            return
        rebuilt = self._states.get(state_key)
        if rebuilt is None:
            del tally.counters_from[state_key]
        else:
            tally.counters_from[state_key] = (entry[0], rebuilt, entry[2])

    def _put_back(self, state_key: str) -> None:
        """After a failure part-way through a record: the state as the batch had it before
        the record, from its last save and the events applied since (the engine is
        deterministic, so replaying them gives the same state; their outputs went already)."""
        self._states.pop(state_key, None)
        self._indexes.pop(state_key, None)
        unsaved = self._unsaved.get(state_key)
        if unsaved is None:
            return
        scope = state_key.rsplit("@", 1)[0]
        state: ScopeState | None = None
        for record in unsaved.records:
            decoded = self._decoders[record.topic].decode(record.value, now=record.now)
            for event in decoded.events:
                if scope_key(event.trust_code, event.site_code) == scope:
                    if state is None:
                        state = self._state_for(state_key, event)
                    state.apply(event)

    def save(
        self, *, writing_for: Callable[[str], AbstractContextManager[object]] | None = None
    ) -> int:
        """Write every state advanced since the last save, each once, covering the newest
        offset it applied. Call only once the outputs of those records are acknowledged by the
        broker. ``writing_for(source)`` is entered around the writes of the states last
        advanced by a record of ``source`` (``"<wire topic>/<partition>"``): Faust sends a
        table write to the changelog partition of the record being handled. Returns how many
        states were written."""
        by_source: dict[str, list[str]] = defaultdict(list)
        for state_key, unsaved in self._unsaved.items():
            by_source[unsaved.source].append(state_key)
        for source, state_keys in by_source.items():
            with writing_for(source) if writing_for is not None else nullcontext():
                for state_key in state_keys:
                    state = self._states.get(state_key)
                    if state is not None:
                        self._save(state_key, state, self._unsaved[state_key].covered)
                        state.release()
        saved = len(self._unsaved)
        self._unsaved.clear()
        return saved

    def forget_partition(self, topic: str, partition: int) -> set[str]:
        """Drop cached state of a partition this worker no longer owns; returns its scopes."""
        scopes = self.scopes_by_partition.pop((topic, partition), set())
        contract_topic = self._contract_topic.get(topic)
        for scope in scopes:
            self._states.pop(f"{scope}@{contract_topic}", None)
            self._indexes.pop(f"{scope}@{contract_topic}", None)
            self._unsaved.pop(f"{scope}@{contract_topic}", None)
        self.generation += 1
        return scopes

    def reload_states(self) -> None:
        """Forget every cached state: the next record of each reads it from the table."""
        self._states.clear()
        self._indexes.clear()
        self._unsaved.clear()
        self.generation += 1

    def _index(self, state_key: str) -> StateIndex:
        index = self._indexes.get(state_key)
        if index is None:
            blob = self._stored().get(state_key)
            decoded = _index_decoder.decode(blob) if blob is not None else StateIndex()
            if isinstance(decoded, list):  # the layout before slots: parts at "<state>/<part>"
                index = StateIndex(slots=dict.fromkeys(decoded, -1))
            else:
                index = decoded
            self._indexes[state_key] = index
        return index

    def _state_for(self, state_key: str, first: Event) -> ScopeState:
        """``state_key`` is the state's table key: the scope and the topic, ``RJ122@nhs...``."""
        state = self._states.get(state_key)
        if state is not None:
            return state
        scope_catalogue = self._catalogue.for_scope(first.trust_code, first.site_code)
        index = self._index(state_key)
        if not index.slots and not index.inline:
            state = ScopeState.new(
                first.trust_code, first.site_code, scope_catalogue, lateness=self._lateness
            )
        else:
            stored = self._stored()
            parts = {
                name: stored[_part_key(state_key, name, None if slot < 0 else slot)]
                for name, slot in index.slots.items()
            }
            parts.update(index.inline)
            state = ScopeState.restore(
                first.trust_code, first.site_code, scope_catalogue, parts, lateness=self._lateness
            )
        state.read_saved_from(functools.partial(self._read_part, state_key))
        self._states[state_key] = state
        return state

    def _read_part(self, state_key: str, name: str) -> bytes:
        """A part of a state as last saved: the slot its index names. A frozen part is never
        dirty, so no save writes that slot again until the part has been read back."""
        index = self._index(state_key)
        inline = index.inline.get(name)
        if inline is not None:
            return inline
        slot = index.slots[name]
        return self._stored()[_part_key(state_key, name, None if slot < 0 else slot)]

    def _save(self, state_key: str, state: ScopeState, covered: dict[str, int]) -> None:
        old = self._index(state_key)
        slots = dict(old.slots)
        inline = dict(old.inline)
        emptied: list[str] = []
        for name, blob in state.dirty_parts().items():
            current = slots.get(name)
            if not blob:  # an empty part: the engine closed every entry it held
                inline.pop(name, None)
                if current is not None:
                    del slots[name]
                    emptied.append(name)
            elif current is None and len(blob) <= INLINE_MAX_BYTES:
                inline[name] = blob
            else:
                inline.pop(name, None)
                # the slot the index does not point at; a legacy part (-1) moves to slot 0
                slot = 0 if current is None or current != 0 else 1
                self._table[_part_key(state_key, name, slot)] = blob
                slots[name] = slot
        index = StateIndex(slots=slots, covered=covered, inline=inline)
        self._table[state_key] = _encode(index)
        self._indexes[state_key] = index
        # only once the index no longer names them: a crash before this leaves dead slots
        for name in emptied:
            for stale in (None, 0, 1):
                key = _part_key(state_key, name, stale)
                if key in self._table:
                    del self._table[key]
