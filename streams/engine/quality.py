"""Data quality of one scope's domain, as a state of its own (``docs/catalogue.md`` "Data quality").

A domain (bed flow, rostering, referrals, urgent and emergency care at a site) moves through::

    warming_up --WARMUP_HOURS of event time since its first event--> ok
    warming_up --the whole feed silent for a day (WARMUP_SILENT_HOURS)--> gap
    ok --the feed, or one event type, silent while the scope's own rate expected
        >= SILENT_EXPECTED--> gap
    gap --every silent type heard again--> recovering
    recovering --the gap out of the windows (RECOVERY_*_HOURS)--> ok   (silent again: gap)

While not ``ok`` the domain's kinds neither open nor escalate an episode (``detectors``), and the
state is emitted as the metric ``data_quality_<domain>`` (``CODES``).

The expected rate is the scope's own, of its paced event types together and of each one
(``UNPACED_TYPES`` come in bursts and are not watched), per UTC hour of the week: a running mean
of the last 4 weeks of that hour (fewer while the scope is young), so a ward's quiet nights and
weekends are expected quiet. England's bank holidays (UK local date) expect nothing and are not
learned: elective work stops on them. Everything is event time: a replay decides exactly as live.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

from streams.engine.timekeys import HOUR, at, hour_is_bank_holiday

PROFILE_PART: Final = "quality_profile"

Status = Literal["warming_up", "ok", "gap", "recovering"]
CODES: Final[dict[str, float]] = {"warming_up": 0.0, "ok": 1.0, "gap": 2.0, "recovering": 3.0}

#: a new scope, or one connecting mid-stream, is judged after its first week: the 7-day trigger
#: windows (NCTR share, discharge rate, before-noon share, shift rates, untriaged > 7 days) are
#: then covered, and a census present at connection has mostly left (half of G&A stays are under
#: a week: "stranded" is 7+ days, SAFER / NHSI)
WARMUP_HOURS: Final = 7 * 24
#: silent with >= 20 events expected: even at half its usual rate (a quiet week) the chance of
#: none is P(0 | Poisson 10) = 4.5e-5 ...
SILENT_EXPECTED: Final = 20.0
#: ... over at least 3 hours that usually hold an event (mean >= 1): one hour that once held a
#: burst (a census sent at connection, a queue flushed after an outage) makes no gap
SILENT_USUAL_HOURS: Final = 3
#: one event type silent while the rest of the feed flows: the same >= 20 expected, over >= 6
#: hours that usually hold one (half a working day of a daytime flow). A bottleneck slows a flow,
#: it does not stop it: even the most gridlocked trusts discharge (p10 of discharges per NCTR
#: patient 0.26 a day, 2022-25) and a slow triage still triages; a type at zero that long is its
#: interface down
SILENT_TYPE_USUAL_HOURS: Final = 6
#: sent ahead of what they plan, or only on a change, in bursts (a roster, the next month's shifts,
#: a clinic list, a validation sprint, a ward's bed count): their silence says nothing about a feed
UNPACED_TYPES: Final = frozenset(
    {
        "roster_published",
        "shift_planned",
        "appointment_booked",
        "pathway_validated",
        "ward_capacity",
    }
)
#: A type whose silence another's explains, and that other: on an ambulance divert the
#: ambulances go elsewhere, so their arrivals and handovers stop together while walk-ins go on.
#: That is the department's operation, not its feed; handovers silent while ambulances still
#: arrive are the handover interface down. The explaining counts (``DataQuality.count``) are
#: learned like any type's but never judged themselves.
AMBULANCE_ARRIVALS: Final = "ed_arrival/ambulance"
EXPLAINED_SILENCE: Final = {"ambulance_handover": AMBULANCE_ARRIVALS}
CONTEXT_TYPES: Final = frozenset(EXPLAINED_SILENCE.values())
#: handovers follow their arrivals by up to this many hours: the last one before a divert
#: comes that much after the last ambulance arrival
EXPLAINED_SLACK_HOURS: Final = 2
#: before the scope has a week of its own hours of the week, only the whole feed is judged, against
#: its mean hourly rate so far, and only over a whole day of silence: a day holds every hour of
#: the daily cycle, so a flat mean is a fair expectation over it (not over a quiet night)
WARMUP_SILENT_HOURS: Final = 24
FEED: Final = "feed"
WEEK_HOURS: Final = 168
PROFILE_WEEKS: Final = 4
FULL_MASK: Final = (1 << PROFILE_WEEKS) - 1
#: a gap up to 10% of a 28-day window (67 h) stays inside the hysteresis band of 28-day metrics
#: once it has left the 7-day windows; a longer gap must leave the 28-day windows too
SHORT_GAP_HOURS: Final = 67
RECOVERY_SHORT_HOURS: Final = 7 * 24
RECOVERY_LONG_HOURS: Final = 28 * 24
CONFIRM_LEAD_HOURS: Final = 24


class Quality(msgspec.Struct, kw_only=True):
    status: Status = "warming_up"
    since: int | None = None  # the hour boundary the status began at
    first_hour: int | None = None
    # hour -> event type -> events (only the hours not yet folded into the profile)
    counts: dict[int, dict[str, int]] = msgspec.field(default_factory=dict)
    # event type -> events the scope's own rate expected since its last event
    expected_silent: dict[str, float] = msgspec.field(default_factory=dict)
    last_seen: dict[str, int] = msgspec.field(default_factory=dict)
    # event type -> hours since its last event that usually hold one
    usual_silent: dict[str, int] = msgspec.field(default_factory=dict)
    silent: list[str] = msgspec.field(default_factory=list)
    gap_start: int | None = None
    gap_end: int | None = None
    confirmed: bool = False  # the gap's unconfirmed entities were expired
    #: events of the gap's hours came after it, later than the lateness allowance: its backlog
    #: was delivered (a resend after the feed resumed), so nothing it seemed to lose is lost
    backfilled: bool = False
    #: every type silent at some point of the gap (FEED: the whole feed): what it may have lost
    gap_silent: list[str] = msgspec.field(default_factory=list)


class Profile(msgspec.Struct, kw_only=True):
    """Per event type, the mean events in each UTC hour of the week (persisted once an hour)."""

    slots: dict[str, list[float]] = msgspec.field(default_factory=dict)
    # per event type and hour of the week, a bit per recent week (newest lowest): had an event
    present: dict[str, list[int]] = msgspec.field(default_factory=dict)
    hours: int = 0  # hours folded in


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    #: set when a recovery ended: entities last heard of before this hour may be what the gap lost
    confirm_before: int | None = None
    #: with it, the types the gap silenced (``FEED``: all of them); None when not known (a gap
    #: begun in a state saved before they were kept): each flow then confirms as for the feed
    lost_types: frozenset[str] | None = None


class DataQuality:
    """A domain's data quality: its state lives in the domain's head part (``part``, written with
    every event), the profile in its own (``profile_part``, written once an hour)."""

    def __init__(
        self,
        part: str,
        profile_part: str,
        dirty: set[str],
        *,
        longest_window_hours: int = RECOVERY_LONG_HOURS,
    ) -> None:
        """``longest_window_hours``: the domain's longest metric window, which a long gap must
        leave before its kinds are judged again (28 days; the ED's windows are all 7 days)."""
        self.recovery_long_hours = max(RECOVERY_SHORT_HOURS, longest_window_hours)
        self.state = Quality()
        self.profile = Profile()
        self.part = part
        self.profile_part = profile_part
        self._dirty = dirty

    def seen(self, event_type: str, hour: int) -> None:
        state = self.state
        if state.first_hour is None:
            state.first_hour = hour
        self._dirty.add(self.part)
        if event_type in UNPACED_TYPES:
            return
        bucket = self._bucket(hour)
        bucket[FEED] = bucket.get(FEED, 0) + 1
        bucket[event_type] = bucket.get(event_type, 0) + 1

    def count(self, name: str, hour: int) -> None:
        """An event of a context type (``CONTEXT_TYPES``) in ``hour``: counted and learned as a
        type of its own, not in the feed's total."""
        bucket = self._bucket(hour)
        bucket[name] = bucket.get(name, 0) + 1

    def _bucket(self, hour: int) -> dict[str, int]:
        bucket = self.state.counts.get(hour)
        if bucket is None:
            bucket = self.state.counts[hour] = {}
        return bucket

    def late(self, hour: int) -> None:
        """An event of ``hour`` arrived later than the lateness allowance. One inside the
        current (or last) gap is its backlog arriving: the entities last heard of before the
        gap are then not expired when the recovery ends (``_move``)."""
        state = self.state
        if state.gap_start is None or state.backfilled or hour < state.gap_start:
            return
        if state.gap_end is None or hour < state.gap_end:
            state.backfilled = True
            self._dirty.add(self.part)

    @property
    def ok(self) -> bool:
        return self.state.status == "ok"

    def evaluate(self, hour: int) -> Transition:
        """The boundary starting ``hour``: fold in the hour before it, move the status."""
        state, profile = self.state, self.profile
        self._dirty.add(self.part)
        self._dirty.add(self.profile_part)
        closing = hour - 1
        counts = state.counts.pop(closing, {})
        for key in [key for key in state.counts if key < closing]:
            del state.counts[key]  # late events into hours already folded in
        slot = closing % WEEK_HOURS
        weeks = min(profile.hours // WEEK_HOURS, PROFILE_WEEKS - 1)
        learned = profile.hours >= WEEK_HOURS
        for event_type in counts.keys() - profile.slots.keys():
            profile.slots[event_type] = [0.0] * WEEK_HOURS
            profile.present[event_type] = [0] * WEEK_HOURS
        # An hour of the week is relied on only if it held an event in every recent week: a
        # feed that skips some days (a roster team filling shifts in batches on some weekdays)
        # expects nothing of the hours it sometimes skips.
        reliable_mask = (1 << min(profile.hours // WEEK_HOURS, PROFILE_WEEKS)) - 1
        # A bank holiday's hours expect nothing and teach nothing: clinics, triage, validation
        # and rostering teams stop, and a Monday's rate would call its silence a gap (1 January
        # alone blinded every site's referral kinds for 8 days), while learning it would make
        # that hour of the week expect less for the next 4 weeks.
        holiday = hour_is_bank_holiday(closing)
        for event_type, slots in profile.slots.items():
            count = counts.get(event_type, 0)
            present = profile.present.setdefault(event_type, [0] * WEEK_HOURS)
            if count:
                state.expected_silent[event_type] = 0.0
                state.usual_silent[event_type] = 0
                state.last_seen[event_type] = closing
            elif not holiday and learned and present[slot] & reliable_mask == reliable_mask:
                expected = slots[slot]
                state.expected_silent[event_type] = (
                    state.expected_silent.get(event_type, 0.0) + expected
                )
                if expected >= 1.0:
                    state.usual_silent[event_type] = state.usual_silent.get(event_type, 0) + 1
            if holiday:
                continue
            # the running mean of the last PROFILE_WEEKS weeks of this hour of the week
            slots[slot] += (count - slots[slot]) / (weeks + 1)
            present[slot] = ((present[slot] << 1) | (count > 0)) & FULL_MASK
        profile.hours += 1
        silent_feed = self._silent_before_learned(closing) if not learned and not holiday else False
        # A type silent for more than a week is one the scope no longer sends: its silence is
        # the scope's new normal, not a gap (the gap it made then recovers).
        state.silent = sorted(
            name
            for name, expected in state.expected_silent.items()
            if expected >= SILENT_EXPECTED
            and name not in UNPACED_TYPES
            and state.usual_silent.get(name, 0)
            >= (SILENT_USUAL_HOURS if name == FEED else SILENT_TYPE_USUAL_HOURS)
            and closing - state.last_seen.get(name, closing) <= WEEK_HOURS
            and name not in CONTEXT_TYPES
            and not self._explained(name)
        )
        if silent_feed and FEED not in state.silent:
            state.silent = sorted([*state.silent, FEED])
        return self._move(hour)

    def _explained(self, name: str) -> bool:
        """True when ``name``'s silence is explained: its explaining type, seen before, has been
        silent since no later than it (``EXPLAINED_SILENCE``)."""
        explainer = EXPLAINED_SILENCE.get(name)
        if explainer is None:
            return False
        last, since = self.state.last_seen.get(explainer), self.state.last_seen.get(name)
        return last is not None and since is not None and last <= since + EXPLAINED_SLACK_HOURS

    def _silent_before_learned(self, closing: int) -> bool:
        """A gap in the scope's first week: the whole feed silent for a day while its mean rate so
        far expected >= SILENT_EXPECTED events (``WARMUP_SILENT_HOURS``)."""
        last = self.state.last_seen.get(FEED)
        if last is None or closing - last < WARMUP_SILENT_HOURS:
            return False
        # under a week of hours, each hour of the week's slot holds that one hour's count
        rate = sum(self.profile.slots.get(FEED, ())) / max(1, self.profile.hours)
        return rate * (closing - last) >= SILENT_EXPECTED

    def _set(self, status: Status, hour: int) -> None:
        self.state.status = status
        self.state.since = hour

    def _move(self, hour: int) -> Transition:
        state = self.state
        confirm: int | None = None
        lost: frozenset[str] | None = None
        if state.status == "warming_up":
            if state.silent:  # a gap in the first week: it recovers like any other
                self._set("gap", hour)
                state.gap_start = state.last_seen.get(FEED, hour - 1) + 1
                state.gap_end = None
                state.backfilled = False
                state.gap_silent = list(state.silent)
            elif state.first_hour is not None and hour - state.first_hour >= WARMUP_HOURS:
                self._set("ok", hour)
        if state.status == "ok" and state.silent:
            self._set("gap", hour)
            state.gap_start = min(state.last_seen.get(name, hour - 1) for name in state.silent) + 1
            state.gap_end = None
            state.backfilled = False
            state.gap_silent = list(state.silent)
        elif state.status == "gap" and state.silent:
            # a type falling silent while the gap lasts: what it lost is the gap's too
            if not set(state.silent) <= set(state.gap_silent):
                state.gap_silent = sorted({*state.gap_silent, *state.silent})
        elif state.status == "gap" and not state.silent:
            self._set("recovering", hour)
            state.gap_end = hour
            state.confirmed = False
        elif state.status == "recovering":
            if state.silent:
                self._set("gap", hour)
                state.gap_silent = sorted({*state.gap_silent, *state.silent})
            elif state.gap_end is not None and state.gap_start is not None:
                length = state.gap_end - state.gap_start
                recovery = (
                    RECOVERY_SHORT_HOURS if length <= SHORT_GAP_HOURS else self.recovery_long_hours
                )
                # Entities the gap may have closed go a day before the recovery ends, so the
                # 24-hour windows (occupancy) are clear of them by the first ``ok`` evaluation.
                # Those last heard of before the gap *ended*: in a one-type gap the rest of the
                # feed flows, so a referral received (or a patient admitted) in the gap whose
                # triage (discharge) the gap lost was last heard of inside it.
                # Not when the gap's backlog came late: what it held has been applied.
                if not state.confirmed and hour - state.gap_end >= recovery - CONFIRM_LEAD_HOURS:
                    state.confirmed = True
                    confirm = None if state.backfilled else state.gap_end
                    lost = frozenset(state.gap_silent) if state.gap_silent else None
                if hour - state.gap_end >= recovery:
                    self._set("ok", hour)
        return Transition(status=state.status, confirm_before=confirm, lost_types=lost)

    def evidence(self) -> dict[str, Any]:
        """The reason a domain is not ``ok``, for an opportunity's evidence."""
        state = self.state

        def iso(hour: int | None) -> str | None:
            return None if hour is None else at(hour * HOUR).isoformat()

        out: dict[str, Any] = {"status": state.status, "since": iso(state.since)}
        if state.status in ("gap", "recovering"):
            out["silent_event_types"] = list(state.silent)
            out["gap_start"] = iso(state.gap_start)
            out["gap_end"] = iso(state.gap_end)
        return out
