"""The Prometheus exporter: the metrics of OPPORTUNITIES.md ("Outputs") on our own registry.

Each worker process serves ``render()`` on its ``/metrics``; nothing is put on prometheus_client's
global registry (tests and several exporters in one process stay independent).

Conventions, chosen so dashboards and alert rules stay simple:

- ``site`` is the site code, or ``""`` at trust scope (sitrep scopes), so every series has the
  same label names and ``{site=""}`` selects trust-level series (Prometheus stores an empty
  label as no label at all, which ``{site=""}`` and ``by (site)`` treat the same way).
- ``opsradar_opportunity_status{status}``: all three statuses are exported for each
  (trust, site, kind), 1 for the current status and 0 for the others, so
  ``opsradar_opportunity_status{status="active"} == 1`` fires and resolves on a value change
  rather than on series appearing/vanishing, and ``sum by (status)`` counts scopes per status.
- A resolved opportunity keeps its series: status ``resolved`` = 1, severity 0 and every weekly
  impact 0, so sums of impact count only open opportunities and no severity alert keeps firing.
  A new episode of the same (scope, kind) simply takes over the series.
- Snapshots and metric points arriving out of order (redelivery, replays) never move a gauge
  backwards: an older snapshot of a (scope, kind) or an older point of a (scope, metric) is
  ignored (``observe_*`` return False).
- Label values are codes and catalogue slugs only (no names, no free text): anything else raises
  ``ValueError`` instead of being exported.
- Counters export no ``_created`` series (``disable_created_metrics``, a process-wide switch of
  prometheus_client; opsradar exports none anywhere).

Not for prometheus_client's multiprocess mode (series removal does not work there); one worker
process serves one ``/metrics``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client import disable_created_metrics as _disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from models.outputs import MetricPoint, Opportunity

#: what ``render()`` produces: the classic text format, which every Prometheus 2.x parses
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
STATUSES: Final = ("emerging", "active", "resolved")
IMPACT_UNITS: Final = ("bed_days", "staff_hours", "gbp")
#: the engine's per-scope counters (``ScopeState.counters``) without a series of their own
FEED_ANOMALY_KINDS: Final = (
    "expired",
    "occupancy_clamped",
    "unplanned_shift_events",
    "implausible_handovers",
)

_Key = TypeVar("_Key", bound=tuple[str, ...])

_TRUST = re.compile(r"R[A-Z0-9]{2}")
_SITE = re.compile(r"R[A-Z0-9]{4}")
_SLUG = re.compile(r"[a-z0-9_.]{1,100}")
# Kafka topic names may also hold "-"; test suffixes look like ".t0123abcd"
_TOPIC = re.compile(r"[a-z0-9_.-]{1,200}")


def _checked(pattern: re.Pattern[str], what: str, value: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise ValueError(f"refusing to export {what} label {value!r}: not a {what} code")
    return value


def trust_label(trust_code: str) -> str:
    """The ``trust`` label value: a trust code (``R`` + 2 alphanumerics) or ValueError."""
    return _checked(_TRUST, "trust", trust_code)


def site_label(site_code: str | None) -> str:
    """The ``site`` label value: a site code, or ``""`` at trust scope; else ValueError."""
    return "" if site_code is None or site_code == "" else _checked(_SITE, "site", site_code)


def slug_label(what: str, value: str) -> str:
    """A catalogue slug (kind, metric, event type, reason): ``[a-z0-9_.]`` or ValueError."""
    return _checked(_SLUG, what, value)


def topic_label(topic: str) -> str:
    """A Kafka topic name: lower-case ``[a-z0-9_.-]`` or ValueError."""
    return _checked(_TOPIC, "topic", topic)


def _count(n: int) -> int:
    if n < 0:
        raise ValueError(f"a counter only goes up: got {n}")
    return n


class PrometheusExporter:
    """The opsradar metrics on a registry of their own.

    Scope/kind-labelled series are bounded by scopes × kinds (a few thousand per worker) and are
    removed when the worker gives up the scopes (:meth:`remove_scopes`).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        _disable_created_metrics()
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter(
            "opsradar_events",
            "Events accepted, by topic and event type",
            ["topic", "event_type"],
            registry=r,
        )
        self.rejected = Counter(
            "opsradar_events_rejected",
            "Events rejected (dead-lettered), by topic and reason",
            ["topic", "reason"],
            registry=r,
        )
        self.duplicate = Counter(
            "opsradar_events_duplicate",
            "Events ignored as duplicates of an earlier event_id",
            ["topic"],
            registry=r,
        )
        self.late = Counter(
            "opsradar_events_late",
            "Events dropped for arriving later than the allowed lateness",
            ["topic"],
            registry=r,
        )
        self.redelivered = Counter(
            "opsradar_events_redelivered",
            "Events skipped because the saved state already covers their record (redelivered "
            "after a crash between the state's write and the offset commit)",
            ["topic"],
            registry=r,
        )
        self.records_failed = Counter(
            "opsradar_records_failed",
            "Input records whose processing raised; dead-lettered as processing_failed",
            ["topic"],
            registry=r,
        )
        self.sink_write_failures = Counter(
            "opsradar_sink_write_failures",
            "Failed attempts to write a batch to the database (each is retried)",
            ["sink"],
            registry=r,
        )
        self.sink_backlog = Gauge(
            "opsradar_sink_backlog_messages",
            "Output-topic messages of this worker's partitions not yet written to the database",
            ["sink"],
            registry=r,
        )
        self.after_close = Counter(
            "opsradar_events_after_close",
            "Events for a spell, shift or pathway already closed in event time (no count changed)",
            ["topic"],
            registry=r,
        )
        self.feed_anomalies = Counter(
            "opsradar_feed_anomalies",
            "What a feed's events implied and the engine corrected, by kind: entities expired "
            "silent, evaluations with more patients than open beds, shift events for shifts never "
            "planned, implausible ambulance handovers (the catalogue's 'Entities')",
            ["topic", "kind"],
            registry=r,
        )
        self.scope_metric = Gauge(
            "opsradar_scope_metric",
            "Latest value of a scope's metric (event-time evaluation)",
            ["trust", "site", "metric"],
            registry=r,
        )
        self.opportunity_status = Gauge(
            "opsradar_opportunity_status",
            "1 for the opportunity's current status, 0 otherwise",
            ["trust", "site", "kind", "status"],
            registry=r,
        )
        self.opportunity_severity = Gauge(
            "opsradar_opportunity_severity",
            "Severity 0-1 of the opportunity (0 once resolved)",
            ["trust", "site", "kind"],
            registry=r,
        )
        self.opportunity_weekly_impact = Gauge(
            "opsradar_opportunity_weekly_impact",
            "Estimated weekly impact of the opportunity (0 once resolved)",
            ["trust", "site", "kind", "unit"],
            registry=r,
        )
        self.event_time_lag = Gauge(
            "opsradar_event_time_lag_seconds",
            "Wall clock minus the newest event time seen",
            ["topic"],
            registry=r,
        )
        self.last_event_timestamp = Gauge(
            "opsradar_last_event_timestamp_seconds",
            "Newest event time seen from a scope (Unix seconds), for feed-silence alerts",
            ["trust", "site"],
            registry=r,
        )
        # newest inputs seen, so out-of-order inputs never move a gauge backwards
        self._metric_seen: dict[tuple[str, str, str], datetime] = {}
        self._opportunity_seen: dict[tuple[str, str, str], tuple[int, datetime]] = {}
        self._event_time_seen: dict[tuple[str, str], float] = {}
        self._topic_newest: dict[str, float] = {}
        # labelled children by (metric, raw label values): ``labels()`` checks, hashes and
        # locks on every call, which the worker makes several times per input record
        self._children: dict[tuple[Any, tuple[str | None, ...]], Any] = {}

    def _child(
        self, metric: Any, values: tuple[str | None, ...], check: Callable[..., tuple[str, ...]]
    ) -> Any:
        """``metric.labels(*check(*values))``, made (and ``check`` run) once per values."""
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*check(*values))
        return child

    def _topic_child(self, metric: Any, topic: str) -> Any:
        return self._child(metric, (topic,), _topic_labels)

    # -- counters ---------------------------------------------------------------------------

    def declare_topic(self, topic: str) -> None:
        """Create a topic's duplicate/late counters at 0, so ``rate()`` works before the first."""
        label = topic_label(topic)
        self.duplicate.labels(label)
        self.late.labels(label)
        self.redelivered.labels(label)
        self.records_failed.labels(label)
        self.after_close.labels(label)
        for kind in FEED_ANOMALY_KINDS:
            self.feed_anomalies.labels(label, kind)

    def declare_sink(self, sink: str) -> None:
        """Create a sink's failure counter and backlog gauge at 0."""
        label = slug_label("sink", sink)
        self.sink_write_failures.labels(label)
        self.sink_backlog.labels(label).set(0)

    def count_events(self, topic: str, event_type: str, n: int = 1) -> None:
        self._child(self.events, (topic, event_type), _event_type_labels).inc(_count(n))

    def count_rejected(self, topic: str, reason: str, n: int = 1) -> None:
        self._child(self.rejected, (topic, reason), _reason_labels).inc(_count(n))

    def count_duplicate(self, topic: str, n: int = 1) -> None:
        if _count(n):  # the series exists from declare_topic; adding 0 changes nothing
            self._topic_child(self.duplicate, topic).inc(n)

    def count_late(self, topic: str, n: int = 1) -> None:
        if _count(n):
            self._topic_child(self.late, topic).inc(n)

    def count_redelivered(self, topic: str, n: int = 1) -> None:
        if _count(n):
            self._topic_child(self.redelivered, topic).inc(n)

    def count_failed(self, topic: str, n: int = 1) -> None:
        if _count(n):
            self._topic_child(self.records_failed, topic).inc(n)

    def count_sink_failure(self, sink: str) -> None:
        self.sink_write_failures.labels(slug_label("sink", sink)).inc()

    def set_sink_backlog(self, sink: str, messages: int) -> None:
        self.sink_backlog.labels(slug_label("sink", sink)).set(max(messages, 0))

    def count_after_close(self, topic: str, n: int = 1) -> None:
        if _count(n):
            self._topic_child(self.after_close, topic).inc(n)

    def count_feed_anomaly(self, topic: str, kind: str, n: int = 1) -> None:
        if _count(n):
            self._child(self.feed_anomalies, (topic, kind), _kind_labels).inc(n)

    # -- gauges -----------------------------------------------------------------------------

    def observe_metric(self, point: MetricPoint) -> bool:
        """Set a scope's metric gauge; False (and no change) if a newer point was seen."""
        values = (point.trust_code, point.site_code, point.metric)
        child = self._child(self.scope_metric, values, _metric_labels)
        labels = (point.trust_code, point.site_code or "", point.metric)
        seen = self._metric_seen.get(labels)
        if seen is not None and point.evaluated_at < seen:
            return False
        self._metric_seen[labels] = point.evaluated_at
        child.set(point.value)
        return True

    def observe_opportunity(self, opportunity: Opportunity) -> bool:
        """Set the status, severity and impact gauges of a (scope, kind) from a snapshot.

        False (and no change) if the snapshot is older than one already shown: an earlier
        episode, or the same episode evaluated earlier.
        """
        trust = trust_label(opportunity.trust_code)
        site = site_label(opportunity.site_code)
        kind = slug_label("kind", opportunity.kind)
        if opportunity.status not in STATUSES:
            raise ValueError(f"refusing to export status label {opportunity.status!r}")
        version = (opportunity.episode, opportunity.last_evaluated_at)
        seen = self._opportunity_seen.get((trust, site, kind))
        if seen is not None and version < seen:
            return False
        self._opportunity_seen[(trust, site, kind)] = version
        for status in STATUSES:
            current = 1.0 if status == opportunity.status else 0.0
            self.opportunity_status.labels(trust, site, kind, status).set(current)
        is_open = opportunity.status != "resolved"
        impacts = {
            "bed_days": opportunity.weekly_bed_days,
            "staff_hours": opportunity.weekly_staff_hours,
            "gbp": opportunity.weekly_gbp,
        }
        self.opportunity_severity.labels(trust, site, kind).set(
            opportunity.severity if is_open else 0.0
        )
        for unit, value in impacts.items():
            self.opportunity_weekly_impact.labels(trust, site, kind, unit).set(
                value if is_open else 0.0
            )
        return True

    def observe_event_time(
        self, topic: str, trust: str, site: str | None, event_time: datetime, now: datetime
    ) -> None:
        """Record an event's time: the scope's newest event time and the topic's lag.

        Both use the newest event time seen, so an out-of-order event changes neither; the lag
        is ``now`` (the caller's wall clock) minus the topic's newest event time.
        """
        scope_child = self._child(self.last_event_timestamp, (trust, site), _scope_labels)
        lag_child = self._topic_child(self.event_time_lag, topic)
        scope = (trust, site or "")
        stamp = event_time.timestamp()
        if stamp > self._event_time_seen.get(scope, float("-inf")):
            self._event_time_seen[scope] = stamp
            scope_child.set(stamp)
        if stamp > self._topic_newest.get(topic, float("-inf")):
            self._topic_newest[topic] = stamp
        lag_child.set(now.timestamp() - self._topic_newest[topic])

    def refresh_lag(self, now: datetime) -> None:
        """Recompute every topic's lag against ``now`` (call on a timer: lag grows in silence)."""
        for topic, newest in self._topic_newest.items():
            self._topic_child(self.event_time_lag, topic).set(now.timestamp() - newest)

    # -- partition revoke -------------------------------------------------------------------

    def remove_scopes(self, scopes: Iterable[str]) -> None:
        """Remove every series of these scopes (site codes, or trust codes for trust scope).

        A site scope's series are those with ``site=<code>``; a trust scope's are those with
        ``trust=<code>, site=""`` (the trust's sites are scopes of their own). Topic-level series
        (counters, lag) are the worker's and stay.
        """
        matchers: list[dict[str, str]] = []
        for scope in scopes:
            if _SITE.fullmatch(scope):
                matchers.append({"site": scope})
            elif _TRUST.fullmatch(scope):
                matchers.append({"trust": scope, "site": ""})
            else:
                raise ValueError(f"not a scope (site or trust code): {scope!r}")
        for matcher in matchers:
            for gauge in (
                self.scope_metric,
                self.opportunity_status,
                self.opportunity_severity,
                self.opportunity_weekly_impact,
                self.last_event_timestamp,
            ):
                gauge.remove_by_labels(matcher)
        _forget(self._metric_seen, matchers)
        _forget(self._opportunity_seen, matchers)
        _forget(self._event_time_seen, matchers)
        # a kept child of a removed series would update a series no longer exported
        self._children.clear()

    def render(self) -> bytes:
        """The registry in the Prometheus text format (serve it with :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


def _topic_labels(topic: str) -> tuple[str]:
    return (topic_label(topic),)


def _event_type_labels(topic: str, event_type: str) -> tuple[str, str]:
    return topic_label(topic), slug_label("event_type", event_type)


def _kind_labels(topic: str, kind: str) -> tuple[str, str]:
    if kind not in FEED_ANOMALY_KINDS:
        raise ValueError(f"not a feed anomaly kind: {kind!r}")
    return topic_label(topic), kind


def _reason_labels(topic: str, reason: str) -> tuple[str, str]:
    return topic_label(topic), slug_label("reason", reason)


def _scope_labels(trust: str, site: str | None) -> tuple[str, str]:
    return trust_label(trust), site_label(site)


def _metric_labels(trust: str, site: str | None, metric: str) -> tuple[str, str, str]:
    return trust_label(trust), site_label(site), slug_label("metric", metric)


def _forget(seen: dict[_Key, Any], matchers: list[dict[str, str]]) -> None:
    for key in [k for k in seen if any(_matches(k, m) for m in matchers)]:
        del seen[key]


def _matches(key: tuple[str, ...], matcher: dict[str, str]) -> bool:
    # every seen-key starts with (trust, site)
    trust, site = key[0], key[1]
    if "trust" in matcher:
        return trust == matcher["trust"] and site == matcher["site"]
    return site == matcher["site"]
