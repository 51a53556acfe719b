"""One HL7 v2 ADT message -> bed-flow events (or the reason it gives none).

Mapping (v2.4/2.5 as NHS trusts send it):

======  =====================================================================================
A01     ``admission``: ward PV1-3.1, specialty PV1-10, method PV1-4
A02     ``transfer``: from PV1-6.1 (else the ward last seen for the spell) to PV1-3.1; neither
        -> ``no_prior_ward`` (``from_ward_code`` is required by the contract). To another site
        of the trust (PV1-3.4 other than PV1-6.4, else than the site last seen): a
        ``discharge`` (``other_provider``) at the site left and an ``admission``
        (``transfer_in``) at the site entered, since scopes are per site
A03     ``discharge``: ward PV1-3.1 (blank: PV1-6.1, else the ward last seen; so for A11 and
        A13), destination PV1-36
A06     as A01: an outpatient or ED encounter made an inpatient one
A08     ``transfer`` only when PV1-3.1 differs from the ward last seen for the spell, else ignored
A11     ``admission_cancelled``; A12 ``transfer_cancelled``; A13 ``discharge_cancelled``
        (ward PV1-3.1: where the patient is once the event is undone)
A04/A05 ignored (registration, pre-admission: no bed); so is any message whose patient class
        PV1-2 is O (outpatient), R (recurring), P (pre-admit) or E (emergency department),
        unless it re-grades a spell seen as an inpatient: an A07, or an A08 with such a
        class, gives ``admission_cancelled``, and an A03 with it its ``discharge``
other   any other ADT trigger ``Ann``: ignored (``ignored_trigger``, ACK AA: a full feed is full
        of A31, A17, A21, A50); other trigger text rejected (``unsupported_trigger``;
        ``not_adt`` for another message type)
======  =====================================================================================

- ``spell_ref`` = HMAC-SHA256(key, visit number): PV1-19.1, else PV1-50.1 (alternate visit id),
  else PID-18.1 (patient account number); none of them -> ``no_visit_number``.
- trust: ``--trust-code``, else the site map's, else MSH-4.1 (the trust of a site code there);
  site: the site map's entry for PV1-3.4 (facility), else PV1-3.4 itself, else MSH-4.1 (or its
  entry) when it is a site code (a single-site PAS names only itself), else the map's
  ``default_site``; ward: the map's entry for PV1-3.1, else PV1-3.1 upper-cased with spaces as
  ``_``.
- ``occurred_at``: EVN-6 (event occurred), else the visit's PV1-44 (A01) or PV1-45 (A03: a
  discharge keyed in the next morning has EVN-2 then), else EVN-2 (recorded), else MSH-7, to
  the hour, minute, second or beyond (a degree-of-precision component is ignored); a time without an
  offset is UK local time (Europe/London; in the autumn's repeated hour, the first occurrence,
  BST; in the spring's skipped hour, shifted forward); a date without a time of day is
  rejected (``no_time_of_day``).
- ``event_id``: keyed on MSH-3, MSH-4, MSH-10, MSH-7, the trigger and PV1-19, so a resent
  message gives the same id; ``source_system``: MSH-3.1 when it fits the contract, else ``HL7v2``.

Every event is then judged by the contract decoder, identifier guard included, before it is
returned: a message whose event fails is rejected with the decoder's reason, whole.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final
from zoneinfo import ZoneInfo

import hl7
import hl7.containers
import hl7.util

from feeds.hl7.checked import EventCheck
from feeds.hl7.pseudonym import Pseudonymiser
from feeds.hl7.site_map import SiteMap
from models.events import (
    LOCAL_CODE_PATTERN,
    SITE_CODE_PATTERN,
    SOURCE_SYSTEM_PATTERN,
    SPECIALTY_CODE_PATTERN,
    TRUST_CODE_PATTERN,
    Admission,
    AdmissionCancelled,
    Discharge,
    DischargeCancelled,
    Event,
    Transfer,
    TransferCancelled,
)


def _drop(record: logging.LogRecord) -> bool:
    return False


# python-hl7 logs the raw text of a field it cannot unescape (a visit number, an account number
# with a broken escape sequence): nothing of a message may reach a log, so its records are
# dropped. A filter, not disabling: logging.config.dictConfig re-enables existing loggers.
for _library_logger in (hl7.util.logger, hl7.containers.logger):
    _library_logger.addFilter(_drop)

LONDON: Final = ZoneInfo("Europe/London")
IGNORED_CLASSES: Final = frozenset({"O", "R", "P", "E"})
IGNORED_TRIGGERS: Final = frozenset({"A04", "A05"})
SUPPORTED_TRIGGERS: Final = frozenset({"A01", "A02", "A03", "A06", "A08", "A11", "A12", "A13"})
#: an ADT trigger opsradar does not use (A31 person update, A17 swap, A21 leave, A50 visit
#: change, ...): a full trust feed is full of them, and an AR makes an engine retry or block
#: behind each, so they are answered AA, ignored. Any other trigger text is still AR.
_ADT_TRIGGER: Final = re.compile(r"A[0-9]{2}")
DEFAULT_SOURCE_SYSTEM: Final = "HL7v2"

#: PV1-36: NHS Data Dictionary discharge destination codes, and HL7 table 0112 where they differ
DISCHARGE_DESTINATIONS: Final[dict[str, str]] = {
    "19": "usual_residence",
    "01": "usual_residence",
    "29": "other",
    "54": "care_home",
    "65": "care_home",
    "85": "care_home",
    "03": "care_home",
    "48": "other_provider",
    "49": "other_provider",
    "50": "other_provider",
    "51": "other_provider",
    "52": "other_provider",
    "53": "other_provider",
    "84": "other_provider",
    "87": "other_provider",
    "88": "other_provider",
    "02": "other_provider",
    "79": "died",
    "20": "died",
}
#: PV1-4: HL7 table 0007 and NHS admission method codes
ADMISSION_METHODS: Final[dict[str, str]] = {
    **dict.fromkeys(("C", "R", "11", "12", "13"), "elective"),
    **dict.fromkeys(
        ("E", "U", "A", "21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D"), "emergency"
    ),
    **dict.fromkeys(("L", "N", "B", "31", "32", "82", "83"), "maternity"),
    "81": "transfer_in",
}

#: TS/DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]; the v2.3 degree-of-precision
#: component (``^M``...) is cut off before, as the digits present already say the precision
_TS: Final = re.compile(
    r"^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?"
    r"(?:([+-])(\d{2})(\d{2}))?$"
)
_TRUST: Final = re.compile(TRUST_CODE_PATTERN)
_SITE: Final = re.compile(SITE_CODE_PATTERN)
_WARD: Final = re.compile(LOCAL_CODE_PATTERN)
_SPECIALTY: Final = re.compile(SPECIALTY_CODE_PATTERN)
_SOURCE: Final = re.compile(SOURCE_SYSTEM_PATTERN)

# reasons (counted, and sent back in the ACK's MSA-3; never a value from the message)
NOT_HL7: Final = "not_hl7"
NOT_ADT: Final = "not_adt"
UNSUPPORTED_TRIGGER: Final = "unsupported_trigger"
NO_VISIT_NUMBER: Final = "no_visit_number"
NO_TRUST: Final = "no_trust_code"
NO_SITE: Final = "no_site_code"
NO_WARD: Final = "no_ward_code"
NO_PRIOR_WARD: Final = "no_prior_ward"
NO_SPECIALTY: Final = "no_specialty_code"
BAD_TIMESTAMP: Final = "bad_timestamp"
NO_TIME_OF_DAY: Final = "no_time_of_day"
BAD_ESCAPE: Final = "bad_escape"
IGNORED_A04: Final = "ignored_a04"
IGNORED_A05: Final = "ignored_a05"
IGNORED_CLASS: Final = "ignored_patient_class"
IGNORED_UNCHANGED: Final = "ignored_update_unchanged"
IGNORED_SAME_WARD: Final = "ignored_same_ward"
IGNORED_TRIGGER: Final = "ignored_trigger"


#: the triggers whose PV1-3 a PAS may leave empty: the patient is leaving that location
_LEAVING_TRIGGERS: Final = frozenset({"A03", "A07", "A11", "A13"})
#: trigger -> the PV1 field with the visit's time of that event (PV1-44 admit, PV1-45 discharge)
_VISIT_TIME_FIELD: Final = {"A01": 44, "A03": 45}


class Rejected(Exception):
    """A message that gives no event; ``reason`` is a code, never a value from the message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Outcome:
    #: "accepted", "ignored" or "rejected"
    status: str
    reason: str | None = None
    events: list[Event] = field(default_factory=list)
    #: each event as the JSON the decoder accepted (what is written or produced)
    raws: list[bytes] = field(default_factory=list)
    message: Any = None
    #: (trigger, spell_ref, ward, site, specialty) for the converter's memory of open spells,
    #: once the events are delivered
    ward_update: tuple[str, str, str, str, str | None] | None = None


