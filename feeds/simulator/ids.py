"""Identifiers drawn from the seeded generator, so a seed reproduces every byte of a file."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

HOUR = 3600
DAY = 86400


_VERSION_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_SET = (0x4000 << 64) | (0x8000 << 48)


def event_id(rng: random.Random) -> str:
    """A version-4 UUID from the seeded generator (``uuid4()`` would read the OS entropy).

    Equal to ``str(uuid.UUID(int=bits, version=4))``, built directly: this is the hottest call
    of the simulator and ``uuid.UUID`` costs several times more.
    """
    bits = (rng.getrandbits(128) & _VERSION_CLEAR) | _VERSION_SET
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def slow_event_id(rng: random.Random) -> str:
    """The reference the fast path must match (used by the tests)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def hex_ref(rng: random.Random) -> str:
    """A 32-hex pseudonymous reference; never all digits (the contract rejects digit-only refs)."""
    while True:
        ref = f"{rng.getrandbits(128):032x}"
        if not ref.isdigit():
            return ref


def at(seconds: int) -> datetime:
    """Epoch seconds -> an aware UTC datetime (whole seconds keep the output byte-stable)."""
    return datetime.fromtimestamp(seconds, UTC)
