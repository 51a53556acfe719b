"""``fhir convert``: Bundle JSON and bulk-export NDJSON files -> a JSONL file of bed-flow events."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from feeds.fhir.encounter import EncounterConverter, resources_of
from feeds.hl7.convert import ConvertStats
from feeds.replaced_file import replaced_on_success


def convert_files(
    paths: Iterable[Path], *, converter: EncounterConverter, out: Path
) -> ConvertStats:
    """Convert every resource of ``paths`` in order (``messages`` counts resources)."""
    stats = ConvertStats()
    with replaced_on_success(out) as part, open(part, "wb") as sink:
        for path in paths:
            for resource in resources_of(path.read_bytes()):
                outcome = converter.convert(resource)
                stats.count(outcome)
                for raw in outcome.raws:
                    sink.write(raw + b"\n")
    return stats