def parse_timestamp(text: str) -> datetime:
    """An HL7 TS/DTM to an aware UTC datetime, to the hour at least (missing parts are zero).

    A value without an offset is UK local time. At the clock changes it is read as
    :mod:`zoneinfo` reads a wall time with ``fold=0``: an hour repeated in October is its first
    occurrence (BST), and an hour skipped in March is shifted forward (read at the offset
    before the change, GMT: 01:30 is 02:30 BST). A date alone (``YYYYMMDD``, or coarser) is
    refused as ``no_time_of_day``: an event needs its time of day, and midnight would be a guess
    that moves it into another hour's (or the previous day's) counts.
    """
    match = _TS.match(text.split("^", 1)[0].strip())
    if match is None:
        raise Rejected(BAD_TIMESTAMP)
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    try:
        local = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=LONDON,
        )
    except ValueError:
        raise Rejected(BAD_TIMESTAMP) from None
    if hour is None:
        raise Rejected(NO_TIME_OF_DAY)
    if sign is None:
        return local.astimezone(UTC)
    offset = timedelta(hours=int(off_h), minutes=int(off_m))
    if offset >= timedelta(hours=24):
        raise Rejected(BAD_TIMESTAMP)
    zone = timezone(offset if sign == "+" else -offset)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _get(message: Any, segment: str, field_num: int, component: int = 1, sub: int = 1) -> str:
    """A field's component as text, "" when the segment or field is absent."""
    try:
        value = message.extract_field(segment, 1, field_num, 1, component, sub)
    except (KeyError, IndexError):
        return ""
    except Exception:  # python-hl7 failing to unescape: its message holds the field's text
        raise Rejected(BAD_ESCAPE) from None
    return str(value).strip() if value is not None else ""


