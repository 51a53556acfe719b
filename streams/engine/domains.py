"""A scope's domains, each a state object of its own: its event-time clock, its aggregator (with
its entity map), its data quality and the kinds it drives.

- ``EventDomain``: bed flow, rostering, referrals or urgent and emergency care (``ed``) at a
  site, evaluated at every event-time hour boundary from its first event on. Its head part
  (``bedflow`` / ``rostering`` / ``referrals`` / ``ed``)
  holds the clock, the data-quality state and the aggregates; its entity map is sharded
  (``spells/NNN`` ...), its data-quality profile is ``quality_profile/<domain>``, its emission
  filter's last points ``emitted/<domain>`` (``streams.engine.emission``: a metric point goes out
  when it changes, and at each 00:00 UTC heartbeat).
- ``SitrepDomain``: the national aggregates of a scope, evaluated per report date; it drives the
  bed-flow and ED kinds only at a trust scope (a site's are its events').

A scope builds a domain when its first event of that domain arrives, so a state that only ever
reads one topic (as the worker's and ``Engine``'s do) holds one domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Generic, Protocol, TypeVar

import msgspec

from models.catalogue import ScopeCatalogue
from models.outputs import MetricPoint, OpportunityUpdate
from streams.engine import bedflow, ed, referrals, rostering
from streams.engine.bedflow import BedFlow, BedFlowAgg
from streams.engine.detectors import evaluate_kind
from streams.engine.ed import EdAgg, EdFlow
from streams.engine.emission import PREFIX as EMITTED_PREFIX
from streams.engine.emission import Emission
from streams.engine.evidence import ScopeIds
from streams.engine.forecast import ForecastState, OccupancyForecast
from streams.engine.lifecycle import KindState, Mode
from streams.engine.quality import CODES, PROFILE_PART, DataQuality, Profile, Quality
from streams.engine.readings import Reading
from streams.engine.referrals import Referrals, ReferralsAgg
from streams.engine.rostering import Rostering, RosteringAgg
from streams.engine.shards import ShardedMap
from streams.engine.sitrep import METRIC_SOURCES, Sitrep
from streams.engine.statistics import PastCache
from streams.engine.timekeys import DAY, HOUR, at

Output = MetricPoint | OpportunityUpdate
CAPACITY: Final = "capacity_forecasting"
DETECTOR_PREFIX: Final = "detector/"
#: a domain's forecaster part (bed flow only: its occupancy forecasts)
FORECAST_PREFIX: Final = "forecast/"
EVENT_DOMAINS: Final = ("bed_flow", "rostering", "referrals", "ed")
#: the domains whose kinds a trust scope's sitreps drive (at a site, its events drive them)
SITREP_DOMAINS: Final = ("bed_flow", "ed")

A = TypeVar("A")


class Flow(Protocol):
    """What an event domain's aggregator offers (``BedFlow``, ``Rostering``, ``Referrals``,
    ``EdFlow``)."""

    #: the flow's persisted aggregates; each counts ``after_close``, as ``counters`` says
    agg: Any

    def evaluate(self, hour: int) -> dict[str, Reading]: ...
    def maintain(self, hour: int) -> None: ...
    def confirm_after_gap(self, before_hour: int, *, lost: frozenset[str] | None) -> None: ...
    @property
    def counters(self) -> dict[str, int]: ...


class Head(msgspec.Struct, Generic[A], kw_only=True):
    """An event domain's head part: its clock, data quality and aggregates."""

    next_hour: int | None = None
    quality: Quality = msgspec.field(default_factory=Quality)
    agg: A


#: domain -> (head part name, aggregator class, its aggregates' type, its entity map's attribute)
_FLOWS: Final[dict[str, tuple[str, type, type, str]]] = {
    "bed_flow": (bedflow.PART, BedFlow, BedFlowAgg, "spells"),
    "rostering": (rostering.PART, Rostering, RosteringAgg, "shifts"),
    "referrals": (referrals.PART, Referrals, ReferralsAgg, "pathways"),
    "ed": (ed.PART, EdFlow, EdAgg, "attendances"),
}


#: domain -> its longest metric window: a long feed gap must leave it before the domain's
#: kinds are judged again (``quality``; the ED's metrics are all 7-day windows)
_LONGEST_WINDOW_HOURS: Final[dict[str, int]] = {
    "bed_flow": 28 * 24,
    "rostering": 28 * 24,
    "referrals": 28 * 24,
    "ed": ed.WEEK_HOURS,
}
assert _LONGEST_WINDOW_HOURS.keys() == _FLOWS.keys()


def head_part(domain: str) -> str:
    return _FLOWS[domain][0]


