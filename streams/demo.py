"""``make demo``: simulated trusts through the real stack, ending with the top opportunities.

Steps: migrate the database, simulate a few trusts with injected bottlenecks, start a worker
(``deploy/stack.sh worker``, left running), produce the events, wait until the worker has
committed everything, then print what it found and where to look. ``make down`` stops it all.

Each run starts over: its own topics and consumer group (a run id in the topic suffix and the app
id), the worker of an earlier run stopped, and the simulated trusts' rows deleted. The same seed
gives the same events, so a second run on the same topics was all duplicates of the first, and
scored the first run's rows: after a code change it showed the old engine's episodes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from tqdm import tqdm

from models.events import INPUT_TOPICS
from models.outputs import METRICS_TOPIC, OPPORTUNITIES_TOPIC
from sinks.database import OpportunityStore
from sinks.tables import TABLE_NAMES
from streams.cli import main as opsradar
from streams.lag import group_lag
from streams.settings import Settings, get_settings

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / ".stack" / "demo"
TRUSTS, DAYS, SEED = 3, 42, 7


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _run(*argv: str) -> None:
    code = opsradar(list(argv))
    if code != 0:
        raise SystemExit(f"opsradar {argv[0]} failed with exit code {code}")


async def _wait_until_processed(settings: Settings, seconds: float = 900) -> None:
    """Wait for the worker's consumer group to commit every input and output record."""
    topics = [settings.topic(t) for t in (*INPUT_TOPICS, METRICS_TOPIC, OPPORTUNITIES_TOPIC)]
    deadline = time.monotonic() + seconds
    behind, total = await group_lag(settings.kafka_bootstrap, settings.app_id, topics)
    with tqdm(total=total, unit="rec", desc="worker", file=sys.stderr) as bar:
        while behind:
            if time.monotonic() > deadline:
                raise SystemExit(f"the worker is still {behind} records behind; see .stack/worker/")
            await asyncio.sleep(1)
            behind, total = await group_lag(settings.kafka_bootstrap, settings.app_id, topics)
            bar.total = total
            bar.n = total - behind
            bar.refresh()


EPISODES = sa.text(
    "SELECT trust_code, site_code, kind, status, first_emerging_at, first_active_at, "
    "resolved_at, weekly_bed_days, weekly_staff_hours, weekly_gbp FROM opportunities "
    "WHERE trust_code = ANY(:trusts) "
    "AND (first_emerging_at IS NOT NULL OR first_active_at IS NOT NULL) "
    "ORDER BY weekly_bed_days DESC, weekly_gbp DESC, weekly_staff_hours DESC"
)


async def _episodes(settings: Settings, trusts: list[str]) -> list[dict[str, Any]]:
    """Every episode the worker found at the simulated trusts, open or already resolved (the
    simulated bottlenecks start and end inside the period), largest weekly impact first."""
    async with OpportunityStore(settings.database_url) as store, store.engine.connect() as conn:
        result = await conn.execute(EPISODES, {"trusts": trusts})
        return [dict(row) for row in result.mappings()]


def _print_table(rows: list[dict[str, Any]], injected: set[tuple[str, str]]) -> None:
    header = (
        f"{'site':<7} {'kind':<36} {'status':<9} {'bed-days/wk':>11} {'hours/wk':>9} "
        f"{'£/wk':>9}  injected?"
    )
    print(header)
    print("-" * len(header))
    for row in rows[:20]:
        scope = row["site_code"] or row["trust_code"]
        print(
            f"{scope:<7} {row['kind']:<36} {row['status']:<9} "
            f"{row['weekly_bed_days']:>11.1f} {row['weekly_staff_hours']:>9.1f} "
            f"{row['weekly_gbp']:>9,.0f}  {'yes' if (scope, row['kind']) in injected else '-'}"
        )
    if len(rows) > 20:
        print(f"... and {len(rows) - 20} more (SELECT * FROM opportunities)")


async def _forget_trusts(settings: Settings, trusts: list[str]) -> None:
    """Delete an earlier run's rows of the simulated trusts (codes drawn at random: no real
    organisation's), so that what is scored is this run's."""
    async with OpportunityStore(settings.database_url) as store, store.engine.begin() as conn:
        for table in TABLE_NAMES:
            await conn.execute(
                # table names from our own tuple; the trust codes are bound
                sa.text(f"DELETE FROM {table} WHERE trust_code = ANY(:trusts)"),
                {"trusts": trusts},
            )


def main() -> int:
    # this run's own topics and consumer group: the worker started below inherits them
    run_id = time.strftime("%Y%m%d%H%M%S")
    os.environ["OPSRADAR_APP_ID"] = f"opsradar-demo-{run_id}"
    os.environ["OPSRADAR_TOPIC_SUFFIX"] = f".demo{run_id}"
    get_settings.cache_clear()
    settings = get_settings()
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    events = DEMO_DIR / "events.jsonl.gz"
    truth = DEMO_DIR / "truth.json"
    stack = ["bash", str(REPO / "deploy" / "stack.sh")]

    _step("migrating the opportunity database")
    _run("db", "upgrade")

    _step(f"simulating {TRUSTS} trusts over {DAYS} days (seed {SEED}) with injected bottlenecks")
    _run(
        "simulate", "--trusts", str(TRUSTS), "--days", str(DAYS), "--seed", str(SEED),
        "--out", str(events), "--truth", str(truth),
    )  # fmt: skip
    simulated = sorted({i["trust_code"] for i in json.loads(truth.read_text())["injected"]})
    asyncio.run(_forget_trusts(settings, simulated))

    _step("starting a worker (left running; `make down` stops it)")
    subprocess.run([*stack, "stop", "worker"], check=True)  # an earlier run's, on its topics
    subprocess.run([*stack, "worker"], check=True)

    _step("producing the events to Kafka")
    _run("produce", str(events))

    _step("waiting for the worker to process every record")
    asyncio.run(_wait_until_processed(settings))

    injections = json.loads(truth.read_text())["injected"]
    trusts = sorted({i["trust_code"] for i in injections})
    episodes = asyncio.run(_episodes(settings, trusts))
    _step("opportunities found (every episode, largest weekly impact first)")
    _print_table(episodes, {(i["site_code"] or i["trust_code"], i["kind"]) for i in injections})
    found = DEMO_DIR / "opportunities.json"
    found.write_text(json.dumps({"opportunities": episodes}, default=str))
    _step("scored against what was injected (opsradar score)")
    _run("score", "--truth", str(truth), "--opportunities", str(found), "--table")

    print(
        "\nWhere to look:\n"
        f"  Prometheus   {settings.prometheus_url}/graph?g0.expr=opsradar_opportunity_status\n"
        f"  alerts       {settings.prometheus_url}/alerts  (Alertmanager http://127.0.0.1:19094)\n"
        f"  worker       http://127.0.0.1:{settings.web_port}/metrics\n"
        "  Postgres     psql postgresql://opsradar:opsradar@127.0.0.1:55432/opsradar "
        "-c 'SELECT * FROM open_opportunities'\n"
        "  top list     .venv/bin/opsradar top  (what is still open: the demo's episodes end)\n"
        f"  injected     {truth}\n"
        "  stop it all  make down"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
