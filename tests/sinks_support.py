"""Records and checks shared by the sink tests on SQLite (unit) and Postgres (integration)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from models.outputs import MetricPoint, Opportunity, OpportunityUpdate, Status, Transition
from sinks.database import OpportunityStore
from sinks.tables import UtcDateTime, opportunities, opportunity_transitions, scope_metrics

#: the roles the migrations create, with their local-stack passwords (login, password)
WRITER = ("opsradar_writer", "opsradar_writer")
ANALYST = ("opsradar_analyst", "opsradar_analyst")

T0 = datetime(2025, 3, 3, tzinfo=UTC)
HOUR = timedelta(hours=1)

KIND_DOMAINS = {
    "discharge_coordination": "bed_flow",
    "roster_optimisation": "rostering",
    "dna_reduction": "referrals",
}


def opportunity(
    *,
    trust: str = "RX1",
    site: str | None = "RX101",
    kind: str = "discharge_coordination",
    episode: int = 1,
    status: Status = "emerging",
    at: datetime = T0,
    severity: float = 0.5,
    bed_days: float = 1.0,
    staff_hours: float = 2.0,
    gbp: float = 3.0,
    emerging_at: datetime | None = T0,
    active_at: datetime | None = None,
    resolved_at: datetime | None = None,
    observed: float = 0.4,
) -> Opportunity:
    return Opportunity(
        trust_code=trust,
        site_code=site,
        kind=kind,
        episode=episode,
        domain=KIND_DOMAINS.get(kind, "bed_flow"),  # type: ignore[arg-type]
        status=status,
        severity=severity,
        first_emerging_at=emerging_at,
        first_active_at=active_at,
        resolved_at=resolved_at,
        last_evaluated_at=at,
        metric="nctr_share_of_occupied",
        observed=observed,
        threshold=0.35,
        baseline=0.3,
        weekly_bed_days=bed_days,
        weekly_staff_hours=staff_hours,
        weekly_gbp=gbp,
        intervention="discharge task tracking",
        evidence={"nctr_patients": 40, "evaluated_at": at, "assumptions": ["7-day mean"]},
        catalogue_version="v1",
    )


def transition(
    o: Opportunity, from_status: Status | None, to_status: Status, at: datetime
) -> Transition:
    return Transition(
        trust_code=o.trust_code,
        site_code=o.site_code,
        kind=o.kind,
        episode=o.episode,
        from_status=from_status,
        to_status=to_status,
        at=at,
        observed=o.observed,
        threshold=o.threshold,
    )


def episode_stream(trust: str, site: str | None, kind: str) -> list[OpportunityUpdate]:
    """Hourly snapshots of two episodes: emerging → active → resolved, then emerging again."""
    updates: list[OpportunityUpdate] = []
    active_at, resolved_at = T0 + 24 * HOUR, T0 + 48 * HOUR
    for hour in range(50):
        at = T0 + hour * HOUR
        status: Status = (
            "emerging" if at < active_at else "active" if at < resolved_at else "resolved"
        )
        o = opportunity(
            trust=trust,
            site=site,
            kind=kind,
            status=status,
            at=at,
            severity=min(1.0, 0.3 + hour / 100),
            bed_days=float(hour),
            active_at=active_at if at >= active_at else None,
            resolved_at=resolved_at if at >= resolved_at else None,
            observed=0.3 + hour / 1000,
        )
        t = None
        if hour == 0:
            t = transition(o, None, "emerging", at)
        elif at == active_at:
            t = transition(o, "emerging", "active", at)
        elif at == resolved_at:
            t = transition(o, "active", "resolved", at)
        updates.append(OpportunityUpdate(opportunity=o, transition=t))
    second_at = T0 + 60 * HOUR
    o2 = opportunity(
        trust=trust, site=site, kind=kind, episode=2, at=second_at, emerging_at=second_at
    )
    updates.append(
        OpportunityUpdate(opportunity=o2, transition=transition(o2, None, "emerging", second_at))
    )
    return updates


def metric_stream(trust: str, site: str | None, metric: str, hours: int = 30) -> list[MetricPoint]:
    return [
        MetricPoint(
            trust_code=trust,
            site_code=site,
            metric=metric,
            evaluated_at=T0 + h * HOUR,
            value=0.5 + h / 100,
            sample_size=20 + h,
        )
        for h in range(hours)
    ]


def demo_stream() -> list[OpportunityUpdate]:
    """Episodes at two sites and one trust scope (site_code NULL), interleaved by time."""
    streams = [
        episode_stream("RX1", "RX101", "discharge_coordination"),
        episode_stream("RX1", None, "discharge_coordination"),
        episode_stream("RY2", "RY201", "roster_optimisation"),
    ]
    merged = [u for stream in streams for u in stream]
    return sorted(merged, key=lambda u: u.opportunity.last_evaluated_at)


def as_role(url: str, login: tuple[str, str]) -> str:
    """The same database, logged in as another role (e.g. :data:`WRITER`)."""
    parsed = make_url(url).set(username=login[0], password=login[1])
    return parsed.render_as_string(hide_password=False)


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def table_rows(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the three tables, sorted, without the wall-clock and surrogate columns."""
    skip = {"updated_at", "recorded_at", "id"}
    result: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in (opportunities, opportunity_transitions, scope_metrics):
            columns = [c for c in table.columns if c.name not in skip]
            rows = (await conn.execute(select(*columns))).all()
            result[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return result


def expected_final_snapshots(
    updates: Sequence[OpportunityUpdate],
) -> dict[tuple[Any, ...], Opportunity]:
    """The newest snapshot of each episode: what ``opportunities`` must hold."""
    newest: dict[tuple[Any, ...], Opportunity] = {}
    for u in updates:
        o = u.opportunity
        key = (o.site_code or o.trust_code, o.kind, o.episode)
        if key not in newest or o.last_evaluated_at >= newest[key].last_evaluated_at:
            newest[key] = o
    return newest


def suppressed(count: int) -> int | None:
    """NHS small-number suppression, written independently of the SQL: 0 → 0, 1–7 → None,
    otherwise the nearest multiple of 5 (whole counts never fall on a half)."""
    if count == 0:
        return 0
    if count <= 7:
        return None
    return 5 * int(count / 5 + 0.5)


def trust_codes(n: int) -> list[str]:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    return [f"R{a}{b}" for a in alphabet for b in alphabet][:n]


def national_mix(max_count: int = 30) -> tuple[list[OpportunityUpdate], dict[str, dict[str, int]]]:
    """For each n in 0..max_count a kind ``kind_nn`` with n trusts holding an open opportunity.

    Each of the n trusts has one open site-scope episode (the first n//2 active, the rest
    emerging); the first n//3 trusts also have an emerging trust-scope episode; one more trust has
    a resolved episode (which must count for nothing). Returns the updates and the true counts.
    """
    codes = trust_codes(max_count + 1)
    updates: list[OpportunityUpdate] = []
    truth: dict[str, dict[str, int]] = {}
    for n in range(max_count + 1):
        kind = f"kind_{n:02d}"
        for i, trust in enumerate(codes[:n]):
            status: Status = "active" if i < n // 2 else "emerging"
            updates.append(
                OpportunityUpdate(
                    opportunity=opportunity(
                        trust=trust,
                        site=f"{trust}01",
                        kind=kind,
                        status=status,
                        bed_days=1.5,
                        active_at=T0 if status == "active" else None,
                    )
                )
            )
            if i < n // 3:
                updates.append(
                    OpportunityUpdate(
                        opportunity=opportunity(trust=trust, site=None, kind=kind, bed_days=1.5)
                    )
                )
        resolved_trust = codes[max_count]
        updates.append(
            OpportunityUpdate(
                opportunity=opportunity(
                    trust=resolved_trust,
                    site=f"{resolved_trust}01",
                    kind=kind,
                    status="resolved",
                    active_at=T0,
                    resolved_at=T0,
                    bed_days=100.0,
                )
            )
        )
        truth[kind] = {
            "trusts": n,
            "sites": n,
            "emerging": n - n // 2 + n // 3,
            "active": n // 2,
            "open_episodes": n + n // 3,
        }
    return updates, truth


async def check_national_summary(engine: AsyncEngine, truth: dict[str, dict[str, int]]) -> None:
    """``national_summary``: every count suppressed and right; impacts only for ≥ 8 trusts."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM national_summary"))).mappings().all()
    by_kind = {row["kind"]: row for row in rows}
    assert set(by_kind) == set(truth)
    for kind, counts in truth.items():
        row = by_kind[kind]
        for column in ("trusts", "sites", "emerging", "active"):
            shown = row[column]
            assert shown is None or shown == 0 or (shown >= 10 and shown % 5 == 0), (
                kind,
                column,
                shown,
            )
            assert shown == suppressed(counts[column]), (kind, column, shown, counts[column])
        if 1 <= counts["trusts"] <= 7:
            assert row["weekly_bed_days"] is None, kind
        else:
            assert row["weekly_bed_days"] == 1.5 * counts["open_episodes"], kind


# -- scenarios run by the SQLite (unit) and the Postgres (integration) tests ---------------------


async def scenario_redelivery(store: OpportunityStore) -> None:
    """The same stream delivered twice, then again shuffled, leaves exactly the same rows."""
    updates = demo_stream()
    points = metric_stream("RX1", "RX101", "bed_occupancy_ratio") + metric_stream(
        "RX1", None, "nctr_share_of_occupied"
    )
    for batch in batches(updates, 7):
        await store.write_updates(batch)
    for batch in batches(points, 11):
        await store.write_metrics(batch)
    first = await table_rows(store.engine)

    for batch in batches(updates, 7):
        await store.write_updates(batch)
    for batch in batches(points, 11):
        await store.write_metrics(batch)
    assert await table_rows(store.engine) == first

    shuffled = list(updates)
    random.Random(5).shuffle(shuffled)
    for batch in batches(shuffled, 13):
        await store.write_updates(batch)
    assert await table_rows(store.engine) == first

    # and the rows are the right ones, not merely stable
    expected = expected_final_snapshots(updates)
    async with store.engine.connect() as conn:
        stored = (await conn.execute(select(opportunities))).mappings().all()
    assert {(r["scope"], r["kind"], r["episode"]): r["status"] for r in stored} == {
        key: o.status for key, o in expected.items()
    }
    for row in stored:
        newest = expected[(row["scope"], row["kind"], row["episode"])]
        assert row["last_evaluated_at"] == newest.last_evaluated_at
        assert row["weekly_bed_days"] == newest.weekly_bed_days
        assert row["site_code"] == newest.site_code
        assert row["evidence"]["nctr_patients"] == 40
    # 3 scopes x (emerging, active, resolved, second emerging)
    assert len(first["opportunity_transitions"]) == 12
    assert len(first["scope_metrics"]) == len(points)


async def scenario_older_snapshot(store: OpportunityStore) -> None:
    """A snapshot older than the stored one (redelivered late) changes nothing."""
    newer = opportunity(status="active", at=T0 + 5 * HOUR, active_at=T0 + 5 * HOUR, bed_days=9.0)
    older = opportunity(status="emerging", at=T0 + 2 * HOUR, bed_days=4.0)
    await store.write_updates([OpportunityUpdate(opportunity=newer)])
    before = await table_rows(store.engine)
    await store.write_updates([OpportunityUpdate(opportunity=older)])
    assert await table_rows(store.engine) == before
    top = await store.top_opportunities()
    assert [(r["status"], r["weekly_bed_days"]) for r in top] == [("active", 9.0)]
    # and a newer one does win
    newest = opportunity(status="active", at=T0 + 6 * HOUR, active_at=T0 + 5 * HOUR, bed_days=11.0)
    await store.write_updates([OpportunityUpdate(opportunity=newest)])
    assert [r["weekly_bed_days"] for r in await store.top_opportunities()] == [11.0]


async def scenario_batch_duplicates(store: OpportunityStore) -> None:
    """A batch holding one key several times writes the last (newest) of them once."""
    point = metric_stream("RX1", "RX101", "bed_occupancy_ratio", hours=1)[0]
    repeated = [msgspec.structs.replace(point, value=v) for v in (0.1, 0.2, 0.3)]
    assert await store.write_metrics(repeated) == 1
    # an offset time naming the same instant is the same key
    shifted = msgspec.structs.replace(
        point, value=0.4, evaluated_at=point.evaluated_at.astimezone(timezone(timedelta(hours=1)))
    )
    assert await store.write_metrics([shifted]) == 1
    rows = await table_rows(store.engine)
    assert [(r[1], r[5]) for r in rows["scope_metrics"]] == [("bed_occupancy_ratio", 0.4)]

    new = opportunity(at=T0 + 3 * HOUR, bed_days=3.0)
    old = opportunity(at=T0 + 1 * HOUR, bed_days=1.0)
    t = transition(new, None, "emerging", T0)
    sent = await store.write_updates(
        [
            OpportunityUpdate(opportunity=new, transition=t),
            OpportunityUpdate(opportunity=old, transition=t),
        ]
    )
    assert sent == 1
    rows = await table_rows(store.engine)
    assert len(rows["opportunities"]) == 1 and len(rows["opportunity_transitions"]) == 1
    assert [r["weekly_bed_days"] for r in await store.top_opportunities()] == [3.0]


async def scenario_top_opportunities(store: OpportunityStore) -> None:
    """Open opportunities only, by bed-days then £, at most ``limit``; times come back in UTC."""
    bst = timezone(timedelta(hours=1))
    updates = [
        opportunity(site="RX101", kind="discharge_coordination", bed_days=5.0, gbp=1.0),
        opportunity(site="RX102", kind="discharge_coordination", bed_days=5.0, gbp=9.0),
        opportunity(
            site="RX103", kind="dna_reduction", bed_days=0.0, gbp=500.0, at=T0.astimezone(bst)
        ),
        opportunity(
            site="RX104",
            kind="discharge_coordination",
            status="resolved",
            bed_days=99.0,
            active_at=T0,
            resolved_at=T0,
        ),
        opportunity(
            site=None, kind="roster_optimisation", status="active", bed_days=7.0, active_at=T0
        ),
    ]
    await store.write_updates([OpportunityUpdate(opportunity=o) for o in updates])
    top = await store.top_opportunities()
    assert [(r["scope"], r["kind"]) for r in top] == [
        ("RX1", "roster_optimisation"),
        ("RX102", "discharge_coordination"),
        ("RX101", "discharge_coordination"),
        ("RX103", "dna_reduction"),
    ]
    assert top[0]["site_code"] is None and top[0]["trust_code"] == "RX1"
    assert top[0]["since"] == T0 and top[3]["last_evaluated_at"] == T0
    assert top[3]["last_evaluated_at"].utcoffset() == timedelta(0)
    assert [r["scope"] for r in await store.top_opportunities(limit=2)] == ["RX1", "RX102"]


async def scenario_trust_summary(store: OpportunityStore) -> None:
    """``trust_summary``: open episodes per trust and kind, by status, with summed impacts."""
    updates = [
        opportunity(trust="RX1", site="RX101", status="active", active_at=T0, bed_days=2.0),
        opportunity(trust="RX1", site="RX102", bed_days=3.0),
        opportunity(trust="RX1", site=None, bed_days=4.0),
        opportunity(trust="RX1", site="RX103", status="resolved", active_at=T0, resolved_at=T0),
        opportunity(trust="RY2", site="RY201", kind="dna_reduction", bed_days=1.0, gbp=7.0),
    ]
    await store.write_updates([OpportunityUpdate(opportunity=o) for o in updates])
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM trust_summary"))).mappings().all()
    summary = {(r["trust_code"], r["kind"]): r for r in rows}
    assert set(summary) == {("RX1", "discharge_coordination"), ("RY2", "dna_reduction")}
    rx1 = summary[("RX1", "discharge_coordination")]
    assert (rx1["emerging"], rx1["active"], rx1["scopes"]) == (2, 1, 3)
    assert rx1["weekly_bed_days"] == 9.0 and rx1["domain"] == "bed_flow"
    assert summary[("RY2", "dna_reduction")]["weekly_gbp"] == 7.0


async def scenario_stale_opportunities(store: OpportunityStore) -> None:
    """An open episode whose data is behind the newest of its domain and scope type (over 3
    days at a site, 45 at a trust-level sitrep scope) is ``stale``: marked in
    ``open_opportunities``, left out of the summaries and, unless asked, of the top list."""
    day = timedelta(days=1)
    trusts = trust_codes(20)
    # 20 trusts' site episodes: 12 current (the newest at day 10, the oldest 2 days behind it),
    # 8 whose feeds stopped on day 5
    sites = [
        opportunity(trust=trust, site=f"{trust}01", at=T0 + (10 - i % 3 if i < 12 else 5) * day)
        for i, trust in enumerate(trusts)
    ]
    # trust-level sitrep episodes: 30 days behind is a monthly report late, 60 a trust gone
    sitreps = [
        opportunity(trust=trust, site=None, kind="capacity_forecasting", at=T0 + at * day)
        for trust, at in (("RS1", 100), ("RS2", 70), ("RS3", 40))
    ]
    # a kind whose source ended before the others' (a monthly publication): not behind its own
    ended = [
        opportunity(trust=trust, site=f"{trust}01", kind="discharge_timing_prediction", at=at)
        for trust, at in (("RT1", T0 + 2 * day), ("RT2", T0 + day))
    ]
    updates = [OpportunityUpdate(opportunity=o) for o in sites + sitreps + ended]
    await store.write_updates(updates)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM open_opportunities"))).mappings().all()
        national = (
            await conn.execute(text("SELECT kind, trusts FROM national_summary ORDER BY kind"))
        ).all()
        summary = (await conn.execute(text("SELECT trust_code FROM trust_summary"))).all()
    behind = {row["scope"]: (round(row["data_behind_days"], 6), bool(row["stale"])) for row in rows}
    assert behind["RS1"] == (0.0, False) and behind["RS2"] == (30.0, False)
    assert behind["RS3"] == (60.0, True)
    assert [behind[f"{t}01"] for t in trusts[:3]] == [(0.0, False), (1.0, False), (2.0, False)]
    assert {behind[f"{t}01"] for t in trusts[12:]} == {(5.0, True)}
    assert (behind["RT101"], behind["RT201"]) == ((0.0, False), (1.0, False))
    # discharge_coordination: 12 current trusts, shown as 10 (the 20 with the stale ones would
    # show as 20); capacity_forecasting: 2 current, suppressed
    assert national == [
        ("capacity_forecasting", None),
        ("discharge_coordination", 10),
        ("discharge_timing_prediction", None),
    ]
    assert {trust for (trust,) in summary} == {*trusts[:12], "RS1", "RS2", "RT1", "RT2"}
    top = await store.top_opportunities(limit=100)
    assert len(top) == 16 and not any(row["stale"] for row in top)
    assert len(await store.top_opportunities(limit=100, include_stale=True)) == 25
    assert await store.stale_open_opportunities() == 9


async def scenario_national_summary(store: OpportunityStore) -> None:
    """Counts 0..30 per kind: ``national_summary`` never shows 1–7, rounds the rest to 5."""
    updates, truth = national_mix(30)
    for batch in batches(updates, 100):
        await store.write_updates(batch)
    await check_national_summary(store.engine, truth)


#: "the value of each series at :t" on step rows (README, "scope_metrics"): a point holds until
#: the next point of its series
VALUE_AT = """
SELECT scope, metric, value, sample_size FROM (
    SELECT scope, metric, value, sample_size, evaluated_at AS valid_from,
           LEAD(evaluated_at) OVER (PARTITION BY scope, metric ORDER BY evaluated_at)
               AS valid_until
    FROM scope_metrics
) AS steps
WHERE valid_from <= :t AND (valid_until > :t OR valid_until IS NULL)
"""


def _quality(h: int) -> int:
    # warming_up, ok, gap, recovering, ok again
    return 0 if h < 10 else 1 if h < 40 else 2 if h < 50 else 3 if h < 60 else 1


def hourly_and_on_change(hours: int = 71) -> tuple[list[MetricPoint], list[MetricPoint]]:
    """The same two series of a site domain written as before (every hour, at RX101) and under
    the emission rule (``streams.engine.emission``, at RX102), with analyse's closing points."""
    from streams.engine.emission import Emission
    from streams.engine.evidence import ScopeIds
    from streams.engine.readings import Reading

    first = int(T0.timestamp() // 3600)  # T0 is a midnight: hours 0, 24, 48 are heartbeats
    emission = Emission("emitted/bed_flow", set())
    ids = ScopeIds("RX1", "RX102", "test")
    hourly: list[MetricPoint] = []
    on_change: list[MetricPoint] = []
    for h in range(hours):
        readings = {
            "data_quality_bed_flow": Reading(_quality(h), 0),
            "occupied_beds": Reading(10 + h // 6, 10 + h // 6),
        }
        when = T0 + h * HOUR
        hourly += [
            MetricPoint(
                trust_code="RX1",
                site_code="RX101",
                metric=name,
                evaluated_at=when,
                value=float(reading.value),
                sample_size=reading.sample,
            )
            for name, reading in sorted(readings.items())
        ]
        on_change += emission.points(ids, readings, first + h, when)
    on_change += emission.closing(ids, first + hours - 1, T0 + (hours - 1) * HOUR)
    return hourly, on_change


def _aware(value: Any) -> Any:
    """A view's timestamp as an aware UTC datetime (SQLite returns a view's columns as text)."""
    if isinstance(value, str) and value[:1].isdigit():
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


async def scenario_step_semantics(store: OpportunityStore) -> None:
    """The analyst views answer the same on hourly rows and on the rows the emission rule keeps:
    ``scope_data_quality``, ``open_opportunities.data_quality``, the value of every series at
    every hour (``VALUE_AT``) and the plain rows at each midnight (the heartbeat)."""
    hourly, on_change = hourly_and_on_change()
    assert len(on_change) < len(hourly) / 3
    await store.write_metrics(hourly + on_change)
    sites = ("RX101", "RX102")
    await store.write_updates(
        [OpportunityUpdate(opportunity=opportunity(site=site, at=T0 + 70 * HOUR)) for site in sites]
    )
    at = bindparam("t", type_=UtcDateTime())

    def by_scope(rows: Sequence[Any], *columns: str) -> dict[str, set[tuple[Any, ...]]]:
        out: dict[str, set[tuple[Any, ...]]] = {site: set() for site in sites}
        for row in rows:
            out[row["scope"]].add(tuple(_aware(row[c]) for c in columns))
        return out

    async with store.engine.connect() as conn:
        quality = (await conn.execute(text("SELECT * FROM scope_data_quality"))).mappings().all()
        got = by_scope(quality, "domain", "data_quality", "evaluated_at")
        assert got["RX101"] == got["RX102"] == {("bed_flow", "ok", T0 + 70 * HOUR)}
        open_rows = (await conn.execute(text("SELECT * FROM open_opportunities"))).mappings()
        assert by_scope(open_rows.all(), "data_quality") == {site: {("ok",)} for site in sites}
        for h in range(71):
            query = text(VALUE_AT).bindparams(at)
            rows = (await conn.execute(query, {"t": T0 + h * HOUR})).mappings().all()
            got = by_scope(rows, "metric", "value", "sample_size")
            assert got["RX101"] == got["RX102"] and len(got["RX101"]) == 2, h
        for day in range(3):
            query = text("SELECT * FROM scope_metrics WHERE evaluated_at = :t").bindparams(at)
            rows = (await conn.execute(query, {"t": T0 + day * 24 * HOUR})).mappings().all()
            got = by_scope(rows, "metric", "value", "sample_size")
            assert got["RX101"] == got["RX102"] and len(got["RX101"]) == 2, day
