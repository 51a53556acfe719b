"""The writer and the views on the stack's Postgres, logged in as the workers' role."""

from __future__ import annotations

import pytest

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
