"""Compute the real-data spreads behind the catalogue defaults (``models/catalogue.toml``).

Reads NHS England's published statistics in ``shared/data/nhs-published/`` and prints, per metric,
the percentiles the catalogue quotes next to each default, plus the percentile at which the
default sits (the share of trust-periods it would flag). Run it again when the data files change
and update the ``derivation`` texts in the catalogue by hand: the numbers are evidence for a
human-chosen default, not an automatic fit. The defaults whose share is printed are read from the
catalogue itself. Since catalogue 2026.3 a default must also keep every kind but
``capacity_forecasting`` active at no more than 20% of trusts in any quarter of a whole-year
replay (``bench/calibrate_sitreps.py``): the percentiles here say where a line sits, the replay
says how many trusts it would page.

    .venv/bin/python scripts/derive_catalogue_defaults.py [DATA_DIR]
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pandas as pd

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "nhs-published"
CATALOGUE = tomllib.loads(
    (Path(__file__).resolve().parents[1] / "models" / "catalogue.toml").read_text()
)


def _default(kind: str, condition: str) -> float:
    """The catalogue's threshold for ``condition`` of ``kind``."""
    spec = CATALOGUE["kinds"][kind]
    for rule in (*spec.get("conditions", ()), *spec.get("gates", ())):
        if rule["name"] == condition:
            return float(rule["threshold"])
    raise KeyError(f"{kind}.{condition}")


QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.8, 0.9, 0.95)


def _spread(values: pd.Series, default: float, flag_when: str) -> dict[str, object]:
    """Quantiles of ``values`` and the share of rows the default would flag."""
    values = values.replace([float("inf"), float("-inf")], pd.NA).dropna().astype(float)
    flagged = (values >= default) if flag_when == ">=" else (values < default)
    return {
        "rows": int(values.size),
        **{f"p{int(q * 100)}": round(float(values.quantile(q)), 3) for q in QUANTILES},
        "default": default,
        "flag_when": flag_when,
        "share_flagged": round(float(flagged.mean()), 3),
    }


def _daily(data: Path) -> pd.DataFrame:
    """NCTR and discharges per trust-day; zeros are 'not submitted' (README) and are dropped."""
    nctr = pd.read_csv(data / "nctr_daily_by_trust.csv.gz", parse_dates=["date"])
    dis = pd.read_csv(data / "discharges_daily_by_trust.csv.gz", parse_dates=["date"])
    daily = nctr.merge(dis, on=["nhs_trust22_code", "date"])
    daily = daily[daily["nhs_trust22_code"].notna()]
    keep = (daily["do_not_meet_criteria_to_reside"] > 0) & (daily["discharged_total"] > 0)
    return daily[keep].copy()


def _beds(data: Path) -> pd.DataFrame:
    beds = pd.read_csv(data / "beds_monthly_by_trust.csv.gz")
    beds["month"] = pd.to_datetime(beds["date"], format="%B %Y").dt.to_period("M")
    beds = beds[beds["general_acute_beds_occupied"] > 0]
    return beds[
        ["nhs_trust22_code", "month", "general_acute_beds_available", "general_acute_beds_occupied"]
    ]


