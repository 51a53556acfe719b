"""NHS England's published sitrep CSVs -> ``nhs.sitrep.v1`` events (pandas: this is bulk data).

Inputs are the files in ``shared/data/nhs-published/`` (plain or ``.gz``): the daily acute
discharge sitrep (NCTR patients; discharges, split by 17:00 until May 2023), the monthly UEC bed
sitrep averages, and the monthly delay-reason counts.

Decisions, so re-imports and replays are predictable:

- **Missing submissions.** A trust that did not submit shows ``0``, not a blank. In each trust's
  daily series (NCTR, discharges), a run of zeros with a non-zero value on at least one side is
  "not submitted"; a series that is zero throughout is kept as real zeros. A day whose NCTR count
  or discharge total is missing gets **no** ``discharge_sitrep``: both fields are required, and a
  fake 0 would drag the 7-day discharges-per-NCTR mean under its trigger.
- ``discharged_by_1700`` is sent only where the published split exists (until May 2023) and is
  no larger than the total.
- Monthly bed averages are rounded to whole beds; a month with no (or zero) G&A beds is skipped.
- ``occurred_at``: a daily sitrep at the last second of its report date (when the day's numbers
  are complete); a monthly one (beds, delay reasons) at the first second of its month. A monthly
  average describes every day of the month, and a replay must deliver it before those days are
  evaluated, or each day's NCTR share would be taken against the previous month's beds (and the
  first month of a replay would have none). ``event_id`` is a UUID5 of (trust, event type, date),
  so importing twice gives the same events and the engine drops repeats as duplicates.
- Rows whose trust code is ``NA`` (padding) or not an NHS trust code are skipped and counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from feeds.delay_reasons import reason_for
from feeds.jsonl_writer import EventWriter
from models.events import BedSitrep, DelayReason, DelayReasonsSitrep, DischargeSitrep, Event

if TYPE_CHECKING:
    import pandas as pd

SOURCE: Final = "NHSE_SITREP"
#: a fixed namespace: event ids depend only on (trust, type, date)
ID_NAMESPACE: Final = uuid.UUID("6f1d2c0e-54a1-4f7e-9a55-2f0c3b8e7d11")
TRUST_PATTERN: Final = r"^R[A-Z0-9]{2}$"

NCTR_COLUMNS: Final = ("nhs_trust22_code", "date", "do_not_meet_criteria_to_reside")
DISCHARGE_COLUMNS: Final = ("nhs_trust22_code", "date", "discharged_by_1700", "discharged_total")
BED_COLUMNS: Final = (
    "nhs_trust22_code",
    "date",
    "general_acute_beds_available",
    "general_acute_beds_occupied",
)
DELAY_COLUMNS: Final = ("nhs_trust22_code", "date", "delay_reason", "delay_count")


class SitrepInputError(ValueError):
    """A file is missing or unreadable, or lacks a column the import needs."""


@dataclass(slots=True)
class ImportStats:
    events: dict[str, int] = field(default_factory=dict)
    #: trust-days without a discharge_sitrep because NCTR or discharges were not submitted
    missing_days: int = 0
    skipped_rows: int = 0

    @property
    def total(self) -> int:
        return sum(self.events.values())


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise SitrepInputError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype={"nhs_trust22_code": "string", "date": "string"})
    except (OSError, ValueError) as error:
        raise SitrepInputError(f"{path}: cannot read as CSV: {error}") from error
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SitrepInputError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _trust_rows(frame: pd.DataFrame, stats: ImportStats) -> pd.DataFrame:
    codes = frame["nhs_trust22_code"]
    keep = codes.notna() & codes.str.fullmatch(TRUST_PATTERN).fillna(False).astype(bool)
    stats.skipped_rows += int((~keep).sum())
    return frame[keep]


def missing_mask(values: pd.Series) -> pd.Series:
    """True where a trust's (date-ordered) daily value is a zero meaning "not submitted"."""
    missing = values.isna() | (values == 0)
    if (values == 0).all():
        return missing & False  # a series of real zeros
    return missing


def _end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, seconds=-1)


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _event_id(trust: str, event_type: str, day: date) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{trust}|{event_type}|{day.isoformat()}"))


def _columns(frame: pd.DataFrame, *names: str) -> list[list[Any]]:
    """Plain Python lists of columns: row loops over them are typed and fast (no itertuples)."""
    return [frame[name].tolist() for name in names]


def _in_range(day: date, date_from: date | None, date_to: date | None) -> bool:
    return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)


def daily_events(
    nctr: pd.DataFrame,
    discharges: pd.DataFrame,
    stats: ImportStats,
    date_from: date | None,
    date_to: date | None,
) -> Iterator[Event]:
    import pandas as pd

    nctr = nctr[list(NCTR_COLUMNS)].rename(columns={"do_not_meet_criteria_to_reside": "nctr"})
    columns = [*DISCHARGE_COLUMNS]
    discharges = discharges[columns]
    daily = nctr.merge(discharges, on=["nhs_trust22_code", "date"], how="outer")
    daily["day"] = pd.to_datetime(daily["date"], format="%Y-%m-%d").dt.date
    daily = daily.sort_values(["nhs_trust22_code", "day"], kind="stable")
    for column in ("nctr", "discharged_total"):
        daily[column + "_missing"] = daily.groupby("nhs_trust22_code")[column].transform(
            missing_mask
        )
    rows = zip(
        *_columns(
            daily,
            "nhs_trust22_code",
            "day",
            "nctr",
            "discharged_total",
            "discharged_by_1700",
            "nctr_missing",
            "discharged_total_missing",
        ),
        strict=True,
    )
    for trust, day, nctr_count, total_count, by_1700, nctr_missing, total_missing in rows:
        if not _in_range(day, date_from, date_to):
            continue
        if nctr_missing or total_missing:
            stats.missing_days += 1
            continue
        total = int(total_count)
        split = (
            None
            if pd.isna(by_1700) or (by_1700 == 0 and total > 0) or by_1700 > total
            else int(by_1700)
        )
        yield DischargeSitrep(
            event_id=_event_id(trust, "discharge_sitrep", day),
            schema_version=1,
            occurred_at=_end_of(day),
            trust_code=trust,
            source_system=SOURCE,
            report_date=day,
            nctr_patients=int(nctr_count),
            discharged_total=total,
            discharged_by_1700=split,
        )


