"""``opsradar fhir convert FILE... --key-file K --out OUT.jsonl``: FHIR R4 Encounters (Bundle JSON,
bulk-export NDJSON or single resources) -> pseudonymised bed-flow events; prints
``{"resources", "events", "ignored", "rejected", "reasons"}``. Rules: :mod:`feeds.fhir.encounter`.
"""

from __future__ import annotations

import argparse

NAME = "fhir"
HELP = "convert FHIR R4 Encounter resources to bed-flow events (pseudonymised at the edge)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="fhir_command", metavar="ACTION", required=True)
    convert = sub.add_parser("convert", help="convert Bundle JSON / NDJSON files to JSONL events")
    convert.add_argument("files", nargs="+", metavar="FILE")
    convert.add_argument(
        "--key-file", required=True, help="the trust's pseudonymisation key (its bytes)"
    )
    convert.add_argument("--trust-code", help="the trust's ODS code (default: from the site)")
    convert.add_argument("--site-map", help="TOML mapping of site/ward/specialty codes")
    convert.add_argument("--out", required=True, help="the JSONL file to write")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from feeds.fhir.convert import convert_files
    from feeds.fhir.encounter import EncounterConverter
    from feeds.hl7.pseudonym import read_key
    from feeds.hl7.site_map import load_site_map

    try:
        converter = EncounterConverter(
            key=read_key(Path(args.key_file)),
            trust_code=args.trust_code,
            site_map=load_site_map(Path(args.site_map) if args.site_map else None),
        )
        stats = convert_files(
            [Path(f) for f in args.files], converter=converter, out=Path(args.out)
        )
    except (OSError, ValueError) as error:
        detail = error.strerror if isinstance(error, OSError) and error.strerror else error
        sys.stderr.write(f"opsradar fhir: {detail}\n")
        return 2
    summary = stats.summary()
    summary = {"resources": summary.pop("messages"), **summary}
    print(json.dumps(summary))
    return 0
