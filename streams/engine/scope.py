"""``ScopeState``: everything the engine keeps about one scope, and its event-time clock.

A scope is a site (every topic's events for it) or a trust (sitreps without a site). Evaluations
happen at event-time boundaries only:

- **hourly** at a site, from its first non-sitrep event on: the boundary at T is evaluated from
  the events with ``occurred_at < T``, when an event at or after T arrives (or ``advance_to``);
- **per data date** for sitreps (``report_date``/``period_start``): see ``streams.engine.sitrep``;
  a date is evaluated when a later-dated sitrep arrives, when event time passes the date's end by
  ``SITREP_GRACE``, or at ``flush``.

Lateness: an event up to ``lateness`` behind the scope's watermark (the newest ``occurred_at``
applied) is accepted into state, but boundaries already evaluated are **not** re-evaluated or
re-emitted (outputs are never retracted; the late event counts from the next boundary on). Older
events are counted ``late``; those that change an entity's state (``ENTITY_EVENTS``: a late
discharge frees its bed, a late triage leaves the untriaged list) are still applied to it, the
others (counts of outcomes, absences, changes) are dropped. A repeated ``event_id`` within the
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
    AppointmentBooked,
    AppointmentOutcome,
    BedSitrep,
    DelayReasonsSitrep,
    Discharge,
    DischargeDelay,
    DischargeSitrep,
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
    WardCapacity,
)
from models.outputs import MetricPoint, OpportunityUpdate
from streams.engine import bedflow, referrals, rostering, sitrep
from streams.engine.bedflow import BedFlow, BedFlowAgg
from streams.engine.dedupe import PREFIX as DEDUPE_PREFIX
from streams.engine.dedupe import Dedupe
from streams.engine.detectors import KindState, Mode, PastCache, ScopeIds, evaluate_kind
from streams.engine.quality import CODES, PROFILE_PART, DataQuality, Profile, Quality
from streams.engine.quality import PART as QUALITY_PREFIX
from streams.engine.readings import Reading
from streams.engine.referrals import Referrals, ReferralsAgg
from streams.engine.rostering import Rostering, RosteringAgg
from streams.engine.sitrep import METRIC_SOURCES, Sitrep, SitrepAgg
from streams.engine.timekeys import DAY, HOUR, at, day_of_date

Output = MetricPoint | OpportunityUpdate

DEFAULT_LATENESS: Final = timedelta(hours=2)
#: event types that move an entity (spell, shift, pathway) through its lifecycle: applied even when
#: later than the lateness allowance, since the entity's state is wrong until they are
ENTITY_EVENTS: Final[frozenset[type]] = frozenset(
    {
        Admission,
        Transfer,
        ReadyForDischarge,
        DischargeDelay,
        Discharge,
        ShiftPlanned,
        ShiftFilled,
        ShiftUnfilled,
        ShiftChanged,
        ReferralReceived,
        ReferralTriaged,
        PathwayValidated,
        PathwayClosed,
    }
)
#: a sitrep date with no later-dated sitrep is evaluated once event time is this far past its end
SITREP_GRACE: Final = 7 * DAY
CORE: Final = "core"
DETECTOR_PREFIX: Final = "detector/"
CAPACITY: Final = "capacity_forecasting"

# PART NAMES: core | bedflow | rostering | referrals | sitrep | detector/<kind> |
#             quality/<domain> | quality_profile/<domain> |
#             spells/NNN (32) | shifts/NNN (32) | pathways/NNN (256) | dedupe/<hour>/<n> (16)
EVENT_DOMAINS: Final = ("bed_flow", "rostering", "referrals")


class Core(msgspec.Struct, kw_only=True):
    watermark: float | None = None
    next_hour: int | None = None
    accepted: int = 0
    duplicate: int = 0
    late: int = 0


Handler = Callable[[Any, float, int], None]
BEDFLOW_EVENTS: Final = (
    Admission,
    Transfer,
    ReadyForDischarge,
    DischargeDelay,
    Discharge,
    WardCapacity,
)
ROSTERING_EVENTS: Final = (
    RosterPublished,
    ShiftPlanned,
    ShiftFilled,
    ShiftUnfilled,
    ShiftChanged,
    AbsenceReported,
)


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
        self.bedflow = BedFlow(self._dirty)
        self.rostering = Rostering(self._dirty)
        self.referrals = Referrals(self._dirty)
        self.sitrep = Sitrep(self._dirty)
        self.quality = {domain: DataQuality(domain, self._dirty) for domain in EVENT_DOMAINS}
        self.kinds: dict[str, KindState] = {kind: KindState() for kind in catalogue.kinds}
        # derived from ``kinds`` (never persisted): see ``detectors.PastCache``
        self._past: dict[str, PastCache] = {kind: PastCache() for kind in catalogue.kinds}
        # capacity first: its status raises the severity of the other bed-flow kinds
        self._kind_order = sorted(catalogue.kinds, key=lambda kind: kind != CAPACITY)
        self._encoder = msgspec.msgpack.Encoder()
        # part name -> (domain, True for the profile)
        self._quality_parts: dict[str, tuple[str, bool]] = {}
        for domain, dq in self.quality.items():
            self._quality_parts[dq.part] = (domain, False)
            self._quality_parts[dq.profile_part] = (domain, True)
        self._domain_of: dict[type, DataQuality] = {}
        self._tags: dict[type, str] = {}
        self._handlers: dict[type, Handler] = {
            Admission: self.bedflow.admission,
            Transfer: self.bedflow.transfer,
            ReadyForDischarge: self.bedflow.ready,
            DischargeDelay: self.bedflow.delay,
            Discharge: self.bedflow.discharge,
            WardCapacity: self.bedflow.capacity,
            RosterPublished: self.rostering.roster,
            ShiftPlanned: self.rostering.planned,
            ShiftFilled: self.rostering.filled,
            ShiftUnfilled: self.rostering.unfilled,
            ShiftChanged: self.rostering.changed,
            AbsenceReported: self.rostering.absence,
            ReferralReceived: self.referrals.received,
            ReferralTriaged: self.referrals.triaged,
            AppointmentBooked: self.referrals.booked,
            AppointmentOutcome: self.referrals.outcome,
            PathwayValidated: self.referrals.validated,
            PathwayClosed: self.referrals.closed,
        }
        for cls in self._handlers:
            domain = (
                "bed_flow"
                if cls in BEDFLOW_EVENTS
                else "rostering"
                if cls in ROSTERING_EVENTS
                else "referrals"
            )
            self._domain_of[cls] = self.quality[domain]
            self._tags[cls] = str(cls.__struct_config__.tag)  # type: ignore[attr-defined]

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
        """Events for an entity already closed in event time (they changed no count)."""
        return self.counters["after_close"]

    @property
    def counters(self) -> dict[str, int]:
        core = self.core
        out = {
            "accepted": core.accepted,
            "duplicate": core.duplicate,
            "late": core.late,
            "after_close": 0,
            "expired": 0,
            "occupancy_clamped": 0,
        }
        for domain in (self.bedflow, self.rostering, self.referrals):
            for name, value in domain.counters.items():
                out[name] += value
        return out

    # --- the event path

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
            core.late += 1
            late_handler = self._handlers.get(type(event))
            if late_handler is not None and type(event) in ENTITY_EVENTS:
                # No evaluated hour changes; the entity's state does (a late discharge frees
                # its bed). Remembered as seen, so a redelivery within the horizon is ignored.
                self.dedupe.add(event.event_id, key)
                late_handler(event, ts, hour)
            return []
        out: list[Output] = []
        if watermark is None or ts > watermark:
            out = self._advance(ts)
            self._move_watermark(ts)
        self.dedupe.add(event.event_id, key)
        core.accepted += 1
        handler = self._handlers.get(type(event))
        if handler is not None:
            if core.next_hour is None:
                core.next_hour = hour + 1
            handler(event, ts, hour)
            self._domain_of[type(event)].seen(self._tags[type(event)], hour)
        else:
            out.extend(self._apply_sitrep(event))
        return out

    def _apply_sitrep(self, event: Event) -> list[Output]:
        if isinstance(event, DischargeSitrep):
            day = event.report_date
        elif isinstance(event, BedSitrep | DelayReasonsSitrep):
            day = event.period_start
        else:  # pragma: no cover - every non-sitrep type has a handler
            raise TypeError(f"no handler for {type(event).__name__}")
        out: list[Output] = []
        # Every pending date before this one is complete: evaluate it before this data lands.
        for pending in self.sitrep.days_before(day_of_date(day)):
            out.extend(self._evaluate_sitrep(pending))
        if isinstance(event, DischargeSitrep):
            self.sitrep.discharge(event)
        elif isinstance(event, BedSitrep):
            self.sitrep.beds(event)
        else:
            self.sitrep.delays(event)
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
        core = self.core
        out: list[Output] = []
        if core.next_hour is not None:
            while core.next_hour * HOUR <= ts:
                out.extend(self._evaluate_hour(core.next_hour))
                core.next_hour += 1
        if self.sitrep.agg.pending:
            for day in sorted(self.sitrep.agg.pending):
                if (day + 1) * DAY + SITREP_GRACE <= ts:
                    out.extend(self._evaluate_sitrep(day))
        return out

    def flush(self, until: datetime | None = None) -> list[Output]:
        """End of input: evaluate the remaining boundaries, then emit current open snapshots.

        Without ``until``: the hour boundary closing the hour of the last event, and every
        pending sitrep date — never beyond the data (no wall clock). With ``until``: the hour
        boundaries up to it and the pending sitrep dates on or before it.
        """
        core = self.core
        out: list[Output] = []
        if until is None:
            if core.next_hour is not None and core.watermark is not None:
                last = int(core.watermark // HOUR) + 1
                while core.next_hour <= last:
                    out.extend(self._evaluate_hour(core.next_hour))
                    core.next_hour += 1
            for day in sorted(self.sitrep.agg.pending):
                out.extend(self._evaluate_sitrep(day))
        else:
            limit = until.timestamp()
            if core.next_hour is not None:
                while core.next_hour * HOUR <= limit:
                    out.extend(self._evaluate_hour(core.next_hour))
                    core.next_hour += 1
            for day in sorted(self.sitrep.agg.pending):
                if day * DAY <= limit:
                    out.extend(self._evaluate_sitrep(day))
        self._dirty.add(CORE)
        for kind in self._kind_order:
            state = self.kinds[kind]
            if state.status is not None and state.latest is not None and not state.latest_emitted:
                out.append(OpportunityUpdate(opportunity=state.latest))
                state.latest_emitted = True
                state.last_snapshot_at = state.latest.last_evaluated_at.timestamp()
                self._dirty.add(DETECTOR_PREFIX + kind)
        return out

    # --- evaluation

    def _points(self, readings: dict[str, Reading], when: datetime) -> list[Output]:
        return [
            MetricPoint(
                trust_code=self.trust_code,
                site_code=self.site_code,
                metric=name,
                evaluated_at=when,
                value=float(readings[name].value),
                sample_size=int(readings[name].sample),
            )
            for name in sorted(readings)
        ]

    def _evaluate_hour(self, hour: int) -> list[Output]:
        ts = hour * HOUR
        when = at(ts)
        readings: dict[str, Reading] = {}
        quality: dict[str, dict[str, Any] | None] = {}
        for name, domain in (
            ("bed_flow", self.bedflow),
            ("rostering", self.rostering),
            ("referrals", self.referrals),
        ):
            if not domain.agg.seen:
                continue
            dq = self.quality[name]
            moved = dq.evaluate(hour)
            if moved.confirm_before is not None:
                # A recovery ended: what was last heard of before the gap may be what it lost.
                domain.confirm_after_gap(moved.confirm_before)
            readings.update(domain.evaluate(hour))
            readings[f"data_quality_{name}"] = Reading(CODES[moved.status], 0)
            quality[name] = None if dq.ok else dq.evidence()
        out = self._points(readings, when)
        modes: dict[str, Mode] = {
            kind: "hourly"
            for kind in self._kind_order
            if self.catalogue.kinds[kind].domain in quality
        }
        out.extend(self._detect(readings, ts, when, modes, quality))
        if hour % 24 == 0:
            for domain in (self.bedflow, self.rostering, self.referrals):
                if domain.agg.seen:
                    domain.maintain(hour)
        return out

    def _evaluate_sitrep(self, day: int) -> list[Output]:
        sources = self.sitrep.take(day)
        ts = day * DAY
        when = at(ts)
        readings = self.sitrep.evaluate(day, sources)
        out = self._points(readings, when)
        modes: dict[str, Mode] = {}
        # One lifecycle per (scope, kind). At a site, the bed-flow kinds are the event feed's:
        # its states are another topic's, read in no fixed order relative to this one, so a
        # hand-over "once the event feed is ok" could not decide the same way live and in a
        # replay. A site's own sitreps give metrics only; trust-scope sitreps drive the kinds.
        if self.site_code is None and not self.bedflow.agg.seen:
            for kind in self._kind_order:
                spec = self.catalogue.kinds[kind]
                if spec.domain != "bed_flow":
                    continue
                updated = {
                    source
                    for metric in spec.metrics(sitrep=True)
                    for source in METRIC_SOURCES.get(metric, ())
                    if source in sources
                }
                if updated:
                    daily = any(sources[source] for source in updated)
                    modes[kind] = "daily" if daily else "periodic"
        out.extend(self._detect(readings, ts, when, modes))
        return out

    def _detect(
        self,
        readings: dict[str, Reading],
        ts: float,
        when: datetime,
        modes: dict[str, Mode],
        quality: dict[str, dict[str, Any] | None] | None = None,
    ) -> list[Output]:
        out: list[Output] = []
        lifecycle = self.catalogue.lifecycle
        for kind in self._kind_order:
            mode = modes.get(kind)
            if mode is None:
                continue
            capacity = self.kinds.get(CAPACITY)
            capacity_active = capacity is not None and capacity.status == "active"
            spec = self.catalogue.kinds[kind]
            out.extend(
                evaluate_kind(
                    spec,
                    lc=lifecycle,
                    state=self.kinds[kind],
                    readings=readings,
                    ts=ts,
                    at=when,
                    mode=mode,
                    capacity_active=capacity_active,
                    ids=self._ids,
                    cache=self._past[kind],
                    quality=None if quality is None else quality.get(spec.domain),
                )
            )
            self._dirty.add(DETECTOR_PREFIX + kind)
        return out

    # --- persistence

    def _aggregates(self) -> dict[str, tuple[Any, type]]:
        return {
            CORE: (self.core, Core),
            bedflow.PART: (self.bedflow.agg, BedFlowAgg),
            rostering.PART: (self.rostering.agg, RosteringAgg),
            referrals.PART: (self.referrals.agg, ReferralsAgg),
            sitrep.PART: (self.sitrep.agg, SitrepAgg),
        }

    def dirty_parts(self) -> dict[str, bytes]:
        """The parts changed since the last call (msgpack; ``b""`` = deleted); marks them clean."""
        parts: dict[str, bytes] = {}
        aggregates = self._aggregates()
        maps = (self.bedflow.spells, self.rostering.shifts, self.referrals.pathways)
        for name in sorted(self._dirty):
            if name in aggregates:
                parts[name] = self._encoder.encode(aggregates[name][0])
            elif name.startswith(DETECTOR_PREFIX):
                parts[name] = self._encoder.encode(self.kinds[name[len(DETECTOR_PREFIX) :]])
            elif name.startswith(DEDUPE_PREFIX):
                parts[name] = self.dedupe.encode(name, self._encoder)
            elif name in self._quality_parts:
                domain, profile = self._quality_parts[name]
                dq = self.quality[domain]
                parts[name] = self._encoder.encode(dq.profile if profile else dq.state)
            else:
                sharded = next(m for m in maps if m.owns(name))
                parts[name] = sharded.encode(name, self._encoder)
        for name in self._deleted:
            parts[name] = b""
        self._dirty.clear()
        self._deleted.clear()
        return parts

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
        maps = (state.bedflow.spells, state.rostering.shifts, state.referrals.pathways)
        for name, data in parts.items():
            if not data:
                continue
            if name == CORE:
                state.core = msgspec.msgpack.decode(data, type=Core)
            elif name == bedflow.PART:
                state.bedflow.agg = msgspec.msgpack.decode(data, type=BedFlowAgg)
            elif name == rostering.PART:
                state.rostering.agg = msgspec.msgpack.decode(data, type=RosteringAgg)
            elif name == referrals.PART:
                state.referrals.agg = msgspec.msgpack.decode(data, type=ReferralsAgg)
            elif name == sitrep.PART:
                state.sitrep.agg = msgspec.msgpack.decode(data, type=SitrepAgg)
            elif name.startswith(DETECTOR_PREFIX):
                kind = name[len(DETECTOR_PREFIX) :]
                if kind in state.kinds:  # a kind dropped from the catalogue is forgotten
                    state.kinds[kind] = msgspec.msgpack.decode(data, type=KindState)
            elif name.startswith(DEDUPE_PREFIX):
                state.dedupe.decode(name, data)
            elif name.startswith(PROFILE_PART + "/"):
                state.quality[name.split("/", 1)[1]].profile = msgspec.msgpack.decode(
                    data, type=Profile
                )
            elif name.startswith(QUALITY_PREFIX + "/"):
                state.quality[name.split("/", 1)[1]].state = msgspec.msgpack.decode(
                    data, type=Quality
                )
            else:
                sharded = next((m for m in maps if m.owns(name)), None)
                if sharded is None:
                    raise ValueError(f"unknown state part {name!r}")
                sharded.decode(name, data)
        state._dirty.clear()
        state._deleted.clear()
        return state
