"""``opsradar produce FILE...``: validate events and send them to their topics as batch records.

Invalid events are refused before anything is sent (counted by reason in the final line). The
past-horizon rule is off by default: files are backfills and replays; a worker judges live
freshness itself. Progress goes to stderr; the final JSON count line to stdout.
"""

from __future__ import annotations

import argparse

NAME = "produce"
HELP = "write event files to their Kafka topics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSONL event file, plain or gzip")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: settings)")
    parser.add_argument("--topic-suffix", help="appended to every topic name (default: settings)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="events per batch record, 1..10000 (default 500)",
    )
    parser.add_argument("--linger-ms", type=int, default=20, help="producer linger (default 20)")
    parser.add_argument(
        "--past-horizon-days",
        type=float,
        help="also refuse events older than this many days (default: off)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import json
    import sys
    from datetime import timedelta
    from pathlib import Path

    from feeds.event_files import EventFileError
    from feeds.producer import produce
    from models.events import INPUT_TOPICS
    from streams.kafka_security import aiokafka_options
    from streams.settings import get_settings
    from streams.topics import TopicLayoutError, ensure_topics

    settings = get_settings()
    horizon = timedelta(days=args.past_horizon_days) if args.past_horizon_days else None
    if not 1 <= args.batch_size <= 10_000:
        sys.stderr.write("opsradar produce: --batch-size must be 1..10000\n")
        return 2
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    suffix = settings.topic_suffix if args.topic_suffix is None else args.topic_suffix
    security = aiokafka_options(settings)
    try:
        # A topic the broker auto-creates has one partition, which the workers' state table
        # (one changelog partition per input partition) would refuse: create them first.
        asyncio.run(
            ensure_topics(
                bootstrap,
                [f"{t}{suffix}" for t in INPUT_TOPICS],
                settings.topic_partitions,
                client_options=security,
            )
        )
    except TopicLayoutError as error:
        sys.stderr.write(f"opsradar produce: {error}\n")
        return 2
    try:
        stats = asyncio.run(
            produce(
                [Path(f) for f in args.files],
                bootstrap=bootstrap,
                topic_suffix=suffix,
                batch_size=args.batch_size,
                linger_ms=args.linger_ms,
                past_horizon=horizon,
                progress=not args.no_progress,
                client_options=security,
            )
        )
    except EventFileError as error:
        sys.stderr.write(f"opsradar produce: cannot read {error}\n")
        return 2
    sys.stdout.write(json.dumps(stats.summary()) + "\n")
    return 0
