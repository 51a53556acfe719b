"""Rostering as a real site's feed sends it: a site that connects after its rosters were published
sends changes and absences of shifts whose ``shift_planned`` it never sent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.events import AbsenceReported, ShiftChanged, ShiftFilled, ShiftPlanned
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import run, series, transitions

pytestmark = pytest.mark.unit

SHIFTS_PER_DAY = 40
#: the roster (every shift of days FIRST_START..) is published on day 0, the connection: the
#: shifts starting before FIRST_START were planned before it and never sent
FIRST_START = 20
DAYS = 60


def _connected_site(*, unknown_per_day: int) -> b.Stream:
    """Every 10th known shift changed a week before it starts, every 40th absent at 6 h notice;
    ``unknown_per_day`` changes and short-notice absences a day for shifts planned before the
    connection, over the days they start (0..FIRST_START)."""
    s = b.Stream()
    for day in range(FIRST_START, DAYS):
        for index in range(SHIFTS_PER_DAY):
            starts = b.T0 + timedelta(days=day, hours=7 + (index % 3) * 8)
            ref = s.ref()
            s.add(
                ShiftPlanned,
                b.T0 + timedelta(hours=10, seconds=day * SHIFTS_PER_DAY + index),
                shift_ref=ref,
                unit_code="U1",
                staff_group="registered_nurse",
                starts_at=starts,
                ends_at=starts + timedelta(hours=8),
            )
            s.add(ShiftFilled, b.T0 + timedelta(hours=11), shift_ref=ref, fill_source="bank")
            if index % 10 == 0:
                s.add(ShiftChanged, starts - timedelta(days=7), shift_ref=ref, change="swap")
            if index % 40 == 1:
                s.add(
                    AbsenceReported,
                    starts - timedelta(hours=6),
                    unit_code="U1",
                    staff_group="registered_nurse",
                    notice_hours=6.0,
                    reason_category="sickness",
                    shift_ref=ref,
                )
    for day in range(FIRST_START):
        for index in range(unknown_per_day):
            at = b.T0 + timedelta(days=day, hours=8 + index % 10)
            ref = s.ref()  # a shift planned before the connection
            s.add(ShiftChanged, at, shift_ref=ref, change="reassigned")
            s.add(
                AbsenceReported,
                at,
                unit_code="U1",
                staff_group="registered_nurse",
                notice_hours=3.0,
                reason_category="sickness",
                shift_ref=ref,
            )
    return s


@pytest.mark.parametrize("unknown_per_day", [0, 30])
def test_changes_and_absences_count_only_for_shifts_seen_planned(unknown_per_day: int) -> None:
    out = run(_connected_site(unknown_per_day=unknown_per_day).events())
    changes = series(out, "post_publication_change_rate_28d")
    absences = series(out, "short_notice_absence_rate_14d")
    assert changes and absences
    # Once 100 shifts (the kinds' minimum sample) have started: 10% of them changed, however far
    # ahead of its start each change came, and 2.5% absent at short notice (+-1 shift of the 14-day
    # window's edge, which cuts a day's shifts)
    assert {round(p.value, 3) for p in changes if p.sample_size >= 100} == {0.1}
    assert all(abs(p.value - 0.025) < 0.005 for p in absences if p.sample_size >= 100)
    assert not [
        t for t in transitions(out) if t.kind in ("auto_rostering", "absence_backfill_automation")
    ]


def test_a_roster_published_again_keeps_its_first_lead_time() -> None:
    """Rostering systems re-publish an amended roster days before it starts. The lead time is
    the first publication's: every roster here is out 56 days ahead (over the 42-day line) and
    published again 14 days ahead, which read as a median of 35 days and raised
    auto_rostering on a site that publishes on time."""
    from models.events import RosterPublished

    s = b.Stream()
    b.rostering(s, 120)
    for first in [e for e in s.events() if isinstance(e, RosterPublished)]:
        start = b.T0.replace(
            year=first.period_start.year, month=first.period_start.month, day=first.period_start.day
        )
        again = start - timedelta(days=14)
        if again < b.T0 + timedelta(days=120):
            s.add(
                RosterPublished,
                again,
                unit_code=first.unit_code,
                period_start=first.period_start,
                period_end=first.period_end,
            )
    out = run(s.events(120))
    leads = series(out, "roster_lead_time_median_days")
    assert leads and {round(p.value) for p in leads} == {56}
    assert not [t for t in transitions(out) if t.kind == "auto_rostering"]


def test_a_cancellation_is_a_change_of_a_shift_still_counted_planned() -> None:
    """Shifts planned weeks ahead are cancelled as demand firms up. A cancellation is a change
    after publication of one of the shifts planned: it left the denominator too, so one shift in
    six cancelled read as 0.2 (c / (1 - c)), over the one-in-five line."""
    s = b.Stream()
    for day in range(45):
        for index in range(SHIFTS_PER_DAY):
            starts = b.T0 + timedelta(days=day + 14, hours=7 + (index % 3) * 8)
            ref = s.ref()
            s.add(
                ShiftPlanned,
                b.T0 + timedelta(days=day, hours=10, seconds=index),
                shift_ref=ref,
                unit_code="U1",
                staff_group="registered_nurse",
                starts_at=starts,
                ends_at=starts + timedelta(hours=8),
            )
            if index % 6 == 0:
                s.add(ShiftChanged, starts - timedelta(days=7), shift_ref=ref, change="cancelled")
            else:
                s.add(ShiftFilled, starts - timedelta(days=3), shift_ref=ref, fill_source="bank")
    out = run(s.events())
    changes = [p for p in series(out, "post_publication_change_rate_28d") if p.sample_size >= 600]
    cancelled = sum(1 for i in range(SHIFTS_PER_DAY) if i % 6 == 0) / SHIFTS_PER_DAY
    assert changes and all(abs(p.value - cancelled) < 0.01 for p in changes)
    # a cancelled shift is not worked: the shift rates leave it out
    planned = series(out, "planned_shifts_7d")
    assert max(p.value for p in planned) <= 7 * SHIFTS_PER_DAY * (1 - cancelled) + 1


def _republished(s: b.Stream, days: int, *, units: int, all_periods: bool) -> None:
    """A site's shifts (``b.rostering``) and ``units`` units' 28-day rosters, each out 56 days
    ahead and published again 14 days before it starts; ``all_periods``: the re-publications of
    rosters first published before the stream too."""
    from models.events import RosterPublished

    b.rostering(s, days)
    end = b.T0 + timedelta(days=days)
    for unit in range(units):
        for k in range(-3, days // 28 + 4):
            start = b.T0 + timedelta(days=k * 28 + (unit * 7) % 28)
            first, again = start - timedelta(days=56), start - timedelta(days=14)
            seen_first = b.T0 <= first < end
            for published in (first, again) if seen_first or all_periods else ():
                if b.T0 <= published < end:
                    s.add(
                        RosterPublished,
                        published.replace(hour=10),
                        unit_code=f"R{unit}",
                        period_start=start.date(),
                        period_end=(start + timedelta(days=27)).date(),
                    )


def test_a_large_site_s_re_publications_keep_their_first_lead_time() -> None:
    """A site of 80 units publishes a few hundred rosters a season: each is remembered until
    its period is over, not as one of the site's last 64 (re-publications then read as 14-day
    leads and raised auto_rostering at a site publishing on time)."""
    s = b.Stream()
    _republished(s, 150, units=80, all_periods=False)
    out = run(s.events(150))
    leads = series(out, "roster_lead_time_median_days")
    assert leads and {round(p.value) for p in leads} == {56}
    assert not [t for t in transitions(out) if t.kind == "auto_rostering"]


def test_a_re_publication_of_a_roster_first_published_before_the_feed_began_has_no_lead() -> None:
    """A site connecting mid-cycle re-publishes rosters whose first publication came before its
    feed began: a 14-day lead then is unknown, not late. Leads short of the 6-week standard
    count only for periods starting 12 weeks or more after the feed began."""
    s = b.Stream()
    _republished(s, 150, units=4, all_periods=True)
    out = run(s.events(150))
    leads = series(out, "roster_lead_time_median_days")
    assert leads and {round(p.value) for p in leads} == {56}
    assert not [t for t in transitions(out) if t.kind == "auto_rostering"]


def test_a_site_publishing_late_still_reads_late_once_its_feed_is_12_weeks_old() -> None:
    s = b.Stream()
    b.rostering(s, 180, lead_days=b.const(21))
    out = run(s.events(180))
    leads = series(out, "roster_lead_time_median_days")
    assert {round(p.value) for p in leads if p.evaluated_at >= b.day_at(120)} == {21}
    assert [t for t in transitions(out) if t.kind == "auto_rostering"]


def test_a_nightly_snapshot_export_re_sending_past_shifts_counts_each_once() -> None:
    """Rostering systems export the roster window (two weeks back, weeks ahead) every night,
    each shift with its current state. A past shift sent again after the engine dropped it (2
    days after it ended) was planned and filled again: counted once per night."""
    base = b.Stream(seed=31)
    b.rostering(base, 40)
    events = base.events(40)
    snapshot = b.Stream(seed=32)
    snapshot._ids = 50_000
    ref = "ab" * 16
    starts = b.day_at(10) + timedelta(hours=7)
    planned = dict(
        shift_ref=ref, unit_code="U9", staff_group="registered_nurse", starts_at=starts,
        ends_at=starts + timedelta(hours=12),
    )  # fmt: skip
    first = [
        snapshot.add(ShiftPlanned, b.day_at(1), **planned),
        snapshot.add(ShiftFilled, b.day_at(5), shift_ref=ref, fill_source="agency"),
    ]
    stream = sorted([*events, *first], key=lambda e: e.occurred_at)
    for night in range(11, 25):  # the export of each night, its rows as they were first dated
        at = next(
            i for i, e in enumerate(stream) if e.occurred_at >= b.day_at(night) + timedelta(hours=1)
        )
        again = [
            snapshot.add(ShiftPlanned, b.day_at(1), **planned),
            snapshot.add(ShiftFilled, b.day_at(5), shift_ref=ref, fill_source="agency"),
        ]
        stream[at:at] = again
    clean = series(run(sorted([*events, *first], key=lambda e: e.occurred_at)), "agency_hours_7d")
    resent = series(run(stream), "agency_hours_7d")
    by_time = {p.evaluated_at: p.value for p in clean}
    assert resent and all(p.value == by_time[p.evaluated_at] for p in resent)


def test_fills_of_shifts_never_planned_are_counted_not_silently_dropped() -> None:
    """A bank or agency system (NHSP, Patchwork) sends only the shifts it filled: none of them
    was planned in the stream, so none can count in a rate. They are counted
    ``unplanned_shift_events``, which ``analyse`` prints, instead of vanishing."""
    from streams.engine import Engine
    from tests.unit.engine.engine_support import CATALOGUE

    s = b.Stream()
    for index in range(50):
        s.add(
            ShiftFilled,
            b.day_at(index // 10) + timedelta(hours=8, minutes=index),
            shift_ref=f"{index:032x}",
            fill_source="agency" if index % 3 == 0 else "bank",
        )
    engine = Engine(CATALOGUE)
    for event in s.events():
        engine.process(event)
    assert engine.counters["unplanned_shift_events"] == 50
    assert engine.counters["accepted"] == 50


def test_the_connection_rule_reads_the_feed_s_earliest_day_whatever_the_order() -> None:
    """A state saved before the feed's first day was kept is long connected: its late rosters
    still count. And the first day is the earliest event's, so a connection backlog applied
    after the live feed began gives what event-time order gives."""
    from models.events import RosterPublished
    from streams.engine.rostering import Rostering, RosteringAgg

    def roster(flow: Rostering, published: int, starts: int) -> None:
        event = b.Stream().add(
            RosterPublished,
            b.day_at(published),
            unit_code="U1",
            period_start=b.as_date(starts),
            period_end=b.as_date(starts + 27),
        )
        flow.roster(event, event.occurred_at.timestamp(), 0)

    old = Rostering(set())
    old.agg = RosteringAgg(seen=True, lead_times=[50.0])  # as restored from before
    roster(old, 200, 214)
    assert old.agg.lead_times == [50.0, 14.0]

    def first_day_and_last_lead(order: list[tuple[int, int]]) -> tuple[int | None, float]:
        flow = Rostering(set())
        for published, starts in order:
            roster(flow, published, starts)
        roster(flow, 140, 161)  # 21 days ahead, 161 days after the backlog's first
        return flow.agg.first_day, flow.agg.lead_times[-1]

    backlog, live = (0, 56), (130, 186)
    assert first_day_and_last_lead([backlog, live]) == first_day_and_last_lead([live, backlog])
    assert first_day_and_last_lead([live, backlog])[1] == 21.0
