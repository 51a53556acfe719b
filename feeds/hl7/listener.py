"""``hl7 listen``: an asyncio MLLP server that converts each ADT message and produces its events
to the bed-flow topic, answering every message with an ACK once the broker has it.

One message at a time per connection (MLLP original mode: the sender waits for the ACK), so a
site's messages reach the topic in the order the integration engine sent them; each accepted
message is one batch record keyed by its ``site_code``. AA is sent only after the broker
acknowledged the record (``acks=all``), so an AA means the events are durable; when the broker
cannot take it the ACK is AR ``kafka_unavailable`` (HL7: not processed for a reason unrelated to
its content) and the engine resends; the spell's remembered ward moves on only once the broker
has the events, so the resent message converts as the first one did. Bad input of any kind
(no MLLP start block, oversized block, not HL7, wrong type) is answered and counted, never raised:
the connection goes on. Logs carry counts and reason codes only, never message content.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from hl7.mllp import InvalidBlockError, start_hl7_server

from feeds.hl7.ack import REJECT, ack, ack_code
from feeds.hl7.adt import NOT_HL7, AdtConverter
from feeds.hl7.convert import ConvertStats
from feeds.hl7.framing import END_BLOCK, START_BLOCK, split_messages

log = logging.getLogger(__name__)

KAFKA_UNAVAILABLE: Final = "kafka_unavailable"
TOO_LARGE: Final = "message_too_large"
#: a block larger than this is refused (real ADT messages are a few kB)
MAX_MESSAGE_BYTES: Final = 1 << 20

#: sends one record (topic is fixed by the caller): (key, value) -> awaited until durable
Send = Callable[[bytes, bytes], Awaitable[None]]

BLOCK_TRAILER: Final = END_BLOCK + b"\r"
#: what some engines put between frames (a frame ended <FS><CR><LF>, a keep-alive newline)
BETWEEN_FRAMES: Final = b" \t\r\n"


class BlockTooLarge(Exception):
    """A block over the reader's limit; it has been read through its end and dropped."""


async def read_block(reader: asyncio.StreamReader) -> bytes:
    """The content of the next MLLP block (between <VT> and <FS><CR>).

    hl7.mllp's ``readblock`` treats a newline left after a frame as the start of the next block
    and refuses that block, so one sender's habit would cost every following message; here
    whitespace before <VT> is skipped. Raises IncompleteReadError when the sender hangs up,
    InvalidBlockError for a block without <VT>, BlockTooLarge for one over the limit.
    """
    try:
        block = await reader.readuntil(BLOCK_TRAILER)
    except asyncio.LimitOverrunError as overrun:
        await _discard_through_trailer(reader, overrun.consumed)
        raise BlockTooLarge from None
    block = block.lstrip(BETWEEN_FRAMES)
    if not block.startswith(START_BLOCK):
        raise InvalidBlockError("the block does not begin with <VT>")
    return block[len(START_BLOCK) : -len(BLOCK_TRAILER)]


async def _discard_through_trailer(reader: asyncio.StreamReader, consumed: int) -> None:
    """Drop an oversized block up to and including its <FS><CR>, as it arrives: the next
    block then starts clean instead of with the oversized one's tail."""
    while True:
        await reader.readexactly(consumed)
        try:
            await reader.readuntil(BLOCK_TRAILER)
        except asyncio.LimitOverrunError as overrun:
            consumed = overrun.consumed
        else:
            return


class MllpListener:
    def __init__(self, *, converter: AdtConverter, send: Send) -> None:
        self._converter = converter
        self._send = send
        self._ids = itertools.count(1)
        self.stats = ConvertStats()
        # convert + send one message at a time across connections: the converter's ward memory
        # (A02 without PV1-6, A08) then sees the feed in the order it was acknowledged
        self._lock = asyncio.Lock()

    def _control_id(self) -> str:
        return f"OPSR{next(self._ids):012d}"

    async def answer(self, block: bytes) -> str:
        """The ACK for one MLLP block (the message's events produced first)."""
        texts = list(split_messages(block))
        text = texts[0] if len(texts) == 1 else ""
        async with self._lock:
            outcome = self._converter.convert(text, remember=False)
            if outcome.status == "accepted":
                site = outcome.events[0].site_code or outcome.events[0].trust_code
                try:
                    await self._send(site.encode(), b"[" + b",".join(outcome.raws) + b"]")
                except Exception as error:  # the broker's errors are many types: each is AE
                    log.warning(
                        "hl7 listen: broker did not take a record (%s)", type(error).__name__
                    )
                    self.stats.rejected += 1
                    self.stats.messages += 1
                    self.stats.reasons[KAFKA_UNAVAILABLE] += 1
                    # AR: not processed for a reason unrelated to the content; engines resend
                    return ack(outcome.message, REJECT, KAFKA_UNAVAILABLE, self._control_id())
                self._converter.remember(outcome)
            self.stats.count(outcome)
        code = ack_code(outcome.status, outcome.reason)
        return ack(outcome.message, code, outcome.reason, self._control_id())

    def _refuse(self, reason: str) -> str:
        self.stats.messages += 1
        self.stats.rejected += 1
        self.stats.reasons[reason] += 1
        return ack(None, REJECT, reason, self._control_id())

    async def handle(self, reader: Any, writer: Any) -> None:
        try:
            while True:
                try:
                    block = await read_block(reader)
                except asyncio.IncompleteReadError:
                    return  # the sender closed the connection (with or without a partial block)
                except InvalidBlockError:
                    reply = self._refuse(NOT_HL7)
                except BlockTooLarge:
                    reply = self._refuse(TOO_LARGE)
                else:
                    reply = await self.answer(block)
                writer.writeblock(reply.encode("utf-8"))
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()


async def serve(
    listener: MllpListener, *, host: str, port: int, ready: Callable[[int], None] | None = None
) -> None:
    """Serve until cancelled; ``ready`` gets the bound port (``port`` 0 picks a free one)."""
    server = await start_hl7_server(listener.handle, host=host, port=port, limit=MAX_MESSAGE_BYTES)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(bound)
    async with server:
        await server.serve_forever()
