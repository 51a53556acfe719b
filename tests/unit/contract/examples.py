"""One valid event of every type of the contract, as JSON-ready dicts, judged at :data:`NOW`.

Reusable by any test: ``example("admission")`` is a fresh copy to mutate.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, Final

NOW: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OCCURRED_AT: Final = "2026-01-05T08:15:00Z"

_ENVELOPE: Final[dict[str, Any]] = {
    "event_id": "8c7a3c8e-1f2b-4c3d-9e4f-0a1b2c3d4e5f",
    "schema_version": 1,
    "occurred_at": OCCURRED_AT,
    "trust_code": "RJ1",
    "site_code": "RJ122",
    "source_system": "PAS",
}
SPELL: Final = "5e0c1b8f3a9d4e27b6c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9"
SHIFT: Final = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
REFERRAL: Final = "a3f1c9e2b4d6f8a0c2e4b6d8f0a2c4e6a3f1c9e2"

_PAYLOADS: Final[dict[str, dict[str, Any]]] = {
    # nhs.bedflow.v1
    "admission": {
        "spell_ref": SPELL,
        "ward_code": "AMU",
        "specialty_code": "300",
        "admission_method": "emergency",
    },
    "transfer": {"spell_ref": SPELL, "from_ward_code": "AMU", "to_ward_code": "W12"},
    "ready_for_discharge": {"spell_ref": SPELL, "ward_code": "W12"},
    "discharge_delay": {"spell_ref": SPELL, "ward_code": "W12", "reason": "capacity_care_home_p3"},
    "discharge": {"spell_ref": SPELL, "ward_code": "W12", "destination": "usual_residence"},
    "ward_capacity": {"ward_code": "CCU-2", "beds_open": 28, "beds_escalation": 2},
    "admission_cancelled": {"spell_ref": SPELL, "ward_code": "AMU"},
    "transfer_cancelled": {"spell_ref": SPELL, "ward_code": "AMU"},
    "discharge_cancelled": {"spell_ref": SPELL, "ward_code": "W12"},
    # nhs.rostering.v1
    "roster_published": {
        "unit_code": "SAU_1",
        "period_start": "2026-02-02",
        "period_end": "2026-03-01",
    },
    "shift_planned": {
        "shift_ref": SHIFT,
        "unit_code": "SAU_1",
        "staff_group": "registered_nurse",
        "starts_at": "2026-01-06T07:30:00Z",
        "ends_at": "2026-01-06T20:00:00Z",
    },
    "shift_filled": {"shift_ref": SHIFT, "fill_source": "agency", "hourly_rate_gbp": 62.5},
    "shift_unfilled": {"shift_ref": SHIFT},
    "shift_changed": {"shift_ref": SHIFT, "change": "swap"},
    "absence_reported": {
        "unit_code": "B10",
        "staff_group": "healthcare_support_worker",
        "notice_hours": 3.5,
        "reason_category": "sickness",
        "shift_ref": SHIFT,
    },
    # nhs.referrals.v1
    "referral_received": {
        "referral_ref": REFERRAL,
        "specialty_code": "430",
        "priority": "routine",
        "source": "gp",
    },
    "referral_triaged": {"referral_ref": REFERRAL, "outcome": "accepted"},
    "appointment_booked": {
        "referral_ref": REFERRAL,
        "appointment_at": "2026-02-10T14:20:00+00:00",
        "attendance_type": "first",
    },
    "appointment_outcome": {"referral_ref": REFERRAL, "outcome": "did_not_attend"},
    "pathway_validated": {"referral_ref": REFERRAL, "result": "still_required"},
    "pathway_closed": {"referral_ref": REFERRAL, "reason": "treated"},
    # nhs.sitrep.v1 (site_code optional)
    "discharge_sitrep": {
        "report_date": "2026-01-04",
        "nctr_patients": 112,
        "discharged_total": 95,
        "discharged_by_1700": 31,
    },
    "bed_sitrep": {
        "period_start": "2026-01-04",
        "period": "day",
        "ga_beds_available": 880,
        "ga_beds_occupied": 861,
    },
    "delay_reasons_sitrep": {
        "period_start": "2025-12-29",
        "period": "week",
        "counts": {"capacity_care_home_p3": 14, "hospital_medical_review": 3},
    },
}

#: event_type -> topic, written out so that tests do not take the routing from the code under test.
TOPICS: Final[dict[str, str]] = {
    **dict.fromkeys(
        ["admission", "transfer", "ready_for_discharge", "discharge_delay", "discharge"],
        "nhs.bedflow.v1",
    ),
    "ward_capacity": "nhs.bedflow.v1",
    **dict.fromkeys(
        ["admission_cancelled", "transfer_cancelled", "discharge_cancelled"], "nhs.bedflow.v1"
    ),
    **dict.fromkeys(
        ["roster_published", "shift_planned", "shift_filled", "shift_unfilled", "shift_changed"],
        "nhs.rostering.v1",
    ),
    "absence_reported": "nhs.rostering.v1",
    **dict.fromkeys(
        [
            "referral_received",
            "referral_triaged",
            "appointment_booked",
            "appointment_outcome",
            "pathway_validated",
            "pathway_closed",
        ],
        "nhs.referrals.v1",
    ),
    **dict.fromkeys(["discharge_sitrep", "bed_sitrep", "delay_reasons_sitrep"], "nhs.sitrep.v1"),
}

EVENT_TYPES: Final = tuple(_PAYLOADS)


def example(event_type: str, /, **changes: Any) -> dict[str, Any]:
    """A fresh valid event of ``event_type`` (with ``changes`` applied on top)."""
    event = {**copy.deepcopy(_ENVELOPE), "event_type": event_type}
    event.update(copy.deepcopy(_PAYLOADS[event_type]))
    event.update(changes)
    return event


def all_examples() -> list[dict[str, Any]]:
    return [example(event_type) for event_type in EVENT_TYPES]
