"""Keyed pseudonyms: the only form in which a visit or a message leaves the trust.

``spell_ref`` is HMAC-SHA256 of the visit number under the trust's key (the key file's bytes),
hex: stable for one visit under one key, unlinkable without the key, and different under
another key (rotating the key starts new references). Event ids are derived the same way from
the message's identity, so a message resent by the integration engine keeps its event id and
the engine counts it as a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from pathlib import Path

#: below this a key can be guessed; 32 bytes is what ``openssl rand 32`` or
#: ``head -c 32 /dev/urandom`` writes
MIN_KEY_BYTES = 16


def read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the key file must hold at least {MIN_KEY_BYTES} bytes")
    return key


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _digest(self, purpose: str, value: str) -> bytes:
        message = purpose.encode() + b"\x00" + value.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def spell_ref(self, visit_number: str) -> str:
        # no purpose prefix: the documented rule is HMAC-SHA256(key, visit number), so a trust can
        # compute the same reference from its own systems
        return hmac.new(self._key, visit_number.encode("utf-8"), hashlib.sha256).hexdigest()

    def event_id(self, identity: str) -> str:
        """A UUID (version 4 bits set) keyed on ``identity``: the same message, the same id."""
        return str(uuid.UUID(bytes=self._digest("event", identity)[:16], version=4))