#: HL7's formatting commands (2.10.6); python-hl7 reads any text after one as a repeat count
_FORMATTING: Final = (".sp", ".in", ".ti", ".sk", ".br", ".fi", ".nf", ".ce")


def _counted_formatting(kept: str) -> bool:
    """Whether a value of the segments holds a formatting command with a count (``\\.sp5\\``).

    Counts belong to formatted text (FT), which no field the adapter reads is; python-hl7
    repeats the command's character that many times (``\\.sp9434765919\\`` is gigabytes) or
    raises on a count that is no number. Escape sequences pair up within one value, as
    python-hl7 reads them, so the values are split at every separator first."""
    if len(kept) < 8:
        return False
    field_sep, encoding = kept[3], kept[4:8]
    escape = encoding[2]
    if escape not in kept[8:]:
        return False
    separators = {field_sep, "\r", encoding[0], encoding[1], encoding[3]} - {escape}
    for value in re.split("[" + re.escape("".join(separators)) + "]", kept[8:]):
        parts = value.split(escape)
        # parts[1], parts[3]...: the sequences closed by an escape character
        for sequence in parts[1 : len(parts) - 1 : 2]:
            if len(sequence) > 3 and sequence[:3] in _FORMATTING:
                return True
    return False


#: the segments the mapping reads; the others (PID, NK1, PV2, Z-segments...) are never parsed
READ_SEGMENTS: Final = ("MSH", "EVN", "PV1")