def _month_start(text: str) -> date:
    # "April 2022" in the bed file, "2024-06-01" in the delay-reason file
    try:
        return datetime.strptime(text, "%B %Y").replace(tzinfo=UTC).date()
    except ValueError:
        return date.fromisoformat(text).replace(day=1)


def bed_events(beds: pd.DataFrame, date_from: date | None, date_to: date | None) -> Iterator[Event]:
    import pandas as pd

    for trust, text, available, occupied in zip(*_columns(beds, *BED_COLUMNS), strict=True):
        first = _month_start(text)
        if not _in_range(first, date_from, date_to) or pd.isna(available) or pd.isna(occupied):
            continue
        if round(available) == 0:
            continue  # no G&A beds reported: not a submission
        yield BedSitrep(
            event_id=_event_id(trust, "bed_sitrep", first),
            schema_version=1,
            occurred_at=_start_of(first),
            trust_code=trust,
            source_system=SOURCE,
            period_start=first,
            period="month",
            ga_beds_available=round(available),
            ga_beds_occupied=round(occupied),
        )


def delay_events(
    delays: pd.DataFrame, date_from: date | None, date_to: date | None
) -> Iterator[Event]:
    import pandas as pd

    frame = delays[list(DELAY_COLUMNS)].copy()
    # every wording is mapped before anything is written: an unknown one stops the import
    wordings = {w: reason_for(w) for w in frame["delay_reason"].dropna().unique()}
    frame["reason"] = frame["delay_reason"].map(wordings)
    frame["first"] = frame["date"].map(_month_start)
    for (trust, month), group in frame.groupby(["nhs_trust22_code", "first"], sort=True):
        first: date = month  # type: ignore[assignment]  # the group key is the "first" column
        if not _in_range(first, date_from, date_to):
            continue
        counts: dict[DelayReason, int] = {}
        reasons: list[DelayReason] = group["reason"].tolist()
        for reason, count in zip(reasons, group["delay_count"].tolist(), strict=True):
            if isinstance(reason, str) and not pd.isna(count):  # a blank wording row: padding
                counts[reason] = counts.get(reason, 0) + round(count)
        if not counts:
            continue
        yield DelayReasonsSitrep(
            event_id=_event_id(str(trust), "delay_reasons_sitrep", first),
            schema_version=1,
            occurred_at=_start_of(first),
            trust_code=str(trust),
            source_system=SOURCE,
            period_start=first,
            period="month",
            counts=counts,
        )


def import_sitrep(
    *,
    nctr: Path | None,
    discharges: Path | None,
    beds: Path | None,
    delays: Path | None,
    out: Path,
    ae: Path | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    batch: int = 1,
) -> ImportStats:
    """Read the CSVs, write the events to ``out`` in event-time order; :class:`SitrepInputError`
    (or :class:`feeds.delay_reasons.UnknownDelayReason`) before writing anything if input is bad.

    ``nctr``, ``discharges`` and ``beds`` come together (the discharge sitreps need all three);
    ``ae`` (monthly A&E statistics, :mod:`feeds.ae_import`) may come alone."""
    from feeds.ae_import import AE_COLUMNS, ae_events

    bed_flow = (nctr, discharges, beds)
    if any(path is None for path in bed_flow) and not all(path is None for path in bed_flow):
        raise SitrepInputError("--nctr, --discharges and --beds go together")
    if nctr is None and ae is None:
        raise SitrepInputError("nothing to import: give --nctr/--discharges/--beds or --ae")
    stats = ImportStats()
    frames: dict[str, pd.DataFrame] = {}
    if nctr is not None and discharges is not None and beds is not None:
        frames["nctr"] = _trust_rows(_read(nctr, NCTR_COLUMNS), stats)
        frames["discharges"] = _trust_rows(_read(discharges, DISCHARGE_COLUMNS), stats)
        frames["beds"] = _trust_rows(_read(beds, BED_COLUMNS), stats)
    if delays is not None:
        frames["delays"] = _trust_rows(_read(delays, DELAY_COLUMNS), stats)
    if ae is not None:
        frames["ae"] = _trust_rows(_read(ae, AE_COLUMNS), stats)
    events: list[Event] = []
    if "nctr" in frames:
        events.extend(daily_events(frames["nctr"], frames["discharges"], stats, date_from, date_to))
        events.extend(bed_events(frames["beds"], date_from, date_to))
    if "delays" in frames:
        events.extend(delay_events(frames["delays"], date_from, date_to))
    if "ae" in frames:
        events.extend(ae_events(frames["ae"], date_from, date_to))
    # a few thousand events a trust-year: sorting them whole is cheap and gives time order
    events.sort(key=lambda e: (e.occurred_at, e.trust_code, type(e).__name__))
    counts: dict[str, int] = {}
    with EventWriter(out, batch, omit_none=True) as writer:
        for event in events:
            writer.write(event)
            name = str(event.__struct_config__.tag)
            counts[name] = counts.get(name, 0) + 1
    stats.events = counts
    return stats
