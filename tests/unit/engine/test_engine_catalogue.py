"""The catalogue: 16 kinds with derivations, and per-scope overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.catalogue import CatalogueError, load_catalogue

KINDS = {
    "discharge_documentation_automation",
    "transport_booking_automation",
    "care_transfer_referral_automation",
    "discharge_coordination",
    "discharge_timing_prediction",
    "capacity_forecasting",
    "roster_optimisation",
    "auto_rostering",
    "absence_backfill_automation",
    "referral_triage_automation",
    "waiting_list_validation",
    "dna_reduction",
    "demand_capacity_planning",
    "ambulance_handover_automation",
    "ed_demand_forecasting",
    "ed_bed_allocation",
}


@pytest.mark.unit
def test_defaults_cover_the_16_kinds_each_with_a_derivation() -> None:
    catalogue = load_catalogue()
    assert set(catalogue.kinds) == KINDS
    assert catalogue.version
    for spec in catalogue.kinds.values():
        assert spec.conditions and spec.intervention and spec.impact_formula
        for condition in (*spec.conditions, *spec.gates):
            assert len(condition.derivation) > 20, condition.name
    lifecycle = catalogue.lifecycle
    assert (lifecycle.hysteresis_ratio, lifecycle.resolve_after_evaluations) == (0.9, 3)
    assert catalogue.kinds["roster_optimisation"].impact["agency_premium_gbp_per_hour"] == 25
    assert catalogue.kinds["dna_reduction"].impact == {"avoided_share": 0.3, "gbp_per_slot": 120}


@pytest.mark.unit
def test_site_overrides_apply_after_trust_overrides(tmp_path: Path) -> None:
    default = load_catalogue().kinds["discharge_coordination"].conditions[0].threshold
    trust_line, site_line = round(default + 0.04, 2), round(default + 0.07, 2)
    path = tmp_path / "trust.toml"
    path.write_text(
        '[scopes."RJ1".discharge_coordination]\n'
        f"nctr_share_threshold = {trust_line}\npersistence_hours = 36\n"
        f'[scopes."RJ122".discharge_coordination]\nnctr_share_threshold = {site_line}\n'
        '[scopes."RJ122".roster_optimisation]\nagency_premium_gbp_per_hour = 30\n'
        '[scopes."RJ122".lifecycle]\nhysteresis_ratio = 0.8\n'
    )
    catalogue = load_catalogue(path)
    site = catalogue.for_scope("RJ1", "RJ122")
    other = catalogue.for_scope("RJ1", "RJ133")
    plain = catalogue.for_scope("RAJ", None)
    coordination = site.kinds["discharge_coordination"]
    assert coordination.conditions[0].threshold == site_line
    assert coordination.persistence_hours == 36  # inherited from the trust
    assert other.kinds["discharge_coordination"].conditions[0].threshold == trust_line
    assert plain.kinds["discharge_coordination"].conditions[0].threshold == default
    assert site.kinds["roster_optimisation"].impact["agency_premium_gbp_per_hour"] == 30
    assert site.lifecycle.hysteresis_ratio == 0.8 and plain.lifecycle.hysteresis_ratio == 0.9


@pytest.mark.unit
def test_yaml_overrides(tmp_path: Path) -> None:
    path = tmp_path / "trust.yaml"
    path.write_text("scopes:\n  RJ1:\n    dna_reduction:\n      dna_threshold: 0.1\n")
    assert (
        load_catalogue(path).for_scope("RJ1", None).kinds["dna_reduction"].conditions[0].threshold
        == 0.1
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        '[scopes."RJ1".discharge_coordination]\nnctr_shar_threshold = 0.4\n',
        '[scopes."RJ1".no_such_kind]\nx = 1\n',
        '[scopes."RJ1".lifecycle]\nhysteresis = 0.8\n',
        "[kinds.dna_reduction]\ndna_threshold = 0.1\n",
    ],
)
def test_typos_are_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CatalogueError):
        load_catalogue(path)
