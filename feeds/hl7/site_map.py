"""The trust's mapping file: local PAS codes to contract codes (``--site-map M.toml``).

Every table is optional; without one the adapter uses the message's own codes::

    trust_code = "RJ1"                 # else --trust-code, else MSH-4
    default_site = "RJ122"             # when PV1-3.4 (facility) is empty or unmapped
    [sites]                            # PV1-3.4 facility -> site_code
    "STH" = "RJ122"
    [wards]                            # PV1-3.1 point of care -> ward_code
    "Ward 12" = "W12"
    [specialties]                      # PV1-10 hospital service -> 3-digit specialty_code
    "MED" = "300"
    [discharge_destinations]           # PV1-36 -> destination (adds to or overrides the defaults)
    "51" = "community_bed"
    [admission_methods]                # PV1-4 admission type -> admission_method
    "21" = "emergency"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from models.events import SITE_CODE_PATTERN, TRUST_CODE_PATTERN


@dataclass(frozen=True, slots=True)
class SiteMap:
    trust_code: str | None = None
    default_site: str | None = None
    sites: dict[str, str] = field(default_factory=dict)
    wards: dict[str, str] = field(default_factory=dict)
    specialties: dict[str, str] = field(default_factory=dict)
    discharge_destinations: dict[str, str] = field(default_factory=dict)
    admission_methods: dict[str, str] = field(default_factory=dict)


def _table(document: dict[str, object], name: str) -> dict[str, str]:
    table = document.get(name, {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ValueError(f"[{name}] must map codes to strings")
    return {str(k): v for k, v in table.items()}


def load_site_map(path: Path | None) -> SiteMap:
    """The mapping in ``path`` (an empty mapping for None); raises ValueError when malformed."""
    if path is None:
        return SiteMap()
    document = tomllib.loads(path.read_text(encoding="utf-8"))

    trust = document.get("trust_code")
    if trust is not None and not (isinstance(trust, str) and re.match(TRUST_CODE_PATTERN, trust)):
        raise ValueError("trust_code must be a trust ODS code such as RJ1")
    default_site = document.get("default_site")
    if default_site is not None and not (
        isinstance(default_site, str) and re.match(SITE_CODE_PATTERN, default_site)
    ):
        raise ValueError("default_site must be a site ODS code such as RJ122")
    return SiteMap(
        trust_code=trust,
        default_site=default_site,
        sites=_table(document, "sites"),
        wards=_table(document, "wards"),
        specialties=_table(document, "specialties"),
        discharge_destinations=_table(document, "discharge_destinations"),
        admission_methods=_table(document, "admission_methods"),
    )
