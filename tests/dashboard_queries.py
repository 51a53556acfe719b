"""Grafana dashboards without Grafana: load them, list their queries, expand Grafana's macros.

Grafana is not available here (no Debian package, no Docker), so the dashboards are tested by
(1) static checks (``tests/unit/ops/test_ops_dashboards.py``) and (2) running every panel's query,
with the macros and variables substituted the way Grafana would, against the real Prometheus and
Postgres (``tests/e2e/test_ops_dashboard_queries.py``). This module does the substituting.

PromQL: ``$__rate_interval`` -> ``1m``, ``$__interval`` -> ``15s``, ``$__range`` -> ``1h`` (all
configurable), a variable -> a regex matching its values (``.*`` for "All" when the variable has
that ``allValue``). SQL (Grafana's Postgres macros): ``$__timeFilter(col)`` -> ``col BETWEEN
'<from>' AND '<to>'``, ``$__timeGroup(col, '1d')`` ->
``floor(extract(epoch from col)/86400)*86400`` (as Grafana does), ``$__timeGroupAlias`` the same
``AS "time"``, ``$__timeFrom()``/``$__timeTo()``, ``$__time(col)``,
and variables -> quoted, comma-separated literals (multi-value) or the raw value (single-value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
DASHBOARDS_DIR = REPO / "deploy" / "grafana" / "dashboards"
DATASOURCES_FILE = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "opsradar.yml"

#: what each variable is set to: None = "All", else the selected values
VariableValues = Mapping[str, Sequence[str] | None]

# $name, ${name}, ${name:format}, [[name]], [[name:format]]; Grafana's own ($__x) are macros
_VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::(?P<fmt>[^}]*))?\}|\[\[(?P<bracket>\w+)(?::[^\]]*)?\]\]|\$(?P<plain>\w+)"
)
_INTERVAL = re.compile(r"^(?P<n>\d+)(?P<unit>ms|s|m|h|d|w)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel (or one variable's query), raw and with macros substituted."""

    dashboard: str  # the dashboard's uid
    panel_id: int | None  # None for a template variable's query
    title: str
    ref_id: str
    datasource_uid: str
    language: Literal["promql", "sql"]
    raw: str
    query: str

    def describe(self) -> str:
        where = f"panel {self.panel_id}" if self.panel_id is not None else "variable"
        return f"{self.dashboard} {where} {self.title!r} {self.ref_id}: {self.query}"


# -- loading ----------------------------------------------------------------------------------


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON, for every ``*.json`` in the directory."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for item in dashboard.get("panels", []):
        yield item
        yield from item.get("panels", [])


