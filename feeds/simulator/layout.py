"""Fake trusts and sites: ODS-shaped codes, wards with specialties, rostered units.

Codes are valid by the contract's patterns (``^R[A-Z0-9]{2}$``, site = trust + 2 characters) but
drawn at random, so they name no real organisation's data.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

_CODE_CHARS = string.ascii_uppercase + string.digits

#: (ward code prefix, specialty codes admitted there, share of the site's beds).
#: Treatment function codes: 300 general medicine, 430 elderly medicine, 340 respiratory,
#: 320 cardiology, 301 gastroenterology, 100 general surgery, 110 trauma & orthopaedics,
#: 101 urology, 502 gynaecology.
_WARD_TYPES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("AMU", ("300",), 0.10),
    ("MED", ("300", "340", "320", "301"), 0.30),
    ("ELD", ("430",), 0.22),
    ("SURG", ("100", "101"), 0.16),
    ("TRAU", ("110",), 0.12),
    ("GYN", ("502",), 0.05),
    ("SAU", ("100",), 0.05),
)


@dataclass(frozen=True, slots=True)
class Ward:
    code: str
    specialties: tuple[str, ...]
    beds: int


@dataclass(frozen=True, slots=True)
class Site:
    index: int
    trust_code: str
    site_code: str
    wards: tuple[Ward, ...]
    units: tuple[str, ...]

    @property
    def beds(self) -> int:
        return sum(ward.beds for ward in self.wards)


def _code(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_CODE_CHARS) for _ in range(length))


def _wards(rng: random.Random, beds: int) -> tuple[Ward, ...]:
    wards: list[Ward] = []
    for prefix, specialties, share in _WARD_TYPES:
        # ~28-bed wards, as most adult inpatient wards are built
        ward_beds = max(12, round(beds * share))
        count = max(1, round(ward_beds / 28))
        for number in range(1, count + 1):
            wards.append(Ward(f"{prefix}{number:02d}", specialties, max(8, ward_beds // count)))
    return tuple(wards)


def build_layout(n_trusts: int, rng: random.Random) -> tuple[Site, ...]:
    """``n_trusts`` trusts of 1-3 sites each (the first has two, so even one trust has a pair)."""
    trust_codes: list[str] = []
    while len(trust_codes) < n_trusts:
        code = "R" + _code(rng, 2)
        if code not in trust_codes:
            trust_codes.append(code)
    sites: list[Site] = []
    for number, trust in enumerate(trust_codes):
        n_sites = 2 if number == 0 else rng.choice((1, 2, 2, 3))
        suffixes: list[str] = []
        while len(suffixes) < n_sites:
            suffix = _code(rng, 2)
            if suffix not in suffixes:
                suffixes.append(suffix)
        for suffix in suffixes:
            beds = rng.randrange(260, 520)
            wards = _wards(rng, beds)
            # rostered units: every ward plus theatres; rosters are built per unit
            units = (*(ward.code for ward in wards), "THEATRES")
            sites.append(Site(len(sites), trust, trust + suffix, wards, units))
    return tuple(sites)
