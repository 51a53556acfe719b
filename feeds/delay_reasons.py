"""The national discharge sitrep's 37 delay-reason wordings, as published, mapped to contract slugs.

EVENTS.md says the published wording maps one to one onto the ``reason`` slugs. The published
files are not typographically clean (non-breaking spaces, a stray ``?`` where a space was, en dash
or hyphen after the group name, a missing space before a dash), so wordings are normalised before
the lookup; anything still unknown is an error, never a guess.
"""

# The table keeps each published wording on one line so it can be compared with the file by eye.
# ruff: noqa: E501

from __future__ import annotations

import re
from typing import Final, get_args

from models.events import DelayReason

#: normalised published wording -> slug (see :func:`normalise_wording`).
WORDING_TO_REASON: Final[dict[str, DelayReason]] = {
    "hospital process - awaiting therapy review of need for supported discharge": "hospital_therapy_review",
    "hospital process - awaiting medical review of need for supported discharge": "hospital_medical_review",
    "hospital process - awaiting referral to care transfer hub for supported discharge": "hospital_hub_referral",
    "hospital process - awaiting patient transport services": "hospital_patient_transport",
    "hospital process - awaiting medicines to take home, discharge letter or other discharge documentation": "hospital_discharge_documentation",
    "hospital process - remaining in hospital due to infection prevention and control restrictions": "hospital_infection_control",
    "hospital process - awaiting formal decision to discharge (inc diagnostic test results)": "hospital_decision_to_discharge",
    "wellbeing concerns - patient /family/carer concerns over discharge readiness": "wellbeing_family_concerns",
    "wellbeing concerns - patient/family/carer concerns over discharge readiness": "wellbeing_family_concerns",
    "wellbeing concerns - ongoing safeguarding concern": "wellbeing_safeguarding",
    "wellbeing concerns - awaiting determination of mental capacity": "wellbeing_mental_capacity",
    "wellbeing concerns - issues with discharge destination readiness": "wellbeing_destination_readiness",
    "care transfer hub process - waiting for confirmation of immediate care needs and pathway": "hub_care_needs_pathway",
    "care transfer hub process - awaiting necessary referrals by care transfer hub": "hub_referrals",
    "care transfer hub process - awaiting confirmation of funding eligibility": "hub_funding_eligibility",
    "interface process - home based rehabilitation, reablement or recovery service arrangements still underway (pathway 1)": "interface_home_rehab_p1",
    "interface process - other home-based social care service arrangements still underway (pathway 1)": "interface_home_social_care_p1",
    "interface process - other home-based community health service arrangements still underway (pathway 1)": "interface_home_community_health_p1",
    "interface process - housing provision arrangement for homelessness still underway (pathway 0 or 1)": "interface_housing_p0_1",
    "interface process - bed-based rehabilitation, reablement or recovery service arrangements still underway (pathway 2)": "interface_bed_rehab_p2",
    "interface process - residential/nursing home care arrangements still underway (pathway 3)": "interface_care_home_p3",
    "interface process - end of life care inc fast-track chc arrangement still underway (pathway 1 or 3)": "interface_end_of_life",
    "interface process - further action requested by agreed provider": "interface_provider_action",
    "interface process - homeless with no recourse to public funds": "interface_no_recourse_public_funds",
    "interface process - self-funded care package arrangements still underway": "interface_self_funded_care",
    "interface process - patient/family/carer choice discussions on package still underway": "interface_family_choice",
    "interface process - out of area discharge arrangements requested but not completed": "interface_out_of_area",
    "capacity - home-based rehabilitation, reablement or recovery services not yet available (pathway 1)": "capacity_home_rehab_p1",
    "capacity - other home-based social care service not yet available (pathway 1)": "capacity_home_social_care_p1",
    "capacity - other home-based community health services not yet available (pathway 1)": "capacity_home_community_health_p1",
    "capacity - housing provision not yet available (pathway 0 or 1)": "capacity_housing_p0_1",
    "capacity - bed-based rehabilitation, reablement or recovery services not yet available (pathway 2)": "capacity_bed_rehab_p2",
    "capacity - mental health admitted patient care not yet available (pathway 2)": "capacity_mental_health_bed_p2",
    "capacity - residential/nursing home care not yet available (pathway 3)": "capacity_care_home_p3",
    "capacity - end of life care inc fast-track chc not yet available (pathway 1 or 3)": "capacity_end_of_life",
    "capacity - housing adaptations not yet completed (pathway 1 or 3)": "capacity_housing_adaptations",
    "capacity - equipment and associated training not yet delivered (pathway 1-3)": "capacity_equipment",
    "capacity - awaiting restart of existing social care arrangements (pathway 0)": "capacity_restart_social_care_p0",
}


class UnknownDelayReason(ValueError):
    """A published wording that maps to no contract slug."""


def normalise_wording(text: str) -> str:
    """Lower case, plain spaces and hyphens, the group separated by `` - ``, no stray ``?``."""
    text = text.replace("\xa0", " ").replace("–", "-").replace("—", "-")
    # a '?' stands where the publisher's export lost a character (a space, or nothing at the end)
    text = text.replace("?(", " (").rstrip("?")
    text = re.sub(r"\s*-\s+", " - ", text)  # "process– Awaiting", "process - Awaiting"
    text = re.sub(r"\s+", " ", text).strip().lower()
    return text


def reason_for(wording: str) -> DelayReason:
    """The slug of a published wording; :class:`UnknownDelayReason` if it is not in the table."""
    try:
        return WORDING_TO_REASON[normalise_wording(wording)]
    except KeyError:
        # not quoted: a cell that is not a published wording may hold anything (a name, a note)
        raise UnknownDelayReason(
            "delay reason wording is not in WORDING_TO_REASON (feeds/delay_reasons.py)"
        ) from None


# every slug of the contract has at least one wording (checked at import: a typo fails loudly)
assert set(WORDING_TO_REASON.values()) == set(get_args(DelayReason))
