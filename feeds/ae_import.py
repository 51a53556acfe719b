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
- ``occurred_at`` is the first second of the month, like the other monthly sitreps; ``event_id``
  a UUID5 of (trust, ``ae_sitrep``, month), so a re-import is a set of duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Final

from models.events import AeSitrep, Event

if TYPE_CHECKING:
    import pandas as pd

AE_COLUMNS: Final = (
    "nhs_trust22_code",
    "date",
    "total_attendances",
    "attendances_over_4hours",
    "total_emergency_admissions",
    "emergency_admissions_over_4hours",
)


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
            emergency_admissions=0 if pd.isna(admissions) else int(admissions),
            emergency_admissions_over_4h=(
                None if pd.isna(admissions_over_4h) else int(admissions_over_4h)
            ),
        )
