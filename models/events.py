"""The wire contract v1: every event type of the four input topics, as strict msgspec Structs.

Field names, enums and patterns follow ``EVENTS.md`` exactly; a Struct here is the single source of
both the validator and the published JSON Schema. Decoding rejects unknown fields, wrong types and
pattern breaks; rules that span fields (``site_code`` within ``trust_code``, time limits) and the
identifier guard live in :mod:`models.validation` and :mod:`models.guard`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

SCHEMA_VERSION: Final = 1

BEDFLOW_TOPIC: Final = "nhs.bedflow.v1"
ROSTERING_TOPIC: Final = "nhs.rostering.v1"
REFERRALS_TOPIC: Final = "nhs.referrals.v1"
SITREP_TOPIC: Final = "nhs.sitrep.v1"
INPUT_TOPICS: Final = (BEDFLOW_TOPIC, ROSTERING_TOPIC, REFERRALS_TOPIC, SITREP_TOPIC)

UUID_PATTERN: Final = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

EventId = Annotated[str, Meta(pattern=UUID_PATTERN)]
TrustCode = Annotated[str, Meta(pattern="^R[A-Z0-9]{2}$")]
SiteCode = Annotated[str, Meta(pattern="^R[A-Z0-9]{4}$")]
SourceSystem = Annotated[str, Meta(pattern="^[A-Za-z0-9_.-]{1,32}$")]
LocalCode = Annotated[str, Meta(pattern="^[A-Z0-9_-]{1,16}$")]
PseudonymousRef = Annotated[str, Meta(pattern="^[0-9a-f]{16,64}$")]
SpecialtyCode = Annotated[str, Meta(pattern="^[0-9]{3}$")]
EventTime = Annotated[datetime, Meta(tz=True)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
NonNegativeNumber = Annotated[float, Meta(ge=0)]

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
AppointmentResult = Literal["attended", "did_not_attend", "cancelled_by_patient", "cancelled_by_hospital"]
ValidationResult = Literal["still_required", "removed"]
ClosureReason = Literal["treated", "discharged", "other"]
BedPeriod = Literal["day", "month"]
DelayPeriod = Literal["day", "week", "month"]


class _Event(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, tag_field="event_type"):
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


class WardCapacity(_SiteEvent, kw_only=True, frozen=True, tag="ward_capacity"):
    ward_code: LocalCode
    beds_open: NonNegativeInt
    beds_escalation: NonNegativeInt = 0


# nhs.rostering.v1


class RosterPublished(_SiteEvent, kw_only=True, frozen=True, tag="roster_published"):
    unit_code: LocalCode
    period_start: date
    period_end: date


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
    report_date: date
    nctr_patients: NonNegativeInt
    discharged_total: NonNegativeInt
    discharged_by_1700: NonNegativeInt | None = None


class BedSitrep(_SitrepEvent, kw_only=True, frozen=True, tag="bed_sitrep"):
    period_start: date
    period: BedPeriod
    ga_beds_available: NonNegativeInt
    ga_beds_occupied: NonNegativeInt


class DelayReasonsSitrep(_SitrepEvent, kw_only=True, frozen=True, tag="delay_reasons_sitrep"):
    period_start: date
    period: DelayPeriod
    counts: dict[DelayReason, NonNegativeInt]


BedflowEvent = Admission | Transfer | ReadyForDischarge | DischargeDelay | Discharge | WardCapacity
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
SitrepEvent = DischargeSitrep | BedSitrep | DelayReasonsSitrep
Event = BedflowEvent | RosteringEvent | ReferralsEvent | SitrepEvent

#: The union of event types each input topic carries.
TOPIC_EVENT_TYPES: Final[dict[str, object]] = {
    BEDFLOW_TOPIC: BedflowEvent,
    ROSTERING_TOPIC: RosteringEvent,
    REFERRALS_TOPIC: ReferralsEvent,
    SITREP_TOPIC: SitrepEvent,
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
