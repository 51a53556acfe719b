"""Decode + validate + guard throughput against bare ``orjson.loads`` on the same bytes.

Run: ``.venv/bin/python bench/bench_decode.py [--events N] [--json OUT]``. Generates N realistic
events of every type (tests/unit/contract/legit_events.py), then times, in the same run and on the
same bytes, single-event records and batch records of 100 events (best of ``--repeats``). A record
is on one topic, as on the wire: a batch holds events of that topic's types, and each topic's
records are judged by that topic's decoder, as the worker does. Prints
events/s and the ratio to orjson; ``--json`` writes the figures (``decode_vs_orjson``: batch
records, decode+validate+guard events/s / ``orjson.loads`` events/s).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
import orjson

from models.decoding import RecordDecoder
from models.events import EVENT_TYPE_TOPIC, TOPIC_EVENT_TYPES
from tests.unit.contract.examples import NOW
from tests.unit.contract.legit_events import LegitEvents


def best_of(repeats: int, work: Callable[[], int]) -> tuple[float, int]:
    """The fastest of ``repeats`` runs (seconds) and the events it handled."""
    best = float("inf")
    handled = 0
    for _ in range(repeats):
        start = time.perf_counter()
        handled = work()
        best = min(best, time.perf_counter() - start)
    return best, handled


def measure(events: int = 30_000, batch: int = 100, repeats: int = 7) -> dict[str, Any]:
    """Events/s of the decoder, msgspec's typed decode and ``orjson.loads`` on the same bytes."""
    source = LegitEvents(seed=7, plant_rate=0.02)
    generated = [source.event() for _ in range(events)]
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for event in generated:
        by_topic.setdefault(EVENT_TYPE_TOPIC[event["event_type"]], []).append(event)
    singles = [(topic, orjson.dumps(e)) for topic, group in by_topic.items() for e in group]
    batches = [
        (topic, orjson.dumps(group[i : i + batch]))
        for topic, group in by_topic.items()
        for i in range(0, len(group), batch)
    ]
    decoders = {topic: RecordDecoder(topic, past_horizon=None) for topic in by_topic}

    def decode_all(records: list[tuple[str, bytes]]) -> Callable[[], int]:
        def work() -> int:
            accepted = 0
            for topic, record in records:
                decoded = decoders[topic].decode(record, now=NOW)
                assert not decoded.rejections
                accepted += len(decoded.events)
            return accepted

        return work

    def orjson_all(records: list[tuple[str, bytes]]) -> Callable[[], int]:
        def work() -> int:
            count = 0
            for _, record in records:
                value = orjson.loads(record)
                count += len(value) if isinstance(value, list) else 1
            return count

        return work

    typed = {topic: msgspec.json.Decoder(TOPIC_EVENT_TYPES[topic]) for topic in by_topic}
    typed_batch = {
        topic: msgspec.json.Decoder(list[TOPIC_EVENT_TYPES[topic]])  # type: ignore[name-defined]
        for topic in by_topic
    }

    def typed_all(records: list[tuple[str, bytes]]) -> Callable[[], int]:
        """msgspec's typed decode alone (types, enums, bounds; not the patterns, which the
        decoder checks in bulk): the floor under the validator (no guard, no rules)."""

        def work() -> int:
            count = 0
            for topic, record in records:
                if record[:1] == b"[":
                    count += len(typed_batch[topic].decode(record))
                else:
                    typed[topic].decode(record)
                    count += 1
            return count

        return work

    figures: dict[str, Any] = {
        "decode_events": len(generated),
        "decode_mean_event_bytes": sum(len(record) for _, record in singles) / len(singles),
        "decode_batch_record_events": batch,
    }
    # Interleaved: each round times the decoder, msgspec and orjson back to back, so a change
    # in the machine's speed (a shared VM's is large) reaches all three, not one of them.
    for label, records in (("single", singles), ("batch", batches)):
        works = {
            "ours": decode_all(records),
            "floor": typed_all(records),
            "bare": orjson_all(records),
        }
        best = dict.fromkeys(works, float("inf"))
        for _ in range(repeats):
            for name, work in works.items():
                seconds, handled = best_of(1, work)
                assert handled == len(generated), name
                best[name] = min(best[name], seconds)
        n = len(generated)
        figures[f"decode_{label}_events_per_s"] = n / best["ours"]
        figures[f"msgspec_typed_{label}_events_per_s"] = n / best["floor"]
        figures[f"orjson_{label}_events_per_s"] = n / best["bare"]
    figures["decode_single_vs_orjson"] = (
        figures["decode_single_events_per_s"] / figures["orjson_single_events_per_s"]
    )
    return figures


def report(figures: dict[str, Any], repeats: int) -> None:
    print(
        f"{figures['decode_events']:,} events, {figures['decode_mean_event_bytes']:.0f} bytes "
        f"each on average, best of {repeats}"
    )
    print(
        f"{'records':<24}{'decode+validate+guard':>23}{'msgspec types only':>20}"
        f"{'orjson.loads':>17}{'ratio':>8}"
    )
    labels = {"single": "single-event records",
              "batch": f"batch records of {figures['decode_batch_record_events']}"}  # fmt: skip
    for key, label in labels.items():
        ours = figures[f"decode_{key}_events_per_s"]
        print(
            f"{label:<24}{ours:>18,.0f} ev/s{figures[f'msgspec_typed_{key}_events_per_s']:>15,.0f}"
            f" ev/s{figures[f'orjson_{key}_events_per_s']:>12,.0f} ev/s"
            f"{ours / figures[f'orjson_{key}_events_per_s']:>8.3f}"
        )
    print("ratio = decode+validate+guard events/s / orjson.loads events/s (same bytes, same run)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    figures = measure(args.events, args.batch, args.repeats)
    report(figures, args.repeats)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
