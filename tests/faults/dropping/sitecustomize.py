"""Loaded at start-up by a drill's worker (its PYTHONPATH): Faust's consumer drops records.

Faust does this by itself around recovery and rebalances, a few times a run and not on cue; this
makes it happen on purpose, in the shapes the worker has met: the first record fetched of each
partition (a hole at the start of a generation, before anything is handed over), every record
whose offset is ``OPSRADAR_DRILL_DROP_EVERY - 1`` modulo it (a hole mid-stream), and a record
that is the last one in its partition when fetched (a hole at the tail, which no later record
may ever show). Each is dropped the first time it is fetched only. Changelog and internal topics
are left alone: their records are not the agents'.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

EVERY = int(os.environ.get("OPSRADAR_DRILL_DROP_EVERY", "0"))

if EVERY > 0:
    from faust.transport.consumer import Consumer

    _getmany = Consumer.getmany
    _seen: set[Any] = set()
    _dropped: set[tuple[Any, int]] = set()

    # the signature is Faust's own
    async def _dropping_getmany(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:  # noqa: ASYNC109
        async for tp, message in _getmany(self, timeout):
            ours = "changelog" not in tp.topic and not tp.topic.startswith("__")
            first = tp not in _seen
            _seen.add(tp)
            tail = message.offset == self.highwater(tp) - 1
            if ours and (first or tail or message.offset % EVERY == EVERY - 1):
                if (tp, message.offset) not in _dropped:
                    _dropped.add((tp, message.offset))
                    continue
            yield tp, message

    Consumer.getmany = _dropping_getmany  # type: ignore[method-assign]