def domain_of_head(part: str) -> str | None:
    return next((name for name, flow in _FLOWS.items() if flow[0] == part), None)


class Kinds:
    """The kinds one domain drives at a scope: their states and the derived baseline caches."""

    def __init__(self, catalogue: ScopeCatalogue, names: Iterable[str]) -> None:
        self.catalogue = catalogue
        # capacity first: its status raises the severity of the other bed-flow kinds
        self.order = sorted(names, key=lambda kind: kind != CAPACITY)
        self.states: dict[str, KindState] = {kind: KindState() for kind in self.order}
        # derived from ``states`` (never persisted): see ``statistics.PastCache``
        self.past: dict[str, PastCache] = {kind: PastCache() for kind in self.order}

    def detect(
        self,
        *,
        readings: Mapping[str, Reading],
        ts: float,
        when: datetime,
        modes: Mapping[str, Mode],
        ids: ScopeIds,
        dirty: set[str],
        quality: Mapping[str, Any] | None = None,
    ) -> list[Output]:
        out: list[Output] = []
        lifecycle = self.catalogue.lifecycle
        for kind in self.order:
            mode = modes.get(kind)
            if mode is None:
                continue
            capacity = self.states.get(CAPACITY)
            out.extend(
                evaluate_kind(
                    self.catalogue.kinds[kind],
                    lc=lifecycle,
                    state=self.states[kind],
                    readings=readings,
                    ts=ts,
                    at=when,
                    mode=mode,
                    capacity_active=capacity is not None and capacity.status == "active",
                    ids=ids,
                    cache=self.past[kind],
                    quality=quality,
                )
            )
            dirty.add(DETECTOR_PREFIX + kind)
        return out

    def open_snapshots(self, dirty: set[str]) -> list[Output]:
        """End of input: the latest snapshot of every open episode not yet emitted."""
        out: list[Output] = []
        for kind in self.order:
            state = self.states[kind]
            if state.status is not None and state.latest is not None and not state.latest_emitted:
                out.append(OpportunityUpdate(opportunity=state.latest))
                state.latest_emitted = True
                state.last_snapshot_at = state.latest.last_evaluated_at.timestamp()
                dirty.add(DETECTOR_PREFIX + kind)
        return out


def points(ids: ScopeIds, readings: Mapping[str, Reading], when: datetime) -> list[Output]:
    return [
        MetricPoint(
            trust_code=ids.trust_code,
            site_code=ids.site_code,
            metric=name,
            evaluated_at=when,
            value=float(readings[name].value),
            sample_size=int(readings[name].sample),
        )
        for name in sorted(readings)
    ]


