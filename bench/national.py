"""National scale in one worker with the RocksDB store: its memory, its restore time from the
changelog, and the latency from the event that closes an hourly evaluation to its Postgres row.

Run: ``.venv/bin/python bench/national.py [--sites 500] [--json OUT]`` with the local stack up
(``bench/run_all.py`` runs it unless ``--quick``). One worker (``OPSRADAR_STORE=rocksdb://``, a
fresh topic suffix, consumer group, data directory and database), then:

1. **Load**: a generator writes the synthetic state of ``--sites`` sites straight to the input
   topics as batch records (contract v1, keyed by site): ``--pathways-per-site``
   ``referral_received`` (open pathways) and ``--shifts-per-site`` ``shift_planned`` (shifts
   over the next 6 weeks). The simulator would take days to make 7.5 M pathways; these events
   carry exactly what the engine keeps per pathway and per shift, so the state is the same
   size. Their event times are spread over ``--load-hours`` (not the months a real waiting list
   spans), so the load crosses few hour boundaries: it times state building, not evaluation.
   Timed from the first record to the group's last input offset committed.
2. **Steady**: ``--rate`` events/s over every site for ``--steady-seconds`` (triage, bookings,
   closures, new referrals; shift fills and absences), each site's events of ``--flush-seconds``
   in one record per topic, as a feed adapter sends them. Event time runs ``3600 /
   --hour-seconds`` times faster than the wall clock, so every scope passes an hour boundary
   every ``--hour-seconds``: the first event of a scope and topic past a boundary closes that
   hour's evaluation (every scope at nearly the same moment, as at the top of a real hour).
   Latency of an evaluation: the database's ``clock_timestamp()`` when the last of its metric
   rows was inserted (a column this bench adds to ``scope_metrics``, default
   ``clock_timestamp()``) minus the wall time the record holding the closing event was sent.
   ``p99_event_to_output_s`` stops instead at the broker timestamp of the evaluation's last
   metrics message (the worker's part; the rest is the sink's).
3. **RSS**: the worker process's resident set, sampled every second; the peak (``VmHWM``) is
   ``national_rss_mb``.
4. **Restore**: the worker stops, its data directory is deleted, and a new worker of the same
   group starts: from its start to its log line ``scope_state restored from its changelog``
   (``national_changelog_records``: the changelog it read).

The topics and the database are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from figures import percentile

from models.events import INPUT_TOPICS, REFERRALS_TOPIC, ROSTERING_TOPIC
from streams.engine.metric_names import REFERRAL_METRICS, ROSTERING_METRICS
from streams.lag import group_lag
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.database_support import fresh_database
from tests.worker_support import WorkerProcess, free_port, worker_env

HOUR = 3600
RESTORED_LINE = b"scope_state restored from its changelog"
SPECIALTIES = ("100", "101", "110", "120", "130", "300", "320", "330", "430", "502")
STAFF_GROUPS = ("registered_nurse", "healthcare_support_worker", "doctor")
_OPTIONS = orjson.OPT_UTC_Z


def site_codes(sites: int) -> list[tuple[str, str]]:
    """(trust, site) codes: four sites a trust, ``R<2 base-36>`` + ``<2 digits>``."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    codes = []
    for index in range(sites):
        trust_index = index // 4
        trust = "R" + digits[trust_index // 36 % 36] + digits[trust_index % 36]
        codes.append((trust, f"{trust}{index % 4 + 1:02d}"))
    return codes


def pathway_ref(site: int, number: int) -> str:
    # a leading letter: a ref of decimal digits only is rejected as a possible identifier
    return f"a{site:05x}{number:026x}"


def shift_ref(site: int, number: int) -> str:
    return f"b{site:05x}{number:026x}"


def _envelope(event_type: str, at: datetime, trust: str, site: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=random.getrandbits(128), version=4)),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at,
        "trust_code": trust,
        "site_code": site,
    }


