"""Weekly impact estimates per kind: bed-days, staff hours and £, with their inputs.

Each formula is the catalogue's ``impact_formula`` text for the kind; the parameters are the
kind's ``impact`` assumptions (overridable per scope). Inputs missing at a scope (e.g. sitreps
carry no shift data) count as 0, and the evidence says which inputs were present. No bed-day cost
is assumed: £ appear only where the catalogue gives a price (agency premium, DNA slot).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from streams.engine.readings import Reading


class Impact(NamedTuple):
    bed_days: float
    staff_hours: float
    gbp: float
    inputs: dict[str, Any]


Formula = Callable[[Mapping[str, Reading], Mapping[str, float]], Impact]


def _get(readings: Mapping[str, Reading], name: str) -> float:
    reading = readings.get(name)
    return 0.0 if reading is None else float(reading.value)


def _inputs(readings: Mapping[str, Reading], *names: str) -> dict[str, Any]:
    return {name: (None if name not in readings else readings[name].value) for name in names}


def _none(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    return Impact(0.0, 0.0, 0.0, {})


def _delay_reason(group: str, minutes_key: str | None, per: str) -> Formula:
    def formula(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
        patients = _get(readings, f"delay_patients_{group}")
        hours = 0.0
        if minutes_key is not None:
            count = _get(readings, per)
            hours = count * params[minutes_key] / 60
        return Impact(patients * 7, hours, 0.0, _inputs(readings, f"delay_patients_{group}", per))

    return formula


def _coordination(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    excess = _get(readings, "nctr_patients") - params["nctr_share_line"] * _get(
        readings, "occupied_beds"
    )
    inputs = _inputs(readings, "nctr_patients", "occupied_beds")
    return Impact(max(0.0, excess) * 7, 0.0, 0.0, inputs)


def _timing(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    share = readings.get("discharge_before_noon_share_7d")
    gap = 0.0 if share is None else max(0.0, params["target_before_noon_share"] - share.value)
    moved = _get(readings, "discharges_7d") * gap
    bed_days = moved * params["hours_gained_per_moved_discharge"] / 24
    return Impact(
        bed_days, 0.0, 0.0, _inputs(readings, "discharges_7d", "discharge_before_noon_share_7d")
    )


def _roster(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    agency = _get(readings, "agency_hours_7d")
    return Impact(
        0.0,
        _get(readings, "unfilled_hours_7d"),
        agency * params["agency_premium_gbp_per_hour"],
        _inputs(readings, "agency_hours_7d", "unfilled_hours_7d"),
    )


def _auto_roster(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    weekly_changes = _get(readings, "post_publication_changes_28d") / 4
    return Impact(
        0.0,
        weekly_changes * params["change_minutes"] / 60,
        0.0,
        _inputs(readings, "post_publication_changes_28d"),
    )


def _absence(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    weekly = _get(readings, "short_notice_absences_14d") / 2
    return Impact(
        0.0,
        weekly * _get(readings, "mean_shift_hours_7d"),
        0.0,
        _inputs(readings, "short_notice_absences_14d", "mean_shift_hours_7d"),
    )


def _triage(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    weekly = _get(readings, "referrals_received_28d") / 4
    return Impact(
        0.0,
        weekly * params["minutes_saved_per_referral"] / 60,
        0.0,
        _inputs(readings, "referrals_received_28d"),
    )


def _validation(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    long_wait = _get(readings, "long_wait_pathways")
    coverage = _get(readings, "validation_coverage_12w")
    # Long waiters not validated in 12 weeks, approximated with the list-wide coverage.
    unvalidated = long_wait * max(0.0, 1.0 - coverage)
    hours = unvalidated * params["validation_minutes"] / 60 / params["validation_cycle_weeks"]
    inputs = _inputs(readings, "long_wait_pathways", "validation_coverage_12w")
    inputs["pathways_removable"] = round(long_wait * params["removable_share"], 1)
    return Impact(0.0, hours, 0.0, inputs)


def _dna(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    avoided = _get(readings, "dna_28d") / 4 * params["avoided_share"]
    inputs = _inputs(readings, "dna_28d")
    inputs["dnas_avoided_per_week"] = round(avoided, 2)
    return Impact(0.0, 0.0, avoided * params["gbp_per_slot"], inputs)


def _demand(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    growth = (_get(readings, "referrals_received_28d") - _get(readings, "pathways_closed_28d")) / 4
    inputs = _inputs(readings, "referrals_received_28d", "pathways_closed_28d")
    inputs["open_pathway_growth_per_week"] = round(growth, 2)
    return Impact(0.0, 0.0, 0.0, inputs)


def _handover(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    ambulance_hours = _get(readings, "handover_minutes_over_45_7d") / 60
    inputs = _inputs(readings, "handover_minutes_over_45_7d", "handovers_7d")
    inputs["ambulance_hours_released_per_week"] = round(ambulance_hours, 2)
    return Impact(0.0, ambulance_hours * params["crew_size"], 0.0, inputs)


def _ed_demand(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    non_admitted = readings.get("ed_4h_share_non_admitted_7d")
    departures = _get(readings, "ed_departures_7d")
    # non-admitted departures over 4 h: (1 - their 4-hour share) x their count, which is the
    # share's sample; a trust scope's monthly statistics carry no such split: all its
    # attendances over 4 h a week, an upper bound (``Sitrep.context``)
    if non_admitted is not None:
        over = (1 - non_admitted.value) * non_admitted.sample
        inputs = _inputs(readings, "ed_4h_share_non_admitted_7d", "ed_departures_7d")
        inputs["non_admitted_over_4h_per_week"] = round(over, 1)
    else:
        over = _get(readings, "ed_over_4h_per_week")
        inputs = _inputs(readings, "ed_over_4h_per_week", "ed_departures_7d")
    inputs["departures_per_week"] = departures
    return Impact(0.0, over * params["escalation_minutes"] / 60, 0.0, inputs)


def _bed_allocation(readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    if "trolley_wait_hours_over_4h_7d" not in readings and "trolley_waits_4h_per_week" in readings:
        # a trust scope: the month's count of waits over 4 h, a week; their hours are unknown
        return Impact(0.0, 0.0, 0.0, _inputs(readings, "trolley_waits_4h_per_week"))
    inputs = _inputs(readings, "trolley_wait_hours_over_4h_7d", "trolley_waits_4h_7d")
    inputs["patient_hours_in_department_per_week"] = round(
        _get(readings, "trolley_wait_hours_over_4h_7d"), 1
    )
    return Impact(0.0, 0.0, 0.0, inputs)


FORMULAS: dict[str, Formula] = {
    "capacity_forecasting": _none,
    "discharge_documentation_automation": _delay_reason(
        "discharge_documentation", "summary_minutes", "discharges_7d"
    ),
    "transport_booking_automation": _delay_reason("patient_transport", None, "discharges_7d"),
    "care_transfer_referral_automation": _delay_reason(
        "care_transfer_hub", "referral_minutes", "delay_patients_care_transfer_hub"
    ),
    "discharge_coordination": _coordination,
    "discharge_timing_prediction": _timing,
    "roster_optimisation": _roster,
    "auto_rostering": _auto_roster,
    "absence_backfill_automation": _absence,
    "referral_triage_automation": _triage,
    "waiting_list_validation": _validation,
    "dna_reduction": _dna,
    "demand_capacity_planning": _demand,
    "ambulance_handover_automation": _handover,
    "ed_demand_forecasting": _ed_demand,
    "ed_bed_allocation": _bed_allocation,
}


def estimate(kind: str, readings: Mapping[str, Reading], params: Mapping[str, float]) -> Impact:
    formula = FORMULAS.get(kind, _none)
    impact = formula(readings, params)
    return Impact(
        round(impact.bed_days, 2), round(impact.staff_hours, 2), round(impact.gbp, 2), impact.inputs
    )
