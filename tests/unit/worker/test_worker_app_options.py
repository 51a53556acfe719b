"""The Faust settings the worker runs with, where a default would hold it back."""

from __future__ import annotations

import pytest

from streams.app import faust_app_options
from streams.settings import Settings

pytestmark = pytest.mark.unit

#: a state part as an hour boundary's saves write them (a pathway shard of a national site is
#: ~2.7 KiB, a detector or emission part less)
STATE_PART_BYTES = 2 * 1024
#: the broker's default ``message.max.bytes`` (a batch is one message to it)
BROKER_MESSAGE_MAX_BYTES = 1_048_588


def test_a_producer_batch_holds_state_parts_by_the_hundred_within_the_broker_limit() -> None:
    # aiokafka keeps one open batch per partition and waits for it to be sent once full, and
    # Faust hands no fetched record to any agent while its producer buffer holds over 100
    # messages: at aiokafka's 16 KiB default, a few parts a round trip gated the whole worker
    batch = faust_app_options(Settings())["producer_max_batch_size"]
    assert batch >= 100 * STATE_PART_BYTES
    assert batch <= BROKER_MESSAGE_MAX_BYTES
