"""A Faust app whose one agent only decodes: the worker's baseline in ``bench/bench_pipeline.py``.

Run like the worker: ``.venv/bin/python bench/noop_agent.py`` with the worker's environment
(``OPSRADAR_TOPIC_SUFFIX``, ``OPSRADAR_APP_ID``, ``OPSRADAR_WEB_PORT``, ...). It reads the same
input topics with the same broker options, commit interval and acking as ``process_events``
(``noack`` and one ``ack`` a record), and decodes + validates + guards each record with the
worker's ``RecordDecoder``; no engine, no state table, no outputs, no sinks. What the worker
does beyond this is what ``worker_single_vs_noop_agent`` measures.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust
from faust.worker import Worker

from models.decoding import RecordDecoder
from models.events import INPUT_TOPICS
from streams.app import faust_app_options
from streams.settings import Settings, get_settings


def create_app(settings: Settings) -> faust.App:
    # the worker's own Faust settings, with a store of nothing to keep
    app = faust.App(settings.app_id, **(faust_app_options(settings) | {"store": "memory://"}))
    wire = {settings.topic(name): name for name in INPUT_TOPICS}
    horizon = timedelta(days=settings.past_horizon_days) if settings.past_horizon_days else None
    decoders = {w: RecordDecoder(c, past_horizon=horizon) for w, c in wire.items()}
    topic = app.topic(*wire, key_type=bytes, value_type=bytes, partitions=settings.topic_partitions)

    @app.agent(topic, concurrency=1)
    async def decode_only(stream: Any) -> None:
        records = stream.noack()
        async for event in records.events():
            decoders[event.message.topic].decode(event.value, now=datetime.now(UTC))
            await records.ack(event)

    @app.page("/metrics")
    async def ready(web: Any, request: Any) -> Any:
        # what the bench's process wrapper polls to know the app is up
        return web.text("")

    return app


if __name__ == "__main__":
    settings = get_settings()
    sys.argv[1:] = []
    Worker(
        create_app(settings), loglevel=settings.log_level, redirect_stdouts=False
    ).execute_from_commandline()
