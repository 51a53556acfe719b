"""A real scrape: the stack's Prometheus reads the exporter's ``render()`` and sees the series."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import CollectorRegistry

from models.outputs import MetricPoint
from sinks.prometheus import CONTENT_TYPE, PrometheusExporter
from tests.prometheus_support import query, scrape_target, serve_metrics, values, wait_for_query
from tests.sinks_support import HOUR, T0, opportunity

pytestmark = pytest.mark.integration


def test_prometheus_scrapes_the_exporter_and_loses_removed_scopes(prometheus_url: str) -> None:
    exporter = PrometheusExporter(CollectorRegistry())
    exporter.observe_opportunity(
        opportunity(site="RX101", status="active", active_at=T0, severity=0.8, bed_days=4.5)
    )
    exporter.observe_opportunity(opportunity(site="RX102", bed_days=1.25))
    exporter.observe_opportunity(opportunity(site=None, kind="roster_optimisation", gbp=250.0))
    exporter.observe_metric(
        MetricPoint(
            trust_code="RX1",
            site_code="RX101",
            metric="bed_occupancy_ratio",
            evaluated_at=T0,
            value=0.94,
            sample_size=40,
        )
    )
    exporter.count_events("nhs.bedflow.v1", "admission", 7)
    run = uuid.uuid4().hex
    selector = f'test_run="{run}"'

    with (
        serve_metrics(exporter.render, CONTENT_TYPE) as address,
        scrape_target(address, {"job": "opsradar-test", "test_run": run}),
    ):
        status = wait_for_query(
            prometheus_url,
            f"opsradar_opportunity_status{{{selector}}}",
            lambda samples: len(samples) == 9,  # 3 scopes x 3 statuses
            what=f"Prometheus to scrape the test exporter at {address}",
        )
        assert values(status, "site", "kind", "status") == {
            ("RX101", "discharge_coordination", "emerging"): 0.0,
            ("RX101", "discharge_coordination", "active"): 1.0,
            ("RX101", "discharge_coordination", "resolved"): 0.0,
            ("RX102", "discharge_coordination", "emerging"): 1.0,
            ("RX102", "discharge_coordination", "active"): 0.0,
            ("RX102", "discharge_coordination", "resolved"): 0.0,
            ("", "roster_optimisation", "emerging"): 1.0,
            ("", "roster_optimisation", "active"): 0.0,
            ("", "roster_optimisation", "resolved"): 0.0,
        }
        assert {s["metric"]["job"] for s in status} == {"opsradar-test"}
        impact = query(
            prometheus_url, f'opsradar_opportunity_weekly_impact{{{selector},unit="bed_days"}}'
        )
        assert values(impact, "site") == {("RX101",): 4.5, ("RX102",): 1.25, ("",): 1.0}
        gbp = query(
            prometheus_url, f'opsradar_opportunity_weekly_impact{{{selector},unit="gbp",site=""}}'
        )
        assert values(gbp, "kind") == {("roster_optimisation",): 250.0}
        metric = query(prometheus_url, f"opsradar_scope_metric{{{selector}}}")
        assert values(metric, "trust", "site", "metric") == {
            ("RX1", "RX101", "bed_occupancy_ratio"): 0.94
        }
        events = query(prometheus_url, f"opsradar_events_total{{{selector}}}")
        assert values(events, "topic", "event_type") == {("nhs.bedflow.v1", "admission"): 7.0}
        assert query(prometheus_url, f'{{__name__=~".*_created",{selector}}}') == []

        # the worker gives up RX101 (partition revoked): its series go stale, the others stay
        exporter.remove_scopes(["RX101"])
        wait_for_query(
            prometheus_url,
            f'{{__name__=~"opsradar_.*",{selector},site="RX101"}}',
            lambda samples: samples == [],
            what="RX101's series to disappear from Prometheus after remove_scopes",
        )
        left = query(prometheus_url, f"opsradar_opportunity_status{{{selector}}}")
        # Prometheus stores an empty label as no label: {site=""} still selects trust scope
        assert {s["metric"].get("site", "") for s in left} == {"RX102", ""}
        assert len(left) == 6

        # and a change reaches Prometheus on the next scrape (the target is live, not cached)
        exporter.observe_opportunity(
            opportunity(site="RX102", status="resolved", at=T0 + HOUR, resolved_at=T0 + HOUR)
        )
        wait_for_query(
            prometheus_url,
            f'opsradar_opportunity_status{{{selector},site="RX102",status="resolved"}} == 1',
            what="RX102's resolution to be scraped",
        )
