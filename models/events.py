"""The wire contract v1: every event type of the five input topics, as strict msgspec Structs.

Field names, enums and patterns follow ``EVENTS.md`` exactly; a Struct here is the single source of
both the validator and the published JSON Schema. Decoding rejects unknown fields, wrong types and
pattern breaks (:class:`Pattern`, checked in bulk by :mod:`models.patterns`); rules that span
fields (``site_code`` within ``trust_code``, time limits) and the identifier guard live in
:mod:`models.validation` and :mod:`models.guard`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Final, Literal, NamedTuple

import msgspec
from msgspec import Meta

SCHEMA_VERSION: Final = 1

BEDFLOW_TOPIC: Final = "nhs.bedflow.v1"
ROSTERING_TOPIC: Final = "nhs.rostering.v1"
REFERRALS_TOPIC: Final = "nhs.referrals.v1"
SITREP_TOPIC: Final = "nhs.sitrep.v1"
ED_TOPIC: Final = "nhs.ed.v1"
INPUT_TOPICS: Final = (BEDFLOW_TOPIC, ROSTERING_TOPIC, REFERRALS_TOPIC, SITREP_TOPIC, ED_TOPIC)

# Python's ``$`` also matches before a trailing newline (msgspec and the ``jsonschema`` package
# both use ``re.search``), so every anchor is ``$(?!\n)``: the same language in Python and in
# ECMA 262, where the lookahead is a no-op. Otherwise "RJ1\n" would pass here and fail in ajv.
_END: Final = "$(?!\\n)"

UUID_PATTERN: Final = (
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}" + _END
)
TRUST_CODE_PATTERN: Final = "^R[A-Z0-9]{2}" + _END
SITE_CODE_PATTERN: Final = "^R[A-Z0-9]{4}" + _END
SOURCE_SYSTEM_PATTERN: Final = "^[A-Za-z0-9_.-]{1,32}" + _END
LOCAL_CODE_PATTERN: Final = "^[A-Z0-9_-]{1,16}" + _END
REF_PATTERN: Final = "^[0-9a-f]{16,64}" + _END
SPECIALTY_CODE_PATTERN: Final = "^[0-9]{3}" + _END

# What msgspec's date parser accepts, as a regex, so that the published schema rejects the same
# strings without relying on optional ``format`` assertion: YYYY-MM-DD from 0001, real calendar
# days (29 February only in leap years).
_DAY_OF_YEAR: Final = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR: Final = (
    "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
)
_DATE: Final = f"(?:(?!0000)[0-9]{{4}}-{_DAY_OF_YEAR}|{_LEAP_YEAR}-02-29)"
DATE_PATTERN: Final = f"^{_DATE}" + _END
# msgspec's RFC 3339 parser is slightly wider than RFC 3339 section 5.6: it also takes a space or
# lower-case ``t`` between date and time, lower-case ``z`` and ``+hhmm`` offsets. The contract
# follows the parser so that the published schema and the validator accept the same strings.
DATETIME_PATTERN: Final = (
    f"^{_DATE}[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]+)?"
    "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])" + _END
)

#: The largest value a numeric field may carry: far above any real count, rate or duration, and
#: below every 10-digit number, so no accepted number can be an NHS number or a phone number.
MAX_NUMBER: Final = 999_999_999


class Pattern(NamedTuple):
    """The regular expression a string field must match (the same language in Python and ECMA
    262). msgspec ignores this marker: it would run the regex once per string, three quarters of
    a decode's time, so :mod:`models.decoding` checks each pattern once for a whole record, and
    :mod:`models.strict` turns the markers into msgspec ``Meta(pattern=...)`` for the published
    schema and for explaining a rejection."""

    regex: str


EventId = Annotated[str, Pattern(UUID_PATTERN)]
TrustCode = Annotated[str, Pattern(TRUST_CODE_PATTERN)]
SiteCode = Annotated[str, Pattern(SITE_CODE_PATTERN)]
SourceSystem = Annotated[str, Pattern(SOURCE_SYSTEM_PATTERN)]
LocalCode = Annotated[str, Pattern(LOCAL_CODE_PATTERN)]
PseudonymousRef = Annotated[str, Pattern(REF_PATTERN)]
SpecialtyCode = Annotated[str, Pattern(SPECIALTY_CODE_PATTERN)]
EventTime = Annotated[datetime, Meta(tz=True, extra_json_schema={"pattern": DATETIME_PATTERN})]
EventDate = Annotated[date, Meta(extra_json_schema={"pattern": DATE_PATTERN})]
NonNegativeInt = Annotated[int, Meta(ge=0, le=MAX_NUMBER)]
NonNegativeNumber = Annotated[float, Meta(ge=0, le=MAX_NUMBER)]

DelayReason = Literal[
    "hospital_therapy_review",
    "hospital_medical_review",
    "hospital_hub_referral",
    "hospital_patient_transport",
    "hospital_discharge_documentation",
    "hospital_infection_control",
    "hospital_decision_to_discharge",
    "wellbeing_family_concerns",
    "wellbeing_safeguarding",
    "wellbeing_mental_capacity",
    "wellbeing_destination_readiness",
    "hub_care_needs_pathway",
    "hub_referrals",
    "hub_funding_eligibility",
    "interface_home_rehab_p1",
    "interface_home_social_care_p1",
    "interface_home_community_health_p1",
    "interface_housing_p0_1",
    "interface_bed_rehab_p2",
    "interface_care_home_p3",
    "interface_end_of_life",
    "interface_provider_action",
    "interface_no_recourse_public_funds",
    "interface_self_funded_care",
    "interface_family_choice",
    "interface_out_of_area",
    "capacity_home_rehab_p1",
    "capacity_home_social_care_p1",
    "capacity_home_community_health_p1",
    "capacity_housing_p0_1",
    "capacity_bed_rehab_p2",
    "capacity_mental_health_bed_p2",
    "capacity_care_home_p3",
    "capacity_end_of_life",
    "capacity_housing_adaptations",
    "capacity_equipment",
    "capacity_restart_social_care_p0",
]
AdmissionMethod = Literal["elective", "emergency", "maternity", "transfer_in", "other"]
DischargeDestination = Literal[
    "usual_residence", "care_home", "community_bed", "other_provider", "died", "other"
]
StaffGroup = Literal[
    "registered_nurse",
    "healthcare_support_worker",
    "doctor",
    "allied_health_professional",
    "admin_clerical",
    "other",
]
FillSource = Literal["substantive", "bank", "agency"]
ShiftChange = Literal["swap", "reassigned", "cancelled", "time_changed"]
AbsenceReason = Literal["sickness", "carer", "other"]
ReferralPriority = Literal["routine", "urgent", "two_week_wait"]
ReferralSource = Literal["gp", "consultant", "self", "other"]
TriageOutcome = Literal["accepted", "returned_with_advice", "redirected", "rejected"]
AttendanceType = Literal["first", "follow_up"]
AppointmentResult = Literal[
    "attended", "did_not_attend", "cancelled_by_patient", "cancelled_by_hospital"
]
ValidationResult = Literal["still_required", "removed"]
ClosureReason = Literal["treated", "discharged", "other"]
BedPeriod = Literal["day", "month"]
AePeriod = Literal["month"]
ArrivalMode = Literal["ambulance", "walk_in", "other"]
DepartmentType = Literal["type_1", "type_2", "type_3"]
Disposition = Literal[
    "admitted", "discharged", "transferred", "left_before_treatment", "died", "other"
]
DelayPeriod = Literal["day", "week", "month"]


class _Event(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    forbid_unknown_fields=True,
    tag_field="event_type",
    gc=False,
):
    """The envelope every event carries; ``event_type`` is the Struct's tag."""

    event_id: EventId
    schema_version: Literal[1]
    occurred_at: EventTime
    trust_code: TrustCode
    source_system: SourceSystem | None = None


