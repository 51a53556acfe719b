"""``opsradar schema --out DIR``: write the event contract as JSON Schema, one file per topic.

The published copies live in ``schemas/``; a unit test fails when they differ from the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "schema"
HELP = "write the event contract as JSON Schema files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", metavar="DIR", default="schemas", help="directory to write (default: schemas)"
    )


def run(args: argparse.Namespace) -> int:
    from models.schema import published_schemas

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in published_schemas().items():
            (out / name).write_text(text, encoding="utf-8")
            sys.stdout.write(f"{out / name}\n")
    except OSError as error:
        sys.stderr.write(f"opsradar schema: cannot write {out}: {error.strerror or error}\n")
        return 2
    return 0
