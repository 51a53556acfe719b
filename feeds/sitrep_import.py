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
  no larger than the total; a later file without the column imports without it.
- **One row per trust and date** (NCTR, discharges, beds, A&E): an exact repeat counts once
  (``duplicate_row``); the same trust and date with other figures (a revised publication
  appended to the first) gives no event, its rows counted as ``conflicting_duplicate``
  (:func:`one_row_per_key`).
- Monthly bed averages are rounded to whole beds; a month with no (or zero) G&A beds is skipped.
- ``occurred_at``: a daily sitrep at the last second of its report date (when the day's numbers
  are complete); a monthly one (beds, delay reasons) at the first second of its month. A monthly
  average describes every day of the month, and a replay must deliver it before those days are
  evaluated, or each day's NCTR share would be taken against the previous month's beds (and the
  first month of a replay would have none). ``event_id`` is a UUID5 of (trust, event type, date),
  so importing twice gives the same events and the engine drops repeats as duplicates.
- Rows whose trust code is ``NA`` (padding) or not an NHS trust code are skipped and counted.

Published-style cells, so a file saved from a spreadsheet imports as the compiled one does:

- The header is the first row naming ``nhs_trust22_code`` (in the first 50 CSV records): a title
  or notes block above it is skipped, a quoted title cell over several lines too; line numbers
  in messages count every line.
- Rows that each end in one empty field more than the header (a spreadsheet's empty last
  column) are read; a value in that extra field is a shifted row and stops the import naming
  its line.
- Numbers may have thousands separators (``1,234``) and surrounding spaces. NHS England's
  suppression and missing markers (``*``, ``-``, ``..``, blank) are missing values, as ``NA``
  is: never a zero.
- Dates are day-first (NHS England is UK): ``2024-06-01``, ``01/06/2024``, ``01-Jun-2024``; a
  monthly file also takes ``June 2024``, ``Jun 2024`` and ``Jun-2024``. ``Jan-23`` (January 2023
  or 23 January?) and spreadsheet serial days are not guessed at. A file whose slashed dates
  are month-first (two or more such as ``05/13/2023`` show it; one is a typo, its row rejected)
  stops the import, naming the line: its other dates would each be read as a wrong day.
- A row with any other cell in a column the import reads (not a number, negative, over
  999,999,999, not a date) is rejected, counted by ``reason:column`` in ``rejected_rows``; an
  event the contract decoder refuses (a sum over the range, a future month) is not written and
  is counted by the decoder's reason in ``rejected_events``. No cell value is ever reported.
- Delay reasons: an exact repeat of a (trust, month, wording) row counts once
  (``duplicate_row``); the same key with another count, or a rejected row, leaves the
  trust-month without an event (its other rows count as ``month_rejected``): each event is the
  month's whole breakdown, and a missing or doubled reason would skew every share. Different
  wordings of one reason add up.
