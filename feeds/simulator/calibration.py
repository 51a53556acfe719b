"""Numbers the simulator is calibrated to, with where each comes from.

Delay reasons: the national mix of patients delayed, by reason, summed over every trust-month of
``discharge_delay_reasons_monthly_by_trust.csv.gz`` (2024-06 -> 2025-05). A healthy site differs
from the national sum in two places on purpose: the published *median* trust reports no
documentation delays (the national share, 1.8 %, comes from a minority of trusts) and transport
delays sit near the 90th percentile's 5 % in few trusts, so healthy sites use 0.1 % for each, well
under the 5 % triggers; hub reasons are 10 % (published quartiles 6 % / 23 %), clear of 30 % and
of the 24 % from which the engine starts to call a rising share *emerging*.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from models.events import DelayReason

NATIONAL_REASON_MIX: Final[dict[DelayReason, float]] = {
    "capacity_bed_rehab_p2": 0.0999,
    "capacity_care_home_p3": 0.0854,
    "hub_care_needs_pathway": 0.0824,
    "interface_care_home_p3": 0.0707,
    "interface_bed_rehab_p2": 0.0597,
    "hospital_therapy_review": 0.0535,
    "capacity_home_rehab_p1": 0.0499,
    "interface_home_social_care_p1": 0.0480,
    "interface_home_rehab_p1": 0.0384,
    "hospital_hub_referral": 0.0375,
    "hospital_medical_review": 0.0356,
    "hub_referrals": 0.0355,
    "hospital_decision_to_discharge": 0.0321,
    "capacity_home_social_care_p1": 0.0270,
    "interface_out_of_area": 0.0200,
    "capacity_equipment": 0.0191,
    "hospital_discharge_documentation": 0.0180,
    "capacity_home_community_health_p1": 0.0157,
    "capacity_end_of_life": 0.0152,
    "wellbeing_destination_readiness": 0.0152,
    "hospital_patient_transport": 0.0133,
    "wellbeing_mental_capacity": 0.0132,
    "wellbeing_safeguarding": 0.0130,
    "interface_end_of_life": 0.0129,
    "wellbeing_family_concerns": 0.0107,
    "hub_funding_eligibility": 0.0087,
    "interface_self_funded_care": 0.0087,
    "interface_family_choice": 0.0083,
    "interface_housing_p0_1": 0.0082,
    "capacity_housing_adaptations": 0.0081,
    "capacity_restart_social_care_p0": 0.0074,
    "interface_provider_action": 0.0062,
    "capacity_housing_p0_1": 0.0061,
    "capacity_mental_health_bed_p2": 0.0058,
    "interface_home_community_health_p1": 0.0040,
    "hospital_infection_control": 0.0037,
    "interface_no_recourse_public_funds": 0.0031,
}

DOCUMENTATION: Final = "hospital_discharge_documentation"
TRANSPORT: Final = "hospital_patient_transport"
#: the reasons OPPORTUNITIES.md counts for care_transfer_referral_automation
HUB_REASONS: Final[frozenset[str]] = frozenset(
    {"hospital_hub_referral", "hub_care_needs_pathway", "hub_referrals", "hub_funding_eligibility"}
)

HEALTHY_DOCUMENTATION_SHARE: Final = 0.001
HEALTHY_TRANSPORT_SHARE: Final = 0.001
HEALTHY_HUB_SHARE: Final = 0.10
#: shares while a scenario runs (triggers: 5 %, 5 %, 30 %)
SCENARIO_DOCUMENTATION_SHARE: Final = 0.15
SCENARIO_TRANSPORT_SHARE: Final = 0.15
SCENARIO_HUB_SHARE: Final = 0.50


@lru_cache(maxsize=8)
def reason_weights(
    documentation: bool, transport: bool, hub: bool
) -> tuple[tuple[DelayReason, ...], tuple[float, ...]]:
    """(reasons, cumulative weights) with the three watched shares pinned, the rest national."""
    pinned: dict[str, float] = {
        DOCUMENTATION: SCENARIO_DOCUMENTATION_SHARE
        if documentation
        else HEALTHY_DOCUMENTATION_SHARE,
        TRANSPORT: SCENARIO_TRANSPORT_SHARE if transport else HEALTHY_TRANSPORT_SHARE,
    }
    hub_total = SCENARIO_HUB_SHARE if hub else HEALTHY_HUB_SHARE
    national: dict[str, float] = {str(r): w for r, w in NATIONAL_REASON_MIX.items()}
    national_hub = sum(national[r] for r in HUB_REASONS)
    for reason in HUB_REASONS:
        pinned[reason] = national[reason] * hub_total / national_hub
    rest = {r: w for r, w in national.items() if r not in pinned}
    rest_scale = (1.0 - sum(pinned.values())) / sum(rest.values())
    weights: dict[str, float] = {**{r: w * rest_scale for r, w in rest.items()}, **pinned}
    reasons = tuple(sorted(weights))  # a fixed order keeps draws reproducible
    cumulative: list[float] = []
    total = 0.0
    for reason in reasons:
        total += weights[reason]
        cumulative.append(total)
    return reasons, tuple(cumulative)  # type: ignore[return-value]
