"""Decode + validate + guard throughput against bare ``orjson.loads`` on the same bytes.

Run: ``.venv/bin/python bench/bench_decode.py [--events N]``. Generates N realistic events of every
type (tests/unit/contract/legit_events.py), then times, in the same run and on the same bytes,
single-event records and batch records of 100 events. Prints events/s and the ratio to orjson.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
import orjson

from models.decoding import RecordDecoder
from models.events import Event
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    source = LegitEvents(seed=7, plant_rate=0.02)
    events = [source.event() for _ in range(args.events)]
    singles = [orjson.dumps(e) for e in events]
    batches = [orjson.dumps(events[i : i + args.batch]) for i in range(0, len(events), args.batch)]
    decoder = RecordDecoder(None, past_horizon=None)

    def decode_all(records: list[bytes]) -> Callable[[], int]:
        def work() -> int:
            accepted = 0
            for record in records:
                decoded = decoder.decode(record, now=NOW)
                assert not decoded.rejections
                accepted += len(decoded.events)
            return accepted

        return work

    def orjson_all(records: list[bytes]) -> Callable[[], int]:
        def work() -> int:
            count = 0
            for record in records:
                value = orjson.loads(record)
                count += len(value) if isinstance(value, list) else 1
            return count

        return work

    typed = msgspec.json.Decoder(Event)
    typed_batch = msgspec.json.Decoder(list[Event])

    def typed_all(records: list[bytes]) -> Callable[[], int]:
        """msgspec's typed decode alone: the floor under the validator (no guard, no rules)."""

        def work() -> int:
            count = 0
            for record in records:
                if record[:1] == b"[":
                    count += len(typed_batch.decode(record))
                else:
                    typed.decode(record)
                    count += 1
            return count

        return work

    rows = []
    labelled = (("single-event records", singles), (f"batch records of {args.batch}", batches))
    for label, records in labelled:
        ours, n = best_of(args.repeats, decode_all(records))
        floor, k = best_of(args.repeats, typed_all(records))
        bare, m = best_of(args.repeats, orjson_all(records))
        assert n == m == k == len(events)
        rows.append((label, n / ours, n / floor, n / bare, ours / bare))

    mean_bytes = sum(map(len, singles)) / len(singles)
    print(f"{len(events):,} events, {mean_bytes:.0f} bytes each on average, best of {args.repeats}")
    print(
        f"{'records':<24}{'decode+validate+guard':>23}{'msgspec typed only':>20}"
        f"{'orjson.loads':>17}{'ratio':>7}"
    )
    for label, ours_rate, floor_rate, bare_rate, ratio in rows:
        print(
            f"{label:<24}{ours_rate:>18,.0f} ev/s{floor_rate:>15,.0f} ev/s"
            f"{bare_rate:>12,.0f} ev/s{ratio:>6.1f}x"
        )
    print("ratio = orjson.loads events/s / decode+validate+guard events/s (same bytes, same run)")
    print(json.dumps({row[0]: round(row[1]) for row in rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
