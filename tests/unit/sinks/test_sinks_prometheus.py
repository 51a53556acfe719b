"""The exporter's series, read back from ``render()`` with prometheus_client's own parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from models.outputs import MetricPoint
from sinks.prometheus import PrometheusExporter
from tests.sinks_support import HOUR, T0, opportunity

pytestmark = pytest.mark.unit

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def series(exporter: PrometheusExporter) -> Series:
    """Every exported sample: {(sample name, sorted labels): value}."""
    text = exporter.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(exporter: PrometheusExporter, name: str, **labels: str) -> float | None:
    return series(exporter).get((name, tuple(sorted(labels.items()))))


def names_with(exporter: PrometheusExporter, label: str, wanted: str) -> set[str]:
    return {name for (name, labels) in series(exporter) if (label, wanted) in labels}


@pytest.fixture
def exporter() -> PrometheusExporter:
    return PrometheusExporter(CollectorRegistry())


def test_counters_have_the_spec_names_and_no_created_series(exporter: PrometheusExporter) -> None:
    topic = "nhs.bedflow.v1.t0123abcd"
    exporter.count_events(topic, "admission", 3)
    exporter.count_events(topic, "admission")
    exporter.count_rejected(topic, "schema", 2)
    exporter.count_duplicate(topic, 5)
    exporter.count_late(topic)
    exporter.count_after_close(topic, 2)
    exported = series(exporter)
    assert exported[("opsradar_events_total", (("event_type", "admission"), ("topic", topic)))] == 4
    assert (
        exported[("opsradar_events_rejected_total", (("reason", "schema"), ("topic", topic)))] == 2
    )
    assert exported[("opsradar_events_duplicate_total", (("topic", topic),))] == 5
    assert exported[("opsradar_events_late_total", (("topic", topic),))] == 1
    assert exported[("opsradar_events_after_close_total", (("topic", topic),))] == 2
    assert not [name for name, _ in exported if name.endswith("_created")]


def test_declared_topics_start_at_zero(exporter: PrometheusExporter) -> None:
    exporter.declare_topic("nhs.rostering.v1")
    assert value(exporter, "opsradar_events_duplicate_total", topic="nhs.rostering.v1") == 0
    assert value(exporter, "opsradar_events_late_total", topic="nhs.rostering.v1") == 0
    assert value(exporter, "opsradar_events_after_close_total", topic="nhs.rostering.v1") == 0


def test_delivery_series_start_at_zero_and_count(exporter: PrometheusExporter) -> None:
    topic = "nhs.referrals.v1"
    exporter.declare_topic(topic)
    exporter.declare_sink("metrics")
    assert value(exporter, "opsradar_events_redelivered_total", topic=topic) == 0
    assert value(exporter, "opsradar_records_failed_total", topic=topic) == 0
    assert value(exporter, "opsradar_sink_write_failures_total", sink="metrics") == 0
    assert value(exporter, "opsradar_sink_backlog_messages", sink="metrics") == 0
    exporter.count_redelivered(topic, 4)
    exporter.count_failed(topic)
    exporter.count_sink_failure("metrics")
    exporter.count_sink_failure("metrics")
    exporter.set_sink_backlog("metrics", 120)
    assert value(exporter, "opsradar_events_redelivered_total", topic=topic) == 4
    assert value(exporter, "opsradar_records_failed_total", topic=topic) == 1
    assert value(exporter, "opsradar_sink_write_failures_total", sink="metrics") == 2
    assert value(exporter, "opsradar_sink_backlog_messages", sink="metrics") == 120
    with pytest.raises(ValueError, match="sink"):
        exporter.count_sink_failure("Metrics DB")


def test_counters_refuse_negative_counts(exporter: PrometheusExporter) -> None:
    with pytest.raises(ValueError, match="only goes up"):
        exporter.count_events("nhs.bedflow.v1", "admission", -1)


def test_nothing_lands_on_the_global_registry() -> None:
    before = set(REGISTRY._names_to_collectors)
    own = PrometheusExporter()
    own.count_events("nhs.bedflow.v1", "admission")
    assert set(REGISTRY._names_to_collectors) == before
    assert own.registry is not REGISTRY
    assert b"opsradar_events_total" in own.render()


def test_scope_metric_labels_site_or_empty_at_trust_scope(exporter: PrometheusExporter) -> None:
    for site, v in (("RX101", 0.93), (None, 0.41)):
        point = MetricPoint(
            trust_code="RX1",
            site_code=site,
            metric="bed_occupancy_ratio",
            evaluated_at=T0,
            value=v,
            sample_size=30,
        )
        assert exporter.observe_metric(point)
    assert (
        value(
            exporter,
            "opsradar_scope_metric",
            trust="RX1",
            site="RX101",
            metric="bed_occupancy_ratio",
        )
        == 0.93
    )
    assert (
        value(exporter, "opsradar_scope_metric", trust="RX1", site="", metric="bed_occupancy_ratio")
        == 0.41
    )


def test_an_older_metric_point_does_not_move_the_gauge(exporter: PrometheusExporter) -> None:
    point = MetricPoint(
        trust_code="RX1",
        site_code="RX101",
        metric="m",
        evaluated_at=T0 + HOUR,
        value=2.0,
        sample_size=1,
    )
    assert exporter.observe_metric(point)
    assert not exporter.observe_metric(msgspec.structs.replace(point, evaluated_at=T0, value=1.0))
    assert value(exporter, "opsradar_scope_metric", trust="RX1", site="RX101", metric="m") == 2.0


def test_status_is_one_for_the_current_status_and_zero_for_the_others(
    exporter: PrometheusExporter,
) -> None:
    exporter.observe_opportunity(
        opportunity(status="active", active_at=T0, severity=0.8, bed_days=4.0, gbp=120.0)
    )
    labels = {"trust": "RX1", "site": "RX101", "kind": "discharge_coordination"}
    statuses = {
        s: value(exporter, "opsradar_opportunity_status", status=s, **labels)
        for s in ("emerging", "active", "resolved")
    }
    assert statuses == {"emerging": 0.0, "active": 1.0, "resolved": 0.0}
    assert value(exporter, "opsradar_opportunity_severity", **labels) == 0.8
    impacts = {
        u: value(exporter, "opsradar_opportunity_weekly_impact", unit=u, **labels)
        for u in ("bed_days", "staff_hours", "gbp")
    }
    assert impacts == {"bed_days": 4.0, "staff_hours": 2.0, "gbp": 120.0}


def test_a_resolved_opportunity_keeps_its_series_with_no_impact(
    exporter: PrometheusExporter,
) -> None:
    labels = {"trust": "RX1", "site": "RX101", "kind": "discharge_coordination"}
    exporter.observe_opportunity(opportunity(status="active", active_at=T0, severity=0.9))
    exporter.observe_opportunity(
        opportunity(
            status="resolved",
            at=T0 + HOUR,
            active_at=T0,
            resolved_at=T0 + HOUR,
            severity=0.9,
            bed_days=4.0,
        )
    )
    assert value(exporter, "opsradar_opportunity_status", status="resolved", **labels) == 1.0
    assert value(exporter, "opsradar_opportunity_status", status="active", **labels) == 0.0
    assert value(exporter, "opsradar_opportunity_severity", **labels) == 0.0
    for unit in ("bed_days", "staff_hours", "gbp"):
        assert value(exporter, "opsradar_opportunity_weekly_impact", unit=unit, **labels) == 0.0


def test_an_older_snapshot_or_episode_is_ignored(exporter: PrometheusExporter) -> None:
    labels = {"trust": "RX1", "site": "RX101", "kind": "discharge_coordination"}
    assert exporter.observe_opportunity(opportunity(episode=2, at=T0 + HOUR, bed_days=5.0))
    # redelivered: the same episode evaluated earlier, and the previous episode
    assert not exporter.observe_opportunity(opportunity(episode=2, at=T0, bed_days=1.0))
    assert not exporter.observe_opportunity(
        opportunity(episode=1, status="resolved", at=T0 + 2 * HOUR, active_at=T0, resolved_at=T0)
    )
    assert value(exporter, "opsradar_opportunity_weekly_impact", unit="bed_days", **labels) == 5.0
    assert value(exporter, "opsradar_opportunity_status", status="emerging", **labels) == 1.0


def test_event_time_lag_and_last_event_use_the_newest_event(exporter: PrometheusExporter) -> None:
    topic = "nhs.bedflow.v1"
    now = T0 + timedelta(minutes=10)
    exporter.observe_event_time(topic, "RX1", "RX101", T0, now)
    exporter.observe_event_time(topic, "RX1", "RX101", T0 - HOUR, now)  # out of order
    assert value(exporter, "opsradar_event_time_lag_seconds", topic=topic) == 600.0
    assert (
        value(exporter, "opsradar_last_event_timestamp_seconds", trust="RX1", site="RX101")
        == T0.timestamp()
    )
    exporter.refresh_lag(now + timedelta(minutes=5))
    assert value(exporter, "opsradar_event_time_lag_seconds", topic=topic) == 900.0


def test_remove_scopes_removes_those_scopes_series_only(exporter: PrometheusExporter) -> None:
    for site in ("RX101", "RX102", None):
        exporter.observe_opportunity(opportunity(site=site))
        exporter.observe_metric(
            MetricPoint(
                trust_code="RX1",
                site_code=site,
                metric="m",
                evaluated_at=T0,
                value=1.0,
                sample_size=1,
            )
        )
        exporter.observe_event_time("nhs.bedflow.v1", "RX1", site, T0, T0)
    exporter.count_events("nhs.bedflow.v1", "admission")

    exporter.remove_scopes(["RX101", "RX1"])

    assert names_with(exporter, "site", "RX101") == set()
    assert not [labels for (_, labels) in series(exporter) if ("site", "") in labels]
    assert names_with(exporter, "site", "RX102") == {
        "opsradar_scope_metric",
        "opsradar_opportunity_status",
        "opsradar_opportunity_severity",
        "opsradar_opportunity_weekly_impact",
        "opsradar_last_event_timestamp_seconds",
    }
    assert (
        value(exporter, "opsradar_events_total", topic="nhs.bedflow.v1", event_type="admission")
        == 1
    )
    # a scope given up and taken back starts afresh: an "older" snapshot is accepted again
    assert exporter.observe_opportunity(opportunity(site="RX101", at=T0 - HOUR))


def test_remove_scopes_refuses_what_is_not_a_scope(exporter: PrometheusExporter) -> None:
    with pytest.raises(ValueError, match="not a scope"):
        exporter.remove_scopes(["Royal Infirmary"])


@pytest.mark.parametrize(
    ("trust", "site"),
    [
        ("Royal Infirmary NHS FT", "RX101"),  # a name, not a code
        ("rx1", "RX101"),  # codes are upper case
        ("RX1", "RX1011"),
        ("RX1", "ward 7"),
        ("RX1", "9990000018"),  # an NHS number must never become a label
        ("RX1\n", "RX101"),
    ],
)
def test_labels_other_than_codes_are_refused(
    exporter: PrometheusExporter, trust: str, site: str
) -> None:
    with pytest.raises(ValueError, match="refusing to export"):
        exporter.observe_opportunity(opportunity(trust=trust, site=site))
    with pytest.raises(ValueError, match="refusing to export"):
        exporter.observe_event_time("nhs.bedflow.v1", trust, site, T0, T0)
    assert b"opsradar_opportunity_status{" not in exporter.render()


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.count_events("nhs.bedflow.v1", "Admission of Mr Smith"),
        lambda e: e.count_rejected("nhs.bedflow.v1", "bad {json}"),
        lambda e: e.count_late("NHS Bedflow"),
        lambda e: e.observe_opportunity(opportunity(kind="Discharge coordination")),
        lambda e: e.observe_metric(
            MetricPoint(
                trust_code="RX1",
                site_code=None,
                metric="beds (%)",
                evaluated_at=datetime(2025, 1, 1, tzinfo=UTC),
                value=1,
                sample_size=1,
            )
        ),
    ],
)
def test_free_text_slugs_are_refused(exporter: PrometheusExporter, call: object) -> None:
    with pytest.raises(ValueError, match="refusing to export"):
        call(exporter)  # type: ignore[operator]
    assert series(exporter) == {}  # nothing half-exported


def test_a_scope_taken_back_after_removal_is_exported_again(exporter: PrometheusExporter) -> None:
    # the exporter keeps each labelled child; one kept past remove_scopes would update a series
    # no longer in the registry, and the scope would stay blank after a rebalance gave it back
    point = MetricPoint(
        trust_code="RX1", site_code="RX101", metric="m", evaluated_at=T0, value=1.0, sample_size=1
    )
    exporter.observe_metric(point)
    exporter.observe_event_time("nhs.bedflow.v1", "RX1", "RX101", T0, T0)
    exporter.remove_scopes(["RX101"])

    exporter.observe_metric(msgspec.structs.replace(point, evaluated_at=T0 + HOUR, value=2.0))
    exporter.observe_event_time("nhs.bedflow.v1", "RX1", "RX101", T0 + HOUR, T0 + HOUR)

    assert value(exporter, "opsradar_scope_metric", trust="RX1", site="RX101", metric="m") == 2.0
    assert (
        value(exporter, "opsradar_last_event_timestamp_seconds", trust="RX1", site="RX101")
        == (T0 + HOUR).timestamp()
    )


def test_a_refused_label_is_refused_every_time(exporter: PrometheusExporter) -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            exporter.count_events("nhs.bedflow.v1", "Not A Slug")
    exporter.count_events("nhs.bedflow.v1", "admission", 2)
    exporter.count_events("nhs.bedflow.v1", "admission", 3)
    assert (
        value(exporter, "opsradar_events_total", topic="nhs.bedflow.v1", event_type="admission")
        == 5
    )
