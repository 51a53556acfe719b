"""The emission rule (``streams.engine.emission``): a metric point goes out when its value or
sample changes, at each 00:00 UTC heartbeat and at the end of input; the hourly series is the
step function of the emitted points; a restored state emits exactly the same points."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import msgspec
import pytest

from models.events import Event
from models.outputs import MetricPoint
from streams.engine import Output, ScopeState
from streams.engine import domains as domains_module
from streams.engine.emission import HEARTBEAT_HOURS, Emission
from streams.engine.evidence import ScopeIds
from streams.engine.readings import Reading
from streams.engine.timekeys import HOUR, at
from tests.unit.engine import builders as b
from tests.unit.engine.engine_support import CATALOGUE, series

pytestmark = pytest.mark.unit

SCOPE = CATALOGUE.for_scope(b.TRUST, b.SITE)
IDS = ScopeIds(b.TRUST, b.SITE, CATALOGUE.version)
#: an hour boundary that is not a heartbeat, and the next midnight
START = int(datetime(2026, 3, 2, 5, tzinfo=UTC).timestamp() // HOUR)
MIDNIGHT = START + HEARTBEAT_HOURS - 5


def _emit(emission: Emission, hour: int, **readings: Reading) -> dict[str, tuple[float, int]]:
    points = emission.points(IDS, readings, hour, at(hour * HOUR))
    assert all(p.evaluated_at == at(hour * HOUR) and p.site_code == b.SITE for p in points)
    return {p.metric: (p.value, p.sample_size) for p in points}


def test_a_series_emits_its_first_point_then_only_changes() -> None:
    dirty: set[str] = set()
    emission = Emission("emitted/bed_flow", dirty)
    first = _emit(emission, START, occupied_beds=Reading(10, 10), open_beds=Reading(20, 20))
    assert first == {"occupied_beds": (10.0, 10), "open_beds": (20.0, 20)}
    assert dirty == {"emitted/bed_flow"}
    dirty.clear()
    same = _emit(emission, START + 1, occupied_beds=Reading(10, 10), open_beds=Reading(20, 20))
    assert same == {}
    assert dirty == set()  # nothing emitted: the part is unchanged
    value = _emit(emission, START + 2, occupied_beds=Reading(11, 11), open_beds=Reading(20, 20))
    assert value == {"occupied_beds": (11.0, 11)}
    # the same value on a different sample is a change too
    sample = _emit(emission, START + 3, occupied_beds=Reading(11, 12), open_beds=Reading(20, 20))
    assert sample == {"occupied_beds": (11.0, 12)}
    assert dirty == {"emitted/bed_flow"}


def test_every_series_emits_at_the_midnight_heartbeat() -> None:
    emission = Emission("emitted/rostering", set())
    flat = {"planned_shifts_7d": Reading(40, 40), "agency_fill_share_7d": Reading(0.25, 40)}
    assert len(_emit(emission, START, **flat)) == 2
    emitted = {h: _emit(emission, h, **flat) for h in range(START + 1, MIDNIGHT + 30)}
    assert {h for h, points in emitted.items() if points} == {MIDNIGHT, MIDNIGHT + 24}
    assert emitted[MIDNIGHT] == {
        "planned_shifts_7d": (40.0, 40),
        "agency_fill_share_7d": (0.25, 40),
    }
    assert at(MIDNIGHT * HOUR).hour == 0


def test_a_metric_that_pauses_is_emitted_again_when_it_returns() -> None:
    emission = Emission("emitted/referrals", set())
    assert _emit(emission, START, dna_rate_28d=Reading(0.1, 30)) == {"dna_rate_28d": (0.1, 30)}
    assert _emit(emission, START + 1) == {}  # not computed (no appointments in the window)
    # the same value as before the pause: a new point, so the pause does not read as "held"
    assert _emit(emission, START + 2, dna_rate_28d=Reading(0.1, 30)) == {"dna_rate_28d": (0.1, 30)}


def test_closing_points_hold_each_series_to_the_last_boundary() -> None:
    emission = Emission("emitted/bed_flow", set())
    _emit(emission, START, occupied_beds=Reading(10, 10), open_beds=Reading(20, 20))
    _emit(emission, START + 1, occupied_beds=Reading(11, 11), open_beds=Reading(20, 20))
    _emit(emission, START + 2, occupied_beds=Reading(11, 11), open_beds=Reading(20, 20))
    closing = emission.closing(IDS, START + 2, at((START + 2) * HOUR))
    assert [(p.metric, p.value, p.evaluated_at) for p in closing] == [
        ("occupied_beds", 11.0, at((START + 2) * HOUR)),
        ("open_beds", 20.0, at((START + 2) * HOUR)),
    ]
    assert emission.closing(IDS, START + 2, at((START + 2) * HOUR)) == []  # once


def test_a_restored_filter_emits_the_same_points() -> None:
    def readings(hour: int) -> dict[str, Reading]:
        # a step every 5 hours, a sample that moves every 7
        return {"occupied_beds": Reading(hour // 5, hour // 7), "open_beds": Reading(30, 30)}

    hours = range(START, START + 60)
    straight = Emission("emitted/bed_flow", set())
    expected = [_emit(straight, h, **readings(h)) for h in hours]
    first = Emission("emitted/bed_flow", set())
    got = [_emit(first, h, **readings(h)) for h in hours[:23]]
    restored = Emission("emitted/bed_flow", set())
    restored.decode(first.encode(msgspec.msgpack.Encoder()))
    got += [_emit(restored, h, **readings(h)) for h in hours[23:]]
    assert got == expected
    assert sum(1 for points in expected if points) < len(hours) / 2


# --- the whole engine: the step function of the emitted points is the hourly series


def _events() -> list[Event]:
    s = b.Stream()
    b.bedflow(s, 12, nctr_days=b.window(4, 9, 4.0, 0.75), beds=b.const(450))
    return s.events(12)


def _straight(events: list[Event]) -> list[Output]:
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    out = [o for event in events for o in state.apply(event)]
    return out + state.flush()


@pytest.fixture
def unfiltered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every metric at every boundary, as before the rule (the hourly truth)."""

    def every_point(
        self: Emission, ids: ScopeIds, readings: dict[str, Reading], hour: int, when: datetime
    ) -> list[Output]:
        return domains_module.points(ids, readings, when)

    monkeypatch.setattr(Emission, "points", every_point)
    monkeypatch.setattr(Emission, "closing", lambda *_: [])
    yield


