"""``hl7 convert``: batch files of ADT messages -> a JSONL file of bed-flow events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feeds.hl7.adt import AdtConverter, Outcome
from feeds.hl7.framing import split_messages
from feeds.replaced_file import replaced_on_success


@dataclass(slots=True)
class ConvertStats:
    messages: int = 0
    events: int = 0
    ignored: int = 0
    rejected: int = 0
    #: reason -> messages: rejection reasons, and ``ignored_*`` for messages ignored on purpose
    reasons: Counter[str] = field(default_factory=Counter)

    def count(self, outcome: Outcome) -> None:
        self.add(outcome.status, outcome.reason, len(outcome.events))

    def add(self, status: str, reason: str | None, events: int) -> None:
        self.messages += 1
        self.events += events
        if status == "ignored":
            self.ignored += 1
        elif status == "rejected":
            self.rejected += 1
        if reason is not None:
            self.reasons[reason] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "events": self.events,
            "ignored": self.ignored,
            "rejected": self.rejected,
            "reasons": dict(sorted(self.reasons.items())),
        }


def convert_files(paths: Iterable[Path], *, converter: AdtConverter, out: Path) -> ConvertStats:
    """Convert every message of ``paths`` in order; the accepted events go to ``out``."""
    stats = ConvertStats()
    with replaced_on_success(out) as part, open(part, "wb") as sink:
        for path in paths:
            for text in split_messages(path.read_bytes()):
                outcome = converter.convert(text)
                stats.count(outcome)
                for raw in outcome.raws:
                    sink.write(raw + b"\n")
    return stats
