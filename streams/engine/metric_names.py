"""Every metric the engine emits, in one place: name -> what it measures.

These names are product surface (``scope_metrics.metric`` in Postgres, the ``metric`` label of
``opsradar_scope_metric`` in Prometheus). Site scopes evaluate them every event-time hour from
event-level data; sitrep scopes at every report date from the national aggregates (same name, same
meaning; ``discharged_by_1700_share_7d`` and ``discharges_per_occupied_bed_7d`` exist only
there). Windows end at the evaluation time.
"""

from __future__ import annotations

from typing import Final

BEDFLOW_METRICS: Final[dict[str, str]] = {
    "occupied_beds": "open spells (patients in a bed) at the evaluation time",
    "open_beds": "sum of the latest beds_open + beds_escalation of every ward",
    "bed_occupancy_ratio": "occupied beds / open beds at the evaluation time",
    "bed_occupancy_ratio_24h": "mean hourly occupied / mean hourly open beds over 24 h",
    "nctr_patients": "patients not meeting the criteria to reside (ready for discharge, still in)",
    "nctr_share": "NCTR patients / occupied beds at the evaluation time",
    "nctr_share_7d": "mean hourly NCTR patients / mean hourly occupied beds over 7 days",
    "discharges_7d": "discharges over 7 days",
    "discharges_per_nctr_patient_7d": "discharges of NCTR patients / NCTR patient-days, 7 days",
    "discharge_before_noon_share_7d": "discharges before 12:00 UK time / discharges, the 7 UK "
    "days back to the same clock time (a full week of data only)",
    "weekend_weekday_discharge_ratio_7d": "mean discharges per weekend day / per weekday, "
    "the last 7 whole UK days",
    "weekend_weekday_discharge_ratio_28d": "mean discharges per weekend day / per weekday, "
    "the last 28 whole UK days (site scopes; the trigger's metric there)",
    "delay_share_discharge_documentation": "NCTR patients whose latest delay is "
    "hospital_discharge_documentation / NCTR patients",
    "delay_share_patient_transport": "latest delay hospital_patient_transport / NCTR patients",
    "delay_share_care_transfer_hub": "latest delay hospital_hub_referral or hub_* / NCTR patients",
    "delay_patients_discharge_documentation": "NCTR patients delayed by discharge documentation",
    "delay_patients_patient_transport": "NCTR patients delayed by patient transport",
    "delay_patients_care_transfer_hub": "NCTR patients delayed by care transfer hub reasons",
    **{
        f"bed_occupancy_forecast_{h}h{suffix}": f"{what} of the occupancy ratio {h} h ahead "
        "(flow balance by hour of the week from the current census: streams/engine/forecast.py)"
        for h in (24, 72)
        for suffix, what in (
            ("", "forecast"),
            ("_low", "80% interval, low end"),
            ("_high", "80% interval, high end"),
        )
    },
}

SITREP_ONLY_METRICS: Final[dict[str, str]] = {
    "discharged_by_1700_share_7d": "discharged by 17:00 / discharged, 7 report days (to May 2023)",
    "discharges_per_occupied_bed_7d": "discharges a day / occupied G&A beds, 7 report days "
    "(sitrep scopes: under 0.04 the count is partial and discharges_per_nctr_patient_7d is not "
    "emitted)",
}

ROSTERING_METRICS: Final[dict[str, str]] = {
    "planned_shifts_7d": "shifts starting in the last 7 days (cancelled ones excluded)",
    "shift_unfilled_rate_7d": "unfilled / planned shifts starting in the last 7 days",
    "agency_fill_share_7d": "agency-filled / filled shifts starting in the last 7 days",
    "agency_hours_7d": "hours of agency-filled shifts starting in the last 7 days",
    "unfilled_hours_7d": "hours of unfilled shifts starting in the last 7 days",
    "mean_shift_hours_7d": "mean planned shift length, shifts starting in the last 7 days",
    "roster_lead_time_median_days": "median of period_start - publication over the last 4 rosters",
    "post_publication_changes_28d": "shift changes after publication over 28 days",
    "post_publication_change_rate_28d": "shift changes / shifts starting, 28 days",
    "short_notice_absences_14d": "absences reported with < 24 h notice over 14 days",
    "short_notice_absence_rate_14d": "short-notice absences / planned shifts, 14 days",
}

