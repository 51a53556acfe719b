"""``opsradar analyse FILE... [--json OUT] [--db URL] [--config FILE]``: the engine, offline.

Runs the same engine as the worker over JSONL event files (plain or gzip; one event or a batch
array per line), in event-time order across files, and writes the metrics and opportunity updates
to the database (default: the SQLite file ``opsradar.sqlite`` in the working directory, migrated
on first use) and, with ``--json``, a summary with one entry per episode (its final snapshot).

Ordering: each file is assumed *roughly* time-ordered (as the simulator and adapters write them):
a bounded reorder buffer of ``--reorder-buffer`` events per file sorts local disorder, and files
are k-way merged by ``occurred_at``. Nothing is loaded whole. An event displaced further than the
buffer reaches the engine out of order and is judged by its lateness rule (accepted within the
allowance, else counted ``late``), exactly as it would be on Kafka.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.events import Event
    from models.outputs import MetricPoint, Opportunity, OpportunityUpdate

NAME = "analyse"
HELP = "run the engine offline over event files"
DEFAULT_DB = "sqlite+aiosqlite:///opsradar.sqlite"
WRITE_BATCH = 100_000
PROGRESS_MIN_BYTES = 20_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSONL event file, plain or gzip")
    parser.add_argument("--json", metavar="OUT", type=Path, help="write the summary JSON here")
    parser.add_argument(
        "--db",
        metavar="URL",
        default=DEFAULT_DB,
        help=f"database to write metrics and opportunities to (default: {DEFAULT_DB}, i.e. "
        "opsradar.sqlite in the current directory; SQLite is migrated automatically, Postgres "
        "needs `opsradar db upgrade` first)",
    )
    parser.add_argument("--no-db", action="store_true", help="write no database (JSON only)")
    parser.add_argument(
        "--config", metavar="FILE", type=Path, help="catalogue overrides per scope (TOML or YAML)"
    )
    parser.add_argument(
        "--lateness-hours", type=float, default=2.0, help="lateness allowance (default: 2)"
    )
    parser.add_argument(
        "--reorder-buffer",
        type=int,
        default=50_000,
        metavar="N",
        help="events buffered per file to sort local disorder (default: 50000)",
    )


class _Counts:
    def __init__(self) -> None:
        self.rejected = 0
        self.events = 0


def _decoded(path: Path, counts: _Counts, now: datetime) -> Iterator[Event]:
    from models.decoding import RecordDecoder
    from streams.commands.validate import iter_lines

    decoder = RecordDecoder(None, past_horizon=None)
    for line in iter_lines(path):
        record = decoder.decode(line, now=now)
        counts.rejected += len(record.rejections)
        counts.events += len(record.events)
        yield from record.events


def _reordered(events: Iterable[Event], size: int, tiebreak: Iterator[int]) -> Iterator[Event]:
    """Sort a roughly ordered stream with a heap of at most ``size`` events."""
    heap: list[tuple[datetime, int, Event]] = []
    for event in events:
        item = (event.occurred_at, next(tiebreak), event)
        if len(heap) >= size:
            yield heapq.heappushpop(heap, item)[2]
        else:
            heapq.heappush(heap, item)
    while heap:
        yield heapq.heappop(heap)[2]


def merged_events(
    paths: list[Path], counts: _Counts, buffer: int, now: datetime
) -> Iterator[Event]:
    """Every file's events, k-way merged by ``occurred_at`` (stable: file order breaks ties)."""
    tiebreak = itertools.count()
    streams = [_reordered(_decoded(path, counts, now), buffer, tiebreak) for path in paths]
    if len(streams) == 1:
        yield from streams[0]  # what merging one stream yields, without a comparison per event
        return
    yield from heapq.merge(*streams, key=lambda event: event.occurred_at)


def _progress(paths: list[Path]) -> Any:
    from tqdm import tqdm

    size = sum(path.stat().st_size for path in paths if path.exists())
    show = sys.stderr.isatty() or size >= PROGRESS_MIN_BYTES
    return tqdm(unit=" events", unit_scale=True, disable=not show, file=sys.stderr)


def _summary_entry(opportunity: Opportunity) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "trust_code": opportunity.trust_code,
        "site_code": opportunity.site_code,
        "kind": opportunity.kind,
        "episode": opportunity.episode,
        "status": opportunity.status,
        "first_emerging_at": iso(opportunity.first_emerging_at),
        "first_active_at": iso(opportunity.first_active_at),
        "resolved_at": iso(opportunity.resolved_at),
        "severity": opportunity.severity,
        "weekly_bed_days": opportunity.weekly_bed_days,
        "weekly_staff_hours": opportunity.weekly_staff_hours,
        "weekly_gbp": opportunity.weekly_gbp,
        "evidence": opportunity.evidence,
    }