class _SiteEvent(_Event, kw_only=True, frozen=True):
    site_code: SiteCode


# nhs.bedflow.v1


class Admission(_SiteEvent, kw_only=True, frozen=True, tag="admission"):
    spell_ref: PseudonymousRef
    ward_code: LocalCode
    specialty_code: SpecialtyCode
    admission_method: AdmissionMethod


class Transfer(_SiteEvent, kw_only=True, frozen=True, tag="transfer"):
    spell_ref: PseudonymousRef
    from_ward_code: LocalCode
    to_ward_code: LocalCode


class ReadyForDischarge(_SiteEvent, kw_only=True, frozen=True, tag="ready_for_discharge"):
    spell_ref: PseudonymousRef
    ward_code: LocalCode


class DischargeDelay(_SiteEvent, kw_only=True, frozen=True, tag="discharge_delay"):
    spell_ref: PseudonymousRef
    ward_code: LocalCode
    reason: DelayReason


class Discharge(_SiteEvent, kw_only=True, frozen=True, tag="discharge"):
    spell_ref: PseudonymousRef
    ward_code: LocalCode
    destination: DischargeDestination


# v1 additions: cancellations (what HL7 v2 A11, A12 and A13 carry). Each undoes the event it
# names as if it had not happened; ``ward_code`` is where the patient is after the cancellation.


