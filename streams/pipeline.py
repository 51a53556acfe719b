"""One input record's journey through the worker: decode and guard, engine, outputs.

Kept free of Faust so it can be unit-tested with a dict as the table: the agent hands in the
record and a mapping for scope state, and sends what comes back. State is written to the table
once per record and part (never per event): a table set costs a changelog send (~100 µs), so
per-event writes would cap the worker at a few thousand events a second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from models.catalogue import Catalogue
from models.decoding import RecordDecoder
from models.events import Event, event_type_of
from models.outputs import MetricPoint, OpportunityUpdate, scope_key
from sinks.prometheus import PrometheusExporter
from streams.engine import ScopeState

_index_codec = msgspec.msgpack.Decoder(list[str])
_encode = msgspec.msgpack.encode


@dataclass
class RecordOutcome:
    """What one record produced, grouped by the topic it goes to."""

    metrics: dict[str, list[MetricPoint]] = field(default_factory=lambda: defaultdict(list))
    updates: dict[str, list[OpportunityUpdate]] = field(default_factory=lambda: defaultdict(list))
    deadletters: list[dict[str, object]] = field(default_factory=list)


class EventPipeline:
    """Decodes records, runs each scope's engine state and keeps that state in a table."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        topics: dict[str, str],
        past_horizon: timedelta | None,
        table: MutableMapping[str, bytes],
        exporter: PrometheusExporter,
        clock: Callable[[], datetime],
        lateness: timedelta,
    ) -> None:
        """``topics`` maps each wire topic name to its contract topic (they differ by a suffix)."""
        self._catalogue = catalogue
        self._decoders = {
            wire: RecordDecoder(contract, past_horizon=past_horizon)
            for wire, contract in topics.items()
        }
        self._contract_topic = topics
        self._table = table
        self._exporter = exporter
        self._clock = clock
        self._lateness = lateness
        self._states: dict[str, ScopeState] = {}
        self.scopes_by_partition: dict[tuple[str, int], set[str]] = defaultdict(set)

    def process(self, topic: str, partition: int, offset: int, value: bytes) -> RecordOutcome:
        now = self._clock()
        contract_topic = self._contract_topic[topic]
        decoded = self._decoders[topic].decode(value, now=now)
        outcome = RecordOutcome()
        for rejection in decoded.rejections:
            outcome.deadletters.append(rejection.to_deadletter(contract_topic, partition, offset))
            self._exporter.count_rejected(contract_topic, rejection.reason, 1)

        by_scope: dict[str, list[Event]] = defaultdict(list)
        for event in decoded.events:
            by_scope[scope_key(event.trust_code, event.site_code)].append(event)

        for scope, events in by_scope.items():
            self.scopes_by_partition[(topic, partition)].add(scope)
            # One state per scope and topic, as in Engine: partitions of different topics are
            # consumed in no fixed order relative to each other.
            state = self._state_for(f"{scope}@{contract_topic}", events[0])
            before = (state.duplicate, state.late, state.after_close)
            for event in events:
                for output in state.apply(event):
                    if isinstance(output, MetricPoint):
                        outcome.metrics[scope].append(output)
                    else:
                        outcome.updates[scope].append(output)
                self._exporter.count_events(contract_topic, event_type_of(event), 1)
            self._exporter.count_duplicate(contract_topic, state.duplicate - before[0])
            self._exporter.count_late(contract_topic, state.late - before[1])
            self._exporter.count_after_close(contract_topic, state.after_close - before[2])
            newest = max(event.occurred_at for event in events)
            self._exporter.observe_event_time(
                contract_topic, events[0].trust_code, events[0].site_code, newest, now
            )
            self._save(f"{scope}@{contract_topic}", state)
        return outcome

    def forget_partition(self, topic: str, partition: int) -> set[str]:
        """Drop cached state of a partition this worker no longer owns; returns its scopes."""
        scopes = self.scopes_by_partition.pop((topic, partition), set())
        contract_topic = self._contract_topic.get(topic)
        for scope in scopes:
            self._states.pop(f"{scope}@{contract_topic}", None)
        return scopes

    def _state_for(self, scope: str, first: Event) -> ScopeState:
        """``scope`` here is the state's table key: the scope and the topic, ``RJ122@nhs...``."""
        state = self._states.get(scope)
        if state is not None:
            return state
        scope_catalogue = self._catalogue.for_scope(first.trust_code, first.site_code)
        index_blob = self._table.get(scope)
        if index_blob is None:
            state = ScopeState.new(
                first.trust_code, first.site_code, scope_catalogue, lateness=self._lateness
            )
        else:
            names = _index_codec.decode(index_blob)
            parts = {name: self._table[f"{scope}/{name}"] for name in names}
            state = ScopeState.restore(
                first.trust_code, first.site_code, scope_catalogue, parts, lateness=self._lateness
            )
        self._states[scope] = state
        return state

    def _save(self, scope: str, state: ScopeState) -> None:
        dirty = state.dirty_parts()
        if not dirty:
            return
        index_blob = self._table.get(scope)
        known = set(_index_codec.decode(index_blob)) if index_blob is not None else set()
        names = set(known)
        for name, blob in dirty.items():
            if blob:
                self._table[f"{scope}/{name}"] = blob
                names.add(name)
            elif name in names:  # an empty part: the engine closed every entry it held
                del self._table[f"{scope}/{name}"]
                names.discard(name)
        if names != known:
            self._table[scope] = _encode(sorted(names))
