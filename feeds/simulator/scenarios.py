"""Named scenarios: each injects one catalogue kind at a site for a stretch of event time.

A scenario is named after its cause (``documentation_delays``), not the detector it should trip.
Onsets and durations are chosen so the kind's lookback fills (7-day means, 14- and 28-day windows)
and the trigger holds past the 24 h persistence, then the cause stops early enough that the metric
can fall back under 90 % of the threshold before the period ends (resolution), where the lookback
allows it in a 42-day run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feeds.simulator.ids import DAY
from feeds.simulator.layout import Site


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    kind: str
    #: what changes while it runs (for --help and the report)
    effect: str
    #: onset, in days after the period start, and how long the cause lasts
    onset_day: int
    duration_days: int


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "documentation_delays",
            "discharge_documentation_automation",
            "15% of new delays are awaiting TTOs/discharge letters (normally ~0.1%)",
            3,
            10,
        ),
        Scenario(
            "transport_shortage",
            "transport_booking_automation",
            "15% of new delays are awaiting patient transport (normally ~0.1%)",
            3,
            10,
        ),
        Scenario(
            "hub_referral_backlog",
            "care_transfer_referral_automation",
            "half of new delays are care transfer hub reasons (normally ~10%)",
            3,
            10,
        ),
        Scenario(
            "social_care_gridlock",
            "discharge_coordination",
            "patients ready for discharge wait ~3x longer (NCTR share ~0.45)",
            3,
            16,
        ),
        Scenario(
            "late_discharges",
            "discharge_timing_prediction",
            "next-day discharges leave in the afternoon (before-noon share ~15%)",
            3,
            12,
        ),
        Scenario(
            "winter_surge",
            "capacity_forecasting",
            "admissions run to hold ~97% occupancy (normally ~75%)",
            3,
            10,
        ),
        Scenario(
            "agency_reliance",
            "roster_optimisation",
            "16% of fills are agency and 6% of shifts go unfilled (normally ~2% / 2%)",
            3,
            12,
        ),
        Scenario(
            "roster_churn",
            "auto_rostering",
            "half of shifts are changed after publication (normally ~6%)",
            2,
            16,
        ),
        Scenario(
            "sickness_wave",
            "absence_backfill_automation",
            "14% of shifts see an absence, 80% of them with < 24 h notice",
            3,
            14,
        ),
        Scenario(
            "triage_backlog",
            "referral_triage_automation",
            "median received->triaged of new referrals ~10 days (normally ~1.5)",
            2,
            16,
        ),
        Scenario(
            "unvalidated_long_waits",
            "waiting_list_validation",
            "a long-waiting list (>18w share ~45%) whose 12-weekly validation stops",
            2,
            22,
        ),
        Scenario(
            "missed_appointments",
            "dna_reduction",
            "16% of appointments are DNAs (normally ~4.5%)",
            2,
            14,
        ),
        Scenario(
            "referral_surge",
            "demand_capacity_planning",
            "referrals arrive 1.6x faster than the service closes them",
            2,
            14,
        ),
        Scenario(
            "handover_delays",
            "ambulance_handover_automation",
            "ambulance handovers take a median ~35 min, ~33% over 45 min (normally 15 min / 3%)",
            3,
            12,
        ),
        Scenario(
            "ed_rota_mismatch",
            "ed_demand_forecasting",
            "non-admitted patients stay 1-7.5 h (~46% within 4 h, normally ~90%)",
            3,
            12,
        ),
        Scenario(
            "exit_block",
            "ed_bed_allocation",
            "decided admissions wait 2-12 h for a bed (~80% over 4 h, normally ~12%)",
            3,
            12,
        ),
    )
}

#: the default mix's order: alternating domains so a site's kinds rarely share a lever
DEFAULT_ORDER: tuple[str, ...] = (
    "documentation_delays",
    "agency_reliance",
    "missed_appointments",
    "transport_shortage",
    "roster_churn",
    "triage_backlog",
    "hub_referral_backlog",
    "sickness_wave",
    "referral_surge",
    "social_care_gridlock",
    "late_discharges",
    "unvalidated_long_waits",
    "winter_surge",
    "handover_delays",
    "ed_rota_mismatch",
    "exit_block",
)


@dataclass(frozen=True, slots=True)
class Injection:
    scenario: str
    kind: str
    trust_code: str
    site_code: str
    onset: int
    until: int


def plan_injections(
    sites: Sequence[Site], names: Sequence[str], start: int, days: int
) -> list[Injection]:
    """Spread the named scenarios over the sites, round robin, leaving about a third healthy.

    The last third of the sites (at least one, when there are two or more) gets nothing: the
    healthy controls that must stay clear of every trigger.
    """
    healthy = max(1, len(sites) // 3) if len(sites) > 1 else 0
    targets = list(sites[: len(sites) - healthy])
    injections: list[Injection] = []
    for number, name in enumerate(names):
        scenario = SCENARIOS[name]
        site = targets[number % len(targets)]
        # shorter runs scale the timing down; onset stays at least a day in
        onset_day = max(1, min(scenario.onset_day, days // 6))
        duration = max(1, min(scenario.duration_days, days - onset_day - 1))
        onset = start + onset_day * DAY
        injections.append(
            Injection(
                name, scenario.kind, site.trust_code, site.site_code, onset, onset + duration * DAY
            )
        )
    return injections


class Conditions:
    """Which scenarios hold at a site at an event time (a pure function of time)."""

    __slots__ = ("_spans",)

    def __init__(self, injections: Sequence[Injection]) -> None:
        self._spans: dict[str, list[tuple[int, int]]] = {}
        for injection in injections:
            self._spans.setdefault(injection.scenario, []).append(
                (injection.onset, injection.until)
            )

    def on(self, scenario: str, t: int) -> bool:
        spans = self._spans.get(scenario)
        if not spans:
            return False
        return any(onset <= t < until for onset, until in spans)

    def has(self, scenario: str) -> bool:
        return scenario in self._spans

    def span(self, scenario: str) -> tuple[int, int] | None:
        spans = self._spans.get(scenario)
        return spans[0] if spans else None
