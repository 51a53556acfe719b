#!/usr/bin/env python3
"""The one source of truth of opsradar's Grafana dashboards: writes deploy/grafana/dashboards/.

    python deploy/grafana/build_dashboards.py           # (re)write the JSON files
    python deploy/grafana/build_dashboards.py --check   # exit 1 if a JSON file is out of date

Edit this file, run it, commit both. ``tests/unit/ops/test_ops_dashboards.py`` fails when the JSON
differs from what this script builds, and checks ids, layout, variables and datasource uids;
``tests/e2e/test_ops_dashboard_queries.py`` runs every query against the real Prometheus and
Postgres. Standard library only, so it runs anywhere.

Datasources are referenced by the fixed uids of ``provisioning/datasources/opsradar.yml``.
Metric names: OPPORTUNITIES.md ("Outputs") and ``streams/engine/metric_names.py``; Faust's own
metrics carry the prefix ``opsradar_`` (``streams/app.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"

PROMETHEUS = {"type": "prometheus", "uid": "opsradar-prometheus"}
POSTGRES = {"type": "grafana-postgresql-datasource", "uid": "opsradar-postgres"}

#: the dashboards' uids; links and alert annotations (deploy/prometheus/rules) use them
TRUST_OPS_UID = "opsradar-trust-ops"
EXPLORER_UID = "opsradar-opportunities"
PIPELINE_UID = "opsradar-pipeline"

#: the history of status changes the explorer's trend reads (the analyst role needs SELECT on it)
TRANSITIONS = "opportunity_history"

Json = dict[str, Any]


# -- building blocks --------------------------------------------------------------------------


def prom(expr: str, legend: str = "", *, instant: bool = False) -> Json:
    target: Json = {"datasource": PROMETHEUS, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        target.update(instant=True, range=False, format="table")
    else:
        target.update(instant=False, range=True)
    return target


def sql(query: str, *, fmt: str = "table") -> Json:
    return {
        "datasource": POSTGRES,
        "rawSql": " ".join(query.split()),
        "format": fmt,
        "rawQuery": True,
        "editorMode": "code",
    }


def panel(
    kind: str,
    title: str,
    targets: list[Json],
    *,
    description: str = "",
    unit: str | None = None,
    options: Json | None = None,
    field_defaults: Json | None = None,
    transformations: list[Json] | None = None,
    overrides: list[Json] | None = None,
    width: int = 12,
    height: int = 8,
) -> Json:
    datasource = targets[0]["datasource"]
    defaults: Json = dict(field_defaults or {})
    if unit:
        defaults["unit"] = unit
    body: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource,
        "targets": [{"refId": chr(ord("A") + i), **t} for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        # layout hints, replaced by gridPos in layout()
        "_w": width,
        "_h": height,
    }
    if transformations:
        body["transformations"] = transformations
    return body


def _override(pattern: str, properties: Json) -> Json:
    """Field properties for the series whose display name matches ``pattern``."""
    return {
        "matcher": {"id": "byRegexp", "options": pattern},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def timeseries(title: str, targets: list[Json], **kw: Any) -> Json:
    kw.setdefault("options", {"legend": {"displayMode": "table", "placement": "right"}})
    return panel("timeseries", title, targets, **kw)


def stat(title: str, targets: list[Json], **kw: Any) -> Json:
    kw.setdefault("width", 4)
    kw.setdefault("height", 4)
    kw.setdefault("options", {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"})
    return panel("stat", title, targets, **kw)


def table(title: str, targets: list[Json], **kw: Any) -> Json:
    kw.setdefault("width", 24)
    kw.setdefault("height", 10)
    kw.setdefault("options", {"showHeader": True, "cellHeight": "sm"})
    return panel("table", title, targets, **kw)


def row(title: str) -> Json:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_w": 24, "_h": 1}


def layout(panels: list[Json]) -> list[Json]:
    """Assign ids 1.. and gridPos: left to right, wrapping at 24 columns; a row starts a line."""
    placed: list[Json] = []
    x = y = line_height = 0
    for number, item in enumerate(panels, start=1):
        width, height = item.pop("_w"), item.pop("_h")
        if item["type"] == "row" or x + width > 24:
            x, y, line_height = 0, y + line_height, 0
        item["id"] = number
        item["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
        x += width
        line_height = max(line_height, height)
        if item["type"] == "row":
            x, y, line_height = 0, y + height, 0
        placed.append(item)
    return placed


def prom_variable(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROMETHEUS,
        "query": query,
        "definition": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def sql_variable(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": POSTGRES,
        "query": query,
        "definition": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def custom_variable(name: str, label: str, options: list[tuple[str, str]]) -> Json:
    text, value = options[0]
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(f"{t} : {v}" for t, v in options),
        "multi": False,
        "includeAll": False,
        "current": {"selected": True, "text": text, "value": value},
        "options": [
            {"selected": i == 0, "text": t, "value": v} for i, (t, v) in enumerate(options)
        ],
    }


def dashboard(
    uid: str, title: str, description: str, panels: list[Json], variables: list[Json], **kw: Any
) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["opsradar"],
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": kw.get("refresh", "1m"),
        "time": {"from": kw.get("time_from", "now-7d"), "to": "now"},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["opsradar"],
                "asDropdown": True,
                "title": "opsradar",
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "templating": {"list": variables},
        "panels": layout(panels),
    }


# -- Trust operations (Prometheus) ------------------------------------------------------------

SCOPE = 'trust=~"$trust", site=~"$site"'


def scope_metric(metric: str, legend: str) -> Json:
    """One scope metric over the selected trusts/sites, one series per scope."""
    return prom(
        f'max by (trust, site) (opsradar_scope_metric{{{SCOPE}, metric="{metric}"}})',
        f"{{{{trust}}}} {{{{site}}}} {legend}",
    )


def scope_metric_or(site_metric: str, trust_metric: str, legend: str) -> Json:
    """A site metric and the trust-scope metric (site "") of the same measure, as one series
    set: a trust's monthly published figure beside its sites' event-time ones."""
    return prom(
        f'max by (trust, site) (opsradar_scope_metric{{{SCOPE}, metric="{site_metric}"}}) or '
        f'max by (trust, site) (opsradar_scope_metric{{{SCOPE}, metric="{trust_metric}"}})',
        f"{{{{trust}}}} {{{{site}}}} {legend}",
    )


def trust_operations() -> Json:
    impact = (
        "max by (trust, site, kind) "
        '(opsradar_opportunity_weekly_impact{{{scope}, unit="{unit}"}}) '
        "and on (trust, site, kind) "
        "(max by (trust, site, kind) "
        '(opsradar_opportunity_status{{{scope}, status=~"emerging|active"}}) == 1)'
    )
    open_status = (
        "max by (trust, site, kind, status) "
        f'(opsradar_opportunity_status{{{SCOPE}, status=~"emerging|active"}}) == 1'
    )
    panels = [
        row("Opportunities"),
        stat(
            "Open opportunities",
            [
                prom(
                    "sum by (status) "
                    f'(opsradar_opportunity_status{{{SCOPE}, status=~"emerging|active"}})',
                    "{{status}}",
                )
            ],
            description="Scopes × kinds currently emerging or active.",
            width=6,
        ),
        stat(
            "Weekly bed-days releasable",
            [
                prom(
                    f'sum(opsradar_opportunity_weekly_impact{{{SCOPE}, unit="bed_days"}})',
                    "bed-days",
                )
            ],
            description="Sum over open opportunities (resolved ones export 0).",
            width=6,
        ),
        stat(
            "Weekly staff hours releasable",
            [
                prom(
                    f'sum(opsradar_opportunity_weekly_impact{{{SCOPE}, unit="staff_hours"}})',
                    "hours",
                )
            ],
            width=6,
        ),
        stat(
            "Weekly £ releasable",
            [prom(f'sum(opsradar_opportunity_weekly_impact{{{SCOPE}, unit="gbp"}})', "£")],
            unit="currencyGBP",
            width=6,
        ),
        table(
            "Open opportunities with impact",
            [
                prom(open_status, instant=True),
                prom(
                    "max by (trust, site, kind) (opsradar_opportunity_severity{"
                    + SCOPE
                    + "}) and on (trust, site, kind) ("
                    + open_status
                    + ")",
                    instant=True,
                ),
                prom(impact.format(scope=SCOPE, unit="bed_days"), instant=True),
                prom(impact.format(scope=SCOPE, unit="staff_hours"), instant=True),
                prom(impact.format(scope=SCOPE, unit="gbp"), instant=True),
            ],
            description=(
                "One row per open (scope, kind): its status, 0-1 severity and weekly impact "
                "estimates. Site is empty for trust-scope (sitrep) opportunities. Evidence and "
                "assumptions: Opportunity explorer, or the open_opportunities view."
            ),
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "Value #A": True},
                        "renameByName": {
                            "Value #B": "severity",
                            "Value #C": "bed-days / week",
                            "Value #D": "staff hours / week",
                            "Value #E": "£ / week",
                        },
                    },
                },
            ],
        ),
        row("Beds and occupancy"),
        timeseries(
            "Bed occupancy",
            [
                scope_metric("bed_occupancy_ratio", "now"),
                scope_metric("bed_occupancy_ratio_24h", "24 h"),
                scope_metric("bed_occupancy_forecast_24h", "forecast 24 h ahead"),
                scope_metric("bed_occupancy_forecast_24h_low", "forecast band"),
                prom(
                    "max by (trust, site) (opsradar_scope_metric"
                    f'{{{SCOPE}, metric="bed_occupancy_forecast_24h_high"}}) - '
                    "max by (trust, site) (opsradar_scope_metric"
                    f'{{{SCOPE}, metric="bed_occupancy_forecast_24h_low"}})',
                    "{{trust}} {{site}} forecast band width",
                ),
            ],
            description=(
                "Occupied / open beds (capacity_forecasting flags ≥ 92% for 3 days and emerges "
                "when the forecast reaches 92%). The forecast is drawn where it was made, for "
                "24 h later; the shaded band is its 80% interval (stacked low + width: select "
                "one site to read it)."
            ),
            unit="percentunit",
            field_defaults={"max": 1},
            overrides=[
                _override(".*forecast 24 h ahead", {"custom.lineStyle": {"fill": "dash"}}),
                _override(
                    ".*forecast band.*",
                    {
                        "custom.stacking": {"group": "forecast_band", "mode": "normal"},
                        "custom.lineWidth": 0,
                        "custom.hideFrom": {"legend": True, "tooltip": False, "viz": False},
                    },
                ),
                _override(".*forecast band width", {"custom.fillOpacity": 25}),
            ],
        ),
        timeseries(
            "Occupied and open beds",
            [scope_metric("occupied_beds", "occupied"), scope_metric("open_beds", "open")],
        ),
        timeseries(
            "Criteria to reside: NCTR share of occupied beds",
            [scope_metric("nctr_share", "now"), scope_metric("nctr_share_7d", "7 d")],
            description=(
                "Patients no longer meeting the criteria to reside (discharge_coordination: ≥ 35%)."
            ),
            unit="percentunit",
        ),
        timeseries(
            "Delay reasons: share of NCTR patients",
            [
                scope_metric("delay_share_discharge_documentation", "documentation"),
                scope_metric("delay_share_patient_transport", "transport"),
                scope_metric("delay_share_care_transfer_hub", "care transfer hub"),
            ],
            description=(
                "Latest delay reason of NCTR patients (documentation/transport ≥ 5%, hub ≥ 30%)."
            ),
            unit="percentunit",
        ),
        timeseries(
            "Discharge timing",
            [
                scope_metric("discharge_before_noon_share_7d", "before noon"),
                scope_metric("weekend_weekday_discharge_ratio_7d", "weekend/weekday"),
            ],
            description="SAFER: ≥ 33% before noon; weekend/weekday discharge-rate ratio ≥ 0.6.",
        ),
        timeseries(
            "Discharges per NCTR patient-day",
            [scope_metric("discharges_per_nctr_patient_7d", "7 d")],
            description="discharge_coordination flags < 0.25 (7-day mean).",
        ),
        row("Urgent and emergency care"),
        timeseries(
            "4-hour and 12-hour waits",
            [
                scope_metric_or("ed_4h_share_7d", "ed_4h_share", "within 4 h"),
                scope_metric("ed_4h_share_non_admitted_7d", "within 4 h, not admitted"),
                scope_metric("ed_12h_share_7d", "over 12 h"),
            ],
            description=(
                "Departures within 4 h of arrival (standard: ≥ 78%; ed_demand_forecasting flags "
                "non-admitted < 78%) and over 12 h (ed_bed_allocation: ≥ 10%), 7 days; a trust "
                "without a site (site empty): the published monthly A&E share."
            ),
            unit="percentunit",
        ),
        timeseries(
            "Ambulance handovers",
            [
                scope_metric("handover_median_minutes_7d", "median minutes"),
                scope_metric("handovers_over_30m_7d", "over 30 min"),
                scope_metric("handovers_over_45m_7d", "over 45 min"),
            ],
            description=(
                "Minutes from ambulance arrival to handover, 7 days (45-minute maximum; "
                "ambulance_handover_automation: ≥ 10% over 45 min or a median ≥ 30 min)."
            ),
        ),
        timeseries(
            "Decided admissions waiting (trolley waits)",
            [
                scope_metric_or(
                    "trolley_wait_4h_share_7d", "trolley_wait_4h_share", "over 4 h from decision"
                ),
                scope_metric("trolley_wait_12h_share_7d", "over 12 h from decision"),
            ],
            description=(
                "Decision to admit to departure, 7 days (ed_bed_allocation flags ≥ 40% over 4 h); "
                "a trust without a site: the published monthly share of emergency admissions."
            ),
            unit="percentunit",
        ),
        timeseries(
            "In the department",
            [
                scope_metric("ed_in_department", "patients in the department"),
                scope_metric("ed_awaiting_admission", "with a decision to admit"),
            ],
        ),
        row("Workforce"),
        timeseries(
            "Roster fill and agency",
            [
                scope_metric("shift_unfilled_rate_7d", "unfilled"),
                scope_metric("agency_fill_share_7d", "agency share of fills"),
                scope_metric("short_notice_absence_rate_14d", "short-notice absence"),
            ],
            description=(
                "roster_optimisation: unfilled ≥ 10% or agency ≥ 8%; absences < 24 h notice ≥ 5%."
            ),
            unit="percentunit",
        ),
        timeseries(
            "Roster stability",
            [
                scope_metric("roster_lead_time_median_days", "lead time (days)"),
                scope_metric("post_publication_change_rate_28d", "changes after publication"),
            ],
            description="auto_rostering: median lead time < 42 days or ≥ 20% of shifts changed.",
        ),
        row("Referrals and waiting list"),
        timeseries(
            "Referral backlog",
            [
                scope_metric("open_pathways", "open pathways"),
                scope_metric("untriaged_referrals", "untriaged"),
                scope_metric("long_wait_pathways", "> 18 weeks"),
            ],
        ),
        timeseries(
            "Waiting-list shape",
            [
                scope_metric("long_wait_share", "> 18 weeks share"),
                scope_metric("validation_coverage_12w", "validated in 12 weeks"),
                scope_metric("referral_inflow_closure_ratio_28d", "inflow / closures"),
            ],
            description=(
                "waiting_list_validation: > 18 weeks ≥ 35% and < 50% validated; "
                "demand_capacity_planning: inflow / closures ≥ 1.1."
            ),
        ),
        timeseries(
            "Triage",
            [
                scope_metric("triage_latency_median_days_28d", "median days to triage"),
                scope_metric("untriaged_over_7d_share", "untriaged > 7 days share"),
            ],
            description="referral_triage_automation: median > 5 days or ≥ 20% untriaged > 7 days.",
        ),
        timeseries(
            "Did not attend",
            [scope_metric("dna_rate_28d", "DNA rate")],
            description="dna_reduction flags ≥ 8% of outcomes over 28 days.",
            unit="percentunit",
        ),
    ]
    variables = [
        prom_variable("trust", "Trust", "label_values(opsradar_scope_metric, trust)"),
        prom_variable("site", "Site", 'label_values(opsradar_scope_metric{trust=~"$trust"}, site)'),
    ]
    return dashboard(
        TRUST_OPS_UID,
        "opsradar / Trust operations",
        "A trust's operational metrics (event-time evaluations) and its open opportunities.",
        panels,
        variables,
    )


# -- Opportunity explorer (Postgres) ----------------------------------------------------------

FILTER = "kind IN ($kind) AND trust_code IN ($trust)"
#: open episodes of scopes still reporting: a stale one (its data days or months behind the rest:
#: a trust that merged, a feed switched off) is not an opportunity now (migration r0006)
CURRENT = f"{FILTER} AND NOT stale"


def opportunity_explorer() -> Json:
    panels = [
        stat(
            "Open opportunities",
            [sql(f"SELECT count(*) AS open FROM open_opportunities WHERE {CURRENT}")],
            width=6,
        ),
        stat(
            "Weekly bed-days",
            [
                sql(
                    "SELECT COALESCE(sum(weekly_bed_days), 0) AS bed_days "
                    f"FROM open_opportunities WHERE {CURRENT}"
                )
            ],
            width=6,
        ),
        stat(
            "Weekly staff hours",
            [
                sql(
                    "SELECT COALESCE(sum(weekly_staff_hours), 0) AS staff_hours "
                    f"FROM open_opportunities WHERE {CURRENT}"
                )
            ],
            width=6,
        ),
        stat(
            "Weekly £",
            [
                sql(
                    "SELECT COALESCE(sum(weekly_gbp), 0) AS gbp "
                    f"FROM open_opportunities WHERE {CURRENT}"
                )
            ],
            unit="currencyGBP",
            width=6,
        ),
        table(
            "Open opportunities nationally, ranked by $rank_by",
            [
                sql(
                    f"""
                    SELECT trust_code AS trust, COALESCE(site_code, '') AS site, kind, domain,
                           status, round(severity::numeric, 2) AS severity,
                           round(weekly_bed_days::numeric, 1) AS bed_days_per_week,
                           round(weekly_staff_hours::numeric, 1) AS staff_hours_per_week,
                           round(weekly_gbp::numeric, 0) AS gbp_per_week,
                           since, last_evaluated_at, intervention
                    FROM open_opportunities
                    WHERE {CURRENT}
                    ORDER BY $rank_by DESC NULLS LAST, severity DESC
                    LIMIT 500
                    """
                )
            ],
            description=(
                "Every emerging or active episode of a scope still reporting, from the "
                "open_opportunities view (those of scopes that stopped are stale there, and left "
                "out here). There is no region column in the data, so filter by trust (a region "
                "is a set of trusts)."
            ),
            height=12,
        ),
        timeseries(
            "Opportunities opened and resolved per day",
            [
                sql(
                    f"""
                    SELECT $__timeGroupAlias(at, '1d'),
                           count(*) FILTER (WHERE from_status IS NULL) AS opened,
                           count(*) FILTER (WHERE to_status = 'active') AS became_active,
                           count(*) FILTER (WHERE to_status = 'resolved') AS resolved
                    FROM {TRANSITIONS}
                    WHERE $__timeFilter(at) AND {FILTER}
                    GROUP BY 1
                    ORDER BY 1
                    """,
                    fmt="time_series",
                )
            ],
            description="From the transition history, by event time of the change.",
            options={"legend": {"displayMode": "list", "placement": "bottom"}},
            field_defaults={"custom": {"drawStyle": "bars", "fillOpacity": 60}},
        ),
        table(
            "Open opportunities by kind",
            [
                sql(
                    f"""
                    SELECT kind, count(*) AS open,
                           count(*) FILTER (WHERE status = 'active') AS active,
                           count(DISTINCT trust_code) AS trusts,
                           round(sum(weekly_bed_days)::numeric, 1) AS bed_days_per_week,
                           round(sum(weekly_staff_hours)::numeric, 1) AS staff_hours_per_week,
                           round(sum(weekly_gbp)::numeric, 0) AS gbp_per_week
                    FROM open_opportunities
                    WHERE {CURRENT}
                    GROUP BY kind
                    ORDER BY gbp_per_week DESC, bed_days_per_week DESC
                    """
                )
            ],
            width=12,
            height=8,
        ),
        table(
            "Trust summary",
            [
                sql(
                    f"""
                    SELECT trust_code AS trust, kind, emerging, active, scopes,
                           round(max_severity::numeric, 2) AS max_severity,
                           round(weekly_bed_days::numeric, 1) AS bed_days_per_week,
                           round(weekly_staff_hours::numeric, 1) AS staff_hours_per_week,
                           round(weekly_gbp::numeric, 0) AS gbp_per_week
                    FROM trust_summary
                    WHERE {FILTER}
                    ORDER BY trust_code, kind
                    """
                )
            ],
            description="Per trust and kind (the trust_summary view).",
            width=12,
        ),
        table(
            "National summary (small numbers suppressed)",
            [
                sql(
                    """
                    SELECT kind, domain, trusts, sites, emerging, active,
                           weekly_bed_days, weekly_staff_hours, weekly_gbp
                    FROM national_summary
                    WHERE kind IN ($kind)
                    ORDER BY kind
                    """
                )
            ],
            description=(
                "The national_summary view: counts 1-7 shown empty, others rounded to 5; safe to "
                "share beyond a trust. Not filtered by trust (it is national)."
            ),
            width=12,
        ),
    ]
    variables = [
        sql_variable("kind", "Kind", "SELECT kind FROM national_summary ORDER BY 1"),
        sql_variable("trust", "Trust", f"SELECT DISTINCT trust_code FROM {TRANSITIONS} ORDER BY 1"),
        custom_variable(
            "rank_by",
            "Rank by",
            [
                ("weekly £", "weekly_gbp"),
                ("weekly bed-days", "weekly_bed_days"),
                ("weekly staff hours", "weekly_staff_hours"),
                ("severity", "severity"),
            ],
        ),
    ]
    return dashboard(
        EXPLORER_UID,
        "opsradar / Opportunity explorer",
        "National view of opportunities from Postgres (read-only analyst role).",
        panels,
        variables,
        time_from="now-90d",
        refresh="5m",
    )


# -- Pipeline health (Prometheus) -------------------------------------------------------------

RATE = "[$__rate_interval]"
OUTPUT_TOPICS = 'topic=~"opsradar[.](metrics|opportunities)[.]v1.*"'
SENT_OUTPUT_TOPICS = 'topic=~"topic[.]opsradar[.](metrics|opportunities)[.]v1.*"'


def pipeline_health() -> Json:
    rejected = f"(sum(rate(opsradar_events_rejected_total{RATE})) or vector(0))"
    panels = [
        stat("Workers up", [prom('sum(up{job="opsradar-worker"})', "up")], width=4),
        stat(
            "Events accepted / s",
            [prom(f"sum(rate(opsradar_events_total{RATE}))", "events/s")],
            unit="reqps",
            width=5,
        ),
        stat(
            "Rejected share",
            [
                prom(
                    f"{rejected} / ({rejected} + sum(rate(opsradar_events_total{RATE})))",
                    "rejected",
                )
            ],
            description="OpsradarRejectRateHigh fires above 1% for 15 minutes.",
            unit="percentunit",
            width=5,
        ),
        stat(
            "Kafka consumer lag (records)",
            [
                prom(
                    "sum(opsradar_topic_partition_end_offset"
                    " - opsradar_topic_partition_offset_commited)",
                    "lag",
                )
            ],
            width=5,
        ),
        stat(
            "Opsradar alerts firing",
            [
                prom(
                    'count(ALERTS{alertname=~"Opsradar.*", alertstate="firing"}) or vector(0)',
                    "firing",
                )
            ],
            width=5,
        ),
        timeseries(
            "Events accepted by topic and type",
            [
                prom(
                    f"sum by (topic, event_type) (rate(opsradar_events_total{RATE}))",
                    "{{topic}} {{event_type}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "Events rejected by reason",
            [
                prom(
                    f"sum by (topic, reason) (rate(opsradar_events_rejected_total{RATE}))",
                    "{{topic}} {{reason}}",
                )
            ],
            description="Rejected events go to opsradar.deadletter.v1 with their reason.",
            unit="reqps",
        ),
        timeseries(
            "Duplicate and late events",
            [
                prom(
                    f"sum by (topic) (rate(opsradar_events_duplicate_total{RATE}))",
                    "{{topic}} duplicate",
                ),
                prom(f"sum by (topic) (rate(opsradar_events_late_total{RATE}))", "{{topic}} late"),
                prom(
                    f"sum by (topic) (rate(opsradar_events_after_close_total{RATE}))",
                    "{{topic}} after close",
                ),
            ],
            unit="reqps",
        ),
        timeseries(
            "Feed anomalies corrected",
            [
                prom(
                    f"sum by (topic, kind) (rate(opsradar_feed_anomalies_total{RATE}))",
                    "{{topic}} {{kind}}",
                )
            ],
            description=(
                "What the engine corrected in a feed: entities expired silent, evaluations with "
                "more patients than open beds (lost discharges), shift events for shifts never "
                "planned, handovers of 24 h or more. A rise points at the trust's interface."
            ),
            unit="reqps",
        ),
        timeseries(
            "Event-time lag",
            [prom("max by (topic) (opsradar_event_time_lag_seconds)", "{{topic}}")],
            description=(
                "Wall clock minus the newest event time seen per topic. Large during a backfill "
                "(and falling); OpsradarEventLagHigh fires above 1 h when it is not falling."
            ),
            unit="s",
        ),
        timeseries(
            "Kafka consumer lag by topic",
            [
                prom(
                    "sum by (topic) (opsradar_topic_partition_end_offset"
                    " - opsradar_topic_partition_offset_commited)",
                    "{{topic}}",
                )
            ],
            description=(
                "Faust has no lag metric: end offset minus committed offset per partition "
                "(both from Faust's sensor; reset at each rebalance)."
            ),
        ),
        timeseries(
            "Workers",
            [
                prom('up{job="opsradar-worker"}', "{{instance}}"),
                prom("max by (instance) (opsradar_total_rebalances)", "{{instance}} rebalances"),
            ],
            description="Scrape health per worker, and Faust's rebalance count.",
        ),
        timeseries(
            "Sink throughput (records written to Postgres and Prometheus)",
            [
                prom(
                    "sum by (topic) (rate(opsradar_messages_received_per_topic_total"
                    f"{{{OUTPUT_TOPICS}}}{RATE}))",
                    "{{topic}} consumed by sinks",
                ),
                prom(
                    # Faust's sensor labels sends as topic="topic.<name>".
                    "sum by (topic) (rate(opsradar_topic_messages_sent_total"
                    f"{{{SENT_OUTPUT_TOPICS}}}{RATE}))",
                    "{{topic}} emitted by engine",
                ),
            ],
            description=(
                "The sink writer has no metric of its own: the rate at which the sink agents "
                "consume the output topics (each record is one idempotent upsert) stands in for "
                "the write rate, next to what the engine emits on them."
            ),
            unit="reqps",
        ),
        timeseries(
            "Faust messages received / s",
            [
                prom(
                    f"sum by (instance) (rate(opsradar_messages_received_total{RATE}))",
                    "{{instance}}",
                )
            ],
            unit="reqps",
        ),
    ]
    return dashboard(
        PIPELINE_UID,
        "opsradar / Pipeline health",
        "Events in and out, rejects, lag, workers and sinks.",
        panels,
        [],
        time_from="now-6h",
        refresh="30s",
    )


# -- files ------------------------------------------------------------------------------------


def build() -> dict[str, Json]:
    """File name -> dashboard JSON, for every dashboard."""
    return {
        "trust-operations.json": trust_operations(),
        "opportunity-explorer.json": opportunity_explorer(),
        "pipeline-health.json": pipeline_health(),
    }


def render(board: Json) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a JSON file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, board in build().items():
        path = OUT_DIR / name
        text = render(board)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        sys.stderr.write(f"stale dashboards (run {Path(__file__).name}): {', '.join(stale)}\n")
        return 1
    for name in stale:
        sys.stdout.write(f"wrote {OUT_DIR / name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
