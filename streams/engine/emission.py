"""Which hourly metric points go out: output volume follows change, not time.

The rule, for each series (scope, metric) of an event domain (bed flow, rostering, referrals, ED):
the point evaluated at an hour boundary is emitted when

- the series has no point emitted yet (or the metric was not computed at the last boundary), or
- its value or sample size differs from the series' last emitted point, or
- the boundary is 00:00 UTC: the daily heartbeat, so a flat series still has a row every day
  and "the value on each day" is a plain row.

Otherwise the point is dropped. At the end of input (``ScopeState.flush``, which only ``analyse``
calls) every series whose last point is older than the domain's last evaluated boundary gets a
closing point there (its held value), so a table ends where the data ends, as the open episodes'
final snapshots do. A series is a step function: a point holds until the next point of the same
series (README, "Metric rows: one per change"). Sitrep points are not filtered: a sitrep scope
is evaluated once per report date with new data, which already scales with its input.

The last emitted (value, sample, hour) of each series lives in the domain's part
``emitted/<domain>``, so a restored state drops exactly the points the uninterrupted one drops
(worker and ``analyse`` give the same rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

import msgspec

from models.outputs import MetricPoint
from streams.engine.evidence import ScopeIds
from streams.engine.readings import Reading

PREFIX: Final = "emitted/"
#: hour boundaries per heartbeat: every series emits at each 00:00 UTC boundary it is evaluated
HEARTBEAT_HOURS: Final = 24


class Emitted(msgspec.Struct, kw_only=True):
    """A domain's last emitted point per metric: metric -> (value, sample size, hour)."""

    series: dict[str, tuple[float, int, int]] = msgspec.field(default_factory=dict)


class Emission:
    """The emission filter of one event domain (see the module docstring)."""

    def __init__(self, part: str, dirty: set[str]) -> None:
        self.part = part
        self.state = Emitted()
        self._dirty = dirty

    def points(
        self, ids: ScopeIds, readings: Mapping[str, Reading], hour: int, when: datetime
    ) -> list[MetricPoint]:
        """The points of the boundary ``hour`` (evaluated at ``when``) that the rule emits."""
        series = self.state.series
        heartbeat = hour % HEARTBEAT_HOURS == 0
        out: list[MetricPoint] = []
        for name in sorted(readings):
            reading = readings[name]
            value, sample = float(reading.value), int(reading.sample)
            last = series.get(name)
            if not heartbeat and last is not None and last[0] == value and last[1] == sample:
                continue
            series[name] = (value, sample, hour)
            out.append(_point(ids, name, when, value, sample))
        # A metric not computed at this boundary (e.g. a rate with no denominator) starts afresh:
        # its next value is emitted even if it equals the one before the pause.
        vanished = [name for name in series if name not in readings]
        for name in vanished:
            del series[name]
        if out or vanished:
            self._dirty.add(self.part)
        return out

    def closing(self, ids: ScopeIds, hour: int, when: datetime) -> list[MetricPoint]:
        """End of input: the held value of every series not emitted at ``hour`` (the domain's
        last evaluated boundary, at ``when``)."""
        series = self.state.series
        out: list[MetricPoint] = []
        for name in sorted(series):
            value, sample, emitted = series[name]
            if emitted < hour:
                series[name] = (value, sample, hour)
                out.append(_point(ids, name, when, value, sample))
        if out:
            self._dirty.add(self.part)
        return out

    def encode(self, encoder: msgspec.msgpack.Encoder) -> bytes:
        return encoder.encode(self.state)

    def decode(self, data: bytes) -> None:
        self.state = msgspec.msgpack.decode(data, type=Emitted)


def _point(ids: ScopeIds, metric: str, when: datetime, value: float, sample: int) -> MetricPoint:
    return MetricPoint(
        trust_code=ids.trust_code,
        site_code=ids.site_code,
        metric=metric,
        evaluated_at=when,
        value=value,
        sample_size=sample,
    )
