"""``ScopeState``: everything the engine keeps about one scope: its watermark, duplicate ids and
counters, and one state object per domain it has seen (``streams.engine.domains``: each with its
own event-time clock, aggregator, data quality and kinds).

A scope is a site (every topic's events for it) or a trust (sitreps without a site). Evaluations
happen at event-time boundaries only:

- **hourly** for each event domain of a site, from its first event on: the boundary at T is
  evaluated from the events with ``occurred_at < T``, when an event at or after T arrives (or
  ``advance_to``);
- **per data date** for sitreps (``report_date``/``period_start``): see ``streams.engine.sitrep``;
  a date is evaluated when a later-dated sitrep arrives, when event time passes the date's end by
  ``SITREP_GRACE``, or at ``flush``.

Lateness: an event up to ``lateness`` behind the scope's watermark (the newest ``occurred_at``
applied) is accepted into state, but boundaries already evaluated are **not** re-evaluated or
re-emitted (outputs are never retracted; the late event counts from the next boundary on). Older
events are counted ``late``; those that change an entity's state (``LATE_APPLIED_EVENTS``: a late
discharge frees its bed, a late triage leaves the untriaged list), and clinic outcomes (recorded
when a clinic's list is closed, hours after the appointment), are still applied, the
others (counts of absences and changes) are dropped. A repeated ``event_id`` within the
dedupe horizon is counted ``duplicate`` and changes nothing; beyond it, the entity lifecycle
(``after_close``) keeps a resent closing event from counting twice.

Bed-flow kinds at a site are detected hourly from its bed-flow events; a site's own sitreps
(``site_code`` set) give metrics but never drive those kinds, so one (site, kind) has one
lifecycle. Trust-scope sitreps (no ``site_code``) drive them at the trust scope.

Persistence: ``dirty_parts`` returns small msgpack parts (see ``PART NAMES`` below); an empty
value means "this part was deleted".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

import msgspec

from models.catalogue import ScopeCatalogue
from models.events import (
    AbsenceReported,
    Admission,
    AdmissionCancelled,
    AeSitrep,
    AmbulanceHandover,
    AppointmentBooked,
    AppointmentOutcome,
    BedSitrep,
    DelayReasonsSitrep,
    Discharge,
    DischargeCancelled,
    DischargeDelay,
    DischargeSitrep,
    EdArrival,
    EdDecisionToAdmit,
    EdDeparture,
    Event,
    PathwayClosed,
    PathwayValidated,
    ReadyForDischarge,
    ReferralReceived,
    ReferralTriaged,
    RosterPublished,
    ShiftChanged,
    ShiftFilled,
    ShiftPlanned,
    ShiftUnfilled,
    Transfer,
    TransferCancelled,
    WardCapacity,
)
from models.outputs import MetricPoint, OpportunityUpdate
from streams.engine import sitrep
from streams.engine.bedflow import BedFlow
from streams.engine.dedupe import PREFIX as DEDUPE_PREFIX
from streams.engine.dedupe import Dedupe
from streams.engine.domains import (
    DETECTOR_PREFIX,
    EVENT_DOMAINS,
    FORECAST_PREFIX,
    SITREP_DOMAINS,
    EventDomain,
    Kinds,
    SitrepDomain,
    domain_of_head,
)
from streams.engine.emission import PREFIX as EMITTED_PREFIX
from streams.engine.evidence import ScopeIds
from streams.engine.lifecycle import KindState
from streams.engine.quality import AMBULANCE_ARRIVALS, PROFILE_PART
from streams.engine.sitrep import SitrepAgg
from streams.engine.timekeys import DAY, HOUR, day_of_date

Output = MetricPoint | OpportunityUpdate

DEFAULT_LATENESS: Final = timedelta(hours=2)
#: event types applied even when later than the lateness allowance: those that move an entity
#: (spell, shift, pathway) through its lifecycle, since its state is wrong until they are, and
#: clinic outcomes. A PAS records an outcome when the clinic's list is closed (end of session,
#: or the next morning's batch): hours after the appointment, and behind the referrals feed's
#: newest event, so dropping late ones would drop most of them and the DNA rate with them. An
#: outcome counts in its own day, in the 28-day windows still to be evaluated (a day already
#: past the window is purged at the next sweep), and marks its referral past triage.
LATE_APPLIED_EVENTS: Final[frozenset[type]] = frozenset(
    {
        AppointmentBooked,
        AppointmentOutcome,
        Admission,
        Transfer,
        ReadyForDischarge,
        DischargeDelay,
        Discharge,
        AdmissionCancelled,
        TransferCancelled,
        DischargeCancelled,
        ShiftPlanned,
        ShiftFilled,
        ShiftUnfilled,
        ShiftChanged,
        ReferralReceived,
        ReferralTriaged,
        PathwayValidated,
        PathwayClosed,
        EdArrival,
        AmbulanceHandover,
        EdDecisionToAdmit,
        EdDeparture,
    }
)
#: a sitrep date with no later-dated sitrep is evaluated once event time is this far past its end
SITREP_GRACE: Final = 7 * DAY
CORE: Final = "core"

# PART NAMES: core | bedflow | rostering | referrals | ed (a domain's head: clock, data quality,
#             aggregates) | quality_profile/<domain> | sitrep | detector/<kind> |
#             forecast/bed_flow (occupancy forecasts) | emitted/<domain> (last emitted points) |
#             spells/NNN (32) | shifts/NNN (32) | pathways/NNN (256) | attendances/NNN (32) |
#             dedupe/<hour> (an hour's ids; past 512 of them split for good into
#             dedupe/<hour>/<n>, 16); a count other than a map's first is named: shifts/256/NNN
#             (``streams.engine.shards``: a part's name says its layout; another is re-sharded)

#: event type -> (domain, the aggregator's handler method)
HANDLERS: Final[dict[type, tuple[str, str]]] = {
    Admission: ("bed_flow", "admission"),
    Transfer: ("bed_flow", "transfer"),
    ReadyForDischarge: ("bed_flow", "ready"),
    DischargeDelay: ("bed_flow", "delay"),
    Discharge: ("bed_flow", "discharge"),
    WardCapacity: ("bed_flow", "capacity"),
    AdmissionCancelled: ("bed_flow", "admission_cancelled"),
    TransferCancelled: ("bed_flow", "transfer_cancelled"),
    DischargeCancelled: ("bed_flow", "discharge_cancelled"),
    RosterPublished: ("rostering", "roster"),
    ShiftPlanned: ("rostering", "planned"),
    ShiftFilled: ("rostering", "filled"),
    ShiftUnfilled: ("rostering", "unfilled"),
    ShiftChanged: ("rostering", "changed"),
    AbsenceReported: ("rostering", "absence"),
    ReferralReceived: ("referrals", "received"),
    ReferralTriaged: ("referrals", "triaged"),
    AppointmentBooked: ("referrals", "booked"),
    AppointmentOutcome: ("referrals", "outcome"),
    PathwayValidated: ("referrals", "validated"),
    PathwayClosed: ("referrals", "closed"),
    EdArrival: ("ed", "arrival"),
    AmbulanceHandover: ("ed", "handover"),
    EdDecisionToAdmit: ("ed", "decision"),
    EdDeparture: ("ed", "departure"),
}
#: a sharded entity map's part prefix -> its domain
_ENTITY_PREFIXES: Final = {
    "spells/": "bed_flow",
    "shifts/": "rostering",
    "pathways/": "referrals",
    "attendances/": "ed",
}
COUNTERS: Final = (
    "accepted",
    "duplicate",
    "late",
    "after_close",
    "expired",
    "occupancy_clamped",
    "unplanned_shift_events",
    "implausible_handovers",
)


class Core(msgspec.Struct, kw_only=True):
    watermark: float | None = None
    accepted: int = 0
    duplicate: int = 0
    late: int = 0


class ScopeState:
    """One scope's state; see the module docstring for the event-time rules."""

    def __init__(
        self,
        trust_code: str,
        site_code: str | None,
        catalogue: ScopeCatalogue,
        lateness: timedelta = DEFAULT_LATENESS,
        dedupe_horizon: timedelta | None = None,
    ) -> None:
        self.trust_code = trust_code
        self.site_code = site_code
        self.catalogue = catalogue
        self._lateness = lateness.total_seconds()
        horizon = lateness + timedelta(hours=1) if dedupe_horizon is None else dedupe_horizon
        self._horizon = max(horizon.total_seconds(), self._lateness)
        self._ids = ScopeIds(trust_code, site_code, catalogue.version)
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()
        self.core = Core()
        self.dedupe = Dedupe(self._dirty, self._deleted)
        # built on a domain's first event (a state reading one topic holds one domain)
        self.domains: dict[str, EventDomain] = {}
        self._sitrep: SitrepDomain | None = None
        self._encoder = msgspec.msgpack.Encoder()
        # event type -> (its domain, the bound handler, the event type's tag); filled as seen
        self._bound: dict[type, tuple[EventDomain, Any, str]] = {}
        self._read_saved: Callable[[str], bytes] | None = None
        # each detector part's bytes as last saved: most hours leave a kind's state as it was,
        # and a part that did not change is not saved again (a table write is a changelog send,
        # and at the top of an hour every scope evaluates every kind at once)
        self._detectors_saved: dict[str, bytes] = {}

    @classmethod
    def new(
        cls,
        trust_code: str,
        site_code: str | None,
        catalogue: ScopeCatalogue,
        *,
        lateness: timedelta = DEFAULT_LATENESS,
        dedupe_horizon: timedelta | None = None,
    ) -> ScopeState:
        return cls(trust_code, site_code, catalogue, lateness, dedupe_horizon)

    # --- domains

    def domain(self, name: str) -> EventDomain:
        """The event domain ``name`` of this scope, built empty on first use."""
        domain = self.domains.get(name)
        if domain is None:
            domain = EventDomain(name, self.catalogue, self._ids, self._dirty)
            domain.entities.read_saved = self._read_saved
            self.domains[name] = domain
            # kept in EVENT_DOMAINS order: evaluation and output order never depend on arrival
            self.domains = {key: self.domains[key] for key in EVENT_DOMAINS if key in self.domains}
        return domain

    @property
    def sitrep_domain(self) -> SitrepDomain:
        if self._sitrep is None:
            # One lifecycle per (scope, kind): at a site the bed-flow kinds are its events'. The
            # event and sitrep states read different topics in no fixed order, so a hand-over
            # "once the event feed is ok" could not decide the same way live and in a replay.
            self._sitrep = SitrepDomain(
                self.catalogue, self._ids, self._dirty, drives_kinds=self.site_code is None
            )
        return self._sitrep

    @property
    def bedflow(self) -> Any:
        return self.domain("bed_flow").flow

    @property
    def rostering(self) -> Any:
        return self.domain("rostering").flow

    @property
    def referrals(self) -> Any:
        return self.domain("referrals").flow

    @property
    def ed(self) -> Any:
        return self.domain("ed").flow

    @property
    def sitrep(self) -> sitrep.Sitrep:
        return self.sitrep_domain.sitrep

    def _all_kinds(self) -> list[Kinds]:
        kinds = [domain.kinds for domain in self.domains.values()]
        if self._sitrep is not None:
            kinds.append(self._sitrep.kinds)
        return kinds

    def _kind_owner(self, kind: str) -> Kinds | None:
        spec = self.catalogue.kinds.get(kind)
        if spec is None:
            return None  # a kind dropped from the catalogue is forgotten
        if self.site_code is None:
            return self.sitrep_domain.kinds if spec.domain in SITREP_DOMAINS else None
        return self.domain(spec.domain).kinds

    # --- counters

    @property
    def accepted(self) -> int:
        return self.core.accepted

    @property
    def duplicate(self) -> int:
        return self.core.duplicate

    @property
    def late(self) -> int:
        return self.core.late

    @property
    def after_close(self) -> int:
        """Events for an entity already closed in event time (they changed no count), summed
        from the flows' aggregates."""
        return sum(domain.flow.agg.after_close for domain in self.domains.values())

    @property
    def counters(self) -> dict[str, int]:
        core = self.core
        out = dict.fromkeys(COUNTERS, 0)
        out.update(accepted=core.accepted, duplicate=core.duplicate, late=core.late)
        for domain in self.domains.values():
            for name, value in domain.flow.counters.items():
                out[name] += value
        return out

    # --- the event path

    def _handler(self, cls: type) -> tuple[EventDomain, Any, str] | None:
        bound = self._bound.get(cls)
        if bound is None:
            entry = HANDLERS.get(cls)
            if entry is None:
                return None
            domain = self.domain(entry[0])
            tag = str(cls.__struct_config__.tag)  # type: ignore[attr-defined]
            bound = self._bound[cls] = (domain, getattr(domain.flow, entry[1]), tag)
        return bound

    def apply(self, event: Event) -> list[Output]:
        """Advance to the event's time (evaluating every boundary passed, in order), apply it."""
        core = self.core
        ts = event.occurred_at.timestamp()
        hour = int(ts // HOUR)
        self._dirty.add(CORE)
        key = self.dedupe.key(event.event_id, hour)
        if self.dedupe.seen(event.event_id, key):
            core.duplicate += 1
            return []
        watermark = core.watermark
        if watermark is not None and ts < watermark - self._lateness:
            # A late event is remembered under the watermark's hour, not its own: its own is
            # past the dedupe horizon, purged at the next advance, and a backlog of late events
            # over months of hours (bookings of a back-dated waiting list) made a part per hour,
            # every one of them in the state's index (a 1 MB changelog record stopped the
            # worker). Under the watermark's hour a redelivery within the horizon is ignored.
            late_key = self.dedupe.key(event.event_id, int(watermark // HOUR))
            if self.dedupe.seen(event.event_id, late_key):
                core.duplicate += 1
                return []
            core.late += 1
            bound = self._handler(type(event))
            if bound is not None:
                # a feed gap's backlog arriving after the feed resumed
                bound[0].quality.late(hour)
                if type(event) in LATE_APPLIED_EVENTS:
                    # No evaluated hour changes; the entity's state does (a late discharge frees
                    # its bed).
                    self.dedupe.add(event.event_id, late_key)
                    flow = bound[0].flow
                    if isinstance(flow, BedFlow):
                        # the occupancy snapshots since it happened take it too
                        before = flow.site_counts()
                        bound[1](event, ts, hour)
                        flow.correct_snapshots(since_hour=hour, before=before)
                    else:
                        bound[1](event, ts, hour)
            return []
        out: list[Output] = []
        if watermark is None or ts > watermark:
            out = self._advance(ts)
            self._move_watermark(ts)
        self.dedupe.add(event.event_id, key)
        core.accepted += 1
        bound = self._handler(type(event))
        if bound is not None:
            domain, handler, tag = bound
            domain.started(hour)
            handler(event, ts, hour)
            domain.quality.seen(tag, hour)
            if type(event) is EdArrival and event.arrival_mode == "ambulance":
                domain.quality.count(AMBULANCE_ARRIVALS, hour)
        else:
            out.extend(self._apply_sitrep(event))
        return out

    def _apply_sitrep(self, event: Event) -> list[Output]:
        if isinstance(event, DischargeSitrep):
            day = event.report_date
        elif isinstance(event, BedSitrep | DelayReasonsSitrep | AeSitrep):
            day = event.period_start
        else:  # pragma: no cover - every non-sitrep type has a handler
            raise TypeError(f"no handler for {type(event).__name__}")
        domain = self.sitrep_domain
        out: list[Output] = []
        # Every pending date before this one is complete: evaluate it before this data lands.
        for pending in domain.sitrep.days_before(day_of_date(day)):
            out.extend(domain.evaluate(pending))
        if isinstance(event, DischargeSitrep):
            domain.sitrep.discharge(event)
        elif isinstance(event, BedSitrep):
            domain.sitrep.beds(event)
        elif isinstance(event, AeSitrep):
            domain.sitrep.ae(event)
        else:
            domain.sitrep.delays(event)
        return out

    def _move_watermark(self, ts: float) -> None:
        old = self.core.watermark
        self.core.watermark = ts
        if old is None or int(ts // HOUR) > int(old // HOUR):
            # Tied to the persisted watermark, so a restored state purges exactly the same buckets.
            self.dedupe.purge(int((ts - self._horizon) // HOUR))

    def advance_to(self, t: datetime) -> list[Output]:
        """Evaluate the boundaries up to ``t`` without an event; the watermark moves to ``t``."""
        ts = t.timestamp()
        if self.core.watermark is not None and ts <= self.core.watermark:
            return []
        out = self._advance(ts)
        self._dirty.add(CORE)
        self._move_watermark(ts)
        return out

    def _advance(self, ts: float) -> list[Output]:
        out: list[Output] = []
        for domain in self.domains.values():
            out.extend(domain.advance(ts))
        if self._sitrep is not None and self._sitrep.sitrep.agg.pending:
            for day in sorted(self._sitrep.sitrep.agg.pending):
                if (day + 1) * DAY + SITREP_GRACE <= ts:
                    out.extend(self._sitrep.evaluate(day))
        return out

    def flush(self, until: datetime | None = None) -> list[Output]:
        """End of input: evaluate the remaining boundaries, then emit each metric's held value at
        its domain's last boundary (``streams.engine.emission``) and current open snapshots.

        Without ``until``: the hour boundary closing the hour of the last event, and every
        pending sitrep date — never beyond the data (no wall clock). With ``until``: the hour
        boundaries up to it and the pending sitrep dates on or before it.
        """
        core = self.core
        out: list[Output] = []
        if until is None:
            if core.watermark is not None:
                last = (int(core.watermark // HOUR) + 1) * HOUR
                for domain in self.domains.values():
                    out.extend(domain.advance(last))
            if self._sitrep is not None:
                for day in sorted(self._sitrep.sitrep.agg.pending):
                    out.extend(self._sitrep.evaluate(day))
        else:
            limit = until.timestamp()
            for domain in self.domains.values():
                out.extend(domain.advance(limit))
            if self._sitrep is not None:
                for day in sorted(self._sitrep.sitrep.agg.pending):
                    if day * DAY <= limit:
                        out.extend(self._sitrep.evaluate(day))
        self._dirty.add(CORE)
        for domain in self.domains.values():
            out.extend(domain.closing_points())
        for kinds in self._all_kinds():
            out.extend(kinds.open_snapshots(self._dirty))
        return out

    # --- persistence

    def dirty_parts(self) -> dict[str, bytes]:
        """The parts changed since the last call (msgpack; ``b""`` = deleted); marks them clean.
        A detector part evaluated again into the bytes it was last saved as is left out."""
        parts: dict[str, bytes] = {}
        heads = {domain.part: domain for domain in self.domains.values()}
        for name in sorted(self._dirty):
            if name == CORE:
                parts[name] = self._encoder.encode(self.core)
            elif name in heads:
                parts[name] = heads[name].encode_head(self._encoder)
            elif name == sitrep.PART:
                parts[name] = self._encoder.encode(self.sitrep_domain.sitrep.agg)
            elif name.startswith(DETECTOR_PREFIX):
                kind = name[len(DETECTOR_PREFIX) :]
                owner = self._kind_owner(kind)
                assert owner is not None
                blob = self._encoder.encode(owner.states[kind])
                if self._detectors_saved.get(name) != blob:
                    parts[name] = self._detectors_saved[name] = blob
            elif name.startswith(DEDUPE_PREFIX):
                parts[name] = self.dedupe.encode(name, self._encoder)
            elif name.startswith(PROFILE_PART + "/"):
                domain = self.domain(name.split("/", 1)[1])
                parts[name] = self._encoder.encode(domain.quality.profile)
            elif name.startswith(FORECAST_PREFIX):
                parts[name] = self.domain(name.split("/", 1)[1]).encode_forecast(self._encoder)
            elif name.startswith(EMITTED_PREFIX):
                parts[name] = self.domain(name.split("/", 1)[1]).emission.encode(self._encoder)
            else:
                domain = self.domain(_ENTITY_PREFIXES[name.split("/", 1)[0] + "/"])
                parts[name] = domain.entities.encode(name, self._encoder)
        for name in self._deleted:
            parts[name] = b""
        self._dirty.clear()
        self._deleted.clear()
        return parts

    def read_saved_from(self, read: Callable[[str], bytes]) -> None:
        """``read(part)``: the part's bytes as the last ``dirty_parts`` gave them, from where
        they were saved. Then ``release`` drops a frozen entity shard's bytes too, and its next
        touch reads them back (a worker's memory holds what its batches touch, not every
        pathway of every site)."""
        self._read_saved = read
        for domain in self.domains.values():
            domain.entities.read_saved = read

    def release(self) -> int:
        """Hold what the last ``dirty_parts`` saved of the entity maps and the dedupe buckets
        as those bytes only, until an event touches it again (memory, not behaviour); the
        number of shards and buckets frozen."""
        frozen = sum(domain.entities.release() for domain in self.domains.values())
        return frozen + self.dedupe.release()

    @classmethod
    def restore(
        cls,
        trust_code: str,
        site_code: str | None,
        catalogue: ScopeCatalogue,
        parts: dict[str, bytes],
        *,
        lateness: timedelta = DEFAULT_LATENESS,
        dedupe_horizon: timedelta | None = None,
    ) -> ScopeState:
        """A state equal to the one whose ``dirty_parts`` produced ``parts`` (latest of each)."""
        state = cls(trust_code, site_code, catalogue, lateness, dedupe_horizon)
        for name, data in parts.items():
            if not data:
                continue
            head = domain_of_head(name)
            if name == CORE:
                state.core = msgspec.msgpack.decode(data, type=Core)
            elif head is not None:
                state.domain(head).decode_head(data)
            elif name == sitrep.PART:
                state.sitrep_domain.sitrep.agg = msgspec.msgpack.decode(data, type=SitrepAgg)
            elif name.startswith(DETECTOR_PREFIX):
                kind = name[len(DETECTOR_PREFIX) :]
                owner = state._kind_owner(kind)
                if owner is not None:
                    owner.states[kind] = msgspec.msgpack.decode(data, type=KindState)
                    state._detectors_saved[name] = data
            elif name.startswith(DEDUPE_PREFIX):
                state.dedupe.decode(name, data)
            elif name.startswith(PROFILE_PART + "/"):
                state.domain(name.split("/", 1)[1]).decode_profile(data)
            elif name.startswith(FORECAST_PREFIX):
                state.domain(name.split("/", 1)[1]).decode_forecast(data)
            elif name.startswith(EMITTED_PREFIX):
                state.domain(name.split("/", 1)[1]).emission.decode(data)
            else:
                prefix = name.split("/", 1)[0] + "/"
                if prefix not in _ENTITY_PREFIXES:
                    raise ValueError(f"unknown state part {name!r}")
                state.domain(_ENTITY_PREFIXES[prefix]).entities.decode(name, data)
        state._dirty.clear()
        state._deleted.clear()
        for domain in state.domains.values():
            state._deleted.update(domain.entities.reshard())
        return state