class EventDomain:
    """One event domain at one site (see the module docstring)."""

    def __init__(
        self, name: str, catalogue: ScopeCatalogue, ids: ScopeIds, dirty: set[str]
    ) -> None:
        part, flow_type, agg_type, entities = _FLOWS[name]
        self.name = name
        self.part = part
        self.ids = ids
        self.flow: Flow = flow_type(dirty)
        self.entities: ShardedMap[Any] = getattr(self.flow, entities)
        self.quality = DataQuality(
            part, f"{PROFILE_PART}/{name}", dirty, longest_window_hours=_LONGEST_WINDOW_HOURS[name]
        )
        self.next_hour: int | None = None
        self.kinds = Kinds(
            catalogue, (k for k, spec in catalogue.kinds.items() if spec.domain == name)
        )
        self._head_type: type = Head[agg_type]  # type: ignore[valid-type]
        self._dirty = dirty
        # occupancy forecasts 24 h / 72 h ahead, from the site's own flows (streams.engine.forecast)
        self.forecast_part = FORECAST_PREFIX + name
        self.forecast = OccupancyForecast(self.forecast_part, dirty) if name == "bed_flow" else None
        self.emission = Emission(EMITTED_PREFIX + name, dirty)

    def started(self, hour: int) -> None:
        """An event of this domain at ``hour``: the clock runs from the boundary after it."""
        if self.next_hour is None:
            self.next_hour = hour + 1
            self._dirty.add(self.part)

    def advance(self, limit: float) -> list[Output]:
        """Evaluate every hour boundary up to ``limit`` (epoch seconds), in order."""
        out: list[Output] = []
        if self.next_hour is not None:
            while self.next_hour * HOUR <= limit:
                out.extend(self._evaluate_hour(self.next_hour))
                self.next_hour += 1
        return out

    def closing_points(self) -> list[Output]:
        """End of input: every metric's held value at the last evaluated boundary
        (``Emission.closing``)."""
        if self.next_hour is None:
            return []
        last = self.next_hour - 1
        return list(self.emission.closing(self.ids, last, at(last * HOUR)))

    def _evaluate_hour(self, hour: int) -> list[Output]:
        ts = hour * HOUR
        when = at(ts)
        moved = self.quality.evaluate(hour)
        if moved.confirm_before is not None:
            # A recovery ends: what was last heard of before the gap ended may be what it lost.
            self.flow.confirm_after_gap(moved.confirm_before, lost=moved.lost_types)
        readings = dict(self.flow.evaluate(hour))
        if self.forecast is not None:
            learning = moved.status in ("ok", "warming_up")
            readings.update(self._forecast(hour, readings, learning=learning))
        readings[f"data_quality_{self.name}"] = Reading(CODES[moved.status], 0)
        out: list[Output] = list(self.emission.points(self.ids, readings, hour, when))
        modes: dict[str, Mode] = dict.fromkeys(self.kinds.order, "hourly")
        out.extend(
            self.kinds.detect(
                readings=readings,
                ts=ts,
                when=when,
                modes=modes,
                ids=self.ids,
                dirty=self._dirty,
                quality=None if self.quality.ok else self.quality.evidence(),
            )
        )
        if hour % 24 == 0:
            self.flow.maintain(hour)
        return out

    def _forecast(
        self, hour: int, readings: Mapping[str, Reading], *, learning: bool
    ) -> dict[str, Reading]:
        assert self.forecast is not None
        occupied = readings.get("occupied_beds")
        beds = readings.get("open_beds")
        occupancy = readings.get("bed_occupancy_ratio")
        if occupied is None:
            return {}
        self.forecast.learn(
            hour,
            census=int(occupied.value),
            discharged=self.flow.agg.discharges.get(hour - 1, 0),
            learning=learning,
        )
        return self.forecast.evaluate(
            hour,
            occupancy=None if occupancy is None else occupancy.value,
            open_beds=0 if beds is None else int(beds.value),
            learning=learning,
        )

    # --- persistence

    def encode_head(self, encoder: msgspec.msgpack.Encoder) -> bytes:
        head = self._head_type(
            next_hour=self.next_hour, quality=self.quality.state, agg=self.flow.agg
        )
        return encoder.encode(head)

    def decode_head(self, data: bytes) -> None:
        head: Any = msgspec.msgpack.decode(data, type=self._head_type)
        self.next_hour = head.next_hour
        self.quality.state = head.quality
        self.flow.agg = head.agg

    def decode_profile(self, data: bytes) -> None:
        self.quality.profile = msgspec.msgpack.decode(data, type=Profile)

    def encode_forecast(self, encoder: msgspec.msgpack.Encoder) -> bytes:
        assert self.forecast is not None
        return encoder.encode(self.forecast.state)

    def decode_forecast(self, data: bytes) -> None:
        if self.forecast is not None:
            self.forecast.state = msgspec.msgpack.decode(data, type=ForecastState)


class SitrepDomain:
    """A scope's sitreps, evaluated per report date (``streams.engine.sitrep``)."""

    def __init__(
        self, catalogue: ScopeCatalogue, ids: ScopeIds, dirty: set[str], drives_kinds: bool
    ) -> None:
        self.ids = ids
        self.catalogue = catalogue
        self.sitrep = Sitrep(dirty)
        names = (
            [k for k, spec in catalogue.kinds.items() if spec.domain in SITREP_DOMAINS]
            if drives_kinds
            else []
        )
        self.kinds = Kinds(catalogue, names)
        self._dirty = dirty

    def evaluate(self, day: int) -> list[Output]:
        sources = self.sitrep.take(day)
        ts = day * DAY
        when = at(ts)
        readings = self.sitrep.evaluate(day, sources)
        out = points(self.ids, readings, when)
        modes: dict[str, Mode] = {}
        for kind in self.kinds.order:
            spec = self.catalogue.kinds[kind]
            updated = {
                source
                for metric in spec.metrics(sitrep=True)
                for source in METRIC_SOURCES.get(metric, ())
                if source in sources
            }
            if updated:
                daily = any(sources[source] for source in updated)
                modes[kind] = "daily" if daily else "periodic"
        # the impact inputs of every source as of today (``Sitrep.context``) over the day's
        # readings: only the kinds in ``modes`` are evaluated, on metrics their updated
        # sources give
        known = {**readings, **self.sitrep.context(day)} if modes else readings
        out.extend(
            self.kinds.detect(
                readings=known,
                ts=ts,
                when=when,
                modes=modes,
                ids=self.ids,
                dirty=self._dirty,
            )
        )
        return out
