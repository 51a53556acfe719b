"""After the pipeline ran on simulated trusts, an analyst's question is one query on a view, and
Prometheus answers the same per site.

"Which sites have an active discharge documentation bottleneck, and how many bed-days a week?"
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.e2e.conftest import PipelineRun
from tests.worker_support import wait_for

pytestmark = pytest.mark.e2e

KIND = "discharge_documentation_automation"


def _as_analyst(database_url: str) -> str:
    url = urlsplit(database_url)
    return psycopg.conninfo.make_conninfo(
        host=url.hostname, port=url.port, dbname=url.path.lstrip("/"),
        user="opsradar_analyst", password="opsradar_analyst",
    )  # fmt: skip


def _prometheus(run: PipelineRun, query: str) -> dict[str, float]:
    url = f"{run.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as response:
        result = json.load(response)["data"]["result"]
    return {r["metric"].get("site", ""): float(r["value"][1]) for r in result}


def test_open_opportunities_answers_without_joins_and_prometheus_agrees(
    pipeline_ran: PipelineRun,
) -> None:
    injected = {t["site_code"] for t in pipeline_ran.truth if t["kind"] == KIND}
    with psycopg.connect(_as_analyst(pipeline_ran.database_url)) as conn:
        rows = conn.execute(
            "SELECT site_code, weekly_bed_days FROM open_opportunities "
            "WHERE kind = %s AND status = 'active' ORDER BY weekly_bed_days DESC",
            (KIND,),
        ).fetchall()
    answer = {site: bed_days for site, bed_days in rows}
    assert set(answer) == injected
    assert all(bed_days > 0 for bed_days in answer.values())

    labels = f'kind="{KIND}",test="{pipeline_ran.suffix}"'
    query = (
        f'opsradar_opportunity_weekly_impact{{{labels},unit="bed_days"}}'
        f' and on (site) (opsradar_opportunity_status{{{labels},status="active"}} == 1)'
    )
    scraped = wait_for(
        lambda: _prometheus(pipeline_ran, query) or None, timeout=60, what=f"Prometheus: {query}"
    )
    assert scraped.keys() == answer.keys()
    for site, bed_days in answer.items():
        assert scraped[site] == pytest.approx(bed_days)
