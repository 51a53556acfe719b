"""NHS England's monthly A&E statistics by trust -> ``ae_sitrep`` events (``import-sitrep --ae``).

Input: ``ae_monthly_by_trust.csv.gz`` (as compiled by the healthyr package from the monthly A&E
attendances and emergency admissions publication): per trust and month, attendances of all
department types, those over 4 h from arrival to admission, transfer or discharge, emergency
admissions, and those over 4 h from decision to admit to admission.

Decisions:

- A month without its over-4-hours count (``NA``: not submitted, e.g. during a trust's
  cyber-attack, or a trust outside the 4-hour measure) or without attendances gets no event:
  both fields are required, and a fake 0 would read as a perfect month.
- A missing over-4-hours-from-decision count is sent as absent (the field is optional).
- Cells are read as the other sitrep files' are (:mod:`feeds.sitrep_import`): thousands
  separators, suppression markers as missing, day-first dates; a row with a bad cell (or a
  negative count) is rejected and counted, never read as a zero or a guess.
- A month without its emergency admissions (but with its attendances) is rejected
  (``missing_count:total_emergency_admissions``): the field is required, and a 0 would read as
  a department that admitted nobody.
- A trust-month whose four counts all equal the same trust's a year before, over hundreds of
  attendances, is a copy, not a coincidence (a compilation that filled a month from the year
  before: the shared compilation's February and March 2025 are February and March 2024, for
  trusts that no longer existed too). It is rejected (``copy_of_year_before``) and stderr says so.
- ``occurred_at`` is the first second of the month, like the other monthly sitreps; ``event_id``
  a UUID5 of (trust, ``ae_sitrep``, month), so a re-import is a set of duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Final

from models.events import AeSitrep, Event

if TYPE_CHECKING:
    import pandas as pd

    from feeds.sitrep_import import ImportStats

AE_COLUMNS: Final = (
    "nhs_trust22_code",
    "date",
    "total_attendances",
    "attendances_over_4hours",
    "total_emergency_admissions",
    "emergency_admissions_over_4hours",
)


#: a copy is only told from a coincidence over this many attendances (a small unit's month may
#: repeat by chance)
COPY_MIN_ATTENDANCES: Final = 100


def ae_rows(frame: pd.DataFrame, *, path: Path, stats: ImportStats) -> pd.DataFrame:
    """``frame`` (one row per trust-month) with the rows rejected that :func:`ae_events` must
    not read: a missing emergency-admissions count, a copy of the year before."""
    import pandas as pd

    from feeds.sitrep_import import REJECTED, _reject_all

    counts = list(AE_COLUMNS[2:])
    ok = ~frame[REJECTED]
    no_admissions = (
        ok
        & frame["total_attendances"].notna()
        & frame["attendances_over_4hours"].notna()
        & (frame["total_attendances"] > 0)  # a month without attendances is no submission
        & frame["total_emergency_admissions"].isna()
    )
    _reject_all(
        stats,
        path=path,
        rows=frame[no_admissions],
        reason="missing_count:total_emergency_admissions",
    )
    before = frame.loc[ok & ~no_admissions, ["nhs_trust22_code", "date", *counts]]
    if before.empty:  # no trust row to compare (a header, or England totals only)
        return frame.assign(**{REJECTED: frame[REJECTED] | no_admissions})
    year_on = [d.replace(year=d.year + 1) for d in before["date"]]
    before = before.assign(date=pd.Series(year_on, index=before.index, dtype=object))
    # a left merge keeps the left rows' order
    matched = frame[["nhs_trust22_code", "date"]].merge(
        before, on=["nhs_trust22_code", "date"], how="left"
    )
    # a trust-month with no row a year before has NaN there, and NaN never equals
    same = matched["total_attendances"].notna().to_numpy(copy=True)
    for column in counts:
        now, then = frame[column].to_numpy(), matched[column].to_numpy()
        same &= (now == then) | (pd.isna(now) & pd.isna(then))
    copied = (
        ok.to_numpy()
        & ~no_admissions.to_numpy()
        & same
        & (frame["total_attendances"].to_numpy() >= COPY_MIN_ATTENDANCES)
    )
    _reject_all(stats, path=path, rows=frame[copied], reason="copy_of_year_before")
    return frame.assign(**{REJECTED: frame[REJECTED] | no_admissions | copied})


def ae_events(frame: pd.DataFrame, date_from: date | None, date_to: date | None) -> Iterator[Event]:
    """Events from a frame read cell by cell (:func:`feeds.sitrep_import._load`): counts as
    floats (NaN where missing), ``date`` as the month, rejected rows flagged."""
    import pandas as pd

    from feeds.sitrep_import import (
        SOURCE,
        _accepted,
        _columns,
        _event_id,
        _in_range,
        _start_of,
    )

    rows = zip(*_columns(_accepted(frame), *AE_COLUMNS), strict=True)
    for trust, first, attendances, over_4h, admissions, admissions_over_4h in rows:
        if not _in_range(first, date_from, date_to):
            continue
        if pd.isna(attendances) or pd.isna(over_4h) or attendances == 0:
            continue
        yield AeSitrep(
            event_id=_event_id(trust, "ae_sitrep", first),
            schema_version=1,
            occurred_at=_start_of(first),
            trust_code=trust,
            source_system=SOURCE,
            period_start=first,
            period="month",
            attendances=int(attendances),
            attendances_over_4h=int(over_4h),
            emergency_admissions=int(admissions),
            emergency_admissions_over_4h=(
                None if pd.isna(admissions_over_4h) else int(admissions_over_4h)
            ),
        )
