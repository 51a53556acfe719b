"""``opsradar worker``: the streaming service (a Faust worker)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

NAME = "worker"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--web-port", type=int, help="port of /metrics (default: settings)")
    parser.add_argument("--store", help="table store, memory:// or rocksdb:// (default: settings)")
    parser.add_argument("--data-dir", type=Path, help="worker data directory (default: settings)")
    parser.add_argument("--loglevel", help="log level (default: settings)")


def run(args: argparse.Namespace) -> int:
    from faust.worker import Worker

    from models.events import INPUT_TOPICS
    from models.outputs import DEADLETTER_TOPIC, METRICS_TOPIC, OPPORTUNITIES_TOPIC
    from streams.app import create_app
    from streams.kafka_security import aiokafka_options
    from streams.settings import get_settings
    from streams.topics import TopicLayoutError, ensure_topics

    overrides = {
        key: value
        for key, value in {
            "web_port": args.web_port,
            "store": args.store,
            "data_dir": args.data_dir,
            "log_level": args.loglevel,
        }.items()
        if value is not None
    }
    settings = get_settings().model_copy(update=overrides)
    # Faust's source topics must exist with the table's partition count before the app starts.
    partitioned = [settings.topic(t) for t in (*INPUT_TOPICS, METRICS_TOPIC, OPPORTUNITIES_TOPIC)]
    bootstrap, security = settings.kafka_bootstrap, aiokafka_options(settings)
    try:
        asyncio.run(
            ensure_topics(
                bootstrap, partitioned, settings.topic_partitions, client_options=security
            )
        )
        asyncio.run(
            ensure_topics(bootstrap, [settings.topic(DEADLETTER_TOPIC)], 1, client_options=security)
        )
    except TopicLayoutError as error:
        print(f"opsradar worker: {error}", file=sys.stderr)
        return 2

    app = create_app(settings)
    worker = Worker(app, loglevel=settings.log_level, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0
