"""``opsradar hl7 convert|listen``: HL7 v2 ADT in, pseudonymised bed-flow events out.

``convert FILE... --key-file K --out OUT.jsonl`` reads batch files (segments separated by CR,
CRLF or LF; messages one after another or MLLP-framed) and prints
``{"messages", "events", "ignored", "rejected", "reasons"}``. ``listen --port P --key-file K``
serves MLLP on 127.0.0.1 (``--host`` to change), produces each accepted message's events to
``nhs.bedflow.v1`` (plus the settings' topic suffix) and ACKs it; on SIGINT/SIGTERM it stops
and prints the same summary. The mapping rules are in :mod:`feeds.hl7.adt`.
"""

from __future__ import annotations

import argparse

NAME = "hl7"
HELP = "convert or listen for HL7 v2 ADT messages (pseudonymised at the edge)"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key-file", required=True, help="the trust's pseudonymisation key (its bytes)"
    )
    parser.add_argument("--trust-code", help="the trust's ODS code (default: MSH-4)")
    parser.add_argument("--site-map", help="TOML mapping of local site/ward/specialty codes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="hl7_command", metavar="ACTION", required=True)
    convert = sub.add_parser("convert", help="convert ADT batch files to a JSONL event file")
    convert.add_argument("files", nargs="+", metavar="FILE")
    _common(convert)
    convert.add_argument("--out", required=True, help="the JSONL file to write")
    listen = sub.add_parser("listen", help="an MLLP server producing to the bed-flow topic")
    listen.add_argument("--port", type=int, required=True, help="TCP port (0: any free one)")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    _common(listen)
    listen.add_argument("--bootstrap", help="Kafka bootstrap servers (default: settings)")
    listen.add_argument("--topic-suffix", help="appended to the topic name (default: settings)")


def _converter(args: argparse.Namespace) -> object:
    from pathlib import Path

    from feeds.hl7.adt import AdtConverter
    from feeds.hl7.pseudonym import read_key
    from feeds.hl7.site_map import load_site_map

    return AdtConverter(
        key=read_key(Path(args.key_file)),
        trust_code=args.trust_code,
        site_map=load_site_map(Path(args.site_map) if args.site_map else None),
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    try:
        converter = _converter(args)
    except (OSError, ValueError) as error:
        # the message names the file or the rule, never a key byte
        detail = error.strerror if isinstance(error, OSError) and error.strerror else error
        sys.stderr.write(f"opsradar hl7: {detail}\n")
        return 2
    if args.hl7_command == "convert":
        from feeds.hl7.convert import convert_files

        try:
            stats = convert_files(
                [Path(f) for f in args.files],
                converter=converter,  # type: ignore[arg-type]
                out=Path(args.out),
            )
        except OSError as error:
            sys.stderr.write(f"opsradar hl7 convert: {error.filename}: {error.strerror}\n")
            return 2
        print(json.dumps(stats.summary()))
        return 0
    return _listen(args, converter)


def _listen(args: argparse.Namespace, converter: object) -> int:
    import asyncio
    import json
    import signal
    import sys

    from feeds.hl7.listener import MllpListener, serve
    from feeds.producer import kafka_producer
    from models.events import BEDFLOW_TOPIC, INPUT_TOPICS
    from streams.kafka_security import aiokafka_options
    from streams.settings import get_settings
    from streams.topics import TopicLayoutError, ensure_topics

    settings = get_settings()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    suffix = settings.topic_suffix if args.topic_suffix is None else args.topic_suffix
    security = aiokafka_options(settings)
    topic = BEDFLOW_TOPIC + suffix

    async def main() -> MllpListener:
        await ensure_topics(
            bootstrap,
            [f"{t}{suffix}" for t in INPUT_TOPICS],
            settings.topic_partitions,
            client_options=security,
        )
        # linger 0: each message waits for its own record's acknowledgement before its ACK
        producer = kafka_producer(bootstrap, linger_ms=0, client_options=security)
        await producer.start()

        async def send(key: bytes, value: bytes) -> None:
            await (await producer.send(topic, value=value, key=key))

        listener = MllpListener(converter=converter, send=send)  # type: ignore[arg-type]

        def announce(port: int) -> None:
            sys.stderr.write(f"opsradar hl7 listen: listening on {args.host}:{port}\n")
            sys.stderr.flush()

        task = asyncio.ensure_future(
            serve(
                listener,
                host=args.host,
                port=args.port,
                ready=announce,
            )
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass
        finally:
            await producer.stop()
        return listener

    try:
        listener = asyncio.run(main())
    except TopicLayoutError as error:
        sys.stderr.write(f"opsradar hl7 listen: {error}\n")
        return 2
    except OSError as error:
        sys.stderr.write(f"opsradar hl7 listen: {error.strerror or error}\n")
        return 2
    print(json.dumps(listener.stats.summary()))
    return 0