def variables(dashboard: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {var["name"]: var for var in dashboard.get("templating", {}).get("list", [])}


def language_of(datasource: Mapping[str, Any]) -> Literal["promql", "sql"]:
    kind = datasource.get("type", "")
    if kind == "prometheus":
        return "promql"
    if kind in {"grafana-postgresql-datasource", "postgres"}:
        return "sql"
    raise ValueError(f"unsupported datasource type {kind!r}")


def query_text(target: Mapping[str, Any]) -> str:
    return str(target.get("expr") or target.get("rawSql") or "")


def variable_references(text: str) -> set[str]:
    """Names of the dashboard variables a query uses (Grafana's ``$__`` macros excluded)."""
    names = set()
    for match in _VARIABLE.finditer(text):
        name = match.group("braced") or match.group("bracket") or match.group("plain")
        if not name.startswith("__"):
            names.add(name)
    return names


# -- substitution -----------------------------------------------------------------------------


def interval_seconds(text: str) -> float:
    match = _INTERVAL.match(text.strip().strip("'\""))
    if match is None:
        raise ValueError(f"not a Grafana interval: {text!r}")
    return int(match["n"]) * _UNIT_SECONDS[match["unit"]]


def _values_of(
    name: str, variable: Mapping[str, Any], chosen: VariableValues, options: Mapping[str, list[str]]
) -> tuple[list[str], bool]:
    """(values, is_all): the variable's selected values; "All" expands to every option."""
    selected = chosen.get(name)
    if selected is not None:
        return list(selected), False
    if not variable.get("includeAll"):
        current = variable.get("current", {}).get("value")
        return ([current] if isinstance(current, str) else list(current or [])), False
    return list(options.get(name, [])), True


def _promql_value(variable: Mapping[str, Any], values: list[str], is_all: bool) -> str:
    if is_all and variable.get("allValue"):
        return str(variable["allValue"])
    escaped = [re.sub(r"([\\.^$*+?()\[\]{}|])", r"\\\\\1", v) for v in values]
    if not escaped:
        raise ValueError(f"variable {variable['name']!r} has no value to substitute")
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _sql_value(variable: Mapping[str, Any], values: list[str], is_all: bool) -> str:
    if is_all and variable.get("allValue"):
        return str(variable["allValue"])
    if not values:
        raise ValueError(f"variable {variable['name']!r} has no value to substitute")
    if variable.get("multi") or variable.get("includeAll"):
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    return values[0]


def substitute_variables(
    text: str,
    dashboard: Mapping[str, Any],
    language: Literal["promql", "sql"],
    chosen: VariableValues | None = None,
    options: Mapping[str, list[str]] | None = None,
) -> str:
    """Replace every dashboard variable the way Grafana formats it for that datasource."""
    defined = variables(dashboard)
    chosen = chosen or {}
    options = options or {}

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bracket") or match.group("plain")
        if name.startswith("__"):
            return match.group(0)
        if name not in defined:
            raise KeyError(f"undefined variable ${name} in {text!r}")
        values, is_all = _values_of(name, defined[name], chosen, options)
        fmt = match.group("fmt")
        if fmt == "raw" or fmt == "csv":
            return ",".join(values)
        if fmt == "regex":
            return _promql_value(defined[name], values, is_all)
        if language == "promql":
            return _promql_value(defined[name], values, is_all)
        return _sql_value(defined[name], values, is_all)

    return _VARIABLE.sub(replace, text)


def substitute_promql(
    expr: str,
    *,
    rate_interval: str = "1m",
    interval: str = "15s",
    range_: str = "1h",
) -> str:
    """Grafana's built-in PromQL macros -> fixed values."""
    seconds = interval_seconds(range_)
    replacements = {
        "$__rate_interval": rate_interval,
        "${__rate_interval}": rate_interval,
        "$__interval_ms": str(int(interval_seconds(interval) * 1000)),
        "$__interval": interval,
        "${__interval}": interval,
        "$__range_ms": str(int(seconds * 1000)),
        "$__range_s": str(int(seconds)),
        "$__range": range_,
        "${__range}": range_,
    }
    for macro in sorted(replacements, key=len, reverse=True):
        expr = expr.replace(macro, replacements[macro])
    return expr


def _sql_time(moment: datetime) -> str:
    return "'" + moment.isoformat() + "'"


def _macro_args(sql: str, start: int) -> tuple[list[str], int]:
    """Split the arguments of the macro call whose '(' is at ``start``; return them and the end."""
    depth = 0
    args: list[str] = []
    current: list[str] = []
    for index in range(start, len(sql)):
        char = sql[index]
        if char == "(":
            depth += 1
            if depth == 1:
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return [a for a in args if a], index + 1
        elif char == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    raise ValueError(f"unbalanced macro call in {sql!r}")


def substitute_sql(sql: str, *, time_from: datetime, time_to: datetime) -> str:
    """Grafana's Postgres macros -> plain SQL over the given time range."""

    def group(args: list[str]) -> str:
        if len(args) < 2:
            raise ValueError(f"$__timeGroup needs (column, interval): {args}")
        step = interval_seconds(args[1])
        return f"floor(extract(epoch from {args[0]})/{step:g})*{step:g}"

    macros: dict[str, Callable[[list[str]], str]] = {
        "$__timeGroupAlias": lambda a: group(a) + ' AS "time"',
        "$__timeGroup": group,
        "$__timeFilter": lambda a: (
            f"{a[0]} BETWEEN {_sql_time(time_from)} AND {_sql_time(time_to)}"
        ),
        "$__timeFrom": lambda a: _sql_time(time_from),
        "$__timeTo": lambda a: _sql_time(time_to),
        "$__unixEpochFilter": lambda a: (
            f"{a[0]} >= {int(time_from.timestamp())} AND {a[0]} <= {int(time_to.timestamp())}"
        ),
        "$__unixEpochFrom": lambda a: str(int(time_from.timestamp())),
        "$__unixEpochTo": lambda a: str(int(time_to.timestamp())),
        "$__timeAlias": lambda a: f'{a[0]} AS "time"',
        "$__time": lambda a: f'{a[0]} AS "time"',
    }
    names = sorted(macros, key=len, reverse=True)
    out, index = [], 0
    while index < len(sql):
        name = next((n for n in names if sql.startswith(n + "(", index)), None)
        if name is None:
            out.append(sql[index])
            index += 1
            continue
        args, index = _macro_args(sql, index + len(name))
        out.append(macros[name](args))
    result = "".join(out)
    leftover = re.search(r"\$__\w+", result)
    if leftover:
        raise ValueError(f"unsupported Grafana macro {leftover.group(0)} in {sql!r}")
    return result


# -- extraction -------------------------------------------------------------------------------


def extract_queries(
    dashboard: Mapping[str, Any],
    *,
    time_from: datetime,
    time_to: datetime,
    chosen: VariableValues | None = None,
    options: Mapping[str, list[str]] | None = None,
    rate_interval: str = "1m",
    interval: str = "15s",
) -> list[PanelQuery]:
    """Every panel target of the dashboard with Grafana's macros and variables substituted.

    ``chosen`` selects variable values (missing or None = "All"); ``options`` lists each
    variable's possible values (what its own query returned), which "All" expands to when the
    variable has no ``allValue``.
    """
    seconds = int((time_to - time_from).total_seconds())
    queries = []
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource") or {}
            language = language_of(datasource)
            raw = query_text(target)
            text = substitute_variables(raw, dashboard, language, chosen, options)
            if language == "promql":
                text = substitute_promql(
                    text, rate_interval=rate_interval, interval=interval, range_=f"{seconds}s"
                )
            else:
                text = substitute_sql(text, time_from=time_from, time_to=time_to)
            queries.append(
                PanelQuery(
                    dashboard=dashboard["uid"],
                    panel_id=panel["id"],
                    title=panel.get("title", ""),
                    ref_id=target.get("refId", ""),
                    datasource_uid=datasource.get("uid", ""),
                    language=language,
                    raw=raw,
                    query=text,
                )
            )
    return queries


def variable_queries(
    dashboard: Mapping[str, Any],
    chosen: VariableValues | None = None,
    options: Mapping[str, list[str]] | None = None,
) -> list[PanelQuery]:
    """The queries of the dashboard's query-type variables, in dependency order (as defined)."""
    found = []
    for var in variables(dashboard).values():
        if var.get("type") != "query":
            continue
        language = language_of(var["datasource"])
        raw = var["query"] if isinstance(var["query"], str) else var["query"]["query"]
        found.append(
            PanelQuery(
                dashboard=dashboard["uid"],
                panel_id=None,
                title=var["name"],
                ref_id=var["name"],
                datasource_uid=var["datasource"]["uid"],
                language=language,
                raw=raw,
                query=substitute_variables(raw, dashboard, language, chosen, options),
            )
        )
    return found


_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$"
)


def parse_label_values(query: str) -> tuple[str | None, str]:
    """``label_values(selector, label)`` -> (selector or None, label)."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        raise ValueError(f"not a label_values() variable query: {query!r}")
    return match["selector"], match["label"]


# -- the "returns data" check -----------------------------------------------------------------


def queries_without_data(
    queries: Iterable[PanelQuery],
    run_promql: Callable[[str], int],
    run_sql: Callable[[str], int],
) -> list[tuple[PanelQuery, str]]:
    """The queries that fail or return nothing, each with the reason.

    ``run_promql``/``run_sql`` return how many series/rows a query produced, or raise.
    """
    bad = []
    for query in queries:
        runner = run_promql if query.language == "promql" else run_sql
        try:
            count = runner(query.query)
        except Exception as error:  # every failure is a finding to report
            bad.append((query, f"failed: {error}"))
            continue
        if count <= 0:
            bad.append((query, "returned no data"))
    return bad