def _metric_points(out: list[Output]) -> list[MetricPoint]:
    return [o for o in out if isinstance(o, MetricPoint)]


def test_the_step_function_of_the_emitted_points_is_the_hourly_series(
    request: pytest.FixtureRequest,
) -> None:
    events = _events()
    emitted = _straight(events)
    request.getfixturevalue("unfiltered")
    hourly = _straight(events)
    truth = {(p.metric, p.evaluated_at): p for p in _metric_points(hourly)}
    points = _metric_points(emitted)
    # fewer rows (this busy synthetic ward moves most metrics most hours), each an hourly row
    assert len(points) < 0.8 * len(truth)
    assert all(truth[(p.metric, p.evaluated_at)] == p for p in points)
    # read as steps they give every hourly row back
    held = {
        (p.metric, p.evaluated_at): p
        for metric in {m for m, _ in truth}
        for p in series(emitted, metric)
    }
    assert held == truth
    # opportunities are untouched by the rule
    assert [o for o in emitted if not isinstance(o, MetricPoint)] == [
        o for o in hourly if not isinstance(o, MetricPoint)
    ]


def _save(state: ScopeState, store: dict[str, bytes]) -> None:
    for name, value in state.dirty_parts().items():
        if value:
            store[name] = value
        else:
            store.pop(name, None)


@pytest.mark.parametrize("cut", [0.3, 0.55, 0.8])
def test_a_state_restored_mid_run_emits_the_same_points(cut: float) -> None:
    events = _events()
    expected = _straight(events)
    index = int(len(events) * cut)
    state = ScopeState.new(b.TRUST, b.SITE, SCOPE)
    out = [o for event in events[:index] for o in state.apply(event)]
    store: dict[str, bytes] = {}
    _save(state, store)
    assert "emitted/bed_flow" in store
    restored = ScopeState.restore(b.TRUST, b.SITE, SCOPE, dict(store))
    rest = [o for event in events[index:] for o in restored.apply(event)] + restored.flush()
    assert out + rest == expected
    # without its last emitted points a restored state would emit points the straight run drops
    forgetful = ScopeState.restore(
        b.TRUST, b.SITE, SCOPE, {k: v for k, v in store.items() if not k.startswith("emitted/")}
    )
    again = [o for event in events[index:] for o in forgetful.apply(event)] + forgetful.flush()
    assert len(_metric_points(again)) > len(_metric_points(rest))
