"""Realistic feeds for urgent and emergency care: the ED events go through the same interfaces
as the rest (resends, gaps of the whole feed or of one ED type, a site connecting mid-stream),
and the truth file says so under the ED domain."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from feeds.simulator.ids import DAY, HOUR, at
from feeds.simulator.layout import build_layout
from feeds.simulator.quirks import GAP_EVENT_TYPES, Quirk, RealisticFeed, domain_of, plan_quirks
from models.events import EdArrival, EdDeparture, Event, event_type_of

pytestmark = pytest.mark.unit

T0 = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
SITES = build_layout(1, random.Random("ed-quirks"))
SITE = SITES[0]


def _arrival(t: int, ref: str) -> EdArrival:
    return EdArrival(
        event_id=f"a-{ref}",
        schema_version=1,
        occurred_at=at(t),
        trust_code=SITE.trust_code,
        site_code=SITE.site_code,
        source_system="ECDS",
        attendance_ref=ref,
        arrival_mode="walk_in",
        department_type="type_1",
    )


def _departure(t: int, ref: str) -> EdDeparture:
    return EdDeparture(
        event_id=f"d-{ref}",
        schema_version=1,
        occurred_at=at(t),
        trust_code=SITE.trust_code,
        site_code=SITE.site_code,
        source_system="ECDS",
        attendance_ref=ref,
        disposition="discharged",
    )


def _deliver(quirks: list[Quirk], seed: int = 1) -> list[Event]:
    """A day of ED attendances (one every 6 minutes, leaving 2 h later) through the feed."""
    feed = RealisticFeed(quirks, SITES, random.Random(seed))
    clean: list[tuple[int, Event]] = []
    for n in range(240):
        arrived = T0 + n * 360
        clean += [
            (arrived, _arrival(arrived, f"r{n}")),
            (arrived + 2 * HOUR, _departure(arrived + 2 * HOUR, f"r{n}")),
        ]
    for t, event in sorted(clean, key=lambda item: item[0]):
        feed.offer(t, event)
    return [*feed.release(T0 + 2 * DAY), *feed.release_all()]


def _gap(kind: str, start: int, end: int, **extra: str) -> Quirk:
    return Quirk(
        kind=kind,
        trust_code=SITE.trust_code,
        site_code=SITE.site_code,
        domain=extra.pop("domain", "all"),
        start=start,
        end=end,
        **extra,  # type: ignore[arg-type]
    )


def test_ed_types_are_among_the_single_type_gaps_and_recorded_under_the_ed_domain() -> None:
    assert {"ed_departure", "ambulance_handover"} <= set(GAP_EVENT_TYPES)
    assert domain_of("ed_departure") == domain_of("ambulance_handover") == "ed"
    planned = [
        q
        for seed in range(40)
        for q in plan_quirks(SITES, random.Random(seed), T0, T0 + 91 * DAY)
        if q.kind == "event_type_gap" and q.event_type in ("ed_departure", "ambulance_handover")
    ]
    assert planned and all(q.domain == "ed" for q in planned)
    assert all(q.as_truth()["domain"] == "ed" for q in planned)


def test_a_lost_departure_gap_silences_only_ed_departures() -> None:
    start, end = T0 + 6 * HOUR, T0 + 12 * HOUR
    gap = _gap(
        "event_type_gap", start, end, domain="ed", event_type="ed_departure", delivery="lost"
    )
    events = _deliver([gap])
    inside = [e for e in events if start <= e.occurred_at.timestamp() < end]
    assert {event_type_of(e) for e in inside} == {"ed_arrival"}
    assert sum(isinstance(e, EdDeparture) for e in events) < 240 - 50


def test_a_backfilled_departure_gap_delivers_them_in_a_burst_at_its_end() -> None:
    start, end = T0 + 6 * HOUR, T0 + 12 * HOUR
    gap = _gap(
        "event_type_gap", start, end, domain="ed", event_type="ed_departure", delivery="backfilled"
    )
    events = _deliver([gap])
    times = [e.occurred_at.timestamp() for e in events]
    held = [
        i for i, e in enumerate(events) if isinstance(e, EdDeparture) and start <= times[i] < end
    ]
    assert len(held) >= 55  # none lost
    # they arrive when the gap ends: after every other event that happened before its end
    others_before_end = [i for i, t in enumerate(times) if t < end and i not in held]
    assert min(held) > max(others_before_end)


def test_a_whole_feed_gap_and_a_late_connection_drop_ed_events_too() -> None:
    gap = _gap("feed_gap", T0 + 6 * HOUR, T0 + 9 * HOUR)
    connected = _gap("connected_mid_stream", T0 - DAY, T0 + 3 * HOUR)
    events = _deliver([gap, connected])
    times = [e.occurred_at.timestamp() for e in events]
    assert min(times) >= T0 + 3 * HOUR
    assert not [t for t in times if T0 + 6 * HOUR <= t < T0 + 9 * HOUR]
    # departures of attendances that arrived before the connection: loose ends the engine meets
    arrived = {e.attendance_ref for e in events if isinstance(e, EdArrival)}
    assert {e.attendance_ref for e in events if isinstance(e, EdDeparture)} - arrived


def test_ed_events_are_resent_with_the_same_event_id() -> None:
    resent = 0
    for seed in range(10):
        events = _deliver([], seed=seed)
        ids = [e.event_id for e in events]
        resent += len(ids) - len(set(ids))
        assert len(events) >= 480
    assert resent >= 5  # 0.4% of 4,800 events: ~19