def parse_message(text: str, segments: tuple[str, ...] = READ_SEGMENTS) -> Any:
    """The message's ``segments`` parsed (MSH first); raises Rejected(NOT_HL7)."""
    if not text.startswith("MSH") or len(text) < 8:
        raise Rejected(NOT_HL7)
    kept = "\r".join(s for s in text.split("\r") if s.startswith(segments))
    try:
        message = hl7.parse(kept)
        message.segment("MSH")
    except Exception:  # the parser raises many types on bad text: each is "not HL7"
        raise Rejected(NOT_HL7) from None
    if _counted_formatting(kept):
        raise Rejected(BAD_ESCAPE)
    return message


class AdtConverter:
    """Converts messages one at a time; remembers each open spell's ward (for A02 without
    PV1-6 and for A08), so one converter should see a feed's messages in order.

    A caller that may fail to deliver an accepted message's events (the listener, when the
    broker is down) converts with ``remember=False`` and calls :meth:`remember` once they are
    delivered: otherwise the resent A02 or A08 would be read against the ward it moves to,
    and look like no move at all.
    """

    def __init__(
        self,
        *,
        key: bytes,
        trust_code: str | None = None,
        site_map: SiteMap | None = None,
        clock: Any = None,
    ) -> None:
        self._pseudonyms = Pseudonymiser(key)
        self._map = site_map or SiteMap()
        self._trust = trust_code or self._map.trust_code
        if self._trust is not None and not _TRUST.match(self._trust):
            raise ValueError("the trust code must be an ODS trust code such as RJ1")
        self._wards: dict[str, str] = {}
        # each open spell's site and specialty: a move to another site of the trust leaves one
        # site's scope and enters the other's (an admission there needs its specialty)
        self._sites: dict[str, str] = {}
        self._specialties: dict[str, str] = {}
        self._check = EventCheck(clock)

    def convert(self, text: str, *, remember: bool = True) -> Outcome:
        message = None
        try:
            message = parse_message(text)
            outcome = self._convert(message, text)
        except Rejected as rejected:
            return Outcome("rejected", rejected.reason, message=message)
        if remember:
            self.remember(outcome)
        return outcome

    def remember(self, outcome: Outcome) -> None:
        """Moves the spell's remembered ward on (or forgets it) for a delivered outcome."""
        if outcome.ward_update is None:
            return
        trigger, spell_ref, ward, site, specialty = outcome.ward_update
        if trigger in ("A03", "A11"):
            self._wards.pop(spell_ref, None)
            self._sites.pop(spell_ref, None)
            self._specialties.pop(spell_ref, None)
        else:
            self._wards[spell_ref] = ward
            self._sites[spell_ref] = site
            if specialty is not None:
                self._specialties[spell_ref] = specialty

    def _convert(self, message: Any, text: str) -> Outcome:
        if _get(message, "MSH", 9, 1) != "ADT":
            raise Rejected(NOT_ADT)
        trigger = (_get(message, "MSH", 9, 2) or _get(message, "EVN", 1)).upper()
        if trigger in IGNORED_TRIGGERS:
            return Outcome("ignored", f"ignored_{trigger.lower()}", message=message)
        reclassified = trigger == "A07" or (
            trigger in ("A03", "A08") and _get(message, "PV1", 2).upper() in IGNORED_CLASSES
        )
        if reclassified:
            # An inpatient re-graded an outpatient (A07, or an update with an outpatient or ED
            # class: an SDEC or assessment patient) no longer holds a bed: the admission is
            # undone; discharged so, it is a discharge. One never seen as an inpatient is not
            # ours: ignored, as before.
            spell_ref = self._spell_ref_or_none(message, text)
            if spell_ref is None or spell_ref not in self._wards:
                return Outcome("ignored", IGNORED_CLASS, message=message)
            trigger = "A03" if trigger == "A03" else "A11"
            return self._accepted(message, text, trigger, spell_ref)
        if trigger not in SUPPORTED_TRIGGERS:
            if _ADT_TRIGGER.fullmatch(trigger):
                return Outcome("ignored", IGNORED_TRIGGER, message=message)
            raise Rejected(UNSUPPORTED_TRIGGER)
        if trigger == "A06":  # an outpatient or ED encounter made an inpatient one: admitted
            trigger = "A01"
        if _get(message, "PV1", 2).upper() in IGNORED_CLASSES:
            return Outcome("ignored", IGNORED_CLASS, message=message)
        spell_ref = self._spell_ref_or_none(message, text)
        if spell_ref is None:
            raise Rejected(NO_VISIT_NUMBER)
        return self._accepted(message, text, trigger, spell_ref)

    def _spell_ref_or_none(self, message: Any, text: str) -> str | None:
        visit = _get(message, "PV1", 19) or _get(message, "PV1", 50)
        if not visit:  # the last fallback: PID-18, parsed only now and only that segment
            visit = _get(parse_message(text, ("MSH", "PID")), "PID", 18)
        return self._pseudonyms.spell_ref(visit) if visit else None

    def _accepted(self, message: Any, text: str, trigger: str, spell_ref: str) -> Outcome:
        envelope = self._envelope(message, trigger)
        envelope_site = envelope["site_code"]
        specialty = None
        if trigger == "A01":
            specialty = self._specialty(_get(message, "PV1", 10))
        point_of_care = _get(message, "PV1", 3, 1)
        if not point_of_care and trigger in _LEAVING_TRIGGERS:
            # some PAS clear the current location on discharge or cancel: the ward it was in
            point_of_care = _get(message, "PV1", 6, 1)
            remembered = self._wards.get(spell_ref)
            if not point_of_care and remembered is not None:
                point_of_care = remembered
        ward = self._ward(point_of_care)
        events = self._events(message, trigger, envelope, spell_ref, ward)
        if not events:
            ignored = IGNORED_UNCHANGED if trigger == "A08" else IGNORED_SAME_WARD
            return Outcome("ignored", ignored, message=message)
        accepted, raws, refused = self._check.judge(events)
        if refused is not None:
            raise Rejected(refused)
        return Outcome(
            "accepted",
            events=accepted,
            raws=raws,
            message=message,
            ward_update=(trigger, spell_ref, ward, envelope_site, specialty),
        )

    def _envelope(self, message: Any, trigger: str) -> dict[str, Any]:
        sender = _get(message, "MSH", 4, 1)
        sending_site = self._map.sites.get(sender) or sender.upper()
        if not _SITE.match(sending_site):
            sending_site = ""
        # ODS site codes begin with their trust's code
        trust = self._trust or sending_site[:3] or sender.upper()
        if not _TRUST.match(trust):
            raise Rejected(NO_TRUST)
        facility = _get(message, "PV1", 3, 4)
        site = self._map.sites.get(facility) or facility.upper()
        if not _SITE.match(site):
            site = sending_site or self._map.default_site or ""
        if not _SITE.match(site) or not site.startswith(trust):
            raise Rejected(NO_SITE)
        # EVN-6 (when it occurred), then the visit's own admit or discharge time (PV1-44,
        # PV1-45: a discharge keyed in next morning has EVN-2 then, when it was typed), then
        # EVN-2 (recorded) and MSH-7
        visit_time = (
            _get(message, "PV1", _VISIT_TIME_FIELD[trigger]) if trigger in _VISIT_TIME_FIELD else ""
        )
        when = (
            _get(message, "EVN", 6)
            or visit_time
            or _get(message, "EVN", 2)
            or _get(message, "MSH", 7)
        )
        if not when:
            raise Rejected(BAD_TIMESTAMP)
        source = _get(message, "MSH", 3, 1)
        # the message's identity as its sender sees it; the visit and trigger as well, since
        # control ids restart per sending system and a test harness may repeat them
        identity = "|".join(
            (
                _get(message, "MSH", 3, 1),
                _get(message, "MSH", 4, 1),
                _get(message, "MSH", 10),
                _get(message, "MSH", 7),
                _get(message, "MSH", 9, 2),
                _get(message, "PV1", 19),
            )
        )
        return {
            "identity": identity,
            "schema_version": 1,
            "occurred_at": parse_timestamp(when),
            "trust_code": trust,
            "site_code": site,
            "source_system": source if _SOURCE.match(source) else DEFAULT_SOURCE_SYSTEM,
        }

    def _ward(self, point_of_care: str) -> str:
        mapped = self._map.wards.get(point_of_care)
        ward = mapped if mapped is not None else point_of_care.upper().replace(" ", "_")
        if not _WARD.match(ward):
            raise Rejected(NO_WARD)
        return ward

    def _events(
        self, message: Any, trigger: str, envelope: dict[str, Any], spell_ref: str, ward: str
    ) -> list[Event]:
        identity = envelope.pop("identity")
        common = {
            **envelope,
            "event_id": self._pseudonyms.event_id(identity + "|0"),
            "spell_ref": spell_ref,
        }
        if trigger == "A01":
            return [
                Admission(
                    **common,
                    ward_code=ward,
                    specialty_code=self._specialty(_get(message, "PV1", 10)),
                    admission_method=self._admission_method(_get(message, "PV1", 4)),  # type: ignore[arg-type]
                )
            ]
        if trigger in ("A02", "A08"):
            prior_text = _get(message, "PV1", 6, 1) if trigger == "A02" else ""
            prior = self._ward(prior_text) if prior_text else self._wards.get(spell_ref)
            if prior is None:
                if trigger == "A08":
                    return []  # an update of a spell whose ward we never saw: nothing changed
                raise Rejected(NO_PRIOR_WARD)
            prior_site = self._prior_site(message, trigger, spell_ref)
            if prior_site is not None and prior_site != common["site_code"]:
                return self._moved_site(message, common, spell_ref, prior_site, prior, ward)
            if prior == ward:
                return []
            return [Transfer(**common, from_ward_code=prior, to_ward_code=ward)]
        if trigger == "A03":
            return [
                Discharge(
                    **common,
                    ward_code=ward,
                    destination=self._destination(_get(message, "PV1", 36)),  # type: ignore[arg-type]
                )
            ]
        cancellation: type[AdmissionCancelled | TransferCancelled | DischargeCancelled] = {
            "A11": AdmissionCancelled,
            "A12": TransferCancelled,
            "A13": DischargeCancelled,
        }[trigger]  # type: ignore[assignment]
        return [cancellation(**common, ward_code=ward)]

    def _prior_site(self, message: Any, trigger: str, spell_ref: str) -> str | None:
        """The site a move leaves: PV1-6.4 (the prior location's facility) of an A02, else the
        site last seen for the spell."""
        facility = _get(message, "PV1", 6, 4) if trigger == "A02" else ""
        if facility:
            site = self._map.sites.get(facility) or facility.upper()
            if _SITE.match(site):
                return site
        return self._sites.get(spell_ref)

    def _moved_site(
        self,
        message: Any,
        common: dict[str, Any],
        spell_ref: str,
        prior_site: str,
        prior_ward: str,
        ward: str,
    ) -> list[Event]:
        """A move to another site of the trust within one provider spell: scopes are per site,
        so it leaves the first (a discharge to another provider's bed, as that site sees it)
        and enters the second (an admission, ``transfer_in``). Without it the destination
        adopted the spell and the origin kept a phantom bed for 42 days."""
        if not prior_site.startswith(common["trust_code"]):
            raise Rejected(NO_SITE)
        service = _get(message, "PV1", 10)
        specialty = self._specialties.get(spell_ref) if not service else self._specialty(service)
        if specialty is None:
            raise Rejected(NO_SPECIALTY)
        entered_id = self._pseudonyms.event_id(f"{common['event_id']}|entered")
        return [
            Discharge(
                **{**common, "site_code": prior_site},
                ward_code=prior_ward,
                destination="other_provider",
            ),
            Admission(
                **{**common, "event_id": entered_id},
                ward_code=ward,
                specialty_code=specialty,
                admission_method="transfer_in",
            ),
        ]

    def _specialty(self, service: str) -> str:
        code = self._map.specialties.get(service, service)
        if not _SPECIALTY.match(code):
            raise Rejected(NO_SPECIALTY)
        return code

    def _admission_method(self, admission_type: str) -> str:
        code = admission_type.upper()
        return self._map.admission_methods.get(code) or ADMISSION_METHODS.get(code, "other")

    def _destination(self, disposition: str) -> str:
        return (
            self._map.discharge_destinations.get(disposition)
            or DISCHARGE_DESTINATIONS.get(disposition)
            or "other"
        )
