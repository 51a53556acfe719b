"""A rostering system's shift export (CSV) -> ``nhs.rostering.v1`` events (``roster convert``).

The layout supported is the one e-rostering systems export for a roster period: one row per
shift (duty), with a header row. The mapping file names the columns and translates the values::

    trust_code = "RJ1"
    site_code = "RJ122"
    time_format = "%d/%m/%Y %H:%M"      # strptime format; times are UK local time
    delimiter = ","                      # optional: ";" or "\t" for exports that use them
    [columns]                            # what -> the export's header
    shift_id = "Duty ID"                 # required: the system's shift/duty id
    unit = "Unit"                        # required: ward or department code
    staff_group = "Grade"                # required
    start = "Start"                      # required
    end = "End"                          # required
    created = "Created"                  # required: when the shift was put on the roster
    status = "Status"                    # required: filled / unfilled / cancelled
    cancelled_at = "Cancelled On"        # optional: when a cancelled shift was cancelled
    fill_source = "Fill Type"            # optional: substantive / bank / agency
    filled_at = "Filled"                 # optional: when it was filled (else ``created``)
    hourly_rate = "Rate"                 # optional: £ an hour
    [staff_groups]                       # export value -> staff_group
    "Band 5 Staff Nurse" = "registered_nurse"
    [fill_sources]                       # export value -> fill_source
    "NHSP" = "bank"
    [statuses]                           # export value -> filled | unfilled | cancelled
    "Assigned" = "filled"
    [units]                              # optional: unit name -> code (names over 16 characters)
    "Acute Medical Unit 2" = "AMU2"

Each row gives ``shift_planned`` (at ``created``) and then ``shift_filled`` (at ``filled_at``),
``shift_unfilled`` or ``shift_changed`` ``cancelled`` (at ``cancelled_at``). ``shift_unfilled``
means "the shift started with nobody in it" (``EVENTS.md``), dated at the shift's start: a vacant
shift whose start has not passed yet (by the converter's ``clock``) gives only its
``shift_planned``, still open to being filled, and is counted in
:attr:`ShiftExportConverter.upcoming_vacancies` (stderr says how many). Exporting the upcoming
roster is the normal case; its vacancies become ``shift_unfilled`` in an export made after they
start (the ``shift_planned`` again is the same event, a duplicate the engine ignores).

Times are read in ``time_format`` as UK local time (a time with its own offset keeps it), and
with seconds where the format stops at the minute (``07:30:00``); ``24:00`` is the next day's
00:00 (:func:`local_time`). Any other cell rejects its row (``bad_timestamp``). An end before its
start by less than a day is a night dated with its duty date (19:30 to "08:00"): it ends the
next morning. A shift over 72 hours is a misread date (``implausible_shift_length``).

A unit's code is its ``[units]`` mapping, else its name upper-cased with each run of other
characters one ``_`` ("Ward 7 (Elderly)" -> ``WARD_7_ELDERLY``); a name that gives more than the
contract's 16 characters is refused (``unit_name_too_long``) and stderr says to map it.

The file is read as UTF-8 (a byte-order mark allowed); bytes that are not UTF-8 make it read as
Windows-1252, the encoding Excel's plain "CSV" uses in the UK, and stderr says so. Its first row
is the header; ``[columns]`` names match it ignoring case and surrounding spaces, and every
column the mapping names must be in it (an optional column the export lacks is left out of the
mapping, not silently read as empty). A quote that is never closed, or any row the ``csv``
module cannot read, stops the run naming the line: nothing is written (the output is written
beside ``--out`` and renamed when the run succeeds). A rate is a plain decimal with an optional
leading ``£`` (``31.50``, ``£31.50``); anything else (``1,000``, ``1e3``, ``inf``) rejects the
row (``bad_rate``).

``cancelled_at`` names the export's cancellation time: a "cancelled on" column where the system
has one, else its "last modified" / "last updated" column (for a cancelled duty, the last
change is normally the cancellation; a later edit would date it later than it was). A
cancellation dated before its ``created`` is refused (``cancelled_before_created``). Without the
column, or with the cell empty, the cancellation is dated at ``created``, the only time the row
has, and counted in :attr:`ShiftExportConverter.undated_cancellations` (``roster convert`` says
how many on stderr). The contract has no "time unknown" (``occurred_at`` is required), and the
engine counts a ``shift_changed`` in the day it occurred (``post_publication_changes_28d``): an
undated cancellation is counted on the planning day, weeks before the shifts whose plans it is
compared with, and a cancellation made before the roster was published is counted as a change
after it. Map the column wherever the export has one.
Only the columns named in ``[columns]`` are read: staff names, staff numbers, assignment
numbers and every other column of the export are never looked at. ``shift_ref`` is
HMAC-SHA256(key, shift id) under ``--key-file``, else SHA-256 of trust and shift id.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
import orjson

from feeds.hl7.checked import EventCheck
from feeds.hl7.convert import ConvertStats
from feeds.hl7.pseudonym import Pseudonymiser
from feeds.replaced_file import replaced_on_success
from models.events import (
    ROSTERING_TOPIC,
    Event,
    ShiftChanged,
    ShiftFilled,
    ShiftPlanned,
    ShiftUnfilled,
    event_type_of,
)

LONDON: Final = ZoneInfo("Europe/London")
#: the longest shift read as one: a 24-hour on-call, or a weekend's non-resident one; beyond it
#: the row is a misread date (a day and month swapped made one shift of 732 hours)
MAX_SHIFT: Final = timedelta(hours=72)
UNIT_CODE_MAX: Final = 16  # the contract's unit code: [A-Z0-9_-]{1,16}
_NOT_IN_CODE: Final = re.compile(r"[^A-Z0-9-]+")
_UNIT_CODE: Final = re.compile(r"[A-Z0-9_-]{1,16}")
_SPACED_HYPHEN: Final = re.compile(r"_*-[-_]*")
REQUIRED: Final = ("shift_id", "unit", "staff_group", "start", "end", "created", "status")
OPTIONAL: Final = ("cancelled_at", "fill_source", "filled_at", "hourly_rate")
STAFF_GROUPS: Final = frozenset(
    {
        "registered_nurse",
        "healthcare_support_worker",
        "doctor",
        "allied_health_professional",
        "admin_clerical",
        "other",
    }
)
FILL_SOURCES: Final = frozenset({"substantive", "bank", "agency"})
STATUSES: Final = frozenset({"filled", "unfilled", "cancelled"})
#: ASCII digits only: float() also takes "inf", "nan", "1_000", "1e3" and non-ASCII digits
_RATE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class RowRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExportError(ValueError):
    """The export cannot be read as a whole; the message names lines and columns, never cells."""


@dataclass(frozen=True, slots=True)
class ExportMapping:
    trust_code: str
    site_code: str
    columns: dict[str, str]
    time_format: str = "%Y-%m-%d %H:%M"
    staff_groups: dict[str, str] = field(default_factory=dict)
    fill_sources: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    #: the export's unit names -> unit codes, for names that are no code (over 16 characters)
    units: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","


def load_mapping(path: Path) -> ExportMapping:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    columns = document.get("columns", {})
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ValueError(f"[columns] lacks {', '.join(missing)}")
    # a misspelt optional key would otherwise be ignored and its column never read
    unknown = [name for name in columns if name not in (*REQUIRED, *OPTIONAL)]
    if unknown:
        raise ValueError(
            f"[columns] has unknown key {', '.join(unknown)}: the keys are "
            f"{', '.join((*REQUIRED, *OPTIONAL))}"
        )
    for key in ("trust_code", "site_code"):
        if not isinstance(document.get(key), str):
            raise ValueError(f"{key} is required")
    delimiter = document.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise ValueError('delimiter is one character: "," (the default), ";" or "\\t"')
    return ExportMapping(
        trust_code=document["trust_code"],
        site_code=document["site_code"],
        columns={str(k): str(v) for k, v in columns.items()},
        time_format=str(document.get("time_format", "%Y-%m-%d %H:%M")),
        staff_groups={str(k): str(v) for k, v in document.get("staff_groups", {}).items()},
        fill_sources={str(k): str(v) for k, v in document.get("fill_sources", {}).items()},
        statuses={str(k): str(v) for k, v in document.get("statuses", {}).items()},
        units=_unit_codes(document.get("units", {})),
        delimiter=delimiter,
    )


def _unit_codes(table: dict[str, Any]) -> dict[str, str]:
    """``[units]``: each export name (matched ignoring case and surrounding spaces) -> a code
    of the contract's form, checked here rather than rejecting every row of that unit."""
    codes: dict[str, str] = {}
    for name, code in table.items():
        if not isinstance(code, str) or not _UNIT_CODE.fullmatch(code):
            raise ValueError(
                f'[units] "{name}": a unit code is 1 to {UNIT_CODE_MAX} of A-Z, 0-9, _ and -'
            )
        codes[_fold(str(name))] = code
    return codes


