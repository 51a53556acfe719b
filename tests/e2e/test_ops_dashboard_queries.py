"""Every Grafana panel's query returns data from the real Prometheus and Postgres after a run.

Grafana itself is not available here, so each panel target (and each variable's query) is taken
from the dashboard JSON, Grafana's macros and variables are substituted
(``tests/dashboard_queries.py``), and the query is sent to the real backends: PromQL to
Prometheus's ``/api/v1/query``, SQL to Postgres as the read-only ``opsradar_analyst`` role that
Grafana's datasource uses.

``pipeline_ran`` (session fixture, ``tests/e2e/conftest.py``) runs the whole pipeline on
simulated data first and leaves the workers running and scraped. It may return a mapping (or an
object with these attributes); every key is optional:

- ``database_url``: SQLAlchemy URL of the database the sinks wrote (default: the settings'
  ``database_url``); this test swaps in the analyst's credentials.
- ``prometheus_url``: default the settings' ``prometheus_url``.
- ``time_from``/``time_to``: the event-time span of the data (aware datetimes; default: 400 days
  back to a day ahead), used for ``$__timeFilter`` and friends.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from streams.settings import Settings
from tests.dashboard_queries import (
    PanelQuery,
    extract_queries,
    iter_panels,
    load_dashboards,
    parse_label_values,
    queries_without_data,
    variable_queries,
)

pytestmark = pytest.mark.e2e

ANALYST = ("opsradar_analyst", "opsradar_analyst")


def _field(run: Any, name: str, default: Any) -> Any:
    value = run.get(name) if isinstance(run, Mapping) else getattr(run, name, None)
    return default if value is None else value


class Backends:
    """The real Prometheus and Postgres, with the two runners the returns-data check needs."""

    def __init__(self, run: Any, settings: Settings) -> None:
        self.prometheus = str(_field(run, "prometheus_url", settings.prometheus_url)).rstrip("/")
        url = urlsplit(str(_field(run, "database_url", settings.database_url)))
        self.conninfo = psycopg.conninfo.make_conninfo(
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            dbname=url.path.lstrip("/"),
            user=ANALYST[0],
            password=ANALYST[1],
        )
        now = datetime.now(UTC)
        self.time_from: datetime = _field(run, "time_from", now - timedelta(days=400))
        self.time_to: datetime = _field(run, "time_to", now + timedelta(days=1))

    def _get(self, path: str, params: dict[str, str] | list[tuple[str, str]]) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.prometheus}{path}?{query}", timeout=30) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def promql(self, expr: str) -> int:
        """How many series the instant query returns now."""
        return len(self._get("/api/v1/query", {"query": expr})["result"])

    def label_values(self, query: str) -> list[str]:
        selector, label = parse_label_values(query)
        params = [("match[]", selector)] if selector else []
        return sorted(v for v in self._get(f"/api/v1/label/{label}/values", params) if v)

    def sql_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            return list(conn.execute(sql).fetchall())

    def sql(self, sql: str) -> int:
        """How many rows carry a value: a row of NULLs/zeros (an empty sum) is no data."""
        return sum(1 for row in self.sql_rows(sql) if any(v is not None and v != 0 for v in row))

    def options(self, query: PanelQuery) -> list[str]:
        if query.language == "promql":
            return self.label_values(query.query)
        return sorted(str(row[0]) for row in self.sql_rows(query.query) if row[0] is not None)


@pytest.fixture(scope="module")
def backends(pipeline_ran: Any, settings: Settings) -> Backends:
    return Backends(pipeline_ran, settings)


def _resolve_variables(board: dict[str, Any], backends: Backends) -> dict[str, list[str]]:
    """Run each variable's query in order (later ones may use earlier ones) and keep the options."""
    options: dict[str, list[str]] = {}
    for query in variable_queries(board):
        resolved = next(
            q for q in variable_queries(board, options=options) if q.ref_id == query.ref_id
        )
        options[query.ref_id] = backends.options(resolved)
    return options


@pytest.mark.parametrize("name", sorted(load_dashboards()))
def test_every_variable_query_returns_options(name: str, backends: Backends) -> None:
    board = load_dashboards()[name]
    options = _resolve_variables(board, backends)
    empty = [var for var, values in options.items() if not values]
    assert not empty, f"{name}: variables without options: {empty}"


@pytest.mark.parametrize("name", sorted(load_dashboards()))
def test_every_panel_query_returns_data(name: str, backends: Backends) -> None:
    board = load_dashboards()[name]
    queries = extract_queries(
        board,
        time_from=backends.time_from,
        time_to=backends.time_to,
        options=_resolve_variables(board, backends),
    )
    assert queries
    bad = queries_without_data(queries, backends.promql, backends.sql)
    assert not bad, "\n".join(f"{reason}: {q.describe()}" for q, reason in bad)


def test_returns_data_check_bites_on_a_misspelled_metric(backends: Backends) -> None:
    """`up` exists on any scraping Prometheus; `upp` must be reported as returning nothing."""
    board = copy.deepcopy(load_dashboards()["pipeline-health.json"])
    panel = next(p for p in iter_panels(board) if p["title"] == "Workers up")
    good = extract_queries(board, time_from=backends.time_from, time_to=backends.time_to)
    assert not queries_without_data(
        [q for q in good if q.panel_id == panel["id"]], backends.promql, backends.sql
    )

    panel["targets"][0]["expr"] = panel["targets"][0]["expr"].replace("up{", "upp{")
    broken = extract_queries(board, time_from=backends.time_from, time_to=backends.time_to)
    bad = queries_without_data(
        [q for q in broken if q.panel_id == panel["id"]], backends.promql, backends.sql
    )

    assert [(q.panel_id, reason) for q, reason in bad] == [(panel["id"], "returned no data")]
