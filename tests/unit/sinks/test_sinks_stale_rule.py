"""The stale rule in Python (``analyse --json``), as the analyst views apply it in SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.outputs import data_behind_days, is_stale
from tests.sinks_support import T0, opportunity

pytestmark = pytest.mark.unit


def test_an_open_episode_behind_its_kind_s_newest_is_stale() -> None:
    day = timedelta(days=1)
    episodes = [
        opportunity(trust="RX1", site="RX101", at=T0 + 10 * day),
        opportunity(trust="RX2", site="RX201", at=T0 + 7 * day),  # 3 days: not yet
        opportunity(trust="RX3", site="RX301", at=T0 + 6 * day),  # 4 days: stale
        opportunity(
            trust="RX4", site="RX401", at=T0, status="resolved", active_at=T0, resolved_at=T0
        ),
        # another kind is judged against its own newest
        opportunity(trust="RX5", site="RX501", kind="discharge_timing_prediction", at=T0),
        # a trust-level sitrep scope: against trust-level scopes, with 45 days' allowance
        opportunity(trust="RX6", site=None, at=T0 + 10 * day - 40 * day),
        opportunity(trust="RX7", site=None, at=T0 + 10 * day - 46 * day),
        opportunity(trust="RX8", site=None, at=T0 + 10 * day),
    ]
    behind = data_behind_days(episodes)
    assert behind == [0.0, 3.0, 4.0, 10.0, 0.0, 40.0, 46.0, 0.0]
    stale = [is_stale(e, b) for e, b in zip(episodes, behind, strict=True)]
    assert stale == [False, False, True, False, False, False, True, False]