def read_text(path: Path) -> tuple[str, bool]:
    """(the export's text, whether it was read as Windows-1252 because it is not UTF-8)."""
    data = path.read_bytes()  # an export is a roster period: small enough to decode whole
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError as error:
        if data.startswith(codecs.BOM_UTF8):
            # a byte-order mark says UTF-8: reading the rest as Windows-1252 would garble it
            raise ExportError(
                f"{path}, line {_line_of(data, error.start)}: the file starts as UTF-8 but this "
                "line is not UTF-8 (it mixes encodings): save the export again as CSV UTF-8"
            ) from None
    try:
        return data.decode("cp1252"), True
    except UnicodeDecodeError as error:
        raise ExportError(
            f"{path}, line {_line_of(data, error.start)}: the file is neither UTF-8 nor "
            "Windows-1252: save the export as CSV UTF-8 and run again"
        ) from None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_records(path: Path, text: str, *, delimiter: str = ",") -> Iterator[list[str]]:
    """The export's rows as lists of cells; a row ``csv`` cannot read is an :class:`ExportError`.

    ``strict`` makes an unbalanced quote an error: without it, a quote opened and never closed
    takes the rest of the file into one cell (silently, or past 128 KiB as a field-limit error).
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=delimiter)
    while True:
        starts = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _unreadable(path, starts=starts, at=reader.line_num, error=error) from None
        yield record


def _unreadable(path: Path, *, starts: int, at: int, error: csv.Error) -> ExportError:
    # csv's messages name only the delimiter and the quote character, never a cell
    text = str(error)
    if text.startswith(("unexpected end of data", "field larger than field limit")):
        return ExportError(
            f"{path}, line {starts}: a quote opened in the row starting at this line is never "
            'closed: correct the stray " in that row (a quote inside a cell is written "") '
            "and run again"
        )
    if "expected after" in text:
        return ExportError(
            f"{path}, line {at}: a quoted cell has more text after its closing quote: write a "
            'quote inside a cell as "" and run again'
        )
    return ExportError(f"{path}, line {at}: not readable as CSV ({text}): correct that row")


def _fold(name: str) -> str:
    return name.strip().casefold()


def column_positions(
    path: Path, header: list[str], columns: dict[str, str], *, delimiter: str = ","
) -> dict[str, int]:
    """``[columns]`` key -> its position in ``header``; every mapped column must be there."""
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(header):
        positions.setdefault(_fold(name), []).append(position)
    found = {
        key: positions[_fold(name)] for key, name in columns.items() if _fold(name) in positions
    }
    if not found:
        others = [d for d in (";", "\t", "|") if d != delimiter and any(d in n for n in header)]
        if len(header) == 1 and others:
            # a header of one cell holding another separator: the export's delimiter differs
            shown = "\\t" if others[0] == "\t" else others[0]
            raise ExportError(
                f'{path}, line 1: the columns are separated by "{shown}": set '
                f'delimiter = "{shown}" in the mapping'
            )
        # likely a file without its header row: line 1 is then cells, and is not listed
        expected = ", ".join(f'"{name}"' for name in columns.values())
        raise ExportError(
            f"{path}, line 1: none of the columns [columns] names ({expected}) is in it: "
            "line 1 must be the export's header row (or the mapping is for another export)"
        )
    doubled = [key for key, at in found.items() if len(at) > 1]
    if doubled:
        named = ", ".join(f'{key} = "{columns[key]}"' for key in doubled)
        raise ExportError(f"{path}: the header has more than one column for {named}: rename one")
    missing = [key for key in columns if key not in found]
    if missing:
        named = ", ".join(f'{key} = "{columns[key]}"' for key in missing)
        listed = ", ".join(f'"{name.strip()}"' for name in header)
        raise ExportError(
            f"{path}: the header has no column for [columns] {named}; its columns are {listed}: "
            "correct the name in the mapping file (case and surrounding spaces do not matter), "
            "or remove an optional key the export has no column for"
        )
    return {key: at[0] for key, at in found.items()}


def parse_rate(text: str) -> float | None:
    """£ an hour from ``31.50`` or ``£31.50``; empty is None; anything else is ``bad_rate``."""
    if not text:
        return None
    amount = text.removeprefix("£").strip()
    if not _RATE.fullmatch(amount):
        raise RowRejected("bad_rate")
    return float(amount)


class ShiftExportConverter:
    def __init__(
        self,
        *,
        mapping: ExportMapping,
        key: bytes | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._map = mapping
        #: cancelled rows converted without a cancellation time, dated at their ``created``
        self.undated_cancellations = 0
        #: vacant rows whose shift has not started: ``shift_planned`` only
        self.upcoming_vacancies = 0
        #: rows refused because their unit's name is no code and ``[units]`` does not map it
        self.long_unit_names = 0
        #: the exports read as Windows-1252 because they are not UTF-8
        self.read_as_cp1252: list[Path] = []
        self._undated_row = False
        self._upcoming_row = False
        self._pseudonyms = Pseudonymiser(key) if key is not None else None
        self._source = ""  # the name of the export being read: part of its events' ids
        # one clock decides both "has the shift started" and the contract's "not in the future"
        self._clock = clock or (lambda: datetime.now(UTC))
        self._check = EventCheck(clock=self._clock, topic=ROSTERING_TOPIC)

    def _ref(self, shift_id: str) -> str:
        if self._pseudonyms is not None:
            return self._pseudonyms.spell_ref(shift_id)
        return hashlib.sha256(f"{self._map.trust_code}|{shift_id}".encode()).hexdigest()

    def _cell(self, row: dict[str, str], name: str) -> str:
        return row.get(name, "").strip()

    def _time(self, text: str) -> datetime:
        try:
            parsed = local_time(text, self._map.time_format)
            # a time written with its own offset (%z: Z, +01:00) keeps it; one without is
            # the wall clock in England
            local = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=LONDON)
            return local.astimezone(UTC)
        except ValueError:
            raise RowRejected("bad_timestamp") from None

    def _has_offset(self, text: str) -> bool:
        """A cell that :meth:`_time` read is written with its own offset (``Z``, ``+01:00``)."""
        return local_time(text, self._map.time_format).tzinfo is not None

    def _value(self, table: dict[str, str], allowed: frozenset[str], text: str, reason: str) -> str:
        value = table.get(text, text.lower().replace(" ", "_"))
        if value not in allowed:
            raise RowRejected(reason)
        return value

    def row_events(self, row: dict[str, str]) -> list[Event]:
        """The events of one row, its cells keyed by ``[columns]`` key."""
        cell = self._cell
        shift_id = cell(row, "shift_id")
        if not shift_id:
            raise RowRejected("no_shift_id")
        ref = self._ref(shift_id)
        common: dict[str, Any] = {
            "schema_version": 1,
            "trust_code": self._map.trust_code,
            "site_code": self._map.site_code,
            "source_system": "roster",
            "shift_ref": ref,
        }
        # Keyed on the shift, the kind, the export file's name and what the event says:
        # converting the same export again gives the same ids (the engine counts the repeats
        # as duplicates). Another night's export gives new ids: a row changed since (a shift
        # moved, a bank fill replaced by agency, and back again) is then applied, and an
        # unchanged one re-plans or refills its shift as it was, which changes no count.
        # Keyed on the shift and the kind alone, a changed row was dropped as a duplicate;
        # keyed on content alone, a row changed back repeated an older night's ids, which
        # ``analyse`` (the nights merged by time) dropped and a live worker applied.
        ids = Pseudonymiser(f"{ref}|{self._source}".encode())

        starts, ends, created = (self._time(cell(row, n)) for n in ("start", "end", "created"))
        if ends < starts <= ends + timedelta(days=1):
            # a night dated with its duty date: 19:30 to "08:00" that day ends the next morning,
            # on the clock the cell is written in (its own offset, else England's wall clock)
            written_with_offset = self._has_offset(cell(row, "end"))
            ends = ends + timedelta(days=1) if written_with_offset else local_end_next_day(ends)
        if ends - starts > MAX_SHIFT:
            raise RowRejected("implausible_shift_length")
        status = self._value(self._map.statuses, STATUSES, cell(row, "status"), "bad_status")
        events: list[Event] = [
            ShiftPlanned(
                **common,
                event_id=_PENDING_ID,
                occurred_at=created,
                unit_code=self._unit_code(cell(row, "unit")),
                staff_group=self._value(  # type: ignore[arg-type]
                    self._map.staff_groups,
                    STAFF_GROUPS,
                    cell(row, "staff_group"),
                    "bad_staff_group",
                ),
                starts_at=starts,
                ends_at=ends,
            )
        ]
        if status == "filled":
            filled_text = cell(row, "filled_at")
            rate = parse_rate(cell(row, "hourly_rate"))
            source_text = cell(row, "fill_source") or "substantive"
            events.append(
                ShiftFilled(
                    **common,
                    event_id=_PENDING_ID,
                    # never before the plan: written before it, the fill would find no shift
                    occurred_at=max(self._time(filled_text), created) if filled_text else created,
                    fill_source=self._value(  # type: ignore[arg-type]
                        self._map.fill_sources, FILL_SOURCES, source_text, "bad_fill_source"
                    ),
                    hourly_rate_gbp=rate,
                )
            )
        elif status == "unfilled":
            # "started with nobody in it": a shift yet to start may still be filled
            if starts <= self._clock():
                # a shift put on the roster after it started: dated at its entry, after its plan
                events.append(
                    ShiftUnfilled(**common, event_id=_PENDING_ID, occurred_at=max(starts, created))
                )
            else:
                self._upcoming_row = True
        else:
            events.append(
                ShiftChanged(
                    **common,
                    event_id=_PENDING_ID,
                    occurred_at=self._cancelled_at(row, created),
                    change="cancelled",
                )
            )
        return [_with_content_id(ids, event) for event in events]

    def _unit_code(self, name: str) -> str:
        """The mapped code of a unit name (``[units]``), else the name as a code: upper case,
        each run of other characters one ``_`` ("Ward 7 (Elderly)" -> ``WARD_7_ELDERLY``), a hyphen
        kept ("Ward 7 - Elderly" -> ``WARD_7-ELDERLY``)."""
        mapped = self._map.units.get(_fold(name))
        if mapped is not None:
            return mapped
        code = _SPACED_HYPHEN.sub("-", _NOT_IN_CODE.sub("_", name.upper())).strip("_-")
        if len(code) > UNIT_CODE_MAX:
            self.long_unit_names += 1
            raise RowRejected("unit_name_too_long")
        return code

    def _cancelled_at(self, row: dict[str, str], created: datetime) -> datetime:
        text = self._cell(row, "cancelled_at")
        if not text:
            self._undated_row = True
            return created
        cancelled = self._time(text)
        if cancelled < created:
            raise RowRejected("cancelled_before_created")
        return cancelled

    def convert(self, path: Path) -> Iterator[tuple[list[bytes], str | None]]:
        """For each row: (the events' JSON, None), or ([], the reason it gives none).

        Raises :class:`ExportError` when the file cannot be read as a whole (encoding, header,
        quoting): the caller writes nothing then.
        """
        self._source = path.name
        text, legacy = read_text(path)
        if legacy:
            self.read_as_cp1252.append(path)
        records = read_records(path, text, delimiter=self._map.delimiter)
        header = next(records, None)
        if header is None:
            raise ExportError(f"{path} is empty: it needs a header row and a row per shift")
        positions = column_positions(path, header, self._map.columns, delimiter=self._map.delimiter)
        for record in records:
            if not record:  # a blank line, skipped as csv.DictReader does
                continue
            # only the mapped positions are read: the staff columns are never looked at
            row = {k: record[at] if at < len(record) else "" for k, at in positions.items()}
            yield self._judge(row)

    def _judge(self, row: dict[str, str]) -> tuple[list[bytes], str | None]:
        self._undated_row = self._upcoming_row = False
        try:
            events = self.row_events(row)
        except RowRejected as rejected:
            return [], rejected.reason
        _, raws, refused = self._check.judge(events)
        if refused is None:
            self.undated_cancellations += self._undated_row
            self.upcoming_vacancies += self._upcoming_row
        return raws, refused

    def notes(self) -> list[str]:
        """What stderr should say about the run: counts, files and column names, no cells."""
        notes = [
            f"{path} is not UTF-8: read as Windows-1252 (Excel's plain CSV); saving it as "
            "CSV UTF-8 avoids the guess"
            for path in self.read_as_cp1252
        ]
        if count := self.undated_cancellations:
            column = self._map.columns.get("cancelled_at")
            why = f'its "{column}" cell empty' if column else "map [columns] cancelled_at"
            notes.append(
                f"{_shifts(count, 'cancelled')} without a cancellation time dated at planning "
                f"time ({why})"
            )
        if count := self.long_unit_names:
            notes.append(
                f"{count} row{'s' if count != 1 else ''} refused: a unit name longer than "
                f"{UNIT_CODE_MAX} characters as a code; map each to a code under [units] "
                '("Acute Medical Unit 2" = "AMU2")'
            )
        if count := self.upcoming_vacancies:
            notes.append(
                f"{_shifts(count, 'vacant')} not started yet: shift_planned only; "
                "shift_unfilled comes from an export made after the shift starts"
            )
        return notes


#: a time of day of 24:00 (with or without seconds, zero fractions of them) at the end of the
#: cell, after the date's space or ``T`` (or alone), with or without a zone after it (``Z``,
#: ``+01:00``, ``+0100``, `` GMT``): not the minutes and seconds of 07:24:00
_END_OF_DAY = re.compile(
    r"(?:^|(?<=[\sT]))24(?=:00(?::00(?:\.0+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?|[A-Z]{3,4})?$)"
)


#: a converted event's id until its content gives it one (:func:`_with_content_id`)
_PENDING_ID: Final = "00000000-0000-4000-8000-000000000000"


def _with_content_id(ids: Pseudonymiser, event: Event) -> Event:
    """The event with its id derived from its shift (``ids``) and everything else it says."""
    content = msgspec.structs.asdict(event)
    del content["event_id"]
    key = orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode()
    return msgspec.structs.replace(event, event_id=ids.event_id(f"{event_type_of(event)}|{key}"))


def local_end_next_day(end: datetime) -> datetime:
    """``end`` (UTC) a day later on England's wall clock: the same local time, the next date."""
    local = end.astimezone(LONDON)
    return (local.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=LONDON).astimezone(UTC)


def local_time(text: str, time_format: str) -> datetime:
    """The naive local time of a cell written in ``time_format``, and in the two variants
    rostering exports write beside it: seconds (``07:30:00``) where the format stops at the
    minute (a cell's format in the spreadsheet, or a system's "with seconds" option), and
    ``24:00``, which some systems write for a night shift ending at midnight: the next day's
    00:00. At the clock changes the caller's zone decides (``fold=0``: the repeated autumn hour
    is its first occurrence, a time in the skipped spring hour reads as an hour later)."""
    day_after = _END_OF_DAY.search(text) is not None
    if day_after:
        text = _END_OF_DAY.sub("00", text)
    try:
        parsed = datetime.strptime(text, time_format)  # noqa: DTZ007 (naive: local time)
    except ValueError:
        if not time_format.endswith("%M"):
            raise
        parsed = datetime.strptime(text, f"{time_format}:%S")  # noqa: DTZ007
    return parsed + timedelta(days=1) if day_after else parsed


def _shifts(count: int, kind: str) -> str:
    return f"{count} {kind} shift{'s' if count != 1 else ''}"


def convert_export(
    paths: list[Path], *, converter: ShiftExportConverter, out: Path
) -> ConvertStats:
    """``messages`` counts rows. ``out`` is replaced only when every file converts.

    The events are written in event-time order (a stable sort: a row's events keep theirs).
    Exports list shifts by unit, or come a file a unit: in row order, a worker consuming the
    file would run its clock through the first unit's weeks, and every other unit's events
    would come late, into hours already evaluated."""
    stats = ConvertStats()
    events: list[tuple[datetime, bytes]] = []
    for path in paths:
        for raws, reason in converter.convert(path):
            stats.add("rejected" if reason is not None else "accepted", reason, len(raws))
            events.extend((_occurred_at(raw), raw) for raw in raws)
    events.sort(key=itemgetter(0))
    with replaced_on_success(out) as part, open(part, "wb") as sink:
        for _, raw in events:
            sink.write(raw + b"\n")
    return stats


def _occurred_at(raw: bytes) -> datetime:
    return datetime.fromisoformat(orjson.loads(raw)["occurred_at"])