REFERRAL_METRICS: Final[dict[str, str]] = {
    "open_pathways": "referrals received and not yet closed",
    "long_wait_pathways": "open pathways waiting more than 18 weeks",
    "long_wait_share": "open pathways waiting > 18 weeks / open pathways",
    "validation_coverage_12w": "open pathways validated in the last 12 weeks / open pathways",
    "untriaged_referrals": "open referrals not yet triaged",
    "untriaged_over_7d_share": "untriaged referrals received > 7 days ago / untriaged referrals",
    "triage_latency_median_days_28d": "median received -> triaged (days), triaged in 28 days",
    "referrals_received_28d": "referrals received over 28 days",
    "pathways_closed_28d": "pathways closed (treated, discharged, triaged out, validated "
    "removed) over 28 days",
    "referral_inflow_closure_ratio_28d": "referrals received / pathways closed, 28 days",
    "appointment_outcomes_28d": "attended + did-not-attend outcomes over 28 days",
    "dna_28d": "did-not-attend outcomes over 28 days",
    "dna_rate_28d": "did not attend / (attended + did not attend), 28 days",
}

ED_METRICS: Final[dict[str, str]] = {
    "ed_in_department": "attendances in the department (arrived, not departed) now",
    "ed_awaiting_admission": "attendances in the department with a decision to admit",
    "ed_attendances_7d": "arrivals over 7 days",
    "ed_departures_7d": "departures over 7 days of attendances whose arrival was seen",
    "ed_4h_share_7d": "departures within 4 h of arrival / departures, 7 days",
    "ed_4h_share_non_admitted_7d": "the same for departures not admitted, 7 days",
    "ed_12h_share_7d": "departures over 12 h from arrival / departures, 7 days",
    "ed_over_12h_7d": "departures over 12 h from arrival, 7 days",
    "handovers_7d": "ambulance handovers over 7 days",
    "handovers_over_30m_7d": "handovers over 30 min after the ambulance arrived, 7 days",
    "handovers_over_45m_7d": "handovers over 45 min (the 2025/26 maximum), 7 days",
    "handover_over_30m_share_7d": "handovers over 30 min / handovers, 7 days",
    "handover_over_45m_share_7d": "handovers over 45 min / handovers, 7 days",
    "handover_median_minutes_7d": "median minutes from ambulance arrival to handover, 7 days",
    "handover_minutes_over_45_7d": "minutes beyond 45 of every handover, summed over 7 days",
    "trolley_waits_4h_7d": "departures over 4 h after a decision to admit, 7 days",
    "trolley_waits_12h_7d": "departures over 12 h after a decision to admit, 7 days",
    "trolley_wait_4h_share_7d": "over 4 h from decision to admit / departures after one, 7 days",
    "trolley_wait_12h_share_7d": "over 12 h from decision to admit / departures after one, 7 days",
    "trolley_wait_hours_over_4h_7d": "hours beyond 4 from decision to admit to departure, "
    "summed over 7 days",
}

#: trust scopes, from NHS England's monthly A&E statistics (``ae_sitrep``), per month
AE_SITREP_METRICS: Final[dict[str, str]] = {
    "ed_attendances": "A&E attendances in the month (all department types)",
    "ed_4h_share": "attendances within 4 h of arrival / attendances, the month",
    "trolley_wait_4h_share": "emergency admissions waiting over 4 h from decision to admit / "
    "emergency admissions, the month",
}

QUALITY_METRICS: Final[dict[str, str]] = {
    f"data_quality_{domain}": f"data quality of the scope's {label} feed: 0 warming_up, 1 ok, "
    "2 gap, 3 recovering (streams/engine/quality.py)"
    for domain, label in (
        ("bed_flow", "bed-flow"),
        ("rostering", "rostering"),
        ("referrals", "referral"),
        ("ed", "urgent and emergency care"),
    )
}

ALL_METRICS: Final[dict[str, str]] = {
    **BEDFLOW_METRICS,
    **SITREP_ONLY_METRICS,
    **ROSTERING_METRICS,
    **REFERRAL_METRICS,
    **ED_METRICS,
    **AE_SITREP_METRICS,
    **QUALITY_METRICS,
}
