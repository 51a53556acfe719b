"""MLLP as TCP delivers it to ``hl7 listen``: a frame split over many reads, several frames in one
read, frames ended <FS><CR><LF> as some engines send them, a block over the size limit followed
by a good one, and a sender that hangs up mid-frame. The listener serves a real socket on
127.0.0.1; only the broker is replaced, by a list of the records it would have been sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hl7.mllp import open_hl7_connection

from feeds.hl7.adt import AdtConverter
from feeds.hl7.framing import frame
from feeds.hl7.listener import MAX_MESSAGE_BYTES, MllpListener, serve

pytestmark = pytest.mark.unit

KEY = b"mllp-framing-key-0123456789abcdef"
NOW = datetime(2026, 3, 10, tzinfo=UTC)


def adt(control_id: str) -> str:
    return "\r".join(
        [
            f"MSH|^~\\&|PAS|RJ1|OPSR|RJ1|20260301101500||ADT^A01|{control_id}|P|2.4",
            "EVN|A01|20260301101500",
            f"PV1|1|I|AMU^B1^2^RJ122|21||||||300|||||||||V{control_id}",
        ]
    )


@dataclass
class Running:
    port: int
    records: list[tuple[bytes, bytes]] = field(default_factory=list)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    records: list[tuple[bytes, bytes]] = []

    async def send(key: bytes, value: bytes) -> None:
        records.append((key, value))

    listener = MllpListener(converter=AdtConverter(key=KEY, clock=lambda: NOW), send=send)
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(listener, host="127.0.0.1", port=0, ready=bound.set_result))
    port = await asyncio.wait_for(bound, timeout=10)
    yield Running(port=port, records=records)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _acks(reader: asyncio.StreamReader, count: int) -> list[tuple[str, str, str]]:
    """(MSA-1, MSA-2, MSA-3) of the next ``count`` ACKs."""
    acks = []
    for _ in range(count):
        reply = (await asyncio.wait_for(reader.readblock(), timeout=30)).decode()  # type: ignore[attr-defined]
        msa = next(s for s in reply.split("\r") if s.startswith("MSA")).split("|")
        acks.append((msa[1], msa[2], msa[3] if len(msa) > 3 else ""))
    return acks


async def test_a_frame_split_over_many_reads_is_one_message(running: Running) -> None:
    reader, writer = await open_hl7_connection("127.0.0.1", running.port)
    data = frame(adt("S1"))
    for start in range(0, len(data), 7):
        writer.write(data[start : start + 7])
        await writer.drain()
        await asyncio.sleep(0)  # let the listener read what has arrived so far
    assert await _acks(reader, 1) == [("AA", "S1", "")]
    writer.close()
    assert len(running.records) == 1


async def test_several_frames_in_one_read_each_get_their_ack_in_order(running: Running) -> None:
    reader, writer = await open_hl7_connection("127.0.0.1", running.port)
    writer.write(b"".join(frame(adt(f"M{n}")) for n in range(3)))
    await writer.drain()
    assert await _acks(reader, 3) == [("AA", "M0", ""), ("AA", "M1", ""), ("AA", "M2", "")]
    writer.close()
    assert len(running.records) == 3


async def test_frames_ended_with_a_line_feed_lose_no_message(running: Running) -> None:
    reader, writer = await open_hl7_connection("127.0.0.1", running.port)
    writer.write(b"".join(frame(adt(f"L{n}")) + b"\n" for n in range(3)))
    await writer.drain()
    assert await _acks(reader, 3) == [("AA", "L0", ""), ("AA", "L1", ""), ("AA", "L2", "")]
    writer.close()
    assert len(running.records) == 3


async def test_a_block_over_the_limit_is_refused_once_and_the_next_one_accepted(
    running: Running,
) -> None:
    reader, writer = await open_hl7_connection("127.0.0.1", running.port)
    huge = adt("BIG") + "\rZZZ|" + "x" * (MAX_MESSAGE_BYTES + 10)
    data = frame(huge) + frame(adt("AFTER"))
    for start in range(0, len(data), 1 << 16):  # as TCP delivers it: the limit passes mid-block
        writer.write(data[start : start + (1 << 16)])
        await writer.drain()
        await asyncio.sleep(0)
    (refused, accepted) = await _acks(reader, 2)
    assert (refused[0], refused[2]) == ("AR", "message_too_large")
    assert accepted == ("AA", "AFTER", "")
    writer.close()
    assert len(running.records) == 1


async def test_a_sender_hanging_up_mid_frame_leaves_the_listener_serving(
    running: Running,
) -> None:
    _, broken = await open_hl7_connection("127.0.0.1", running.port)
    broken.write(frame(adt("HALF"))[:40])
    await broken.drain()
    broken.close()
    await broken.wait_closed()
    reader, writer = await open_hl7_connection("127.0.0.1", running.port)
    writer.write(frame(adt("NEXT")))
    await writer.drain()
    assert await _acks(reader, 1) == [("AA", "NEXT", "")]
    writer.close()
    assert len(running.records) == 1
