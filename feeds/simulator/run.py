"""The run: lay out the trusts, plan the injections, then stream every site's events day by day.

Each site has its own seeded generators (one per domain) and its own queue of pending events; a
day's events from all sites are merged in time order and written before the next day is made, so
memory holds only what is in flight. The same seed gives the same bytes: every draw comes from
generators seeded by (seed, site, domain), and the only clock is the ``end`` date passed in.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from feeds.jsonl_writer import EventWriter
from feeds.simulator.bedflow import BedFlow
from feeds.simulator.ed import Ed
from feeds.simulator.ids import DAY, at
from feeds.simulator.layout import Site, build_layout
from feeds.simulator.queue import EventQueue
from feeds.simulator.quirks import Quirk, RealisticFeed, clock_change_quirks, plan_quirks
from feeds.simulator.referrals import Referrals
from feeds.simulator.rostering import Rostering
from feeds.simulator.scenarios import (
    DEFAULT_ORDER,
    SCENARIOS,
    Conditions,
    Injection,
    plan_injections,
)
from models.events import Event, event_type_of


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    trusts: int = 3
    days: int = 42
    seed: int = 1
    #: the period ends at 00:00 UTC of this date (exclusive): nothing is in the future
    end: date = field(default_factory=lambda: datetime.now(UTC).date())
    #: scenario names; None means the default mix (every kind somewhere, some sites healthy)
    scenarios: tuple[str, ...] | None = None
    batch: int = 1
    #: deliver the stream as real trust feeds do (:mod:`feeds.simulator.quirks`); False: clean
    realistic: bool = True


@dataclass(slots=True)
class SimulationStats:
    events: int
    seconds: float
    by_type: dict[str, int]
    sites: int
    injections: list[Injection]
    start: int
    end: int
    quirks: list[Quirk] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class _SiteRun:
    __slots__ = ("bedflow", "ed", "queue", "referrals", "rostering", "site")

    def __init__(
        self, site: Site, injections: Sequence[Injection], seed: int, start: int, end: int
    ):
        self.site = site
        conditions = Conditions([i for i in injections if i.site_code == site.site_code])
        self.queue = EventQueue(end)

        def rng(domain: str) -> random.Random:
            return random.Random(f"{seed}:{site.site_code}:{domain}")

        self.bedflow = BedFlow(site, conditions, rng("bedflow"), self.queue, start)
        self.rostering = Rostering(site, conditions, rng("rostering"), self.queue, start, end)
        self.referrals = Referrals(site, conditions, rng("referrals"), self.queue, start)
        self.ed = Ed(site, conditions, rng("ed"), self.queue, start)


def simulate(config: SimulationConfig, out: Path, truth: Path | None = None) -> SimulationStats:
    unknown = [name for name in (config.scenarios or ()) if name not in SCENARIOS]
    if unknown:
        raise ValueError(
            f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}"
        )
    if config.trusts < 1 or config.days < 1:
        raise ValueError("--trusts and --days must be at least 1")
    began = time.perf_counter()
    end = int(datetime(config.end.year, config.end.month, config.end.day, tzinfo=UTC).timestamp())
    start = end - config.days * DAY
    sites = build_layout(config.trusts, random.Random(f"{config.seed}:layout"))
    names = config.scenarios if config.scenarios is not None else DEFAULT_ORDER
    injections = plan_injections(sites, names, start, config.days)
    runs = [_SiteRun(site, injections, config.seed, start, end) for site in sites]
    if config.realistic:
        quirks = plan_quirks(sites, random.Random(f"{config.seed}:quirks"), start, end)
        feed: RealisticFeed | None = RealisticFeed(
            quirks, sites, random.Random(f"{config.seed}:feed")
        )
    else:
        # clean feeds still list the clock changes: the processes keep UK local hours anyway
        quirks = clock_change_quirks(start, end)
        feed = None
    by_type: Counter[str] = Counter()
    with EventWriter(out, config.batch) as writer:
        # the prelude: census replay, rosters already published, the starting waiting list
        for run in runs:
            run.bedflow.prelude()
            run.rostering.publish_before(start)
            run.referrals.prelude()
        _drain(runs, start, writer, by_type, feed)
        for day in range(start, end, DAY):
            for run in runs:
                run.rostering.publish_before(day + DAY)
                run.bedflow.day(day)
                run.referrals.day(day)
                run.ed.day(day)
            _drain(runs, day + DAY, writer, by_type, feed)
        if feed is not None:
            _write(feed.release_all(), writer, by_type)
        count = writer.count
    if truth is not None:
        write_truth(truth, injections, start, end, quirks)
    return SimulationStats(
        events=count,
        seconds=time.perf_counter() - began,
        by_type=dict(by_type),
        sites=len(sites),
        injections=injections,
        start=start,
        end=end,
        quirks=quirks,
    )


def _drain(
    runs: Sequence[_SiteRun],
    before: int,
    writer: EventWriter,
    by_type: Counter[str],
    feed: RealisticFeed | None,
) -> None:
    merged: list[tuple[int, int, int, Event]] = []
    for number, run in enumerate(runs):
        merged.extend((t, number, seq, event) for t, seq, event in run.queue.pop_before(before))
    merged.sort(key=lambda item: item[:3])
    if feed is None:
        _write((event for *_, event in merged), writer, by_type)
        return
    for t, _, _, event in merged:
        feed.offer(t, event)
    _write(feed.release(before), writer, by_type)


def _write(events: Iterable[Event], writer: EventWriter, by_type: Counter[str]) -> None:
    for event in events:
        writer.write(event)
        by_type[event_type_of(event)] += 1


def _iso(t: int) -> str:
    return at(t).isoformat().replace("+00:00", "Z")


def write_truth(
    path: Path,
    injections: Sequence[Injection],
    start: int,
    end: int,
    quirks: Sequence[Quirk] = (),
) -> None:
    """``{"injected": [...], "period": {...}, "quirks": [...]}``; ``scenario``, ``period`` and
    ``quirks`` (how the feeds were delivered: :mod:`feeds.simulator.quirks`) are extras."""
    document = {
        "injected": [
            {
                "trust_code": i.trust_code,
                "site_code": i.site_code,
                "kind": i.kind,
                "onset_at": _iso(i.onset),
                "until_at": _iso(i.until),
                "scenario": i.scenario,
            }
            for i in injections
        ],
        "period": {"start": _iso(start), "end": _iso(end)},
        "quirks": [quirk.as_truth() for quirk in quirks],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
