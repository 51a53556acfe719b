"""Canary identifiers: values that must never appear in a log line, a metric label, a dead
letter or a command's output. Plant them in inputs, then assert none of these strings comes out.

The NHS number is a valid one (943 476 5919: Σ = 299, 299 mod 11 = 2, 11 − 2 = 9), in the three
written forms; the postcode, phone numbers and e-mail are reserved-for-drama/example values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

NHS_NUMBER: Final = "9434765919"
NHS_NUMBER_SPACED: Final = "943 476 5919"
NHS_NUMBER_DASHED: Final = "943-476-5919"
NHS_NUMBER_TEST_RANGE: Final = "9990000018"
POSTCODE: Final = "SW1A 1AA"
POSTCODE_COMPACT: Final = "SW1A1AA"
EMAIL: Final = "jo.bloggs@example.nhs.net"
PHONE_MOBILE: Final = "07700 900123"
PHONE_INTERNATIONAL: Final = "+44 20 7946 0018"

#: Every canary as planted.
CANARIES: Final = (
    NHS_NUMBER,
    NHS_NUMBER_SPACED,
    NHS_NUMBER_DASHED,
    NHS_NUMBER_TEST_RANGE,
    POSTCODE,
    POSTCODE_COMPACT,
    EMAIL,
    PHONE_MOBILE,
    PHONE_INTERNATIONAL,
)

#: Forms a canary may take once copied or re-encoded (digits only, no spaces, lower case).
_VARIANTS: Final = frozenset(
    set(CANARIES)
    | {d for d in ("".join(ch for ch in c if ch.isdigit()) for c in CANARIES) if len(d) >= 10}
    | {c.replace(" ", "") for c in CANARIES}
    | {c.lower() for c in CANARIES}
)


def leaked(texts: Iterable[str]) -> list[str]:
    """The canary forms found in any of ``texts`` (empty when nothing leaked)."""
    joined = "\n".join(texts)
    return sorted(v for v in _VARIANTS if v and v in joined)
