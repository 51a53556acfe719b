"""FHIR R4 Encounter resources -> bed-flow events (``opsradar fhir convert``).

Resources are parsed with ``fhir.resources`` (its R4B models: R4B changed nothing in Encounter
from R4 4.0.1, and the package no longer ships a separate R4 tree): a maintained, typed model of
the spec that validates datatypes (dateTime, Period, CodeableConcept) so malformed resources are
rejected by rule, not by accident. An Encounter is a snapshot of a stay, so its events are
derived from it:

- ``class`` IMP/ACUTE/NONAC (inpatient) only; others (AMB, EMER, HH, VR, SS, ...) are ignored.
- ``status`` planned/arrived/triaged/unknown, and ``cancelled`` before the stay began: ignored
  (no bed); ``in-progress`` (and
  ``onleave``): ``admission`` at ``period.start`` in the first location's ward, then a
  ``transfer`` at the start of each location in another ward; ``finished``: the same and a
  ``discharge`` at ``period.end`` from the last ward, destination from
  ``hospitalization.dischargeDisposition`` (NHS discharge destination codes as in UK Core, or
  the FHIR discharge-disposition codes); ``entered-in-error``, and ``cancelled`` once the stay
  had begun (a period start and a location): ``admission_cancelled``. A version back in
  progress of an encounter the converter saw finished (a discharge recorded in error) gives
  ``discharge_cancelled`` (at ``meta.lastUpdated``).
- ``spell_ref`` = HMAC-SHA256(key, visit number): the identifier whose type is VN or whose
  system names a visit/spell, else the first identifier, else the resource id.
- ward: ``location[].location.identifier.value``, else the id of its ``Location/`` reference,
  mapped by the site map's ``[wards]``; locations ``planned`` or ``reserved`` are skipped, and so
  are rooms and beds (``physicalType`` ro/bd) when wards are listed too; site: the site map's
  ``default_site``, else ``serviceProvider.identifier.value`` when it is a site ODS code;
  trust: ``--trust-code``, the site map's, else the site's first three characters.
- specialty: ``serviceType`` coding code (3 digits, or mapped by ``[specialties]``); method:
  ``priority`` (EM/UR -> emergency, EL/R -> elective) or the site map's ``[admission_methods]``.

The subject, participants, names and every other element are never read. Each event then goes
through the contract decoder and the identifier guard (:mod:`feeds.hl7.checked`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

import orjson
from pydantic import ValidationError

from feeds.hl7.adt import (
    ADMISSION_METHODS,
    DISCHARGE_DESTINATIONS,
    NO_SITE,
    NO_SPECIALTY,
    Outcome,
    Rejected,
)
from feeds.hl7.checked import EventCheck
from feeds.hl7.pseudonym import Pseudonymiser
from feeds.hl7.site_map import SiteMap
from models.events import (
    LOCAL_CODE_PATTERN,
    SITE_CODE_PATTERN,
    SPECIALTY_CODE_PATTERN,
    TRUST_CODE_PATTERN,
    Admission,
    AdmissionCancelled,
    Discharge,
    DischargeCancelled,
    Event,
    Transfer,
)
from models.rejection import BAD_DATETIME

INPATIENT_CLASSES: Final = frozenset({"IMP", "ACUTE", "NONAC"})
IGNORED_STATUSES: Final = frozenset({"planned", "arrived", "triaged", "unknown"})
#: undone: ``entered-in-error`` always, ``cancelled`` when the stay had started (a period start
#: and a location: a PAS cancelling an admission it recorded sends it so); one that never
#: started is ignored as ``planned`` is
CANCELLED: Final = "cancelled"
#: the R4 EncounterStatus value set (the model takes any code string)
STATUSES: Final = IGNORED_STATUSES | {
    "in-progress",
    "onleave",
    "finished",
    "entered-in-error",
    CANCELLED,
}
#: http://terminology.hl7.org/CodeSystem/discharge-disposition
FHIR_DISPOSITIONS: Final = {
    "home": "usual_residence",
    "alt-home": "other",
    "other-hcf": "other_provider",
    "hosp": "other_provider",
    "psy": "other_provider",
    "rehab": "community_bed",
    "snf": "care_home",
    "long": "care_home",
    "exp": "died",
}
#: Encounter.location.status values for a place the patient is not (yet) in
NOT_YET_THERE: Final = frozenset({"planned", "reserved"})
#: location-physical-type codes of places inside a ward (room, bed)
WITHIN_A_WARD: Final = frozenset({"ro", "bd"})
PRIORITIES: Final = {"EM": "emergency", "UR": "emergency", "EL": "elective", "R": "elective"}
SOURCE_SYSTEM: Final = "FHIR"

NOT_JSON: Final = "not_json"
NOT_FHIR: Final = "invalid_resource"
INVALID_STATUS: Final = "invalid_status"
IGNORED_RESOURCE: Final = "ignored_resource"
IGNORED_CLASS: Final = "ignored_class"
IGNORED_STATUS: Final = "ignored_status"
NO_LOCATION: Final = "no_location"
NO_PERIOD: Final = "no_period"
NO_VISIT: Final = "no_visit_number"

UTF8_BOM: Final = b"\xef\xbb\xbf"

_TRUST: Final = re.compile(TRUST_CODE_PATTERN)
_SITE: Final = re.compile(SITE_CODE_PATTERN)
_WARD: Final = re.compile(LOCAL_CODE_PATTERN)
_SPECIALTY: Final = re.compile(SPECIALTY_CODE_PATTERN)


def resources_of(data: bytes) -> Iterator[Any]:
    """Each resource of a file: a Bundle (its entries), one resource, or NDJSON (one a line).
    A line or document that is not JSON is yielded as the bytes, to be rejected and counted.
    A UTF-8 byte-order mark ahead of the file (PowerShell 5's ``Out-File -Encoding utf8``,
    Notepad) is skipped, as ``feeds.hl7.framing`` does for HL7."""
    stripped = data.removeprefix(UTF8_BOM).strip()
    try:
        document = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        for line in stripped.splitlines():
            if not line.strip():
                continue
            try:
                yield from _entries(orjson.loads(line))
            except orjson.JSONDecodeError:
                yield line
        return
    yield from _entries(document)


def _entries(document: Any) -> Iterator[Any]:
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        for entry in document.get("entry") or []:
            yield entry.get("resource") if isinstance(entry, dict) else entry
    else:
        yield document


def _codes(concept: Any) -> list[str]:
    if concept is None:
        return []
    return [c.code for c in (concept.coding or []) if c.code]


class EncounterConverter:
    def __init__(
        self, *, key: bytes, trust_code: str | None = None, site_map: SiteMap | None = None
    ) -> None:
        from fhir.resources.R4B.encounter import Encounter

        self._model = Encounter
        self._pseudonyms = Pseudonymiser(key)
        self._map = site_map or SiteMap()
        self._trust = trust_code or self._map.trust_code
        if self._trust is not None and not _TRUST.match(self._trust):
            raise ValueError("the trust code must be an ODS trust code such as RJ1")
        self._check = EventCheck()
        # the encounters converted finished, and when: a later version of one back in progress
        # (a discharge recorded in error) undoes the discharge; and how many times each was
        self._finished: dict[str, datetime] = {}
        self._undone: dict[str, int] = {}

    def convert(self, resource: Any) -> Outcome:
        if not isinstance(resource, dict):
            return Outcome("rejected", NOT_JSON)
        if resource.get("resourceType") != "Encounter":
            return Outcome("ignored", IGNORED_RESOURCE)
        try:
            encounter = self._model.model_validate(resource)
        except (ValidationError, ValueError, TypeError, LookupError):
            # LookupError: a contained resource of a type the R4B models do not define
            return Outcome("rejected", NOT_FHIR)
        try:
            return self._convert(encounter)
        except Rejected as rejected:
            return Outcome("rejected", rejected.reason)

    def _convert(self, encounter: Any) -> Outcome:
        klass = encounter.class_fhir.code if encounter.class_fhir is not None else None
        if klass not in INPATIENT_CLASSES:
            return Outcome("ignored", IGNORED_CLASS)
        if encounter.status not in STATUSES:
            raise Rejected(INVALID_STATUS)
        if encounter.status in IGNORED_STATUSES:
            return Outcome("ignored", IGNORED_STATUS)
        if encounter.status == CANCELLED and not _started(encounter):
            return Outcome("ignored", IGNORED_STATUS)
        envelope = self._envelope(encounter)
        visit = self._visit(encounter)
        stays = self._stays(encounter)
        spell_ref = self._pseudonyms.spell_ref(visit)
        identity = f"{encounter.id or visit}"

        def common(kind: str, index: int, when: datetime) -> dict[str, Any]:
            return {
                **envelope,
                "event_id": self._pseudonyms.event_id(f"fhir|{identity}|{kind}|{index}"),
                "occurred_at": when,
                "spell_ref": spell_ref,
            }

        period = encounter.period
        start = period.start if period is not None and period.start else stays[0][0]
        if start is None:
            raise Rejected(NO_PERIOD)
        if encounter.status in ("entered-in-error", CANCELLED):
            when = (
                encounter.meta.lastUpdated
                if encounter.meta and encounter.meta.lastUpdated
                else start
            )
            events: list[Event] = [
                AdmissionCancelled(**common("cancel", 0, when), ward_code=stays[-1][1])
            ]
        else:
            events = [
                Admission(
                    **common("admission", 0, start),
                    ward_code=stays[0][1],
                    specialty_code=self._specialty(encounter),
                    admission_method=self._method(encounter),  # type: ignore[arg-type]
                )
            ]
            ward = stays[0][1]
            for index, (when, next_ward) in enumerate(stays[1:], start=1):
                if next_ward != ward and when is not None:
                    events.append(
                        Transfer(
                            **common("transfer", index, when),
                            from_ward_code=ward,
                            to_ward_code=next_ward,
                        )
                    )
                    ward = next_ward
            if encounter.status == "finished":
                if period is None or period.end is None:
                    raise Rejected(NO_PERIOD)
                events.append(
                    Discharge(
                        **common("discharge", self._undone.get(identity, 0), period.end),
                        ward_code=ward,
                        destination=self._destination(encounter),  # type: ignore[arg-type]
                    )
                )
            elif identity in self._finished:
                # back in progress after it was converted finished: the discharge is undone
                updated = encounter.meta.lastUpdated if encounter.meta else None
                when = updated or self._finished[identity]
                count = self._undone.get(identity, 0)
                events.append(
                    DischargeCancelled(**common("discharge_cancelled", count, when), ward_code=ward)
                )
        accepted, raws, refused = self._check.judge(events)
        if refused is not None:
            raise Rejected(refused)
        if encounter.status == "finished":
            assert period is not None and period.end is not None
            self._finished[identity] = period.end
        elif identity in self._finished:
            del self._finished[identity]
            self._undone[identity] = self._undone.get(identity, 0) + 1
        return Outcome("accepted", events=accepted, raws=raws)

    def _envelope(self, encounter: Any) -> dict[str, Any]:
        provider = encounter.serviceProvider
        ods = (provider.identifier.value or "").upper() if provider and provider.identifier else ""
        site = self._map.default_site or (ods if _SITE.match(ods) else "")
        if not _SITE.match(site):
            raise Rejected(NO_SITE)
        trust = self._trust or site[:3]
        if not site.startswith(trust):
            raise Rejected(NO_SITE)
        return {
            "schema_version": 1,
            "trust_code": trust,
            "site_code": site,
            "source_system": SOURCE_SYSTEM,
        }

    def _visit(self, encounter: Any) -> str:
        identifiers = [i for i in encounter.identifier or [] if i.value]
        for identifier in identifiers:
            system = (identifier.system or "").lower()
            if "VN" in _codes(identifier.type) or "visit" in system or "spell" in system:
                return str(identifier.value)
        if identifiers:
            return str(identifiers[0].value)
        if encounter.id:
            return str(encounter.id)
        raise Rejected(NO_VISIT)

    def _ward(self, location: Any) -> str | None:
        reference = location.location
        if reference is None:
            return None
        code = reference.identifier.value if reference.identifier is not None else None
        if not code and reference.reference and reference.reference.startswith("Location/"):
            code = reference.reference.split("/", 1)[1]
        if not code:
            return None
        ward = self._map.wards.get(code) or code.upper().replace(" ", "_")
        return ward if _WARD.match(ward) else None

    def _stays(self, encounter: Any) -> list[tuple[datetime | None, str]]:
        """(start, ward) of each location the patient was or is in, in time order; raises when
        there is none. A planned or reserved location (a bed booked ahead of a move) is not a
        stay; a room or bed (physicalType ro/bd) lies within a ward listed beside it."""
        locations = [loc for loc in encounter.location or [] if loc.status not in NOT_YET_THERE]
        wards = [loc for loc in locations if not set(_codes(loc.physicalType)) & WITHIN_A_WARD]
        stays = []
        # only rooms or beds listed: each then stands for its ward (mapped by [wards])
        for location in wards or locations:
            ward = self._ward(location)
            if ward is None:
                continue
            start = location.period.start if location.period is not None else None
            if start is not None and (not isinstance(start, datetime) or start.tzinfo is None):
                # a date alone, or no offset: the time of day or the instant is a guess, as
                # for the encounter's own period (the decoder's bad_datetime)
                raise Rejected(BAD_DATETIME)
            stays.append((start, ward))
        if not stays:
            raise Rejected(NO_LOCATION)
        if all(start is not None for start, _ in stays):  # else as listed (R4 lists in order)
            stays.sort(key=lambda stay: stay[0])  # type: ignore[arg-type,return-value]
        return stays

    def _specialty(self, encounter: Any) -> str:
        for code in _codes(encounter.serviceType):
            mapped = self._map.specialties.get(code, code)
            if _SPECIALTY.match(mapped):
                return mapped
        raise Rejected(NO_SPECIALTY)

    def _method(self, encounter: Any) -> str:
        for code in _codes(encounter.priority):
            method = self._map.admission_methods.get(code) or PRIORITIES.get(code)
            if method:
                return method
        for code in _codes(
            encounter.hospitalization.admitSource if encounter.hospitalization else None
        ):
            if code in ADMISSION_METHODS:
                return ADMISSION_METHODS[code]
        return "other"

    def _destination(self, encounter: Any) -> str:
        hospitalization = encounter.hospitalization
        codes = _codes(hospitalization.dischargeDisposition if hospitalization else None)
        for code in codes:
            destination = (
                self._map.discharge_destinations.get(code)
                or DISCHARGE_DESTINATIONS.get(code)
                or FHIR_DISPOSITIONS.get(code)
            )
            if destination:
                return destination
        return "other"


def _started(encounter: Any) -> bool:
    """A period start and a location the patient was in: a stay that had begun."""
    period = encounter.period
    begun = period is not None and period.start is not None
    return begun and any(loc.status not in NOT_YET_THERE for loc in encounter.location or [])