def _summary_entries(episodes: list[Opportunity]) -> list[dict[str, Any]]:
    """Each episode's entry, with ``data_behind_days`` and ``stale`` as the analyst views give
    them (an open episode of a scope that stopped reporting is stale)."""
    from models.outputs import data_behind_days, is_stale

    entries = []
    for episode, behind in zip(episodes, data_behind_days(episodes), strict=True):
        entry = _summary_entry(episode)
        entry["data_behind_days"] = round(behind, 3)
        entry["stale"] = is_stale(episode, behind)
        entries.append(entry)
    return entries


class _Sink:
    """Batches outputs to the database writer (``sinks.database.OpportunityStore``) and keeps
    the latest snapshot of each episode for the summary."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.metrics: list[MetricPoint] = []
        self.updates: list[OpportunityUpdate] = []
        self.episodes: dict[tuple[str, str | None, str, int], Opportunity] = {}

    async def add(self, outputs: list[Any]) -> None:
        from models.outputs import MetricPoint

        metrics, updates, episodes = self.metrics, self.updates, self.episodes
        for output in outputs:
            # exact types: the engine emits these two and no subclass
            if type(output) is MetricPoint:
                metrics.append(output)
            else:
                updates.append(output)
                o = output.opportunity
                episodes[(o.trust_code, o.site_code, o.kind, o.episode)] = o
        if len(metrics) + len(updates) >= WRITE_BATCH:
            await self.drain()

    async def drain(self) -> None:
        if self.store is not None:
            if self.metrics:
                await self.store.write_metrics(self.metrics)
            if self.updates:
                await self.store.write_updates(self.updates)
        self.metrics = []
        self.updates = []


async def _analyse(args: argparse.Namespace, paths: list[Path]) -> dict[str, Any]:
    from contextlib import AsyncExitStack

    from models.catalogue import load_catalogue
    from streams.engine import Engine

    engine = Engine(load_catalogue(args.config), timedelta(hours=args.lateness_hours))
    counts = _Counts()
    now = datetime.now(UTC)  # only the contract's "not in the future" rule reads the clock

    async with AsyncExitStack() as stack:
        store = None
        if not args.no_db:
            store = await stack.enter_async_context(_open_store(args.db))
        sink = _Sink(store)
        progress = stack.enter_context(_progress(paths))
        for index, event in enumerate(
            merged_events(paths, counts, args.reorder_buffer, now), start=1
        ):
            outputs = engine.process(event)
            if outputs:
                await sink.add(outputs)
            if index % 10_000 == 0:
                progress.update(10_000)
        await sink.add(engine.flush())
        await sink.drain()
    episodes = sink.episodes
    totals = engine.counters
    return {
        "events": {
            "accepted": totals["accepted"],
            "rejected": counts.rejected,
            "duplicate": totals["duplicate"],
            "late": totals["late"],
            # events for a spell, shift or pathway already closed: they changed no count
            "after_close": totals["after_close"],
            "expired": totals["expired"],
            "occupancy_clamped": totals["occupancy_clamped"],
            # fills, unfills, changes and absences of shifts never planned in the stream (a
            # fill-only bank feed, a site connecting mid-roster): in no rate
            "unplanned_shift_events": totals["unplanned_shift_events"],
            # ambulance handovers of a day or more after the ambulance arrived: date slips
            "implausible_handovers": totals["implausible_handovers"],
        },
        "opportunities": _summary_entries(
            [
                episodes[key]
                for key in sorted(episodes, key=lambda k: (k[0], k[1] or "", k[2], k[3]))
            ]
        ),
    }


def _open_store(url: str) -> Any:
    # The one call site of the database writer (sinks.database, async SQLAlchemy).
    from sqlalchemy.engine import make_url

    from sinks import schema
    from sinks.database import OpportunityStore
    from streams.database_security import database_connect_args
    from streams.settings import get_settings

    if make_url(url).get_backend_name() == "sqlite":
        schema.upgrade(url)  # idempotent; Postgres schemas are migrated by `opsradar db upgrade`
    tls = database_connect_args(get_settings(), schema.async_url(url))
    return OpportunityStore(url, connect_args=tls)


def run(args: argparse.Namespace) -> int:
    import asyncio

    import orjson

    from models.catalogue import CatalogueError
    from streams.commands.validate import UnreadableFile

    paths = [Path(name) for name in args.files]
    try:
        summary = asyncio.run(_analyse(args, paths))
    except UnreadableFile as error:
        sys.stderr.write(f"opsradar analyse: {error}\n")
        return 2
    except (CatalogueError, OSError) as error:
        sys.stderr.write(f"opsradar analyse: {error}\n")
        return 2
    text = orjson.dumps(summary, option=orjson.OPT_INDENT_2)
    if args.json is not None:
        args.json.write_bytes(text + b"\n")
    sys.stdout.write(orjson.dumps(summary["events"]).decode() + "\n")
    return 0