class AdmissionCancelled(_SiteEvent, kw_only=True, frozen=True, tag="admission_cancelled"):
    spell_ref: PseudonymousRef
    ward_code: LocalCode


class TransferCancelled(_SiteEvent, kw_only=True, frozen=True, tag="transfer_cancelled"):
    spell_ref: PseudonymousRef
    ward_code: LocalCode


class DischargeCancelled(_SiteEvent, kw_only=True, frozen=True, tag="discharge_cancelled"):
    spell_ref: PseudonymousRef
    ward_code: LocalCode


class WardCapacity(_SiteEvent, kw_only=True, frozen=True, tag="ward_capacity"):
    ward_code: LocalCode
    beds_open: NonNegativeInt
    beds_escalation: NonNegativeInt = 0


# nhs.rostering.v1


class RosterPublished(_SiteEvent, kw_only=True, frozen=True, tag="roster_published"):
    unit_code: LocalCode
    period_start: EventDate
    period_end: EventDate


class ShiftPlanned(_SiteEvent, kw_only=True, frozen=True, tag="shift_planned"):
    shift_ref: PseudonymousRef
    unit_code: LocalCode
    staff_group: StaffGroup
    starts_at: EventTime
    ends_at: EventTime


class ShiftFilled(_SiteEvent, kw_only=True, frozen=True, tag="shift_filled"):
    shift_ref: PseudonymousRef
    fill_source: FillSource
    hourly_rate_gbp: NonNegativeNumber | None = None


class ShiftUnfilled(_SiteEvent, kw_only=True, frozen=True, tag="shift_unfilled"):
    shift_ref: PseudonymousRef


class ShiftChanged(_SiteEvent, kw_only=True, frozen=True, tag="shift_changed"):
    shift_ref: PseudonymousRef
    change: ShiftChange


class AbsenceReported(_SiteEvent, kw_only=True, frozen=True, tag="absence_reported"):
    unit_code: LocalCode
    staff_group: StaffGroup
    notice_hours: NonNegativeNumber
    reason_category: AbsenceReason
    shift_ref: PseudonymousRef | None = None


# nhs.referrals.v1


class ReferralReceived(_SiteEvent, kw_only=True, frozen=True, tag="referral_received"):
    referral_ref: PseudonymousRef
    specialty_code: SpecialtyCode
    priority: ReferralPriority
    source: ReferralSource


class ReferralTriaged(_SiteEvent, kw_only=True, frozen=True, tag="referral_triaged"):
    referral_ref: PseudonymousRef
    outcome: TriageOutcome


class AppointmentBooked(_SiteEvent, kw_only=True, frozen=True, tag="appointment_booked"):
    referral_ref: PseudonymousRef
    appointment_at: EventTime
    attendance_type: AttendanceType


class AppointmentOutcome(_SiteEvent, kw_only=True, frozen=True, tag="appointment_outcome"):
    referral_ref: PseudonymousRef
    outcome: AppointmentResult


class PathwayValidated(_SiteEvent, kw_only=True, frozen=True, tag="pathway_validated"):
    referral_ref: PseudonymousRef
    result: ValidationResult


class PathwayClosed(_SiteEvent, kw_only=True, frozen=True, tag="pathway_closed"):
    referral_ref: PseudonymousRef
    reason: ClosureReason


# nhs.sitrep.v1: site_code is optional; without it the scope is the trust.


