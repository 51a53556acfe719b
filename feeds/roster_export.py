"""A rostering system's shift export (CSV) -> ``nhs.rostering.v1`` events (``roster convert``).

The layout supported is the one e-rostering systems export for a roster period: one row per
shift (duty), with a header row. The mapping file names the columns and translates the values::

    trust_code = "RJ1"
    site_code = "RJ122"
    time_format = "%d/%m/%Y %H:%M"      # strptime format; times are UK local time
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

Each row gives ``shift_planned`` (at ``created``) and then ``shift_filled`` (at ``filled_at``),
``shift_unfilled`` (at the shift's start) or ``shift_changed`` ``cancelled`` (at ``cancelled_at``).

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

import csv
import hashlib
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from feeds.hl7.checked import EventCheck
from feeds.hl7.convert import ConvertStats
from feeds.hl7.pseudonym import Pseudonymiser
from models.events import (
    ROSTERING_TOPIC,
    Event,
    ShiftChanged,
    ShiftFilled,
    ShiftPlanned,
    ShiftUnfilled,
)

LONDON: Final = ZoneInfo("Europe/London")
REQUIRED: Final = ("shift_id", "unit", "staff_group", "start", "end", "created", "status")
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


class RowRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ExportMapping:
    trust_code: str
    site_code: str
    columns: dict[str, str]
    time_format: str = "%Y-%m-%d %H:%M"
    staff_groups: dict[str, str] = field(default_factory=dict)
    fill_sources: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)


def load_mapping(path: Path) -> ExportMapping:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    columns = document.get("columns", {})
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ValueError(f"[columns] lacks {', '.join(missing)}")
    for key in ("trust_code", "site_code"):
        if not isinstance(document.get(key), str):
            raise ValueError(f"{key} is required")
    return ExportMapping(
        trust_code=document["trust_code"],
        site_code=document["site_code"],
        columns={str(k): str(v) for k, v in columns.items()},
        time_format=str(document.get("time_format", "%Y-%m-%d %H:%M")),
        staff_groups={str(k): str(v) for k, v in document.get("staff_groups", {}).items()},
        fill_sources={str(k): str(v) for k, v in document.get("fill_sources", {}).items()},
        statuses={str(k): str(v) for k, v in document.get("statuses", {}).items()},
    )


class ShiftExportConverter:
    def __init__(self, *, mapping: ExportMapping, key: bytes | None = None) -> None:
        self._map = mapping
        #: cancelled rows converted without a cancellation time, dated at their ``created``
        self.undated_cancellations = 0
        self._undated_row = False
        self._pseudonyms = Pseudonymiser(key) if key is not None else None
        self._check = EventCheck(topic=ROSTERING_TOPIC)

    def _ref(self, shift_id: str) -> str:
        if self._pseudonyms is not None:
            return self._pseudonyms.spell_ref(shift_id)
        return hashlib.sha256(f"{self._map.trust_code}|{shift_id}".encode()).hexdigest()

    def _cell(self, row: dict[str, str], name: str) -> str:
        header = self._map.columns.get(name)
        return (row.get(header) or "").strip() if header else ""

    def _time(self, text: str) -> datetime:
        try:
            local = datetime.strptime(text, self._map.time_format).replace(tzinfo=LONDON)
            return local.astimezone(UTC)
        except ValueError:
            raise RowRejected("bad_timestamp") from None

    def _value(self, table: dict[str, str], allowed: frozenset[str], text: str, reason: str) -> str:
        value = table.get(text, text.lower().replace(" ", "_"))
        if value not in allowed:
            raise RowRejected(reason)
        return value

    def row_events(self, row: dict[str, str]) -> list[Event]:
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
        # keyed on the shift and the kind only: the next export of the same roster gives the
        # same ids, and the engine counts the repeats as duplicates
        ids = Pseudonymiser(ref.encode())

        def event_id(kind: str) -> str:
            return ids.event_id(kind)

        starts, ends, created = (self._time(cell(row, n)) for n in ("start", "end", "created"))
        status = self._value(self._map.statuses, STATUSES, cell(row, "status"), "bad_status")
        events: list[Event] = [
            ShiftPlanned(
                **common,
                event_id=event_id("planned"),
                occurred_at=created,
                unit_code=cell(row, "unit").upper().replace(" ", "_"),
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
            rate_text = cell(row, "hourly_rate").lstrip("£")
            try:
                rate = float(rate_text) if rate_text else None
            except ValueError:
                raise RowRejected("bad_rate") from None
            source_text = cell(row, "fill_source") or "substantive"
            events.append(
                ShiftFilled(
                    **common,
                    event_id=event_id("filled"),
                    occurred_at=self._time(filled_text) if filled_text else created,
                    fill_source=self._value(  # type: ignore[arg-type]
                        self._map.fill_sources, FILL_SOURCES, source_text, "bad_fill_source"
                    ),
                    hourly_rate_gbp=rate,
                )
            )
        elif status == "unfilled":
            events.append(
                ShiftUnfilled(**common, event_id=event_id("unfilled"), occurred_at=starts)
            )
        else:
            events.append(
                ShiftChanged(
                    **common,
                    event_id=event_id("changed"),
                    occurred_at=self._cancelled_at(row, created),
                    change="cancelled",
                )
            )
        return events

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
        """For each row: (the events' JSON, None), or ([], the reason it gives none)."""
        with path.open(newline="", encoding="utf-8-sig") as source:
            for row in csv.DictReader(source):
                self._undated_row = False
                try:
                    events = self.row_events(row)
                except RowRejected as rejected:
                    yield [], rejected.reason
                    continue
                _, raws, refused = self._check.judge(events)
                if refused is None and self._undated_row:
                    self.undated_cancellations += 1
                yield raws, refused


def convert_export(
    paths: list[Path], *, converter: ShiftExportConverter, out: Path
) -> ConvertStats:
    """``messages`` counts rows."""
    stats = ConvertStats()
    with open(out, "wb") as sink:
        for path in paths:
            for raws, reason in converter.convert(path):
                stats.add("rejected" if reason is not None else "accepted", reason, len(raws))
                for raw in raws:
                    sink.write(raw + b"\n")
    return stats