def derive(data: Path) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    daily = _daily(data)
    daily["month"] = daily["date"].dt.to_period("M")
    monthly = (
        daily.groupby(["nhs_trust22_code", "month"])
        .agg(
            nctr=("do_not_meet_criteria_to_reside", "mean"),
            discharged=("discharged_total", "mean"),
            days=("date", "size"),
        )
        .reset_index()
    )
    monthly = monthly[monthly["days"] >= 20]
    beds = _beds(data)
    joined = monthly.merge(beds, on=["nhs_trust22_code", "month"])

    # discharge_coordination: NCTR share of occupied G&A beds, trust-months.
    out["nctr_share"] = _spread(
        joined["nctr"] / joined["general_acute_beds_occupied"],
        _default("discharge_coordination", "nctr_share"),
        ">=",
    )
    # discharge_coordination: NCTR discharges per NCTR patient per day, trust-months.
    out["discharges_per_nctr_patient"] = _spread(
        monthly["discharged"] / monthly["nctr"],
        _default("discharge_coordination", "discharge_rate"),
        "<",
    )
    # capacity_forecasting: G&A occupancy, trust-months.
    out["bed_occupancy_ratio"] = _spread(
        beds["general_acute_beds_occupied"] / beds["general_acute_beds_available"],
        _default("capacity_forecasting", "occupancy"),
        ">=",
    )

    # discharge_timing_prediction: weekend/weekday discharge rate over 7-day windows (trust-weeks).
    daily["weekend"] = daily["date"].dt.day_of_week >= 5
    daily["week"] = daily["date"].dt.to_period("W")
    weekly = (
        daily.groupby(["nhs_trust22_code", "week", "weekend"])["discharged_total"]
        .agg(["mean", "size"])
        .unstack("weekend")
    )
    complete = (weekly[("size", True)] == 2) & (weekly[("size", False)] == 5)
    weekly = weekly[complete]
    out["weekend_weekday_discharge_ratio"] = _spread(
        weekly[("mean", True)] / weekly[("mean", False)],
        _default("discharge_timing_prediction", "weekend_ratio"),
        "<",
    )
    # Only a 17:00 split is published (until May 2023); no before-noon figure exists nationally.
    timed = daily[daily["date"] < "2023-06-01"]
    out["discharged_by_1700_share"] = _spread(
        timed["discharged_by_1700"] / timed["discharged_total"],
        _default("discharge_timing_prediction", "before_noon"),
        "<",
    )

    # Delay-reason shares, trust-months (published wording mapped to the catalogue's groups).
    reasons = pd.read_csv(data / "discharge_delay_reasons_monthly_by_trust.csv.gz")
    reasons = reasons[reasons["nhs_trust22_code"].notna()]
    text = reasons["delay_reason"].str.lower()
    reasons["group"] = "other"
    reasons.loc[text.str.contains("discharge letter"), "group"] = "discharge_documentation"
    reasons.loc[text.str.contains("patient transport"), "group"] = "patient_transport"
    hub = text.str.startswith("care transfer hub") | text.str.contains(
        "referral to care transfer hub"
    )
    reasons.loc[hub, "group"] = "care_transfer_hub"
    per_month = reasons.pivot_table(
        index=["nhs_trust22_code", "date"], columns="group", values="delay_count", aggfunc="sum"
    ).fillna(0)
    total = per_month.sum(axis=1)
    per_month = per_month[total >= 20]
    total = total[total >= 20]
    out["delay_share_discharge_documentation"] = _spread(
        per_month["discharge_documentation"] / total,
        _default("discharge_documentation_automation", "documentation_share"),
        ">=",
    )
    out["delay_share_patient_transport"] = _spread(
        per_month["patient_transport"] / total,
        _default("transport_booking_automation", "transport_share"),
        ">=",
    )
    out["delay_share_care_transfer_hub"] = _spread(
        per_month["care_transfer_hub"] / total,
        _default("care_transfer_referral_automation", "hub_share"),
        ">=",
    )

    # Monthly A&E statistics, trust-months: the 4-hour share (>= 1,000 attendances, the months
    # with an over-4-hours count) and emergency admissions over 4 h from decision to admit
    # (>= 200 admissions).
    ae = pd.read_csv(data / "ae_monthly_by_trust.csv.gz")
    ae = ae[ae["nhs_trust22_code"].notna()]
    timed = ae[ae["attendances_over_4hours"].notna() & (ae["total_attendances"] >= 1000)]
    out["ed_4h_share"] = _spread(
        1 - timed["attendances_over_4hours"] / timed["total_attendances"], 0.78, "<"
    )
    admitted = ae[ae["total_emergency_admissions"] >= 200]
    out["trolley_wait_4h_share"] = _spread(
        admitted["emergency_admissions_over_4hours"] / admitted["total_emergency_admissions"],
        0.40,
        ">=",
    )
    return out


def main() -> int:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    sys.stdout.write(json.dumps(derive(data), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