class _SitrepEvent(_Event, kw_only=True, frozen=True):
    site_code: SiteCode | None = None


class DischargeSitrep(_SitrepEvent, kw_only=True, frozen=True, tag="discharge_sitrep"):
    report_date: EventDate
    nctr_patients: NonNegativeInt
    discharged_total: NonNegativeInt
    discharged_by_1700: NonNegativeInt | None = None


class BedSitrep(_SitrepEvent, kw_only=True, frozen=True, tag="bed_sitrep"):
    period_start: EventDate
    period: BedPeriod
    ga_beds_available: NonNegativeInt
    ga_beds_occupied: NonNegativeInt


class DelayReasonsSitrep(_SitrepEvent, kw_only=True, frozen=True, tag="delay_reasons_sitrep"):
    period_start: EventDate
    period: DelayPeriod
    counts: dict[DelayReason, NonNegativeInt]


class AeSitrep(_SitrepEvent, kw_only=True, frozen=True, tag="ae_sitrep"):
    """NHS England's monthly A&E statistics (all department types) for the trust (or site)."""

    period_start: EventDate
    period: AePeriod
    attendances: NonNegativeInt
    attendances_over_4h: NonNegativeInt
    emergency_admissions: NonNegativeInt
    #: emergency admissions that waited over 4 h from decision to admit to admission
    emergency_admissions_over_4h: NonNegativeInt | None = None


# nhs.ed.v1: urgent and emergency care, one attendance per attendance_ref


class EdArrival(_SiteEvent, kw_only=True, frozen=True, tag="ed_arrival"):
    attendance_ref: PseudonymousRef
    arrival_mode: ArrivalMode
    department_type: DepartmentType


class AmbulanceHandover(_SiteEvent, kw_only=True, frozen=True, tag="ambulance_handover"):
    """The crew handed over at ``occurred_at``, having arrived at ``arrived_at``."""

    attendance_ref: PseudonymousRef
    arrived_at: EventTime


class EdDecisionToAdmit(_SiteEvent, kw_only=True, frozen=True, tag="ed_decision_to_admit"):
    attendance_ref: PseudonymousRef


class EdDeparture(_SiteEvent, kw_only=True, frozen=True, tag="ed_departure"):
    attendance_ref: PseudonymousRef
    disposition: Disposition


BedflowEvent = (
    Admission
    | Transfer
    | ReadyForDischarge
    | DischargeDelay
    | Discharge
    | WardCapacity
    | AdmissionCancelled
    | TransferCancelled
    | DischargeCancelled
)
RosteringEvent = (
    RosterPublished | ShiftPlanned | ShiftFilled | ShiftUnfilled | ShiftChanged | AbsenceReported
)
ReferralsEvent = (
    ReferralReceived
    | ReferralTriaged
    | AppointmentBooked
    | AppointmentOutcome
    | PathwayValidated
    | PathwayClosed
)
SitrepEvent = DischargeSitrep | BedSitrep | DelayReasonsSitrep | AeSitrep
EdEvent = EdArrival | AmbulanceHandover | EdDecisionToAdmit | EdDeparture
Event = BedflowEvent | RosteringEvent | ReferralsEvent | SitrepEvent | EdEvent

#: The union of event types each input topic carries.
TOPIC_EVENT_TYPES: Final[dict[str, object]] = {
    BEDFLOW_TOPIC: BedflowEvent,
    ROSTERING_TOPIC: RosteringEvent,
    REFERRALS_TOPIC: ReferralsEvent,
    SITREP_TOPIC: SitrepEvent,
    ED_TOPIC: EdEvent,
}

#: event_type -> topic, for routing events read from files.
EVENT_TYPE_TOPIC: Final[dict[str, str]] = {
    str(struct.__struct_config__.tag): topic
    for topic, union in TOPIC_EVENT_TYPES.items()
    for struct in union.__args__  # type: ignore[attr-defined]
}


def event_type_of(event: Event) -> str:
    """The ``event_type`` tag of a decoded event."""
    return str(event.__struct_config__.tag)


def scope_of(event: Event) -> tuple[str, str | None]:
    """(trust_code, site_code or None): the scope whose state an event changes."""
    return event.trust_code, event.site_code
