"""The national bench's synthetic events (bench/national.py) are contract-v1 events the worker
accepts, in event-time order per site, with as many pathways and shifts as it says."""

from __future__ import annotations

import importlib.util
import random
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import orjson
import pytest

from models.decoding import RecordDecoder
from models.events import REFERRALS_TOPIC, ROSTERING_TOPIC, ReferralReceived, ShiftPlanned

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[3] / "bench"
START = datetime(2026, 11, 1, tzinfo=UTC)


def _national() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("national_bench", BENCH / "national.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["national_bench"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


national = _national()


def test_site_codes_are_distinct_and_follow_the_contract() -> None:
    codes = national.site_codes(500)
    assert len({site for _, site in codes}) == 500
    for trust, site in codes:
        assert site.startswith(trust) and len(trust) == 3 and len(site) == 5


def test_load_records_are_accepted_and_hold_every_pathway_and_shift() -> None:
    codes = national.site_codes(3)
    decoders = {t: RecordDecoder(t, past_horizon=None) for t in (REFERRALS_TOPIC, ROSTERING_TOPIC)}
    counts: Counter[tuple[str, str]] = Counter()
    refs: set[str] = set()
    newest: dict[tuple[str, str], datetime] = {}
    for topic, key, value, events in national.load_records(
        codes=codes, pathways=250, shifts=120, record_events=100, start=START, hours=6
    ):
        decoded = decoders[topic].decode(value, now=START + timedelta(days=1))
        assert not decoded.rejections
        assert len(decoded.events) == events == len(orjson.loads(value))
        for event in decoded.events:
            assert event.site_code == key.decode()
            before = newest.get((topic, key.decode()))
            assert before is None or event.occurred_at >= before  # never late at the worker
            newest[(topic, key.decode())] = event.occurred_at
            assert isinstance(event, ReferralReceived | ShiftPlanned)
            refs.add(event.referral_ref if isinstance(event, ReferralReceived) else event.shift_ref)
            counts[(topic, key.decode())] += 1
            assert START <= event.occurred_at < START + timedelta(hours=6)
    for _, site in codes:
        assert counts[(REFERRALS_TOPIC, site)] == 250
        assert counts[(ROSTERING_TOPIC, site)] == 120
    assert len(refs) == 3 * (250 + 120)


def test_steady_events_are_accepted_and_name_known_pathways_and_shifts() -> None:
    trust, site = national.site_codes(1)[0]
    traffic = national.SiteTraffic(index=0, trust=trust, site=site, pathways=50, shifts=20)
    decoders = {t: RecordDecoder(t, past_horizon=None) for t in (REFERRALS_TOPIC, ROSTERING_TOPIC)}
    rng = random.Random(3)
    known = {national.pathway_ref(0, n) for n in range(50)} | {
        national.shift_ref(0, n) for n in range(20)
    }
    types: Counter[str] = Counter()
    for number in range(400):
        topic, event = traffic.event(START + timedelta(seconds=number), rng)
        decoded = decoders[topic].decode(orjson.dumps(event, option=orjson.OPT_UTC_Z), now=START)
        assert not decoded.rejections
        types[event["event_type"]] += 1
        ref = event.get("referral_ref") or event.get("shift_ref")
        if event["event_type"] == "referral_received":
            known.add(ref)  # a new pathway
        elif ref is not None:
            assert ref in known
    assert {"referral_received", "referral_triaged", "shift_filled"} <= set(types)
