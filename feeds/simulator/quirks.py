"""How real trust feeds deliver events: the simulator's clean stream passed through a trust's
interfaces (on by default; ``simulate --clean`` turns it off).

Every quirk is planned up front from the run's seed and written to the truth file
(``"quirks": [{kind, trust_code, site_code, domain, start_at, end_at, ...}]``), so a score can tell
a consequence of the feed from a bottleneck. What a real feed does, and how it is made here:

- ``resend``: an interface engine re-sends a message it is not sure was acknowledged: the same
  ``event_id`` and payload, minutes to hours later (:data:`RESEND_SHARE` of events).
- ``near_duplicate``: an integration engine that re-stamps a re-sent message: the same payload
  and ``occurred_at`` under a *new* ``event_id``, seconds to minutes later
  (:data:`NEAR_DUPLICATE_SHARE`).
- ``update_after_discharge``: a delay reason, a ready-for-discharge or a transfer coded after the
  patient left (an HL7 A08 after the A03), 10 minutes to 4 days after the discharge
  (:data:`AFTER_DISCHARGE_SHARE` of discharges, not deaths).
- ``connected_mid_stream``: a site whose feed starts days into the period: nothing before its
  connection is sent (no census, no waiting list, no published rosters), so its first days carry
  discharges of patients it never saw admitted, fills of shifts never planned and closures of
  pathways never received. Recorded from the period start to the connection.
- ``feed_gap``: every event of a site lost for hours to days (an interface down).
- ``event_type_gap``: one event type of a site (discharges, triage decisions, fills, ED
  departures, ambulance handovers...) silent
  for hours to days; ``delivery`` says whether those events are ``lost`` or ``backfilled``
  (delivered in one burst when the gap ends, with their own ``occurred_at``).
- ``source_lag``: one trust's rostering system delivers hours behind its other feeds, the whole
  period (the file order is the arrival order; event times are unchanged).
- ``clock_change``: each UK clock change inside the period (informational: events are in UTC and
  the processes keep UK local hours, so ward rounds and discharge times stay local through it).

A gap's consequences for the detector are the score's business (:mod:`feeds.scoring`).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec

from feeds.simulator.ids import DAY, HOUR, at, event_id
from feeds.simulator.layout import Site
from models.events import (
    BEDFLOW_TOPIC,
    ED_TOPIC,
    EVENT_TYPE_TOPIC,
    REFERRALS_TOPIC,
    ROSTERING_TOPIC,
    Discharge,
    DischargeDelay,
    Event,
    ReadyForDischarge,
    Transfer,
    event_type_of,
)

RESEND_SHARE: Final = 0.004
NEAR_DUPLICATE_SHARE: Final = 0.001
AFTER_DISCHARGE_SHARE: Final = 0.04
#: one gap of each sort per this many days of period (at least one)
DAYS_PER_GAP: Final = 45
#: the event types a single-type gap silences (the ones whose absence looks like a bottleneck)
GAP_EVENT_TYPES: Final = (
    "discharge",
    "ready_for_discharge",
    "referral_triaged",
    "pathway_closed",
    "appointment_outcome",
    "shift_filled",
    # urgent and emergency care: the department's departures (ECDS) and the ambulance service's
    # handovers (a separate system), each able to stop on its own
    "ed_departure",
    "ambulance_handover",
)
#: the domain (catalogue ``domain``) of each input topic
TOPIC_DOMAIN: Final[dict[str, str]] = {
    BEDFLOW_TOPIC: "bed_flow",
    ROSTERING_TOPIC: "rostering",
    REFERRALS_TOPIC: "referrals",
    ED_TOPIC: "ed",
}
ALL_DOMAINS: Final = "all"
#: reasons a delay is coded with after the patient left: the commonest national reasons
_LATE_REASONS: Final = (
    "capacity_bed_rehab_p2",
    "capacity_care_home_p3",
    "hub_care_needs_pathway",
    "hospital_therapy_review",
    "capacity_home_rehab_p1",
)
_LONDON: Final = ZoneInfo("Europe/London")


def domain_of(event_type: str) -> str:
    return TOPIC_DOMAIN[EVENT_TYPE_TOPIC[event_type]]


@dataclass(frozen=True, slots=True)
class Quirk:
    kind: str
    trust_code: str | None
    site_code: str | None
    #: catalogue domain it affects (``all`` for the whole feed of a site)
    domain: str
    start: int
    end: int
    event_type: str | None = None
    delivery: str | None = None
    lag_hours: float | None = None

    def as_truth(self) -> dict[str, object]:
        document: dict[str, object] = {
            "kind": self.kind,
            "trust_code": self.trust_code,
            "site_code": self.site_code,
            "domain": self.domain,
            "start_at": _iso(self.start),
            "end_at": _iso(self.end),
        }
        for name in ("event_type", "delivery", "lag_hours"):
            value = getattr(self, name)
            if value is not None:
                document[name] = value
        return document


def _iso(t: int) -> str:
    return at(t).isoformat().replace("+00:00", "Z")


def clock_changes(start: int, end: int) -> list[int]:
    """Epoch seconds of the UK clock changes in [start, end) (the hour the offset changes)."""
    changes = []
    previous = datetime.fromtimestamp(start, UTC).astimezone(_LONDON).utcoffset()
    for t in range(start - start % HOUR + HOUR, end, HOUR):
        offset = datetime.fromtimestamp(t, UTC).astimezone(_LONDON).utcoffset()
        if offset != previous:
            changes.append(t)
            previous = offset
    return changes


def plan_quirks(sites: Sequence[Site], rng: random.Random, start: int, end: int) -> list[Quirk]:
    """The run's quirks: which site connects late, which feeds go silent and when."""
    days = (end - start) // DAY
    quirks: list[Quirk] = []
    margin = min(2 * DAY, (end - start) // 8)

    def when(longest: int) -> int:
        latest = max(start + margin, end - margin - longest)
        return start + margin + int(rng.random() * (latest - start - margin))

    if len(sites) >= 2:
        site = rng.choice(sites)
        connect = start + int(rng.uniform(0.08, 0.15) * (end - start))
        quirks.append(
            Quirk(
                kind="connected_mid_stream",
                trust_code=site.trust_code,
                site_code=site.site_code,
                domain=ALL_DOMAINS,
                start=start,
                end=connect,
            )
        )
    for _ in range(max(1, days // DAYS_PER_GAP)):
        site = rng.choice(sites)
        length = int(min(3 * DAY, max(3 * HOUR, 18 * HOUR * math.exp(rng.gauss(0, 0.8)))))
        begins = when(length)
        quirks.append(
            Quirk(
                kind="feed_gap",
                trust_code=site.trust_code,
                site_code=site.site_code,
                domain=ALL_DOMAINS,
                start=begins,
                end=begins + length,
            )
        )
    for _ in range(max(1, days // DAYS_PER_GAP)):
        site = rng.choice(sites)
        event_type = rng.choice(GAP_EVENT_TYPES)
        length = int(min(4 * DAY, max(6 * HOUR, 30 * HOUR * math.exp(rng.gauss(0, 0.7)))))
        begins = when(length)
        quirks.append(
            Quirk(
                kind="event_type_gap",
                trust_code=site.trust_code,
                site_code=site.site_code,
                domain=domain_of(event_type),
                start=begins,
                end=begins + length,
                event_type=event_type,
                delivery="backfilled" if rng.random() < 0.5 else "lost",
            )
        )
    trust = rng.choice(sorted({site.trust_code for site in sites}))
    quirks.append(
        Quirk(
            kind="source_lag",
            trust_code=trust,
            site_code=None,
            domain="rostering",
            start=start,
            end=end,
            lag_hours=round(rng.uniform(2, 8), 1),
        )
    )
    quirks.extend(clock_change_quirks(start, end))
    return quirks


def clock_change_quirks(start: int, end: int) -> list[Quirk]:
    return [
        Quirk(
            kind="clock_change", trust_code=None, site_code=None, domain=ALL_DOMAINS, start=t, end=t
        )
        for t in clock_changes(start, end)
    ]


class RealisticFeed:
    """Takes the clean stream in event-time order and releases it in arrival order.

    ``offer`` files each event (dropped, delayed, duplicated, or followed by a late update);
    ``release(before)`` yields everything that has arrived before ``before``. Its own generator
    (seeded by the run) keeps the clean processes' draws, and so their events, unchanged.
    """

    def __init__(self, quirks: Sequence[Quirk], sites: Sequence[Site], rng: random.Random) -> None:
        self.rng = rng
        self._pending: list[tuple[int, int, Event]] = []
        self._late: list[tuple[int, Event]] = []
        self._seq = 0
        self._connect: dict[str, int] = {}
        self._gaps: dict[str, list[Quirk]] = {}
        self._lag: dict[str, int] = {}
        self._wards = {site.site_code: [ward.code for ward in site.wards] for site in sites}
        for quirk in quirks:
            if quirk.kind == "connected_mid_stream" and quirk.site_code is not None:
                self._connect[quirk.site_code] = quirk.end
            elif quirk.kind in ("feed_gap", "event_type_gap") and quirk.site_code is not None:
                self._gaps.setdefault(quirk.site_code, []).append(quirk)
            elif quirk.kind == "source_lag" and quirk.trust_code is not None:
                self._lag[quirk.trust_code] = int((quirk.lag_hours or 0) * HOUR)

    def _push(self, arrives: int, event: Event) -> None:
        self._seq += 1
        heapq.heappush(self._pending, (arrives, self._seq, event))

    def offer(self, t: int, event: Event) -> None:
        site = getattr(event, "site_code", None)
        event_type = event_type_of(event)
        if site is not None and t < self._connect.get(site, t):
            return  # before the site's feed existed
        arrives = t
        for gap in self._gaps.get(site or "", ()):
            if not gap.start <= t < gap.end:
                continue
            if gap.kind == "feed_gap":
                return
            if gap.event_type == event_type:
                if gap.delivery == "lost":
                    return
                arrives = max(arrives, gap.end)
        domain = domain_of(event_type) if event_type in EVENT_TYPE_TOPIC else None
        if domain == "rostering":
            arrives += self._lag.get(event.trust_code, 0)
        self._push(arrives, event)
        rng = self.rng
        roll = rng.random()
        if roll < RESEND_SHARE:
            self._push(arrives + int(rng.uniform(60, 6 * HOUR)), event)
        elif roll < RESEND_SHARE + NEAR_DUPLICATE_SHARE:
            copy = msgspec.structs.replace(event, event_id=event_id(rng))
            self._push(arrives + int(rng.uniform(5, 600)), copy)
        if isinstance(event, Discharge) and event.destination != "died":
            if rng.random() < AFTER_DISCHARGE_SHARE:
                self._after_discharge(t, event)

    def _after_discharge(self, t: int, discharge: Discharge) -> None:
        """An update coded after the patient left; it goes through the feed like any event."""
        rng = self.rng
        later = t + int(min(4 * DAY, max(600, 6 * HOUR * math.exp(rng.gauss(0, 1.2)))))
        envelope: dict[str, Any] = {
            "event_id": event_id(rng),
            "schema_version": 1,
            "occurred_at": at(later),
            "trust_code": discharge.trust_code,
            "site_code": discharge.site_code,
            "source_system": discharge.source_system,
        }
        roll = rng.random()
        update: Event
        if roll < 0.5:
            update = DischargeDelay(
                **envelope,
                spell_ref=discharge.spell_ref,
                ward_code=discharge.ward_code,
                reason=rng.choice(_LATE_REASONS),
            )
        elif roll < 0.75:
            update = ReadyForDischarge(
                **envelope, spell_ref=discharge.spell_ref, ward_code=discharge.ward_code
            )
        else:
            site_wards = self._wards.get(discharge.site_code, [])
            wards = [w for w in site_wards if w != discharge.ward_code]
            update = Transfer(
                **envelope,
                spell_ref=discharge.spell_ref,
                from_ward_code=discharge.ward_code,
                to_ward_code=rng.choice(wards) if wards else discharge.ward_code,
            )
        self._late.append((later, update))

    def release(self, before: int) -> Iterator[Event]:
        """Every event that has arrived before ``before``, in arrival order."""
        # late updates are offered when their own time comes (a gap then may swallow them)
        due = [item for item in self._late if item[0] < before]
        if due:
            self._late = [item for item in self._late if item[0] >= before]
            for t, update in sorted(due, key=lambda item: item[0]):
                self.offer(t, update)
        while self._pending and self._pending[0][0] < before:
            yield heapq.heappop(self._pending)[2]

    def release_all(self) -> Iterator[Event]:
        """At the period end: whatever is still in transit (resends, a lagging source, a backfill)
        arrives after it; the file is read later, so it is delivered, in arrival order."""
        while self._pending:
            yield heapq.heappop(self._pending)[2]
