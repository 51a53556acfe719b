"""The ``opsradar`` command line: one subcommand per module in :mod:`streams.commands`.

Each command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
command modules keep heavy imports (Faust, SQLAlchemy, pandas) inside ``run`` so that
``--help`` and ``validate`` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: command -> (module, one-line help). The order is the order ``--help`` shows.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("streams.commands.validate", "check JSONL events against the contract"),
    "analyse": ("streams.commands.analyse", "run the engine offline over event files"),
    "simulate": ("streams.commands.simulate", "generate synthetic trust events with ground truth"),
    "score": ("streams.commands.score", "score detected opportunities against a truth file"),
    "import-sitrep": (
        "streams.commands.import_sitrep",
        "turn published NHS sitrep CSVs into events",
    ),
    "hl7": (
        "streams.commands.hl7",
        "convert or listen for HL7 v2 ADT messages (pseudonymised at the edge)",
    ),
    "fhir": (
        "streams.commands.fhir",
        "convert FHIR R4 Encounter resources to bed-flow events (pseudonymised at the edge)",
    ),
    "roster": (
        "streams.commands.roster",
        "convert a rostering system's shift export (CSV) to rostering events",
    ),
    "produce": ("streams.commands.produce", "write event files to their Kafka topics"),
    "worker": ("streams.commands.worker", "run the streaming service (a Faust worker)"),
    "db": ("streams.commands.db", "database schema commands (upgrade)"),
    "schema": ("streams.commands.schema", "write the event contract as JSON Schema files"),
    "top": ("streams.commands.top", "print the top open opportunities from the database"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsradar",
        description="Find where non-clinical AI would release NHS operational capacity.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(module=module_name)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            if missing.name != module_name:
                raise
            command.set_defaults(missing=True)
            continue
        module.add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "missing", False):
        print(f"opsradar {args.command}: not available in this build", file=sys.stderr)
        return 2
    module = importlib.import_module(args.module)
    return int(module.run(args))


if __name__ == "__main__":
    sys.exit(main())
