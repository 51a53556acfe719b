"""A failed database write is retried until it succeeds, and every failure is reported."""

from __future__ import annotations

import asyncio

import pytest

from sinks.database import write_until_done

pytestmark = pytest.mark.unit


async def test_a_failing_write_is_retried_until_it_succeeds() -> None:
    attempts: list[int] = []
    failures: list[BaseException] = []

    async def write() -> int:
        attempts.append(len(attempts))
        if len(attempts) < 4:
            raise ConnectionRefusedError("database down")
        return 7

    written = await write_until_done(
        write, what="7 rows", on_failure=failures.append, max_wait_seconds=0.01
    )
    assert written == 7
    assert len(attempts) == 4
    assert [type(f) for f in failures] == [ConnectionRefusedError] * 3


async def test_cancelling_the_caller_stops_the_retries() -> None:
    async def write() -> int:
        raise OSError("down")

    failures: list[BaseException] = []
    retried = asyncio.Event()

    def failed(error: BaseException) -> None:
        failures.append(error)
        if len(failures) == 5:
            retried.set()

    task = asyncio.ensure_future(
        write_until_done(write, what="rows", on_failure=failed, max_wait_seconds=0.01)
    )
    await asyncio.wait_for(retried.wait(), timeout=30)
    assert not task.done(), "a write that keeps failing must not give up"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
