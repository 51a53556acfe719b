"""The writer and the views on SQLite (a file in tmp_path: no service needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sinks import schema
from sinks.database import OpportunityStore
from tests import sinks_support as scenarios

pytestmark = pytest.mark.unit


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[OpportunityStore]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'opsradar.db'}"
    schema.upgrade(url)
    async with OpportunityStore(url) as opened:
        yield opened


async def test_redelivered_stream_leaves_the_same_rows(store: OpportunityStore) -> None:
    await scenarios.scenario_redelivery(store)


async def test_older_snapshot_after_newer_changes_nothing(store: OpportunityStore) -> None:
    await scenarios.scenario_older_snapshot(store)


async def test_repeated_keys_in_one_batch_collapse_to_the_newest(store: OpportunityStore) -> None:
    await scenarios.scenario_batch_duplicates(store)


async def test_top_opportunities_by_impact(store: OpportunityStore) -> None:
    await scenarios.scenario_top_opportunities(store)


async def test_trust_summary_counts_open_episodes(store: OpportunityStore) -> None:
    await scenarios.scenario_trust_summary(store)


async def test_episodes_of_scopes_that_stopped_reporting_are_stale(
    store: OpportunityStore,
) -> None:
    await scenarios.scenario_stale_opportunities(store)


async def test_national_summary_suppresses_small_counts(store: OpportunityStore) -> None:
    await scenarios.scenario_national_summary(store)


async def test_empty_batches_write_nothing(store: OpportunityStore) -> None:
    assert await store.write_metrics([]) == 0
    assert await store.write_updates([]) == 0
    assert await store.top_opportunities() == []


async def test_the_views_read_step_rows_as_they_read_hourly_rows(store: OpportunityStore) -> None:
    await scenarios.scenario_step_semantics(store)
