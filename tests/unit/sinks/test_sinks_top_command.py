"""``opsradar top``: the largest open opportunities of a database, stale ones left out."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from models.outputs import OpportunityUpdate
from sinks import schema
from sinks.database import OpportunityStore
from streams.cli import main
from tests.sinks_support import T0, opportunity

pytestmark = pytest.mark.unit


def _database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'opsradar.db'}"
    schema.upgrade(url)
    day = timedelta(days=1)
    found = [
        opportunity(trust="RX1", site="RX101", bed_days=12.5, gbp=800.0, at=T0 + 10 * day),
        opportunity(trust="RX1", site="RX102", bed_days=3.0, at=T0 + 9 * day),
        # a site whose feed stopped five days before the others' newest data
        opportunity(trust="RY2", site="RY201", bed_days=40.0, at=T0 + 5 * day),
    ]

    async def write() -> None:
        async with OpportunityStore(url) as store:
            await store.write_updates([OpportunityUpdate(opportunity=o) for o in found])

    asyncio.run(write())
    return url


def test_top_prints_the_largest_current_opportunities_and_counts_the_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _database(tmp_path)
    assert main(["top", "--db", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[2:-1]]
    assert [(row[1], row[4]) for row in rows] == [("RX101", "12.5"), ("RX102", "3.0")]
    assert "1 open episode of scopes that stopped reporting left out" in lines[-1]

    assert main(["top", "--db", url, "--include-stale", "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[2].split()[1] == "RY201"
    assert lines[2].endswith("stale: 5 days behind")


def test_top_on_a_file_that_is_not_an_opsradar_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    assert main(["top", "--db", url]) == 1
    err = capsys.readouterr().err
    assert "cannot read open_opportunities" in err and "opsradar db upgrade" in err
    assert main(["top", "--db", url, "--limit", "0"]) == 2