"""

from __future__ import annotations

import csv
import gzip
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from feeds.delay_reasons import UnknownDelayReason, normalise_wording, reason_for
from feeds.jsonl_writer import EventWriter
from feeds.replaced_file import replaced_on_success
from models.events import (
    MAX_NUMBER,
    SITREP_TOPIC,
    BedSitrep,
    DelayReason,
    DelayReasonsSitrep,
    DischargeSitrep,
    Event,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SOURCE: Final = "NHSE_SITREP"
#: a fixed namespace: event ids depend only on (trust, type, date)
ID_NAMESPACE: Final = uuid.UUID("6f1d2c0e-54a1-4f7e-9a55-2f0c3b8e7d11")
TRUST_PATTERN: Final = r"^R[A-Z0-9]{2}$"

NCTR_COLUMNS: Final = ("nhs_trust22_code", "date", "do_not_meet_criteria_to_reside")
DISCHARGE_COLUMNS: Final = ("nhs_trust22_code", "date", "discharged_by_1700", "discharged_total")
#: published until May 2023 only: a later file may lack the column
OPTIONAL_DISCHARGE_COLUMNS: Final = ("discharged_by_1700",)
BED_COLUMNS: Final = (
    "nhs_trust22_code",
    "date",
    "general_acute_beds_available",
    "general_acute_beds_occupied",
)
DELAY_COLUMNS: Final = ("nhs_trust22_code", "date", "delay_reason", "delay_count")

#: lines searched for the header row (NHS England's title blocks are a few lines)
HEADER_SCAN_LINES: Final = 50
#: NHS England's suppressed / not-available markers, after stripping spaces ("" is a blank cell)
MISSING_MARKERS: Final = frozenset({"", "*", "-", ".."})
#: a plain number, or one with thousands separators; a sign only so negatives read as out of range
NUMBER_PATTERN: Final = r"-?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.[0-9]+)?"
DAY_FORMATS: Final = ("%Y-%m-%d", "%d/%m/%Y", "%d-%b-%Y")
MONTH_FORMATS: Final = ("%B %Y", "%b %Y", "%b-%Y", "%B-%Y")
#: added columns: each row's line in its file, and whether the row was rejected
LINE: Final = "_line"
REJECTED: Final = "_rejected"
#: rejected rows named (file and line) on stderr, so the file can be fixed; the rest are counted
SHOWN_REJECTIONS: Final = 5


class SitrepInputError(ValueError):
    """A file is missing or unreadable, or lacks a column the import needs."""


@dataclass(slots=True)
class ImportStats:
    events: dict[str, int] = field(default_factory=dict)
    #: trust-days without a discharge_sitrep because NCTR or discharges were not submitted
    missing_days: int = 0
    skipped_rows: int = 0
    #: rows not imported, by "reason:column" (or "duplicate_row" and the like)
    rejected_rows: dict[str, int] = field(default_factory=dict)
    #: events the contract decoder refused, by its reason
    rejected_events: dict[str, int] = field(default_factory=dict)
    #: "file: line N: reason" of the first rejected rows (never a cell value)
    first_rejections: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.events.values())

    def reject_rows(self, *, path: Path, lines: Iterable[int], reasons: Iterable[str]) -> None:
        for line, reason in zip(lines, reasons, strict=True):
            self.rejected_rows[reason] = self.rejected_rows.get(reason, 0) + 1
            if len(self.first_rejections) < SHOWN_REJECTIONS:
                self.first_rejections.append(f"{path}: line {line}: {reason}")


# reading


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _not_utf8(path: Path) -> SitrepInputError:
    # the codec's message quotes the offending bytes: a piece of the file, so it is not passed on
    return SitrepInputError(f"{path}: not UTF-8 text: save it as CSV UTF-8 and import it again")


@dataclass(frozen=True, slots=True)
class _Header:
    #: CSV records above the header (a title block's quoted cell may span lines)
    records_above: int
    #: the header's last line in the file (line numbers in messages count every line)
    line: int
    names: list[str]


def _find_header(path: Path, columns: tuple[str, ...]) -> _Header:
    """The first record naming the trust-code column, searched as CSV records (not lines: a
    quoted title cell may hold line breaks, and pandas skips records)."""
    try:
        with _open_text(path) as source:
            reader = csv.reader(source)
            for number, record in enumerate(islice(reader, HEADER_SCAN_LINES)):
                names = [name.strip() for name in record]
                if columns[0] in names:
                    return _Header(records_above=number, line=reader.line_num, names=names)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (OSError, EOFError, csv.Error) as error:
        raise SitrepInputError(
            f"{path}: cannot read ({type(error).__name__}): is it a CSV file, gzip-compressed "
            "only if its name ends in .gz?"
        ) from None
    raise SitrepInputError(
        f"{path}: no header row (a row naming {', '.join(columns)}) in its first "
        f"{HEADER_SCAN_LINES} lines: is it the right file, saved as CSV?"
    )


def _parser_message(path: Path, error: Exception, *, header: _Header) -> str:
    # pandas' tokenizer names line and field counts; anything else is not passed on, in case
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
    if found is None:
        return f"{path}: not well-formed CSV (check its quoting)"
    expected, line, saw = found.groups()
    # pandas counts a record (a title cell's line breaks in it) as one line
    lines_in_records = header.line - (header.records_above + 1)
    return (
        f"{path}: line {int(line) + lines_in_records}: {saw} fields where the header has "
        f"{expected}: fix or remove that line (an unquoted comma in a cell?)"
    )


def _read_frame(path: Path, header: _Header, *, width: int | None = None) -> pd.DataFrame:
    """The file under its header, every cell as text; ``width``: read only the header's
    columns (after :func:`_empty_extra_field` has checked that what lies beyond is empty)."""
    import pandas as pd

    try:
        # every column, not ``usecols``: with it pandas drops a row's extra fields silently, and
        # a row with one too many (an unquoted "1,234") would be read shifted
        return pd.read_csv(
            path,
            skiprows=header.records_above,
            dtype="string",
            # a blank line stays a (padding) row, so that row numbers stay line numbers
            skip_blank_lines=False,
            index_col=False if width is not None else None,
            usecols=list(range(width)) if width is not None else None,
        )
    except pd.errors.ParserError as error:
        raise SitrepInputError(_parser_message(path, error, header=header)) from None
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (OSError, ValueError) as error:
        raise SitrepInputError(f"{path}: cannot read as CSV ({type(error).__name__})") from None


def _empty_extra_field(path: Path, header: _Header) -> bool:
    """True when rows carry one field more than the header and it is empty: a spreadsheet's
    empty last column, a comma ending each row. A row with a value beyond the header (an
    unquoted "1,234", a shifted row) stops the import, naming its line."""
    width = len(header.names)
    extra = False
    with _open_text(path) as source:
        reader = csv.reader(source)
        for _ in islice(reader, header.records_above + 1):
            pass  # the title block and the header
        for record in reader:
            if len(record) <= width:
                continue
            if len(record) == width + 1 and not record[-1].strip():
                extra = True
                continue
            raise SitrepInputError(
                f"{path}: line {reader.line_num}: {len(record)} fields where the header has "
                f"{width}: fix or remove that line (an unquoted comma in a cell?)"
            )
    return extra


def _read(path: Path, columns: tuple[str, ...], *, optional: tuple[str, ...] = ()) -> pd.DataFrame:
    """The columns the import needs, as text, and each row's line number in the file; an
    ``optional`` column the file lacks is read as missing in every row."""
    import pandas as pd

    if not path.is_file():
        raise SitrepInputError(f"{path}: no such file")
    header = _find_header(path, columns)
    missing = [c for c in columns if c not in header.names and c not in optional]
    if missing:
        raise SitrepInputError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        frame: pd.DataFrame | None = _read_frame(path, header)
        refused: SitrepInputError | None = None
    except SitrepInputError as error:
        frame, refused = None, error
    if frame is None or not isinstance(frame.index, pd.RangeIndex):
        # Rows with more fields than the header: pandas refused them, or (when the first row
        # has one more) took the first column as the index with every value one column left.
        # Spreadsheets write one empty field more per row (a comma ending each row): read the
        # header's columns only, once every row is checked to hold nothing beyond them.
        if not _empty_extra_field(path, header):
            if refused is not None:
                raise refused
        frame = _read_frame(path, header, width=len(header.names))
    frame.columns = [str(name).strip() for name in frame.columns]
    for column in optional:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame = frame[list(columns)]
    return frame.assign(**{LINE: range(header.line + 1, header.line + 1 + len(frame))})


def _trust_rows(frame: pd.DataFrame, stats: ImportStats) -> pd.DataFrame:
    codes = frame["nhs_trust22_code"].str.strip()
    keep = codes.notna() & codes.str.fullmatch(TRUST_PATTERN).fillna(False).astype(bool)
    stats.skipped_rows += int((~keep).sum())
    return frame[keep].assign(nhs_trust22_code=codes[keep])


# cells


def _numbers(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values, reasons): NaN where missing or bad; "" where fine, else why the cell is bad."""
    import numpy as np
    import pandas as pd

    stripped = texts.astype("string").str.strip()
    missing = (stripped.isna() | stripped.isin(MISSING_MARKERS)).to_numpy(dtype=bool)
    formed = stripped.str.fullmatch(NUMBER_PATTERN).fillna(False).to_numpy(dtype=bool)
    plain = stripped.where(formed).str.replace(",", "", regex=False)
    values = pd.to_numeric(plain, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    out_of_range = formed & ((values < 0) | (values > MAX_NUMBER))
    reasons = np.where(missing | formed, "", "bad_number")
    reasons = np.where(out_of_range, "out_of_range", reasons)
    values[out_of_range] = np.nan
    return values, reasons


def _strptime(text: str, formats: tuple[str, ...]) -> date | None:
    for form in formats:
        try:
            return datetime.strptime(text, form).replace(tzinfo=UTC).date()
        except ValueError:
            continue
    return None


def _day(text: str) -> date | None:
    """A daily file's report date, or None if it is not one of the unambiguous forms."""
    return _strptime(text.strip(), DAY_FORMATS)


def _month_start(text: str) -> date | None:
    """A monthly file's month ("April 2022" in the bed file, "2024-06-01" in the delay-reason
    file), or None if it is not one of the unambiguous forms."""
    text = text.strip()
    day = _strptime(text, MONTH_FORMATS) or _strptime(text, DAY_FORMATS)
    return None if day is None else day.replace(day=1)


def _dates(texts: pd.Series, *, monthly: bool) -> pd.Series:
    """Parsed dates (NaN where missing or bad); each distinct text is parsed once."""
    parse = _month_start if monthly else _day
    table = {text: parse(text) for text in texts.dropna().unique()}
    return texts.map(table).astype(object)


def _parsed(
    frame: pd.DataFrame,
    *,
    path: Path,
    numbers: tuple[str, ...],
    monthly: bool,
    stats: ImportStats,
) -> pd.DataFrame:
    """The frame with ``numbers`` as floats, ``date`` as dates and a ``_rejected`` flag; each
    rejected row is counted under its first bad column, left to right."""
    import numpy as np

    days = _dates(frame["date"], monthly=monthly)
    reasons = np.where(days.isna().to_numpy(dtype=bool), "bad_date:date", "")
    parsed: dict[str, Any] = {"date": days}
    for column in numbers:
        values, why = _numbers(frame[column])
        parsed[column] = values
        reasons = np.where((reasons == "") & (why != ""), np.char.add(why, ":" + column), reasons)
    rejected = reasons != ""
    stats.reject_rows(path=path, lines=frame[LINE][rejected].tolist(), reasons=reasons[rejected])
    return frame.assign(**parsed, **{REJECTED: rejected})


def _load(
    path: Path,
    columns: tuple[str, ...],
    *,
    numbers: tuple[str, ...],
    monthly: bool,
    stats: ImportStats,
    optional: tuple[str, ...] = (),
) -> pd.DataFrame:
    frame = _trust_rows(_read(path, columns, optional=optional), stats)
    _refuse_month_first(frame, path=path)
    return _parsed(frame, path=path, numbers=numbers, monthly=monthly, stats=stats)


#: dates that read only month-first before a file is taken to be month-first
MONTH_FIRST_PROOF: Final = 2
#: a slashed date whose first two numbers could be either day or month
_SLASHED_DATE: Final = r"^\s*(\d{1,2})/(\d{1,2})/\d{4}\s*$"


def _refuse_month_first(frame: pd.DataFrame, *, path: Path) -> None:
    """Stop the import if the file's slashed dates are month-first (US order, which Excel
    writes under a US locale): dates such as 01/13/2024 show it, and the others (02/01/2024)
    would otherwise be read day-first, each one a wrong day, without an error."""
    parts = frame["date"].str.extract(_SLASHED_DATE).astype("Float64")
    month_first = ((parts[0] <= 12) & (parts[1] > 12)).fillna(False).to_numpy(dtype=bool)
    # One such date is a typo in a day-first file (its row is rejected, bad_date); a
    # month-first file has one on every day after the 12th
    if month_first.sum() >= MONTH_FIRST_PROOF:
        line = frame[LINE].to_numpy()[month_first.argmax()]
        raise SitrepInputError(
            f"{path}: line {line}: the dates are month-first (US order); NHS England's are "
            "day-first: save the file with day-first (DD/MM/YYYY) or ISO (YYYY-MM-DD) dates"
        )


def one_row_per_key(
    frame: pd.DataFrame, *, path: Path, values: tuple[str, ...], stats: ImportStats
) -> pd.DataFrame:
    """One row per trust and date. An exact repeat (a file joined with itself, or a revision
    that changed nothing) counts once (``duplicate_row``). The same trust and date with other
    figures (a revised publication appended to the first) gives no event: which version is
    the revision is not in the file, and picking one would depend on the rows' order; its rows
    are counted as ``conflicting_duplicate``, as the delay-reason import does."""
    key = ["nhs_trust22_code", "date"]
    dated = frame["date"].notna()
    repeat = dated & frame.duplicated(subset=[*key, *values, REJECTED], keep="first")
    _reject_all(stats, path=path, rows=frame[repeat & ~frame[REJECTED]], reason="duplicate_row")
    frame = frame[~repeat]
    dated = frame["date"].notna()
    conflicting = dated & frame.duplicated(subset=key, keep=False)
    if not conflicting.any():
        return frame
    fresh = conflicting & ~frame[REJECTED]
    _reject_all(stats, path=path, rows=frame[fresh], reason="conflicting_duplicate")
    frame = frame.assign(**{REJECTED: frame[REJECTED] | conflicting})
    # the first row of each key stays, rejected: it marks the day as rejected, not missing
    return frame[~(conflicting & frame.duplicated(subset=key, keep="first"))]


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


def _accepted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[~frame[REJECTED]]


# events


def _daily_frame(nctr: pd.DataFrame, discharges: pd.DataFrame) -> pd.DataFrame:
    """NCTR and discharges side by side, one row a trust-day, in date order; ``_rejected`` where
    either side's row was rejected."""
    key = ["nhs_trust22_code", "date"]
    nctr = nctr[[*key, "do_not_meet_criteria_to_reside", REJECTED]].rename(
        columns={"do_not_meet_criteria_to_reside": "nctr", REJECTED: "nctr_rejected"}
    )
    discharges = discharges[[*key, "discharged_by_1700", "discharged_total", REJECTED]].rename(
        columns={REJECTED: "discharges_rejected"}
    )
    # a row without a readable date was rejected, and has no day to be matched on
    daily = nctr[nctr["date"].notna()].merge(
        discharges[discharges["date"].notna()], on=key, how="outer"
    )
    rejected = daily["nctr_rejected"].eq(True) | daily["discharges_rejected"].eq(True)
    daily = daily.assign(**{REJECTED: rejected}).sort_values(key, kind="stable")
    for column in ("nctr", "discharged_total"):
        # a rejected row's values are NaN here: "not there", like a day not in the file
        daily[column + "_missing"] = daily.groupby("nhs_trust22_code")[column].transform(
            missing_mask
        )
    return daily


def daily_events(
    nctr: pd.DataFrame,
    discharges: pd.DataFrame,
    stats: ImportStats,
    date_from: date | None,
    date_to: date | None,
) -> Iterator[Event]:
    import pandas as pd

    daily = _daily_frame(nctr, discharges)
    rows = zip(
        *_columns(
            daily,
            "nhs_trust22_code",
            "date",
            "nctr",
            "discharged_total",
            "discharged_by_1700",
            "nctr_missing",
            "discharged_total_missing",
            REJECTED,
        ),
        strict=True,
    )
    for trust, day, nctr_count, total_count, by_1700, nctr_missing, total_missing, bad in rows:
        if bad or not _in_range(day, date_from, date_to):
            continue  # a rejected row is counted as such, not as a day not submitted
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


def bed_events(beds: pd.DataFrame, date_from: date | None, date_to: date | None) -> Iterator[Event]:
    import pandas as pd

    rows = zip(*_columns(_accepted(beds), *BED_COLUMNS), strict=True)
    for trust, first, available, occupied in rows:
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


def _with_reasons(frame: pd.DataFrame, *, path: Path) -> pd.DataFrame:
    """Adds each row's reason slug and normalised wording (NaN for a blank wording: padding).

    Every wording is mapped before anything is written: an unknown one stops the import, named
    by its line only (a wording that is not a published one may be anything)."""
    wordings = frame["delay_reason"].str.strip()
    reasons: dict[str, DelayReason] = {}
    for wording in wordings.dropna().unique():
        try:
            reasons[wording] = reason_for(wording)
        except UnknownDelayReason:
            line = frame[LINE][wordings == wording].iloc[0]
            raise UnknownDelayReason(
                f"{path}: line {line}: delay_reason is not one of the published wordings in "
                "WORDING_TO_REASON (feeds/delay_reasons.py): check the cell, or, if NHS England "
                "has published a new wording, add it there with its reason"
            ) from None
    keys = {wording: normalise_wording(wording) for wording in reasons}
    return frame.assign(reason=wordings.map(reasons), wording=wordings.map(keys))


def _reject_all(stats: ImportStats, *, path: Path, rows: pd.DataFrame, reason: str) -> None:
    stats.reject_rows(path=path, lines=rows[LINE].tolist(), reasons=[reason] * len(rows))


def _delay_rows(frame: pd.DataFrame, *, path: Path, stats: ImportStats) -> pd.DataFrame:
    """The rows that make the delay-reason events: each (trust, month, wording) once, and none
    of a trust-month with a rejected or conflicting row (see the module's decisions)."""
    import pandas as pd

    month = ["nhs_trust22_code", "date"]
    key = [*month, "wording"]
    # a blank wording (padding) or a missing count (not submitted) is left out, not rejected
    rows = frame[frame["reason"].notna() & frame["delay_count"].notna() & ~frame[REJECTED]]
    conflicting = rows.groupby(key)["delay_count"].transform("nunique") > 1
    repeat = ~conflicting & rows.duplicated(subset=key)
    _reject_all(stats, path=path, rows=rows[conflicting], reason="conflicting_duplicate")
    _reject_all(stats, path=path, rows=rows[repeat], reason="duplicate_row")
    spoilt = pd.concat([frame.loc[frame[REJECTED], month], rows.loc[conflicting, month]])
    spoilt = spoilt.dropna().drop_duplicates().assign(spoilt=True)
    kept = rows[~conflicting & ~repeat]
    # a left merge keeps the left rows' order, so the flags line up with ``kept``
    in_spoilt = kept[month].merge(spoilt, on=month, how="left")["spoilt"].eq(True).to_numpy()
    _reject_all(stats, path=path, rows=kept[in_spoilt], reason="month_rejected")
    return kept[~in_spoilt]


def delay_events(
    delays: pd.DataFrame, date_from: date | None, date_to: date | None
) -> Iterator[Event]:
    """Events from :func:`_delay_rows`: different wordings of one reason add up."""
    for (trust, month), group in delays.groupby(["nhs_trust22_code", "date"], sort=True):
        first: date = month  # type: ignore[assignment]  # the group key is the "date" column
        if not _in_range(first, date_from, date_to):
            continue
        counts: dict[DelayReason, int] = {}
        reasons: list[DelayReason] = group["reason"].tolist()
        for reason, count in zip(reasons, group["delay_count"].tolist(), strict=True):
            counts[reason] = counts.get(reason, 0) + round(count)
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


# the contract check and the import


def contract_valid(events: list[Event], stats: ImportStats) -> list[Event]:
    """The events the contract decoder accepts (as ``validate`` and ``produce`` judge them);
    the others are counted by the decoder's reason."""
    from feeds.hl7.checked import EventCheck

    check = EventCheck(topic=SITREP_TOPIC)
    if check.judge(events)[2] is None:
        return events  # the usual case: one pass
    valid: list[Event] = []
    for event in events:
        refused = check.judge([event])[2]
        if refused is None:
            valid.append(event)
        else:
            stats.rejected_events[refused] = stats.rejected_events.get(refused, 0) + 1
    return valid


def _frames(
    *,
    nctr: Path | None,
    discharges: Path | None,
    beds: Path | None,
    delays: Path | None,
    ae: Path | None,
    stats: ImportStats,
) -> dict[str, pd.DataFrame]:
    """Each given file read and parsed, cell by cell; an unreadable file stops the import."""
    from feeds.ae_import import AE_COLUMNS, ae_rows

    frames: dict[str, pd.DataFrame] = {}
    if nctr is not None and discharges is not None and beds is not None:
        loaded = {
            "nctr": (nctr, NCTR_COLUMNS, False, ()),
            "discharges": (discharges, DISCHARGE_COLUMNS, False, OPTIONAL_DISCHARGE_COLUMNS),
            "beds": (beds, BED_COLUMNS, True, ()),
        }
        for name, (path, columns, monthly, optional) in loaded.items():
            frame = _load(
                path,
                columns,
                numbers=columns[2:],
                monthly=monthly,
                stats=stats,
                optional=optional,
            )
            frames[name] = one_row_per_key(frame, path=path, values=columns[2:], stats=stats)
    if delays is not None:
        frame = _load(delays, DELAY_COLUMNS, numbers=("delay_count",), monthly=True, stats=stats)
        frame = _with_reasons(frame, path=delays)
        frames["delays"] = _delay_rows(frame, path=delays, stats=stats)
    if ae is not None:
        frame = _load(ae, AE_COLUMNS, numbers=AE_COLUMNS[2:], monthly=True, stats=stats)
        frame = one_row_per_key(frame, path=ae, values=AE_COLUMNS[2:], stats=stats)
        frames["ae"] = ae_rows(frame, path=ae, stats=stats)
    return frames


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
    (or :class:`feeds.delay_reasons.UnknownDelayReason`) before writing anything if a file is
    unreadable. A bad row or event is left out and counted (:class:`ImportStats`).

    ``nctr``, ``discharges`` and ``beds`` come together (the discharge sitreps need all three);
    ``ae`` (monthly A&E statistics, :mod:`feeds.ae_import`) may come alone."""
    from feeds.ae_import import ae_events

    bed_flow = (nctr, discharges, beds)
    if any(path is None for path in bed_flow) and not all(path is None for path in bed_flow):
        raise SitrepInputError("--nctr, --discharges and --beds go together")
    if nctr is None and ae is None:
        raise SitrepInputError("nothing to import: give --nctr/--discharges/--beds or --ae")
    stats = ImportStats()
    frames = _frames(nctr=nctr, discharges=discharges, beds=beds, delays=delays, ae=ae, stats=stats)
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
    with replaced_on_success(out) as part, EventWriter(part, batch, omit_none=True) as writer:
        for event in contract_valid(events, stats):
            writer.write(event)
            name = str(event.__struct_config__.tag)
            counts[name] = counts.get(name, 0) + 1
    stats.events = counts
    return stats
