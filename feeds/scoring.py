"""Score detected opportunity episodes (``opsradar analyse --json``) against injected truth.

Matching rule. An episode *detects* at its first status time, the earlier of
``first_emerging_at`` and ``first_active_at``. It matches an injection with the same
(trust, site, kind) when it detects between the injection's onset and ``until_at`` plus a grace
period equal to the kind's lookback (:data:`LOOKBACK`): a metric over a 28-day window keeps seeing
the cause for up to 28 days after it stops, and a detection then is still the injected one.
An episode that detects before the onset is not a match (it did not see the cause).

- precision = matching episodes / all episodes (every episode reached emerging or active);
- recall = injections matched by at least one episode / all injections;
- delays are from the onset to the first matching episode's ``first_emerging_at`` and to its
  ``first_active_at``, in hours (median and 90th percentile over the injections that got there).

Episodes that detect before the truth file's ``period.start`` are left out (and counted): the
simulator's prelude (a census replay, rosters published earlier, the starting waiting list) is not
a complete history, so metrics there say nothing about the detector.

Feed gaps. The truth file's ``quirks`` (:mod:`feeds.simulator.quirks`) record how the feeds were
delivered. Three of them are *gaps*, a stretch in which a site's data in a domain is incomplete:
``feed_gap`` (every domain of the site), ``event_type_gap`` (the domain of the silent event type)
and ``connected_mid_stream`` (every domain, from the period start to the connection). A kind's
domain is its catalogue ``domain``. What a gap hides is neither a detection nor a miss:

- an injection is **masked** when more than half of [onset, until] is covered by gaps in its
  kind's domain at its site: it leaves the recall denominator (listed in ``masked``), and an
  episode that matches only masked injections counts neither way. A mid-stream connection
  covers up to the connection plus the kind's lookback: what was open before it (the census,
  the waiting list, rosters published weeks ahead) is never sent, so until the kind's window
  holds only later data the cause is invisible;
- an episode that matches no unmasked injection is **excused** when it detects at a site and in a
  domain with a gap, between the gap's start and its end plus the kind's recovery period, equal to
  its lookback (:data:`LOOKBACK`: the window still holds the gap until it has passed): it leaves
  the precision denominator (listed in ``excused``). An episode that matches an unmasked injection
  is a detection even inside a gap.

Other quirks (resends, near-duplicates, updates coded after discharge, a source lagging hours
behind, clock changes) excuse nothing: a detector must cope with them.

``active_in_healthy_domains`` lists the false positives that went *active* in a (site, domain)
where nothing of that domain was injected: the alarms a trust team would be paged for.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from models.catalogue import default_catalogue_text

DAYS = timedelta(days=1)

#: the lookback of each kind's trigger (OPPORTUNITIES.md); the grace period after ``until_at``
LOOKBACK: Final[dict[str, timedelta]] = {
    # point-in-time shares of the NCTR patients: the delayed patients of the cause take about a
    # week to leave, so the share can stay up that long
    "discharge_documentation_automation": 7 * DAYS,
    "transport_booking_automation": 7 * DAYS,
    "care_transfer_referral_automation": 7 * DAYS,
    "discharge_coordination": 7 * DAYS,
    "discharge_timing_prediction": 7 * DAYS,
    "capacity_forecasting": 3 * DAYS,
    "roster_optimisation": 7 * DAYS,
    "auto_rostering": 28 * DAYS,
    "absence_backfill_automation": 14 * DAYS,
    "referral_triage_automation": 28 * DAYS,
    "waiting_list_validation": 84 * DAYS,
    "dna_reduction": 28 * DAYS,
    "demand_capacity_planning": 28 * DAYS,
    # 7-day windows of departures and handovers
    "ambulance_handover_automation": 7 * DAYS,
    "ed_demand_forecasting": 7 * DAYS,
    "ed_bed_allocation": 7 * DAYS,
}
DEFAULT_LOOKBACK: Final = 7 * DAYS


class ScoreInputError(ValueError):
    """A truth or opportunities file that cannot be read or lacks required fields."""


@dataclass(frozen=True, slots=True)
class _Injection:
    trust: str
    site: str | None
    kind: str
    onset: datetime
    until: datetime


GAP_KINDS: Final = ("feed_gap", "event_type_gap", "connected_mid_stream")
#: an injection more than this share of whose span lies in gaps is masked
MASKED_SHARE: Final = 0.5
ALL_DOMAINS: Final = "all"


@dataclass(frozen=True, slots=True)
class _Gap:
    kind: str
    trust: str
    site: str | None
    #: a catalogue domain, or ``all``
    domain: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class _Episode:
    trust: str
    site: str | None
    kind: str
    emerging: datetime | None
    active: datetime | None

    @property
    def detected(self) -> datetime:
        times = [t for t in (self.emerging, self.active) if t is not None]
        return min(times)


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _required_time(value: Any) -> datetime:
    when = _time(value)
    if when is None:
        raise ScoreInputError("an injection without onset_at/until_at")
    return when


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ScoreInputError(f"{path}: {error}") from error


def load_truth(path: Path) -> tuple[list[_Injection], datetime | None]:
    document = _load(path)
    try:
        injections = [
            _Injection(
                i["trust_code"],
                i.get("site_code"),
                i["kind"],
                _required_time(i["onset_at"]),
                _required_time(i["until_at"]),
            )
            for i in document["injected"]
        ]
    except (KeyError, TypeError) as error:
        raise ScoreInputError(f"{path}: not a truth file ({error!r})") from error
    start = _time((document.get("period") or {}).get("start"))
    return injections, start


def load_gaps(path: Path) -> list[_Gap]:
    """The truth file's gap quirks (none in a file written before quirks existed)."""
    document = _load(path)
    try:
        return [
            _Gap(
                q["kind"],
                q["trust_code"],
                q.get("site_code"),
                q.get("domain") or ALL_DOMAINS,
                _required_time(q["start_at"]),
                _required_time(q["end_at"]),
            )
            for q in document.get("quirks", ())
            if q.get("kind") in GAP_KINDS
        ]
    except (KeyError, TypeError, AttributeError) as error:
        raise ScoreInputError(f"{path}: a quirk without its fields ({error!r})") from error


