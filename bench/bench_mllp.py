"""MLLP messages acknowledged per second end to end, and ``hl7 convert`` events per second.

Run: ``.venv/bin/python bench/bench_mllp.py [--messages N] [--connections C] [--json OUT]`` with
the local stack up. Starts ``opsradar hl7 listen`` on a free port against the real broker (a topic
suffix of its own), sends N A01/A02/A03 messages over C MLLP connections (each waits for its ACK, as
integration engines do in original mode) and times from the first send to the last ACK: every
AA means the message's record was acknowledged by the broker. The baseline in the same run is
``hl7 convert`` on the same messages (parse, map, pseudonymise, guard, write; no network).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feeds.hl7.adt import AdtConverter
from feeds.hl7.convert import convert_files
from feeds.hl7.framing import frame
from models.events import Admission, Discharge, Transfer
from streams.settings import get_settings
from tests import hl7_support
from tests.unit.engine import builders as b


def blocks(messages: int, connections: int) -> list[bytes]:
    lanes = []
    per_lane = messages // connections // 3
    for lane in range(connections):
        s = b.Stream(site=f"{b.TRUST}{lane:02d}", seed=lane)
        for number in range(per_lane):
            ref = s.ref()
            start = b.T0 + timedelta(minutes=number)
            s.add(
                Admission,
                start,
                spell_ref=ref,
                ward_code="AMU",
                specialty_code="300",
                admission_method="emergency",
            )
            s.add(
                Transfer,
                start + timedelta(hours=2),
                spell_ref=ref,
                from_ward_code="AMU",
                to_ward_code="W12",
            )
            s.add(
                Discharge,
                start + timedelta(hours=30),
                spell_ref=ref,
                ward_code="W12",
                destination="usual_residence",
            )
        lanes.append([frame(m) for m in hl7_support.render_all(s._events)])
    return [lanes[lane][i] for i in range(len(lanes[0])) for lane in range(connections)]


def measure(messages: int = 12_000, connections: int = 4) -> dict[str, Any]:
    """MLLP messages acknowledged per second, and ``hl7 convert`` events per second."""
    data = blocks(messages, connections)
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key"
        key.write_bytes(uuid.uuid4().bytes * 2)
        source = Path(tmp) / "adt.hl7"
        source.write_bytes(b"".join(data))
        started = time.perf_counter()
        stats = convert_files(
            [source], converter=AdtConverter(key=key.read_bytes()), out=Path(tmp) / "out.jsonl"
        )
        convert_seconds = time.perf_counter() - started
        listener = hl7_support.ListenerProcess(
            key_file=str(key),
            bootstrap=get_settings().kafka_bootstrap,
            topic_suffix=f".bench{uuid.uuid4().hex[:8]}",
            extra=[],
        )
        try:
            started = time.perf_counter()
            codes = asyncio.run(hl7_support.send_all(listener.port, data, connections))
            mllp_seconds = time.perf_counter() - started
        finally:
            listener.stop()
    return {
        "mllp_messages": len(data),
        "mllp_acknowledged_aa": codes.count("AA"),
        "mllp_connections": connections,
        "mllp_messages_per_s": len(data) / mllp_seconds,
        "hl7_convert_events_per_s": stats.events / convert_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--messages", type=int, default=12_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    figures = measure(args.messages, args.connections)
    text = json.dumps(figures, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
