"""Fixtures shared by every tier.

Services come from the local stack (`make up`, 127.0.0.1). A missing service makes the test that
needs it fail with a message saying what to run; nothing here skips.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from streams.settings import Settings


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_tcp(service: str, address: str) -> None:
    """Fail (never skip) when a service of the local stack does not answer."""
    host, _, port = address.rpartition(":")
    if not _reachable(host or "127.0.0.1", int(port)):
        pytest.fail(f"{service} is not reachable at {address}: run `make up` first", pytrace=False)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def kafka_bootstrap(settings: Settings) -> str:
    require_tcp("Kafka", settings.kafka_bootstrap.split(",")[0])
    return settings.kafka_bootstrap


@pytest.fixture(scope="session")
def postgres_url(settings: Settings) -> str:
    parts = urlsplit(settings.database_url)
    require_tcp("PostgreSQL", f"{parts.hostname}:{parts.port or 5432}")
    return settings.database_url


@pytest.fixture(scope="session")
def prometheus_url(settings: Settings) -> str:
    parts = urlsplit(settings.prometheus_url)
    require_tcp("Prometheus", f"{parts.hostname}:{parts.port or 80}")
    return settings.prometheus_url


@pytest.fixture
def unique_suffix() -> str:
    """A suffix for topic names and consumer groups that no other test uses."""
    return f".t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def isolated_settings(settings: Settings, unique_suffix: str) -> Iterator[Settings]:
    """Settings whose topics, app id (consumer group) and web port are this test's own."""
    yield settings.model_copy(
        update={
            "topic_suffix": unique_suffix,
            "app_id": f"opsradar{unique_suffix.replace('.', '-')}",
        }
    )


TIERS = ("unit", "integration", "e2e", "faults")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test belongs to a tier: `make test` selects by tier, so an unmarked test would
    silently never run."""
    unmarked = [item.nodeid for item in items if not any(item.get_closest_marker(t) for t in TIERS)]
    if unmarked:
        raise pytest.UsageError(f"tests without a tier marker ({', '.join(TIERS)}): {unmarked}")
