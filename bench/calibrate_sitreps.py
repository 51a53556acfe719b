"""Calibration on a whole year of real data: FY 2023/24 sitreps of every trust through the engine.

    .venv/bin/python bench/calibrate_sitreps.py [--year 2023] [--data DIR] [--out DIR]
        [--config FILE]

Imports NHS England's published sitreps (``shared/data/nhs-published/``: daily NCTR and
discharges, monthly G&A beds, monthly A&E statistics; the delay-reason file starts in June 2024,
so the three delay-reason kinds have no data in FY 2023/24) of financial year ``--year`` (April
to March), from two months before it (so the 7-day windows and the 3-report persistence are
filled on 1 April), with ``opsradar import-sitrep`` (``--ae`` for the A&E file), runs
``opsradar analyse`` over them, and reports per kind and financial quarter:

- **trusts active**: the share of trusts reporting in the quarter (a discharge sitrep in it; for
  the A&E kinds ``ed_demand_forecasting`` and ``ed_bed_allocation``, an A&E month in it) with
  an episode of the kind *active* at some point of the quarter (first active before the quarter
  ends, and not resolved before it starts);
- **emerging-only per trust**: episodes that first emerged in the quarter and never went active,
  divided by the trusts reporting.

Prints a markdown table and writes ``calibration.json`` into ``--out``. ``--config`` passes a
catalogue override file to ``analyse`` (to try a default before changing the catalogue; its
``[scopes."*"...]`` sections are copied to every trust of the data).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "nhs-published"
Quarter = tuple[str, date, date]


def financial_quarters(year: int) -> tuple[Quarter, ...]:
    """(label, first day, day after the last) of the four quarters of FY ``year``/``year + 1``."""
    fy = f"{year}/{str(year + 1)[2:]}"
    return (
        (f"{fy} Q1 (Apr-Jun)", date(year, 4, 1), date(year, 7, 1)),
        (f"{fy} Q2 (Jul-Sep)", date(year, 7, 1), date(year, 10, 1)),
        (f"{fy} Q3 (Oct-Dec)", date(year, 10, 1), date(year + 1, 1, 1)),
        (f"{fy} Q4 (Jan-Mar)", date(year + 1, 1, 1), date(year + 1, 4, 1)),
    )


#: the kinds a sitrep scope evaluates (the rest need event feeds)
SITREP_KINDS: tuple[str, ...] = (
    "capacity_forecasting",
    "care_transfer_referral_automation",
    "discharge_coordination",
    "discharge_documentation_automation",
    "discharge_timing_prediction",
    "transport_booking_automation",
    # the monthly A&E statistics (import-sitrep --ae) drive these two at trust scope
    "ed_demand_forecasting",
    "ed_bed_allocation",
)
#: the kinds the A&E file drives: their trusts reporting are those with an A&E month
AE_KINDS: frozenset[str] = frozenset({"ed_demand_forecasting", "ed_bed_allocation"})


#: the event type that carries each sitrep source
SOURCE_EVENT: dict[str, str] = {
    "delay": "delay_reasons_sitrep",
    "discharge": "discharge_sitrep",
    "ae": "ae_sitrep",
}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def _day(value: str | None) -> date | None:
    return None if value is None else datetime.fromisoformat(value).date()


def reporting_trusts(
    events: Path, quarters: tuple[Quarter, ...], *, event_type: str = "discharge_sitrep"
) -> dict[str, set[str]]:
    """Quarter label -> trusts with at least one ``event_type`` sitrep dated in it (a discharge
    sitrep's report date; an A&E month's first day)."""
    import gzip

    import orjson

    out: dict[str, set[str]] = {label: set() for label, _, _ in quarters}
    with gzip.open(events, "rb") as lines:
        for line in lines:
            event = orjson.loads(line)
            if event.get("event_type") != event_type:
                continue
            day = date.fromisoformat(event.get("report_date") or event["period_start"])
            for label, start, end in quarters:
                if start <= day < end:
                    out[label].add(event["trust_code"])
    return out


def _expand_config(config: Path, trusts: set[str], folder: Path) -> Path:
    """``[scopes."*".kind]`` sections copied to every trust (the catalogue has no wildcard)."""
    raw = tomllib.loads(config.read_text())
    scopes = dict(raw.get("scopes", {}))
    wildcard = scopes.pop("*", None)
    if wildcard is not None:
        for trust in sorted(trusts):
            merged = dict(wildcard)
            merged.update(scopes.get(trust, {}))
            scopes[trust] = merged
    # JSON is YAML, and the catalogue reads YAML override files: no TOML writer needed
    path = folder / "overrides.yaml"
    path.write_text(json.dumps({"scopes": scopes}, indent=1))
    return path


def calibrate(
    episodes: list[dict[str, Any]],
    reporting: dict[str, set[str]],
    quarters: tuple[Quarter, ...],
    reporting_ae: dict[str, set[str]] | None = None,
) -> dict[str, dict[str, dict[str, float | int]]]:
    """kind -> quarter -> {trusts, trusts_active, share_active, emerging_only, per_trust}.

    ``reporting_ae``: the trusts with an A&E month in each quarter, the denominator of the A&E
    kinds (``reporting`` if not given)."""
    ae = reporting if reporting_ae is None else reporting_ae

    def reporters(kind: str) -> dict[str, set[str]]:
        return ae if kind in AE_KINDS else reporting

    active: dict[tuple[str, str], set[str]] = defaultdict(set)
    emerging_only: dict[tuple[str, str], int] = defaultdict(int)
    for row in episodes:
        first_active = _day(row.get("first_active_at"))
        first_emerging = _day(row.get("first_emerging_at"))
        resolved = _day(row.get("resolved_at"))
        for label, start, end in quarters:
            if row["trust_code"] not in reporters(row["kind"]).get(label, set()):
                continue
            if first_active is not None:
                if first_active < end and (resolved is None or resolved >= start):
                    active[(row["kind"], label)].add(row["trust_code"])
            elif first_emerging is not None and start <= first_emerging < end:
                emerging_only[(row["kind"], label)] += 1
    table: dict[str, dict[str, dict[str, float | int]]] = {}
    for kind in SITREP_KINDS:
        table[kind] = {}
        for label, _, _ in quarters:
            trusts = len(reporters(kind)[label])
            count = len(active[(kind, label)])
            table[kind][label] = {
                "trusts": trusts,
                "trusts_active": count,
                "share_active": round(count / trusts, 3) if trusts else 0.0,
                "emerging_only": emerging_only[(kind, label)],
                "emerging_only_per_trust": round(emerging_only[(kind, label)] / trusts, 3)
                if trusts
                else 0.0,
            }
    return table


def markdown(
    table: dict[str, dict[str, dict[str, float | int]]], evaluated: set[str], version: str
) -> str:
    labels = list(table[SITREP_KINDS[0]])
    head = "| kind | " + " | ".join(labels) + " |"
    lines = [
        f"Catalogue {version}. Each cell: share of reporting trusts with the kind active in the "
        "quarter / emerging-only episodes per trust.",
        "",
        head,
        "|---|" + "---|" * len(labels),
    ]
    for kind, quarters in table.items():
        if kind not in evaluated:
            lines.append(f"| `{kind}` | " + " | ".join("no data" for _ in labels) + " |")
            continue
        cells = [
            f"{q['share_active']:.0%} / {q['emerging_only_per_trust']:.2f}"
            for q in (quarters[label] for label in labels)
        ]
        lines.append(f"| `{kind}` | " + " | ".join(cells) + " |")
    first = table[SITREP_KINDS[0]]
    trusts = " / ".join(str(first[label]["trusts"]) for label in labels)
    lines.append("")
    lines.append(f"Trusts reporting per quarter: {trusts}.")
    ae = next(
        (table[kind] for kind in SITREP_KINDS if kind in AE_KINDS and kind in evaluated), None
    )
    if ae is not None:
        lines.append(
            "Trusts with an A&E month per quarter (the A&E kinds' denominator): "
            + " / ".join(str(ae[label]["trusts"]) for label in labels)
            + "."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--year", type=int, default=2023, help="financial year start (2023)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "calibration")
    parser.add_argument("--config", type=Path, help="catalogue overrides for analyse")
    args = parser.parse_args(argv)
    quarters = financial_quarters(args.year)
    warmup_from = date(args.year, 2, 1)
    last_day = date(args.year + 1, 3, 31)
    if not args.data.is_dir():
        sys.stderr.write(f"{args.data}: no published data here (see --data)\n")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    events = args.out / f"sitreps_fy{args.year}.jsonl.gz"
    files = {
        "--nctr": args.data / "nctr_daily_by_trust.csv.gz",
        "--discharges": args.data / "discharges_daily_by_trust.csv.gz",
        "--beds": args.data / "beds_monthly_by_trust.csv.gz",
        "--delays": args.data / "discharge_delay_reasons_monthly_by_trust.csv.gz",
        "--ae": args.data / "ae_monthly_by_trust.csv.gz",
    }
    flags = [str(part) for flag, path in files.items() if path.is_file() for part in (flag, path)]
    imported = _cli(
        "import-sitrep",
        *flags,
        "--from",
        warmup_from.isoformat(),
        "--to",
        last_day.isoformat(),
        "--out",
        str(events),
    )
    by_type = json.loads(imported.stdout)["by_type"]
    reporting = reporting_trusts(events, quarters)
    reporting_ae = reporting_trusts(events, quarters, event_type="ae_sitrep")
    opportunities = args.out / "opportunities.json"
    analyse = ["analyse", str(events), "--no-db", "--json", str(opportunities)]
    if args.config is not None:
        every = set().union(*reporting.values(), *reporting_ae.values())
        analyse += ["--config", str(_expand_config(args.config, every, args.out))]
    _cli(*analyse)
    document = json.loads(opportunities.read_text())
    episodes = document["opportunities"] if isinstance(document, dict) else document
    version = tomllib.loads((ROOT / "models" / "catalogue.toml").read_text())["catalogue_version"]
    # a kind is evaluated when the year has data for it (delay reasons start in June 2024)
    evaluated = {kind for kind in SITREP_KINDS if by_type.get(SOURCE_EVENT[_inputs(kind)], 0) > 0}
    table = calibrate(episodes, reporting, quarters, reporting_ae)
    result = {
        "catalogue_version": version,
        "period": {"from": quarters[0][1].isoformat(), "to": last_day.isoformat()},
        "warmup_from": warmup_from.isoformat(),
        "config": str(args.config) if args.config else None,
        "evaluated_kinds": sorted(evaluated),
        "table": table,
    }
    (args.out / "calibration.json").write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(table, evaluated, version))
    return 0


def _inputs(kind: str) -> str:
    """The sitrep source a kind reads: the three delay-reason kinds need the delay file, the
    A&E kinds the A&E file."""
    if kind in AE_KINDS:
        return "ae"
    return (
        "delay"
        if kind
        in {
            "care_transfer_referral_automation",
            "discharge_documentation_automation",
            "transport_booking_automation",
        }
        else "discharge"
    )


if __name__ == "__main__":
    sys.exit(main())
