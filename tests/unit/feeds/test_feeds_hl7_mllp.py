"""MLLP as TCP delivers it to ``hl7 listen``: a frame split over many reads, several frames in one
read, frames ended <FS><CR><LF> as some engines send them, a block over the size limit followed
by a good one, and a sender that hangs up mid-frame. The listener serves a real socket on
127.0.0.1; only the broker is replaced, by a list of the records it would have been sent."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec
import pytest
from hl7.mllp import open_hl7_connection

from feeds.hl7.adt import AdtConverter
from feeds.hl7.framing import frame
from feeds.hl7.listener import MAX_MESSAGE_BYTES, MllpListener, serve

pytestmark = pytest.mark.unit

KEY = b"mllp-framing-key-0123456789abcdef"
NOW = datetime(2026, 3, 10, tzinfo=UTC)


def adt(control_id: str, *, trigger: str = "A01", ward: str = "AMU", visit: str = "") -> str:
    return "\r".join(
        [
            f"MSH|^~\\&|PAS|RJ1|OPSR|RJ1|20260301101500||ADT^{trigger}|{control_id}|P|2.4",
            f"EVN|{trigger}|20260301101500",
            f"PV1|1|I|{ward}^B1^2^RJ122|21||||||300|||||||||{visit or 'V' + control_id}",
        ]
    )


@dataclass
class Running:
    port: int
    records: list[tuple[bytes, bytes]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def serving(
    *, refused_sends: frozenset[int] | set[int] = frozenset()
) -> AsyncIterator[Running]:
    """A listener on a free port whose broker refuses the sends numbered ``refused_sends``
    (from 0), as a broker that is down for a moment does."""
    records: list[tuple[bytes, bytes]] = []
    sends = itertools.count()

    async def send(key: bytes, value: bytes) -> None:
        if next(sends) in refused_sends:
            raise ConnectionRefusedError
        records.append((key, value))

    listener = MllpListener(converter=AdtConverter(key=KEY, clock=lambda: NOW), send=send)
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(listener, host="127.0.0.1", port=0, ready=bound.set_result))
    port = await asyncio.wait_for(bound, timeout=10)
    yield Running(port=port, records=records)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    async with serving() as served:
        yield served


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


async def test_a_broker_that_is_down_gives_ar_so_the_engine_resends_and_then_aa() -> None:
    # HL7 v2: AR is "not processed for a reason unrelated to its content" (the sender decides to
    # resend, and engines retry it by default); AE says the content is wrong (no use resending)
    async with serving(refused_sends={0}) as served:
        reader, writer = await open_hl7_connection("127.0.0.1", served.port)
        writer.write(frame(adt("R1")) + frame(adt("R1")))  # the engine's resend
        await writer.drain()
        assert await _acks(reader, 2) == [("AR", "R1", "kafka_unavailable"), ("AA", "R1", "")]
        writer.close()
        assert len(served.records) == 1


async def test_a_message_with_bad_content_gives_ae(running: Running) -> None:
    reader, writer = await open_hl7_connection("127.0.0.1", running.port)
    writer.write(frame(adt("NV").replace("|VNV", "|")))  # no visit number
    await writer.drain()
    assert await _acks(reader, 1) == [("AE", "NV", "no_visit_number")]
    writer.close()
    assert running.records == []


async def test_a_transfer_the_broker_missed_is_still_a_transfer_when_resent() -> None:
    # an A02 without PV1-6 is read against the ward last seen for the spell; that ward must
    # not move on until the transfer is on the broker, or the resend looks like no move at all
    async with serving(refused_sends={1}) as served:
        reader, writer = await open_hl7_connection("127.0.0.1", served.port)
        transfer = frame(adt("T2", trigger="A02", ward="W12", visit="V9"))
        writer.write(frame(adt("T1", visit="V9")) + transfer + transfer)
        await writer.drain()
        assert await _acks(reader, 3) == [
            ("AA", "T1", ""),
            ("AR", "T2", "kafka_unavailable"),
            ("AA", "T2", ""),
        ]
        writer.close()
        _, (_, moved) = served.records
        (event,) = msgspec.json.decode(moved)
        assert (event["event_type"], event["from_ward_code"], event["to_ward_code"]) == (
            "transfer",
            "AMU",
            "W12",
        )
