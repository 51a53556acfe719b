"""The writer and the views on the stack's Postgres, logged in as the workers' role."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from sinks.database import OpportunityStore
from tests import sinks_support as scenarios

pytestmark = pytest.mark.integration


async def test_redelivered_stream_leaves_the_same_rows(writer_store: OpportunityStore) -> None:
    await scenarios.scenario_redelivery(writer_store)


async def test_older_snapshot_after_newer_changes_nothing(writer_store: OpportunityStore) -> None:
    await scenarios.scenario_older_snapshot(writer_store)


async def test_repeated_keys_in_one_batch_collapse_to_the_newest(
    writer_store: OpportunityStore,
) -> None:
    await scenarios.scenario_batch_duplicates(writer_store)


async def test_top_opportunities_by_impact(writer_store: OpportunityStore) -> None:
    await scenarios.scenario_top_opportunities(writer_store)


async def test_trust_summary_counts_open_episodes(writer_store: OpportunityStore) -> None:
    await scenarios.scenario_trust_summary(writer_store)


async def test_episodes_of_scopes_that_stopped_reporting_are_stale(
    writer_store: OpportunityStore,
) -> None:
    await scenarios.scenario_stale_opportunities(writer_store)


async def test_national_summary_suppresses_small_counts(writer_store: OpportunityStore) -> None:
    await scenarios.scenario_national_summary(writer_store)


async def test_the_views_read_step_rows_as_they_read_hourly_rows(
    writer_store: OpportunityStore,
) -> None:
    await scenarios.scenario_step_semantics(writer_store)


async def test_a_batch_that_breaks_a_constraint_writes_nothing(
    writer_store: OpportunityStore,
) -> None:
    """One transaction per batch: a bad record (severity > 1) leaves no half-written batch."""
    good = scenarios.opportunity(site="RX101")
    bad = scenarios.opportunity(site="RX102", severity=1.5)
    with pytest.raises(Exception, match="ck_opportunities_severity"):
        await writer_store.write_updates(
            [scenarios.OpportunityUpdate(opportunity=o) for o in (good, bad)]
        )
    assert await writer_store.top_opportunities() == []


async def test_a_metric_batch_with_a_value_too_long_for_its_column_writes_nothing(
    writer_store: OpportunityStore,
) -> None:
    """A batch of metric points is one statement over arrays: a site code longer than the
    column's 8 characters fails the whole batch (it is not cut to fit, which would merge two
    scopes' keys) and leaves no row of it."""
    good = scenarios.metric_stream("RX1", "RX101", "bed_occupancy_ratio", hours=3)
    bad = scenarios.metric_stream("RX1", "RX101LONGER", "bed_occupancy_ratio", hours=1)
    with pytest.raises(Exception, match="character varying"):
        await writer_store.write_metrics(good + bad)
    rows = await scenarios.table_rows(writer_store.engine)
    assert rows["scope_metrics"] == []


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg_async"])
async def test_metric_points_round_trip_with_either_async_driver(
    database_url: str, driver: str
) -> None:
    """The metric upsert is compiled per dialect: positional ($1) for asyncpg, named for
    psycopg; both write the same rows, and a second write of the same points changes none."""
    writer = make_url(scenarios.as_role(database_url, scenarios.WRITER))
    url = writer.set(drivername=f"postgresql+{driver}")
    points = scenarios.metric_stream("RX1", "RX101", "bed_occupancy_ratio") + (
        scenarios.metric_stream("RX1", None, "nctr_share_of_occupied")
    )
    async with OpportunityStore(url) as store:
        assert await store.write_metrics(points) == len(points)
        first = await scenarios.table_rows(store.engine)
        assert await store.write_metrics(points) == len(points)
        assert await scenarios.table_rows(store.engine) == first
    stored = {(row[0], row[1], row[2]) for row in first["scope_metrics"]}
    assert len(stored) == len(points)