@lru_cache(maxsize=1)
def kind_domains() -> dict[str, str]:
    """kind -> catalogue domain (``bed_flow``, ``rostering``, ``referrals``, ``ed``)."""
    raw = tomllib.loads(default_catalogue_text())
    return {kind: str(spec["domain"]) for kind, spec in raw["kinds"].items()}


def _gap_applies(gap: _Gap, trust: str, site: str | None, kind: str) -> bool:
    return (gap.trust, gap.site) == (trust, site) and gap.domain in (
        ALL_DOMAINS,
        kind_domains().get(kind),
    )


def _blind_until(gap: _Gap, kind: str) -> datetime:
    """Until when a gap hides an injection of ``kind``: its end; for a mid-stream connection,
    its end plus the kind's lookback (what was open before it is never sent: the census, the
    waiting list, the rosters published ahead, until the kind's window holds only later data)."""
    if gap.kind == "connected_mid_stream":
        return gap.end + LOOKBACK.get(kind, DEFAULT_LOOKBACK)
    return gap.end


def _masked(injection: _Injection, gaps: Sequence[_Gap]) -> bool:
    """More than :data:`MASKED_SHARE` of the injection's span lies in gaps of its domain."""
    spans = sorted(
        (max(g.start, injection.onset), min(_blind_until(g, injection.kind), injection.until))
        for g in gaps
        if _gap_applies(g, injection.trust, injection.site, injection.kind)
    )
    covered = timedelta(0)
    reach = injection.onset
    for begin, end in spans:
        begin = max(begin, reach)
        if end > begin:
            covered += end - begin
            reach = end
    length = injection.until - injection.onset
    return length > timedelta(0) and covered / length > MASKED_SHARE


def _excusing_gap(episode: _Episode, gaps: Sequence[_Gap]) -> _Gap | None:
    recovery = LOOKBACK.get(episode.kind, DEFAULT_LOOKBACK)
    for gap in gaps:
        if _gap_applies(gap, episode.trust, episode.site, episode.kind):
            if gap.start <= episode.detected <= gap.end + recovery:
                return gap
    return None


def load_episodes(path: Path) -> list[_Episode]:
    document = _load(path)
    rows = document.get("opportunities") if isinstance(document, Mapping) else document
    if not isinstance(rows, list):
        raise ScoreInputError(f"{path}: no 'opportunities' list")
    episodes = []
    for row in rows:
        episode = _Episode(
            row["trust_code"],
            row.get("site_code"),
            row["kind"],
            _time(row.get("first_emerging_at")),
            _time(row.get("first_active_at")),
        )
        if episode.emerging is not None or episode.active is not None:
            episodes.append(episode)
    return episodes


