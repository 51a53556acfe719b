"""Fixtures for the sink tests on the stack's Postgres: a fresh migrated database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from sinks.database import OpportunityStore
from tests.database_support import fresh_database
from tests.sinks_support import WRITER, as_role


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A database of this test's own, migrated to head; the superuser's URL to it."""
    with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
async def writer_store(database_url: str) -> AsyncIterator[OpportunityStore]:
    """The writer as the workers run it: logged in as ``opsradar_writer``."""
    async with OpportunityStore(as_role(database_url, WRITER)) as store:
        yield store
