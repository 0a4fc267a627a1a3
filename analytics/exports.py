"""Exports of dashboard sections and tables as CSV or XLSX (API.md "CRM effectiveness dashboard").

An export is the section's JSON, exactly as the screen gets it, flattened into tables:

- every scalar becomes a row (metric, field, value) of the table `summary`: a KPI object
  `{"avgFirstResponseTime": {"value": 42, "trend": "up", ...}}` gives the rows
  (avgFirstResponseTime, value, 42), (avgFirstResponseTime, trend, up)...; a nested object adds its
  path to the metric (`openTickets.byPriority`, `high`); a scalar at the top level has field `value`;
- every list becomes its own table named by its path (`conversationsPerAgent`, `heatmap`): a list of
  objects has their keys as columns (nested objects as dotted columns, a list of scalars inside an
  item as numbered columns `hours.0`, `hours.1`...), a list of scalars has the columns (index, value).

CSV: one file, the tables one after another separated by a blank line; every row starts with the
table's name in the column `table` (the header row of a table too), so a program can split the file
with a plain filter and a person sees the blocks. XLSX: one worksheet per table, bold header row,
numbers as numbers, date-times as Excel date-times in the organisation's time zone.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics.periods import Period

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SUMMARY = "summary"
SUMMARY_COLUMNS = ["metric", "field", "value"]

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A text cell starting with one of these would run as a formula in a spreadsheet.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ...unless it is just a number or a phone number ("+48 600 000 001"), which cannot run anything
_PLAIN_NUMBER = re.compile(r"^[+-]?\d[\d ().-]*$")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


class ExportFormatError(ValueError):
    """An unknown format; the message is a sentence for the user."""


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def check_format(value: str | None) -> str:
    """The requested format (default csv) or ExportFormatError."""
    name = (value or "csv").lower()
    if name not in FORMATS:
        raise ExportFormatError(f"format must be one of {', '.join(FORMATS)}, not {value!r}.")
    return name


# --- flattening ------------------------------------------------------------------------------------


def flatten(data: Mapping[str, Any]) -> list[Table]:
    """The section's JSON as tables: `summary` first, then one table per list, in document order."""
    summary = Table(SUMMARY, list(SUMMARY_COLUMNS))
    tables: list[Table] = [summary]
    _walk(data, "", summary, tables)
    return tables if summary.rows else tables[1:]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(obj: Mapping[str, Any], path: str, summary: Table, tables: list[Table]) -> None:
    for key, value in obj.items():
        if isinstance(value, Mapping):
            _walk(value, _join(path, str(key)), summary, tables)
        elif isinstance(value, list):
            tables.extend(_list_tables(_join(path, str(key)), value))
        else:
            summary.rows.append([path or str(key), str(key) if path else "value", value])


def _list_tables(name: str, items: list[Any]) -> list[Table]:
    if not any(isinstance(item, Mapping) for item in items):
        return [Table(name, ["index", "value"], [[i, item] for i, item in enumerate(items)])]
    columns: dict[str, None] = {}
    records: list[dict[str, Any]] = []
    children: dict[str, list[dict[str, Any]]] = {}
    for index, item in enumerate(items):
        record: dict[str, Any] = {}
        if isinstance(item, Mapping):
            _flat_record(item, "", record, children, index)
        else:
            record["value"] = item
        columns.update(dict.fromkeys(record))
        records.append(record)
    table = Table(name, list(columns), [[record.get(c) for c in columns] for record in records])
    nested = [t for child, rows in children.items() for t in _list_tables(_join(name, child), rows)]
    return [table, *nested]


def _flat_record(
    item: Mapping[str, Any], prefix: str, record: dict[str, Any], children: dict[str, list[dict[str, Any]]], parent: int
) -> None:
    for key, value in item.items():
        column = _join(prefix, str(key))
        if isinstance(value, Mapping):
            _flat_record(value, column, record, children, parent)
        elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            # a list of objects inside an item: its own table, rows pointing back at the item
            children.setdefault(column, []).extend(
                {"parent": parent, **v} if isinstance(v, Mapping) else {"parent": parent, "value": v} for v in value
            )
        elif isinstance(value, list):
            record.update({f"{column}.{i}": v for i, v in enumerate(value)})
        else:
            record[column] = value


# --- cells -----------------------------------------------------------------------------------------


def as_local_datetime(value: Any) -> datetime | None:
    """An ISO 8601 date-time string as an aware datetime in the organisation's zone, else None."""
    if not isinstance(value, str) or not _DATETIME.match(value):
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return timezone.localtime(moment)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    moment = as_local_datetime(value)
    if moment is not None:
        return moment.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _xlsx_cell(value: Any) -> Any:
    moment = as_local_datetime(value)
    if moment is not None:
        # Excel has no zones (local wall-clock time) and keeps milliseconds at best: whole seconds
        return moment.replace(tzinfo=None, microsecond=0)
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, (Mapping, list)):
        return str(value)
    return value


# --- files -----------------------------------------------------------------------------------------


def to_csv(tables: Iterable[Table]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for number, table in enumerate(tables):
        if number:
            writer.writerow([])
        writer.writerow(["table", *table.columns])
        for row in table.rows:
            writer.writerow([table.name, *(_csv_cell(v) for v in row)])
    # a byte-order mark so that Excel opens UTF-8 names correctly
    return ("\ufeff" + buffer.getvalue()).encode()


def sheet_title(name: str, taken: set[str]) -> str:
    """A worksheet title Excel accepts (≤ 31 characters, no []:*?/\\), unique in the workbook."""
    base = _SHEET_FORBIDDEN.sub("_", name)[:31] or "table"
    title, n = base, 1
    while title.lower() in taken:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    taken.add(title.lower())
    return title


def to_xlsx(tables: Iterable[Table]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    bold, taken = Font(bold=True), set[str]()
    for table in tables:
        sheet = workbook.create_sheet(sheet_title(table.name, taken))
        sheet.append(table.columns)
        for cell in sheet[1]:
            cell.font = bold
        for row in table.rows:
            sheet.append([_xlsx_cell(v) for v in row])
            for cell in sheet[sheet.max_row]:
                if cell.data_type == "f":  # text that looks like a formula stays text
                    cell.data_type = "s"
                elif isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                elif isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
        sheet.freeze_panes = "A2"
    if not workbook.worksheets:
        workbook.create_sheet(SUMMARY).append(SUMMARY_COLUMNS)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render(tables: list[Table], fmt: str) -> bytes:
    return to_xlsx(tables) if fmt == "xlsx" else to_csv(tables)


def filename(resource: str, period: Period, fmt: str) -> str:
    """e.g. `callboard-kpi-2026-05-01_2026-05-31.csv`, `callboard-agent-kpis-today-2026-05-04.xlsx`."""
    first, last = period.first_day.isoformat(), period.last_day.isoformat()
    span = first if first == last else f"{first}_{last}"
    label = f"{period.label}-" if period.label in ("today", "week", "month") else ""
    return f"callboard-{resource}-{label}{span}.{fmt}"