def _quantiles(hours: Sequence[float]) -> dict[str, float | int | None]:
    import pandas as pd

    if not hours:
        return {"median": None, "p90": None, "n": 0}
    series = pd.Series(hours, dtype="float64")
    return {
        "median": round(float(series.median()), 1),
        "p90": round(float(series.quantile(0.9)), 1),
        "n": len(hours),
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _matches(episode: _Episode, injection: _Injection) -> bool:
    if (episode.trust, episode.site, episode.kind) != (
        injection.trust,
        injection.site,
        injection.kind,
    ):
        return False
    grace = LOOKBACK.get(injection.kind, DEFAULT_LOOKBACK)
    return injection.onset <= episode.detected <= injection.until + grace


def score(
    injections: Sequence[_Injection],
    episodes: Sequence[_Episode],
    period_start: datetime | None = None,
    gaps: Sequence[_Gap] = (),
) -> dict[str, Any]:
    """The score document: overall precision/recall/delays, ``per_kind``, misses and extras
    (gaps, masked injections and excused episodes: the module's docstring)."""
    in_period = [e for e in episodes if period_start is None or e.detected >= period_start]
    masked = [i for i in injections if _masked(i, gaps)]
    live = [i for i in injections if i not in masked]
    kinds = sorted({i.kind for i in injections} | {e.kind for e in in_period})
    per_kind: dict[str, dict[str, Any]] = {
        k: {
            "injected": 0,
            "detected": 0,
            "matched_episodes": 0,
            "matched_injections": 0,
            "masked": 0,
            "excused": 0,
            "_emerging": [],
            "_active": [],
        }
        for k in kinds
    }
    considered: list[_Episode] = []
    excused: list[dict[str, Any]] = []
    for episode in in_period:
        if not any(_matches(episode, i) for i in live):
            gap = _excusing_gap(episode, gaps)
            hidden = any(_matches(episode, i) for i in masked)
            if hidden or gap is not None:
                per_kind[episode.kind]["excused"] += 1
                excused.append(
                    {
                        "trust_code": episode.trust,
                        "site_code": episode.site,
                        "kind": episode.kind,
                        "detected_at": episode.detected.isoformat(),
                        "by": "masked injection" if hidden or gap is None else gap.kind,
                    }
                )
                continue
        considered.append(episode)
    matched_episode = [any(_matches(e, i) for i in live) for e in considered]
    for episode, ok in zip(considered, matched_episode, strict=True):
        per_kind[episode.kind]["detected"] += 1
        per_kind[episode.kind]["matched_episodes"] += int(ok)
    for injection in masked:
        per_kind[injection.kind]["masked"] += 1
    missed = []
    all_emerging: list[float] = []
    all_active: list[float] = []
    for injection in live:
        entry = per_kind[injection.kind]
        entry["injected"] += 1
        hits = [e for e in considered if _matches(e, injection)]
        if not hits:
            missed.append(
                {
                    "trust_code": injection.trust,
                    "site_code": injection.site,
                    "kind": injection.kind,
                    "onset_at": injection.onset.isoformat(),
                }
            )
            continue
        entry["matched_injections"] += 1
        emerging = [e.emerging for e in hits if e.emerging is not None]
        active = [e.active for e in hits if e.active is not None]
        if emerging:
            hours = max(0.0, (min(emerging) - injection.onset).total_seconds() / 3600)
            entry["_emerging"].append(hours)
            all_emerging.append(hours)
        if active:
            hours = max(0.0, (min(active) - injection.onset).total_seconds() / 3600)
            entry["_active"].append(hours)
            all_active.append(hours)
    for entry in per_kind.values():
        entry["precision"] = _ratio(entry["matched_episodes"], entry["detected"])
        entry["recall"] = _ratio(entry["matched_injections"], entry["injected"])
        entry["delay_to_emerging_hours"] = _quantiles(entry.pop("_emerging"))
        entry["delay_to_active_hours"] = _quantiles(entry.pop("_active"))
    false_positives = [
        {
            "trust_code": e.trust,
            "site_code": e.site,
            "kind": e.kind,
            "detected_at": e.detected.isoformat(),
        }
        for e, ok in zip(considered, matched_episode, strict=True)
        if not ok
    ]
    domains = kind_domains()
    injected_domains = {(i.trust, i.site, domains.get(i.kind)) for i in injections}
    healthy_active = [
        {
            "trust_code": e.trust,
            "site_code": e.site,
            "kind": e.kind,
            "active_at": e.active.isoformat(),
        }
        for e, ok in zip(considered, matched_episode, strict=True)
        if not ok
        and e.active is not None
        and (e.trust, e.site, domains.get(e.kind)) not in injected_domains
    ]
    return {
        "precision": _ratio(sum(matched_episode), len(considered)),
        "recall": _ratio(
            sum(1 for i in live if any(_matches(e, i) for e in considered)), len(live)
        ),
        "delay_to_emerging_hours": _quantiles(all_emerging),
        "delay_to_active_hours": _quantiles(all_active),
        "injected": len(live),
        "detected": len(considered),
        "excluded_before_period": len(episodes) - len(in_period),
        "masked_injections": len(masked),
        "excused_episodes": len(excused),
        "gaps": len(gaps),
        "per_kind": per_kind,
        "missed": missed,
        "false_positives": false_positives,
        "active_in_healthy_domains": healthy_active,
        "masked": [
            {
                "trust_code": i.trust,
                "site_code": i.site,
                "kind": i.kind,
                "onset_at": i.onset.isoformat(),
            }
            for i in masked
        ],
        "excused": excused,
    }


def score_files(truth: Path, opportunities: Path) -> dict[str, Any]:
    injections, start = load_truth(truth)
    return score(injections, load_episodes(opportunities), start, load_gaps(truth))


def _cell(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def format_table(result: Mapping[str, Any]) -> str:
    """A fixed-width table for people: one row per kind and an overall row."""
    header = (
        f"{'kind':38} {'inj':>4} {'det':>4} {'prec':>6} {'recall':>6} "
        f"{'emerg h (med/p90)':>18} {'active h (med/p90)':>18}"
    )
    lines = [header, "-" * len(header)]

    def row(name: str, entry: Mapping[str, Any]) -> str:
        emerging = entry["delay_to_emerging_hours"]
        active = entry["delay_to_active_hours"]
        return (
            f"{name:38} {entry['injected']:>4} {entry['detected']:>4} "
            f"{_cell(entry['precision']):>6} {_cell(entry['recall']):>6} "
            f"{_cell(emerging['median'], 0) + '/' + _cell(emerging['p90'], 0):>18} "
            f"{_cell(active['median'], 0) + '/' + _cell(active['p90'], 0):>18}"
        )

    for kind, entry in sorted(result["per_kind"].items()):
        lines.append(row(kind, entry))
    lines.append("-" * len(header))
    lines.append(row("overall", result))
    healthy = len(result.get("active_in_healthy_domains", ()))
    if result.get("gaps") or healthy:
        lines.append(
            f"feed gaps {result.get('gaps', 0)}: masked injections "
            f"{result.get('masked_injections', 0)}, excused episodes "
            f"{result.get('excused_episodes', 0)}; active false alarms in healthy domains {healthy}"
        )
    return "\n".join(lines)


def format_markdown(result: Mapping[str, Any]) -> str:
    """The README's table: one row per kind, an overall row, then what the gaps hid."""

    def delays(entry: Mapping[str, Any], name: str) -> str:
        value = entry[name]
        return f"{_cell(value['median'], 0)} / {_cell(value['p90'], 0)}"

    def row(name: str, entry: Mapping[str, Any]) -> str:
        cells = (
            name,
            str(entry["injected"]),
            str(entry["detected"]),
            _cell(entry["precision"]),
            _cell(entry["recall"]),
            delays(entry, "delay_to_emerging_hours"),
            delays(entry, "delay_to_active_hours"),
        )
        return "| " + " | ".join(cells) + " |"

    lines = [
        "| kind | injected | detected | precision | recall | to emerging (median / p90 h) "
        "| to active (median / p90 h) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [row(kind, entry) for kind, entry in sorted(result["per_kind"].items())]
    overall = row("**overall**", result).split(" | ")
    overall[1:5] = [f"**{cell}**" for cell in overall[1:5]]
    lines.append(" | ".join(overall))
    lines.append("")
    lines.append(
        f"Feed gaps: {result.get('gaps', 0)}; injections masked by them: "
        f"{result.get('masked_injections', 0)}; episodes excused: "
        f"{result.get('excused_episodes', 0)}; active false alarms in healthy domains: "
        f"{len(result.get('active_in_healthy_domains', ()))}."
    )
    return "\n".join(lines)