def load_records(
    *,
    codes: list[tuple[str, str]],
    pathways: int,
    shifts: int,
    record_events: int,
    start: datetime,
    hours: float,
) -> Iterator[tuple[str, bytes, bytes, int]]:
    """(topic, key, value, events) batch records of the load, the sites interleaved so that
    every site fills at the same pace; each site's events in event-time order."""
    span = hours * HOUR
    chunks = max(-(-pathways // record_events), -(-shifts // record_events))
    for chunk in range(chunks):
        for index, (trust, site) in enumerate(codes):
            key = site.encode()
            low, high = chunk * record_events, min((chunk + 1) * record_events, pathways)
            if low < high:
                batch = []
                for number in range(low, high):
                    event = _envelope(
                        "referral_received",
                        start + timedelta(seconds=span * number / pathways),
                        trust,
                        site,
                    )
                    event["referral_ref"] = pathway_ref(index, number)
                    event["specialty_code"] = SPECIALTIES[number % len(SPECIALTIES)]
                    event["priority"] = "routine"
                    event["source"] = "gp"
                    batch.append(event)
                yield REFERRALS_TOPIC, key, orjson.dumps(batch, option=_OPTIONS), len(batch)
            low, high = chunk * record_events, min((chunk + 1) * record_events, shifts)
            if low < high:
                batch = []
                for number in range(low, high):
                    at = start + timedelta(seconds=span * number / shifts)
                    # a roster's shifts: day and night shifts over the next 6 weeks
                    begins = start + timedelta(hours=(number * 7) % (42 * 24) + 24)
                    event = _envelope("shift_planned", at, trust, site)
                    event["shift_ref"] = shift_ref(index, number)
                    event["unit_code"] = f"U{number % 20:02d}"
                    event["staff_group"] = STAFF_GROUPS[number % len(STAFF_GROUPS)]
                    event["starts_at"] = begins
                    event["ends_at"] = begins + timedelta(hours=12)
                    batch.append(event)
                yield ROSTERING_TOPIC, key, orjson.dumps(batch, option=_OPTIONS), len(batch)


@dataclass
class SiteTraffic:
    """What the steady phase makes of one site: its next refs and its unsent events."""

    index: int
    trust: str
    site: str
    pathways: int
    shifts: int
    next_pathway: int = 0
    next_shift: int = 0
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def event(self, at: datetime, rng: random.Random) -> tuple[str, dict[str, Any]]:
        if rng.random() < 0.5:
            kind = rng.random()
            if kind < 0.25:
                event = _envelope("referral_received", at, self.trust, self.site)
                event.update(
                    referral_ref=pathway_ref(self.index, self.pathways),
                    specialty_code="300",
                    priority="routine",
                    source="gp",
                )
                self.pathways += 1
                return REFERRALS_TOPIC, event
            ref = pathway_ref(self.index, self.next_pathway % self.pathways)
            self.next_pathway += 1
            if kind < 0.55:
                event = _envelope("referral_triaged", at, self.trust, self.site)
                event.update(referral_ref=ref, outcome="accepted")
            elif kind < 0.8:
                event = _envelope("appointment_booked", at, self.trust, self.site)
                event.update(
                    referral_ref=ref,
                    appointment_at=at + timedelta(days=21),
                    attendance_type="first",
                )
            else:
                event = _envelope("pathway_closed", at, self.trust, self.site)
                event.update(referral_ref=ref, reason="treated")
            return REFERRALS_TOPIC, event
        if rng.random() < 0.9:
            event = _envelope("shift_filled", at, self.trust, self.site)
            event.update(
                shift_ref=shift_ref(self.index, self.next_shift % self.shifts),
                fill_source=rng.choice(("substantive", "bank", "agency")),
            )
            self.next_shift += 1
        else:
            event = _envelope("absence_reported", at, self.trust, self.site)
            event.update(
                unit_code="U01",
                staff_group="registered_nurse",
                notice_hours=round(rng.uniform(1, 72), 1),
                reason_category="sickness",
            )
        return ROSTERING_TOPIC, event


class RssSampler:
    """Samples a process's resident set every second in a thread (``/proc``; Linux)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def status_mb(self, field_name: str) -> float | None:
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
        return None

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            now = self.status_mb("VmRSS")
            if now is not None:
                self.peak_mb = max(self.peak_mb, now)

    def stop(self) -> float:
        """The peak resident set (MB): the kernel's high-water mark, else the sampled peak."""
        hwm = self.status_mb("VmHWM")
        self._stop.set()
        self._thread.join()
        return max(self.peak_mb, hwm or 0.0)


async def _wait_caught_up(bootstrap: str, group: str, topics: list[str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        behind, total = await group_lag(bootstrap, group, topics)
        if behind == 0 and total > 0:
            return True
        await asyncio.sleep(0.5)
    return False


async def _produce_load(
    bootstrap: str, suffix: str, records: Iterator[tuple[str, bytes, bytes, int]]
) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    events = 0
    try:
        for topic, key, value, count in records:
            await producer.send(f"{topic}{suffix}", key=key, value=value)
            events += count
        await producer.flush()
    finally:
        await producer.stop()
    return events


async def _steady(
    *,
    bootstrap: str,
    suffix: str,
    traffic: list[SiteTraffic],
    rate: float,
    seconds: float,
    flush_seconds: float,
    hour_seconds: float,
    start_at: datetime,
) -> tuple[dict[tuple[str, str, datetime], float], int]:
    """Produce the steady phase; returns when each (site, topic, boundary) was closed (the wall
    time the record holding its first event past the boundary was sent) and the event count."""
    rng = random.Random(12)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    closed: dict[tuple[str, str, datetime], float] = {}
    newest_hour: dict[tuple[str, str], int] = {}
    tick = 0.1
    ticks_per_flush = max(1, round(flush_seconds / tick))
    speed = HOUR / hour_seconds
    sent = 0
    owed = 0.0
    began = time.time()
    try:
        while (elapsed := time.time() - began) < seconds:
            owed += rate * tick
            at = start_at + timedelta(seconds=elapsed * speed)
            while owed >= 1:
                owed -= 1
                site = rng.choice(traffic)
                topic, event = site.event(at, rng)
                site.pending[topic].append(event)
            turn = int(elapsed / tick) % ticks_per_flush
            for site in traffic:
                if site.index % ticks_per_flush != turn:
                    continue
                for topic, events in site.pending.items():
                    if not events:
                        continue
                    now = time.time()
                    await producer.send(
                        f"{topic}{suffix}",
                        key=site.site.encode(),
                        value=orjson.dumps(events, option=_OPTIONS),
                    )
                    sent += len(events)
                    hour = int(events[-1]["occurred_at"].timestamp() // HOUR)
                    before = newest_hour.get((site.site, topic))
                    if before is not None:
                        for boundary in range(before + 1, hour + 1):
                            when = datetime.fromtimestamp(boundary * HOUR, UTC)
                            closed[(site.site, topic, when)] = now
                    newest_hour[(site.site, topic)] = hour
                    events.clear()
            await asyncio.sleep(max(0.0, began + (int(elapsed / tick) + 1) * tick - time.time()))
        await producer.flush()
    finally:
        await producer.stop()
    return closed, sent


def _plain_url(async_url: str) -> str:
    return async_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _evaluation_rows(database_url: str, since: datetime) -> dict[tuple[str, str, datetime], float]:
    """When the last metric row of each (scope, topic, evaluated_at) since ``since`` was
    inserted (epoch seconds)."""
    topic_of = {m: REFERRALS_TOPIC for m in REFERRAL_METRICS} | {
        m: ROSTERING_TOPIC for m in ROSTERING_METRICS
    }
    out: dict[tuple[str, str, datetime], float] = {}
    with psycopg.connect(_plain_url(database_url)) as conn:
        rows = conn.execute(
            "SELECT scope, metric, evaluated_at, extract(epoch from bench_written_at) "
            "FROM scope_metrics WHERE evaluated_at >= %s",
            (since,),
        ).fetchall()
    for scope, metric, evaluated_at, written in rows:
        topic = topic_of.get(metric)
        if topic is None:
            continue
        key = (scope, topic, evaluated_at.astimezone(UTC))
        out[key] = max(out.get(key, 0.0), float(written))
    return out


async def _output_times(
    bootstrap: str, topic: str, since: datetime
) -> dict[tuple[str, str, datetime], float]:
    """When the worker produced the last metrics message of each (scope, topic, evaluated_at)
    since ``since`` (the messages' broker timestamps, epoch seconds): splits the latency into
    the worker's part and the sink's."""
    topic_of = {m: REFERRALS_TOPIC for m in REFERRAL_METRICS} | {
        m: ROSTERING_TOPIC for m in ROSTERING_METRICS
    }
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None, max_partition_fetch_bytes=8 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    out: dict[tuple[str, str, datetime], float] = {}
    try:
        quiet = 0
        while quiet < 3:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            quiet = 0 if batch else quiet + 1
            for messages in batch.values():
                for message in messages:
                    for point in orjson.loads(message.value):
                        kind = topic_of.get(point["metric"])
                        at = datetime.fromisoformat(point["evaluated_at"])
                        if kind is None or at < since:
                            continue
                        key = (message.key.decode(), kind, at.astimezone(UTC))
                        out[key] = max(out.get(key, 0.0), message.timestamp / 1000)
    finally:
        await consumer.stop()
    return out


async def _delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def _topics_with(bootstrap: str, part: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return [t for t in await admin.list_topics() if part in t]
    finally:
        await admin.close()


def _log(message: str) -> None:
    print(f"[national {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(
    *,
    sites: int = 500,
    pathways_per_site: int = 15_000,
    shifts_per_site: int = 7_400,
    record_events: int = 2_000,
    load_hours: float = 12.0,
    rate: float = 600.0,
    steady_seconds: float = 300.0,
    flush_seconds: float = 5.0,
    hour_seconds: float = 60.0,
    load_timeout: float = 3600.0,
    restore_timeout: float = 1800.0,
) -> dict[str, Any]:
    """Every national figure (see the module's docstring)."""
    began = time.perf_counter()
    settings = Settings()
    bootstrap = settings.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    suffix = f".nat{tag}"
    group = f"opsradar{suffix.replace('.', '-')}"
    inputs = [f"{t}{suffix}" for t in INPUT_TOPICS]
    codes = site_codes(sites)
    # the load's event times: three weeks back, whole hours, so the steady phase starts on one
    load_start = (datetime.now(UTC) - timedelta(days=21)).replace(minute=0, second=0, microsecond=0)
    load_end = load_start + timedelta(hours=load_hours)
    result: dict[str, Any] = {
        "national_sites": sites,
        "national_open_pathways": sites * pathways_per_site,
        "national_planned_shifts": sites * shifts_per_site,
        "national_store": "rocksdb://",
    }
    work = Path(tempfile.mkdtemp(prefix="opsradar-national-"))
    asyncio.run(ensure_topics(bootstrap, inputs, settings.topic_partitions))
    try:
        with fresh_database(settings.database_url) as database_url:
            with psycopg.connect(_plain_url(database_url), autocommit=True) as conn:
                conn.execute(
                    "ALTER TABLE scope_metrics ADD COLUMN bench_written_at timestamptz "
                    "NOT NULL DEFAULT clock_timestamp()"
                )
            port = free_port()
            env = worker_env(
                suffix=suffix, database_url=database_url, data_dir=work / "data",
                web_port=port, extra={"OPSRADAR_STORE": "rocksdb://"},
            )  # fmt: skip
            worker = WorkerProcess(env=env, web_port=port, log_path=work / "worker.log")
            worker.start()
            assert worker.process is not None
            sampler = RssSampler(worker.process.pid)
            try:
                _log(f"load: {sites} sites, {sites * pathways_per_site:,} pathways, "
                     f"{sites * shifts_per_site:,} shifts")  # fmt: skip
                started = time.perf_counter()
                records = load_records(
                    codes=codes, pathways=pathways_per_site, shifts=shifts_per_site,
                    record_events=record_events, start=load_start, hours=load_hours,
                )  # fmt: skip
                loaded = asyncio.run(_produce_load(bootstrap, suffix, records))
                produced_s = time.perf_counter() - started
                _log(f"load produced: {loaded:,} events in {produced_s:.0f} s; waiting")
                if not asyncio.run(_wait_caught_up(bootstrap, group, inputs, load_timeout)):
                    raise RuntimeError(f"the worker did not catch up within {load_timeout:.0f} s")
                load_s = time.perf_counter() - started
                result.update(
                    national_load_events=loaded,
                    national_load_s=load_s,
                    national_load_events_per_s=loaded / load_s,
                    national_rss_after_load_mb=sampler.status_mb("VmRSS"),
                )
                _log(f"loaded in {load_s:.0f} s ({loaded / load_s:,.0f} ev/s), "
                     f"RSS {result['national_rss_after_load_mb']:.0f} MB; steady")  # fmt: skip
                traffic = [
                    SiteTraffic(index=i, trust=t, site=s, pathways=pathways_per_site,
                                shifts=shifts_per_site)
                    for i, (t, s) in enumerate(codes)
                ]  # fmt: skip
                closed, sent = asyncio.run(
                    _steady(
                        bootstrap=bootstrap, suffix=suffix, traffic=traffic, rate=rate,
                        seconds=steady_seconds, flush_seconds=flush_seconds,
                        hour_seconds=hour_seconds, start_at=load_end,
                    )
                )  # fmt: skip
                metrics_topic = f"opsradar.metrics.v1{suffix}"
                caught_up = asyncio.run(
                    _wait_caught_up(bootstrap, group, [*inputs, metrics_topic], 600)
                )
                written = _evaluation_rows(database_url, load_end)
                try:
                    produced = asyncio.run(_output_times(bootstrap, metrics_topic, load_end))
                    to_output = [
                        produced[key] - sent_at
                        for key, sent_at in closed.items()
                        if key in produced
                    ]
                    result["p99_event_to_output_s"] = percentile(to_output, 99)
                    result["p50_event_to_output_s"] = percentile(to_output, 50)
                except Exception as error:  # a diagnostic: never lose the run for it
                    _log(f"no output timestamps: {error!r}")
                latencies = [
                    written[key] - sent_at for key, sent_at in closed.items() if key in written
                ]
                result.update(
                    national_steady_events_per_s=round(sent / steady_seconds),
                    national_steady_seconds=steady_seconds,
                    national_hour_seconds=hour_seconds,
                    national_flush_seconds=flush_seconds,
                    national_steady_caught_up=caught_up,
                    national_evaluations_closed=len(closed),
                    national_evaluations_timed=len(latencies),
                    p50_event_to_row_s=percentile(latencies, 50) if latencies else None,
                    p99_event_to_row_s=percentile(latencies, 99) if latencies else None,
                    max_event_to_row_s=max(latencies) if latencies else None,
                )
            finally:
                worker.close()
                result["national_rss_mb"] = sampler.stop()
            _log(f"steady: event to row p50 {result.get('p50_event_to_row_s')} s, p99 "
                 f"{result.get('p99_event_to_row_s')} s (to the message p50 "
                 f"{result.get('p50_event_to_output_s')} s, p99 "
                 f"{result.get('p99_event_to_output_s')} s) over "
                 f"{result.get('national_evaluations_timed')} evaluations; "
                 f"peak RSS {result['national_rss_mb']:.0f} MB; restore")  # fmt: skip

            shutil.rmtree(work / "data", ignore_errors=True)
            restored = WorkerProcess(env=env, web_port=port, log_path=work / "restore.log")
            started = time.perf_counter()
            restored.start()
            try:
                deadline = time.monotonic() + restore_timeout
                while RESTORED_LINE not in restored.log_path.read_bytes():
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no restore within {restore_timeout:.0f} s")
                    assert restored.process is not None and restored.process.poll() is None
                    time.sleep(0.2)
                result["national_restore_s"] = time.perf_counter() - started
                try:
                    changelog = f"{group}-scope_state-changelog"
                    result["national_changelog_records"] = asyncio.run(
                        group_lag(bootstrap, group, [changelog])
                    )[1]
                except Exception as error:  # a diagnostic: never lose the run for it
                    _log(f"no changelog size: {error!r}")
                assert restored.process is not None
                rss = Path(f"/proc/{restored.process.pid}/status").read_text()
                result["national_rss_after_restore_mb"] = next(
                    int(line.split()[1]) / 1024
                    for line in rss.splitlines()
                    if line.startswith("VmRSS:")
                )
            finally:
                restored.close()
            _log(f"restored in {result['national_restore_s']:.0f} s")
    finally:
        topics = (
            asyncio.run(_topics_with(bootstrap, suffix.replace(".", "-")))
            + inputs
            + [
                f"{name}{suffix}"
                for name in (
                    "opsradar.metrics.v1",
                    "opsradar.opportunities.v1",
                    "opsradar.deadletter.v1",
                )
            ]
        )
        asyncio.run(_delete_topics(bootstrap, topics))
        shutil.rmtree(work, ignore_errors=True)
    result["national_duration_s"] = time.perf_counter() - began
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--sites", type=int, default=500, help="sites simulated (default 500)")
    parser.add_argument(
        "--pathways-per-site", type=int, default=15_000, help="open pathways a site (default 15000)"
    )
    parser.add_argument(
        "--shifts-per-site", type=int, default=7_400, help="planned shifts a site (default 7400)"
    )
    parser.add_argument(
        "--record-events", type=int, default=2_000, help="events per load record (default 2000)"
    )
    parser.add_argument(
        "--load-hours", type=float, default=12.0, help="event-time span of the load (default 12)"
    )
    parser.add_argument("--rate", type=float, default=600.0, help="steady events/s (default 600)")
    parser.add_argument(
        "--steady-seconds",
        type=float,
        default=300.0,
        help="length of the steady phase (default 300)",
    )
    parser.add_argument(
        "--flush-seconds",
        type=float,
        default=5.0,
        help="wall seconds of a site's events sent as one record (default 5)",
    )
    parser.add_argument(
        "--hour-seconds",
        type=float,
        default=60.0,
        help="wall seconds an event-time hour takes in the steady phase (default 60)",
    )
    args = parser.parse_args()
    result = run(
        sites=args.sites, pathways_per_site=args.pathways_per_site,
        shifts_per_site=args.shifts_per_site, record_events=args.record_events,
        load_hours=args.load_hours, rate=args.rate, steady_seconds=args.steady_seconds,
        flush_seconds=args.flush_seconds, hour_seconds=args.hour_seconds,
    )  # fmt: skip
    text = json.dumps(result, indent=2, default=str)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
