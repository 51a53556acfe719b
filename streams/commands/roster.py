"""``opsradar roster convert FILE.csv... --mapping M.toml [--key-file K] --out OUT.jsonl``: a
rostering system's shift export -> ``nhs.rostering.v1`` events, staff identifiers never read;
prints ``{"rows", "events", "ignored", "rejected", "reasons"}``. Layout: :mod:`feeds.roster_export`.
"""

from __future__ import annotations

import argparse

NAME = "roster"
HELP = "convert a rostering system's shift export (CSV) to rostering events"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="roster_command", metavar="ACTION", required=True)
    convert = sub.add_parser("convert", help="convert shift export CSV files to JSONL events")
    convert.add_argument("files", nargs="+", metavar="FILE.csv")
    convert.add_argument("--mapping", required=True, help="TOML: columns and value mappings")
    convert.add_argument("--key-file", help="key for shift_ref = HMAC-SHA256(key, shift id)")
    convert.add_argument("--out", required=True, help="the JSONL file to write")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from feeds.hl7.pseudonym import read_key
    from feeds.roster_export import (
        ExportError,
        ShiftExportConverter,
        convert_export,
        load_mapping,
    )

    try:
        converter = ShiftExportConverter(
            mapping=load_mapping(Path(args.mapping)),
            key=read_key(Path(args.key_file)) if args.key_file else None,
        )
        stats = convert_export(
            [Path(f) for f in args.files], converter=converter, out=Path(args.out)
        )
    except (OSError, ValueError) as error:
        detail = error.strerror if isinstance(error, OSError) and error.strerror else error
        sys.stderr.write(f"opsradar roster: {detail}\n")
        if isinstance(error, ExportError):
            sys.stderr.write(f"opsradar roster: nothing written to {args.out}\n")
        return 2
    for note in converter.notes():
        sys.stderr.write(f"opsradar roster: {note}\n")
    summary = stats.summary()
    print(json.dumps({"rows": summary.pop("messages"), **summary}))
    return 0
