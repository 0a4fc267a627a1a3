"""Importing historical calls (API.md "Calls": `POST /api/calls/import`, `manage.py import_calls`).

Reading a file into rows, checking every row, and matching rows to calls already stored by their
identifiers happen here, in Python, without writing anything. `calls.actions.do_import_calls` runs
these and then writes everything in one transaction — or nothing, when any row is wrong. The README's
"Importing calls" section is the user's description of the format.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import actions
from calls.access import current_user
from calls.models import FINAL_CALL_STATUSES, CallDirection, CallLog, CallOutcome, CallStatus
from crm.models import Campaign, Contact, User
from crm.phones import to_e164

# The largest import accepted in one request or command (bigger histories: split the file).
MAX_IMPORT_ROWS = 100_000
MAX_IMPORT_BYTES = 50 * 1024 * 1024
# A file with many bad rows reports the first ones; the detail sentence gives the total.
MAX_REPORTED_ERRORS = 1_000

REQUIRED_COLUMNS = ("agent", "phone_number", "started_at", "status")
OPTIONAL_COLUMNS = (
    "answered_at",
    "ended_at",
    "outcome",
    "direction",
    "wrap_up_seconds",
    "notes",
    "contact_phone",
    "contact_id",
    "campaign",
    "external_id",
    "twilio_call_sid",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# The CallLog fields an import sets; an update compares and overwrites exactly these.
IMPORTED_FIELDS = (
    "agent_id",
    "contact_id",
    "campaign_id",
    "phone_number",
    "direction",
    "status",
    "outcome",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_seconds",
    "wrap_up_seconds",
    "notes",
    "external_id",
    "twilio_call_sid",
)

# Times may be written a few minutes ahead of the server's clock; later than that is a mistake.
CLOCK_SKEW = timedelta(minutes=5)
# SQLite allows 999 parameters per statement in old builds; stay below for every `__in` lookup.
LOOKUP_CHUNK = 900
# Rows per bulk INSERT call (Django splits each further to fit the database's parameter limit) and per
# bulk UPDATE (its CASE expressions grow with the batch, so smaller).
WRITE_BATCH = 5_000
UPDATE_BATCH = 500

Progress = Callable[[str, int, int], None]
"""progress(stage, rows_advanced, rows_total); stages are "checking" and "writing"."""


def oversized(detail: str) -> actions.CallActionError:
    return actions.CallActionError("oversized_import", f"Oversized import: {detail}", status=413)


def invalid_file(detail: str) -> actions.CallActionError:
    return actions.CallActionError("invalid_import", detail)


# --- Reading files ---------------------------------------------------------------------------------


def _decode(data: bytes | str) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise oversized(f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it into smaller files.")
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid_file(f"The file is not UTF-8 text (byte {exc.start} cannot be read).") from None


def _too_many_rows() -> actions.CallActionError:
    return oversized(f"more than {MAX_IMPORT_ROWS:,} rows; split the file into smaller files.")


def rows_from_csv(data: bytes | str) -> list[dict[str, Any]]:
    """A CSV file with a header row → one dict per data row (keys: the header's column names).

    A row with more cells than the header gets the extra cells under the key None (reported as
    that row's error); a row with fewer cells has None for the missing ones.
    """
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise invalid_file("The file is empty; it needs a header row and at least one call.")
        columns = [cell.strip().lower() for cell in header]
        _check_header(columns)
        rows: list[dict[str, Any]] = []
        width = len(columns)
        for cells in reader:
            if not cells:
                continue  # a blank line
            if len(rows) >= MAX_IMPORT_ROWS:
                raise _too_many_rows()
            row: dict[str, Any] = dict(zip(columns, cells, strict=False))
            if len(cells) > width:
                extra = [cell for cell in cells[width:] if cell.strip()]
                if extra:
                    row[None] = extra  # type: ignore[index]
            rows.append(row)
    except csv.Error as exc:
        raise invalid_file(f"The CSV cannot be read near line {reader.line_num}: {exc}.") from None
    return rows


def _check_header(columns: list[str]) -> None:
    unknown = [c for c in columns if c and c not in COLUMNS]
    if unknown:
        raise invalid_file(
            f"Unknown column(s): {', '.join(repr(c) for c in unknown)}. The columns are: {', '.join(COLUMNS)}."
        )
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        raise invalid_file(f"Column(s) {', '.join(repr(c) for c in repeated)} appear more than once in the header.")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise invalid_file(f"The header has no column {', '.join(missing)}; these columns are required.")


def rows_from_json(data: bytes | str | Any) -> list[Any]:
    """A JSON list of call objects, or {"calls": [...]}, → that list (items are checked per row)."""
    if isinstance(data, (bytes, str)):
        text = _decode(data)
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise invalid_file(f"The JSON cannot be read: {exc}.") from None
    if isinstance(data, dict) and set(data) == {"calls"}:
        data = data["calls"]
    if not isinstance(data, list):
        raise invalid_file('The JSON must be a list of calls, or an object {"calls": [...]}.')
    if len(data) > MAX_IMPORT_ROWS:
        raise _too_many_rows()
    return data


def read_rows(data: bytes | str, file_format: str) -> list[Any]:
    if file_format == "csv":
        return rows_from_csv(data)
    if file_format == "json":
        return rows_from_json(data)
    raise invalid_file(f"Unknown format {file_format!r}; use csv or json.")


# --- Checking rows ---------------------------------------------------------------------------------


@dataclass
class PreparedCall:
    """A valid row: its 1-based number in the file and the CallLog field values to store."""

    row: int
    values: dict[str, Any]


@dataclass
class RowErrors:
    """Problems found, in row order; only the first MAX_REPORTED_ERRORS are kept."""

    items: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    rows: set[int] = field(default_factory=set)

    def add(self, row: int, detail: str) -> None:
        self.count += 1
        self.rows.add(row)
        if len(self.items) < MAX_REPORTED_ERRORS:
            self.items.append({"row": row, "detail": detail})

    def summary(self) -> str:
        rows = len(self.rows)
        text = f"{rows} row{'s' if rows != 1 else ''} of the file {'have' if rows != 1 else 'has'} errors"
        if self.count > len(self.items):
            text += f" ({self.count} problems; the first {len(self.items)} are listed)"
        return text + "; nothing was imported."


class _Bad(Exception):
    """One problem with one value of a row."""


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Bad(f"{key} must be text, not {type(value).__name__}.")


def _timezone() -> tzinfo:
    return ZoneInfo(settings.TIME_ZONE)


def _time(row: Mapping[str, Any], key: str, zone: tzinfo) -> datetime | None:
    text = _text(row, key)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{key} {text!r} is not an ISO 8601 date and time (e.g. 2026-03-29T09:15:00+02:00).") from None
    if len(text) <= 10:  # a date alone parses as midnight; a call needs its time
        raise _Bad(f"{key} {text!r} has no time of day (e.g. 2026-03-29T09:15:00+02:00).")
    if value.tzinfo is None:
        value = _localize(value, key, text, zone)
    return value.astimezone(UTC)


def _localize(naive: datetime, key: str, text: str, zone: tzinfo) -> datetime:
    """A naive time is a wall-clock time in TIME_ZONE. Around a DST change a wall-clock time can be
    missing (clocks skip it) or happen twice (clocks go back); both are refused rather than guessed."""
    first = naive.replace(tzinfo=zone)
    if first.utcoffset() == naive.replace(tzinfo=zone, fold=1).utcoffset():
        return first
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise _Bad(
            f"{key} {text!r} does not exist in {settings.TIME_ZONE} (the clocks skip that hour); "
            "write it with its UTC offset."
        )
    raise _Bad(
        f"{key} {text!r} happens twice in {settings.TIME_ZONE} (the clocks go back that night); "
        "write it with its UTC offset."
    )


def _seconds(row: Mapping[str, Any], key: str) -> int:
    value = row.get(key)
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise _Bad(f"{key} must be a whole number of seconds.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value < 0 or value >= 2**31:
        raise _Bad(f"{key} must be a whole number of seconds, 0 or more; {value!r} is not.")
    return value


_STATUS_HINT = ", ".join(FINAL_CALL_STATUSES)
_OUTCOME_HINT = ", ".join(CallOutcome.values)
# Enum .values rebuilds its list on every access; these are checked 100,000 times per file.
_FINAL_STATUSES = frozenset(FINAL_CALL_STATUSES)
_OUTCOMES = frozenset(CallOutcome.values)
_DIRECTIONS = frozenset(CallDirection.values)
_NOT_ANSWERABLE = frozenset((CallStatus.NO_ANSWER, CallStatus.BUSY))
_COLUMN_SET = frozenset(COLUMNS)


@dataclass
class _Lookups:
    """Everything rows refer to by name, loaded once for the whole file."""

    zone: tzinfo
    now: datetime
    agents: dict[str, int]
    contacts_by_id: dict[int, tuple[int, int | None]]  # id → (id, campaign_id)
    contacts_by_phone: dict[str, tuple[int, int | None]]
    campaigns: dict[str, int]
    phones: dict[str, str | ValidationError] = field(default_factory=dict)

    def phone(self, raw: str) -> str:
        found = self.phones.get(raw)
        if found is None:
            try:
                found = to_e164(raw)
            except ValidationError as exc:
                found = exc
            self.phones[raw] = found
        if isinstance(found, ValidationError):
            raise _Bad(" ".join(found.messages))
        return found


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def _load_lookups(rows: Sequence[Any], now: datetime) -> _Lookups:
    dicts = [row for row in rows if isinstance(row, Mapping)]

    def wanted(key: str) -> list[str]:
        found = set()
        for row in dicts:
            value = row.get(key)
            if isinstance(value, str) and value.strip():
                found.add(value.strip())
            elif isinstance(value, int) and not isinstance(value, bool):
                found.add(str(value))
        return sorted(found)

    lookups = _Lookups(zone=_timezone(), now=now, agents={}, contacts_by_id={}, contacts_by_phone={}, campaigns={})
    for chunk in _chunks(wanted("agent")):
        lookups.agents.update(User.objects.filter(username__in=chunk).values_list("username", "pk"))
    for chunk in _chunks(wanted("campaign")):
        lookups.campaigns.update(Campaign.objects.filter(name__in=chunk).values_list("name", "pk"))
    ids = [int(v) for v in wanted("contact_id") if v.isdigit()]
    for chunk in _chunks(ids):
        for pk, campaign_id in Contact.objects.filter(pk__in=chunk).values_list("pk", "campaign_id"):
            lookups.contacts_by_id[pk] = (pk, campaign_id)
    phones = set()
    for raw in wanted("contact_phone"):
        with contextlib.suppress(_Bad):  # a bad number is reported on its row
            phones.add(lookups.phone(raw))
    for chunk in _chunks(sorted(phones)):
        for pk, phone, campaign_id in Contact.objects.filter(phone__in=chunk).values_list("pk", "phone", "campaign_id"):
            lookups.contacts_by_phone[phone] = (pk, campaign_id)
    return lookups


def _check_row(row: Any, lookups: _Lookups) -> tuple[dict[str, Any] | None, list[str]]:
    """The CallLog values of one row, or the sentences saying what is wrong with it."""
    if not isinstance(row, Mapping):
        return None, [f"Each call must be an object with named fields, not {type(row).__name__}."]
    problems: list[str] = []

    def attempt(check: Callable[[], Any], default: Any = None) -> Any:
        try:
            return check()
        except _Bad as exc:
            problems.append(str(exc))
            return default

    if None in row:
        problems.append(f"The row has more cells than the header has columns ({len(row[None])} extra).")
    unknown = [key for key in row if key is not None and key not in _COLUMN_SET]
    if unknown:
        problems.append(f"Unknown field(s): {', '.join(map(repr, unknown))}.")

    agent_id = None
    username = attempt(lambda: _text(row, "agent"), "")
    if username:
        agent_id = lookups.agents.get(username)
        if agent_id is None:
            problems.append(f"There is no user with username {username!r}.")
    elif not _has(row, "agent"):
        problems.append("agent (the agent's username) is required.")

    phone = ""
    raw_phone = attempt(lambda: _text(row, "phone_number"), "")
    if raw_phone:
        phone = attempt(lambda: lookups.phone(raw_phone), "")
    elif not _has(row, "phone_number"):
        problems.append("phone_number is required.")

    zone = lookups.zone
    started_at = attempt(lambda: _time(row, "started_at", zone))
    if started_at is None and not _has(row, "started_at"):
        problems.append("started_at is required.")
    answered_at = attempt(lambda: _time(row, "answered_at", zone))
    ended_at = attempt(lambda: _time(row, "ended_at", zone))

    status = attempt(lambda: _text(row, "status").lower(), "")
    if not status:
        if not _has(row, "status"):
            problems.append(f"status is required ({_STATUS_HINT}).")
    elif status == CallStatus.IN_PROGRESS:
        problems.append(f"in_progress calls cannot be imported; the status must be final ({_STATUS_HINT}).")
        status = ""
    elif status not in _FINAL_STATUSES:
        problems.append(f"{status!r} is not a call status ({_STATUS_HINT}).")
        status = ""

    outcome = attempt(lambda: _text(row, "outcome").lower(), "")
    if outcome and outcome not in _OUTCOMES:
        problems.append(f"{outcome!r} is not a call outcome ({_OUTCOME_HINT}, or empty).")
    direction = attempt(lambda: _text(row, "direction").lower(), "") or CallDirection.OUTBOUND
    if direction not in _DIRECTIONS:
        problems.append(f"direction must be outbound or inbound, not {direction!r}.")
    wrap_up = attempt(lambda: _seconds(row, "wrap_up_seconds"), 0)
    notes = row.get("notes") or ""
    if not isinstance(notes, str):
        problems.append("notes must be text.")

    contact = attempt(lambda: _contact(row, lookups))
    campaign_id = None
    campaign_name = attempt(lambda: _text(row, "campaign"), "")
    if campaign_name:
        campaign_id = lookups.campaigns.get(campaign_name)
        if campaign_id is None:
            problems.append(f"There is no campaign named {campaign_name!r}.")
    elif contact is not None:
        campaign_id = contact[1]  # as when a call starts: the contact's campaign

    external_id = attempt(lambda: _text(row, "external_id"), "")
    if len(external_id) > 100:
        problems.append("external_id may be at most 100 characters long.")
    sid = attempt(lambda: _text(row, "twilio_call_sid"), "")
    if len(sid) > 64:
        problems.append("twilio_call_sid may be at most 64 characters long.")

    if started_at is not None:
        latest = lookups.now + CLOCK_SKEW
        if started_at > latest or (ended_at is not None and ended_at > latest):
            problems.append("The call is in the future; only calls that have ended can be imported.")
        if answered_at is not None and answered_at < started_at:
            problems.append("answered_at is before started_at.")
        if ended_at is not None and ended_at < started_at:
            problems.append("ended_at is before started_at (the call cannot end before it starts).")
    if answered_at is not None and ended_at is not None and answered_at > ended_at:
        problems.append("answered_at is after ended_at (the call cannot be answered after it ended).")
    if answered_at is not None and status in _NOT_ANSWERABLE:
        problems.append(f"The call has answered_at, so its status cannot be {status}.")
    if problems:
        return None, problems

    assert started_at is not None  # noqa: S101 - checked above
    if status == CallStatus.COMPLETED and answered_at is None:
        answered_at = started_at  # METRICS.md: a completed call without an answer time counts from start
    if ended_at is None:
        ended_at = answered_at or started_at  # no end time given: no talk time
    return {
        "agent_id": agent_id,
        "contact_id": contact[0] if contact is not None else None,
        "campaign_id": campaign_id,
        "phone_number": phone,
        "direction": direction,
        "status": status,
        "outcome": outcome,
        "started_at": started_at,
        "answered_at": answered_at,
        "ended_at": ended_at,
        "duration_seconds": actions.talk_seconds(answered_at, ended_at),
        "wrap_up_seconds": wrap_up,
        "notes": notes,
        "external_id": external_id or None,
        "twilio_call_sid": sid or None,
    }, []


def _has(row: Mapping[str, Any], key: str) -> bool:
    """The value is present but was not understood (its own problem has been reported)."""
    value = row.get(key)
    return value is not None and not (isinstance(value, str) and not value.strip())


def _contact(row: Mapping[str, Any], lookups: _Lookups) -> tuple[int, int | None] | None:
    by_id = by_phone = None
    raw_id = _text(row, "contact_id")
    if raw_id:
        if not raw_id.isdigit():
            raise _Bad(f"contact_id must be a contact's number, not {raw_id!r}.")
        by_id = lookups.contacts_by_id.get(int(raw_id))
        if by_id is None:
            raise _Bad(f"There is no contact with id {raw_id}.")
    raw_phone = _text(row, "contact_phone")
    if raw_phone:
        phone = lookups.phone(raw_phone)
        by_phone = lookups.contacts_by_phone.get(phone)
        if by_phone is None:
            raise _Bad(f"There is no contact with phone {phone}.")
    if by_id is not None and by_phone is not None and by_id[0] != by_phone[0]:
        raise _Bad(f"contact_id {raw_id} and contact_phone {raw_phone!r} are different contacts.")
    return by_id or by_phone


def _identifier(row: Any, key: str) -> str:
    """The row's identifier as written, even when the row is wrong otherwise (to report duplicates)."""
    if not isinstance(row, Mapping):
        return ""
    try:
        return _text(row, key)
    except _Bad:
        return ""


def check_rows(
    rows: Sequence[Any], *, now: datetime, progress: Progress | None = None
) -> tuple[list[PreparedCall], RowErrors]:
    """Check every row; return the valid ones' values and every problem (with its row number)."""
    lookups = _load_lookups(rows, now)
    prepared: list[PreparedCall] = []
    errors = RowErrors()
    first_row: dict[tuple[str, str], int] = {}
    total = len(rows)
    for number, row in enumerate(rows, start=1):
        values, problems = _check_row(row, lookups)
        for key in ("external_id", "twilio_call_sid"):
            value = _identifier(row, key)
            if value:
                seen = first_row.setdefault((key, value), number)
                if seen != number:
                    problems.append(f"{key} {value!r} is also on row {seen}; each call may appear only once.")
        for problem in problems:
            errors.add(number, problem)
        if values is not None and not problems:
            prepared.append(PreparedCall(number, values))
        if progress is not None and (number % 1000 == 0 or number == total):
            progress("checking", 1000 if number % 1000 == 0 else number % 1000, total)
    return prepared, errors


# --- Matching rows to stored calls ----------------------------------------------------------------


@dataclass
class ImportPlan:
    create: list[CallLog] = field(default_factory=list)
    update: list[CallLog] = field(default_factory=list)
    update_fields: set[str] = field(default_factory=set)
    skipped: int = 0


def plan_import(prepared: Sequence[PreparedCall], errors: RowErrors, *, source: str) -> ImportPlan:
    """Which rows create a call, which update the call with the same external_id or Twilio SID
    (when anything differs), and which change nothing. Conflicts are added to `errors`.

    Run inside the import's transaction, so the stored identifiers cannot change underneath it.
    """
    by_key: dict[str, dict[str, CallLog]] = {"external_id": {}, "twilio_call_sid": {}}
    only = ("pk", "status", "source", *IMPORTED_FIELDS)
    for key, stored in by_key.items():
        wanted = sorted({p.values[key] for p in prepared if p.values[key] is not None})
        for chunk in _chunks(wanted):
            for found in CallLog.objects.filter(**{f"{key}__in": chunk}).only(*only).order_by():
                stored[getattr(found, key)] = found

    plan = ImportPlan()
    matched_by_row: dict[int, int] = {}  # call pk → row that updates it
    for item in prepared:
        values = item.values
        ext, sid = values["external_id"], values["twilio_call_sid"]
        by_ext = by_key["external_id"].get(ext) if ext is not None else None
        by_sid = by_key["twilio_call_sid"].get(sid) if sid is not None else None
        if by_ext is not None and by_sid is not None and by_ext.pk != by_sid.pk:
            errors.add(
                item.row,
                f"external_id {ext!r} is call {by_ext.pk} but twilio_call_sid {sid!r} is call {by_sid.pk}; "
                "a row may match only one call.",
            )
            continue
        call: CallLog | None = by_ext or by_sid
        if call is None:
            plan.create.append(CallLog(**values, source=source))
            continue
        other_row = matched_by_row.setdefault(call.pk, item.row)
        if other_row != item.row:
            errors.add(item.row, f"This row and row {other_row} both match call {call.pk}.")
            continue
        if call.status == CallStatus.IN_PROGRESS:
            errors.add(
                item.row, f"Call {call.pk} with this identifier is still in progress; it cannot be imported over."
            )
            continue
        # An empty identifier in the file keeps the call's own (it is how Twilio and re-imports find it).
        values = {**values, "external_id": ext or call.external_id, "twilio_call_sid": sid or call.twilio_call_sid}
        changed = [name for name in IMPORTED_FIELDS if getattr(call, name) != values[name]]
        if not changed:
            plan.skipped += 1
            continue
        for name in changed:
            setattr(call, name, values[name])
        plan.update.append(call)
        plan.update_fields.update(changed)
    return plan


# --- The API view ------------------------------------------------------------------------------------


class _ImportParser(BaseParser):
    file_format = ""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:  # a list of rows
        # Read one byte more than allowed: enough to know the body is too big without holding more.
        data = stream.read(MAX_IMPORT_BYTES + 1) if stream is not None else b""
        return read_rows(data, self.file_format)


class CallImportCSVParser(_ImportParser):
    media_type = "text/csv"
    file_format = "csv"


class CallImportJSONParser(_ImportParser):
    media_type = "application/json"
    file_format = "json"


class CallImportView(APIView):
    """`POST /api/calls/import` (admins): a CSV (text/csv) or JSON body of historical calls."""

    parser_classes = [CallImportCSVParser, CallImportJSONParser]

    @extend_schema(
        request={"text/csv": str, "application/json": list[dict[str, Any]]},
        parameters=[OpenApiParameter("dry_run", bool, description="Check and count, write nothing.")],
        responses={
            200: inline_serializer(
                "CallImportResult",
                {
                    "created": serializers.IntegerField(),
                    "updated": serializers.IntegerField(),
                    "skipped": serializers.IntegerField(),
                    "errors": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        if not current_user(request).is_admin:
            raise PermissionDenied("Only admins may import calls.")
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_IMPORT_BYTES:
            raise oversized(f"the body is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split the file.")
        rows = request.data
        if not isinstance(rows, list) or not rows:
            raise ParseError("The body has no calls; send a CSV with a header row, or a JSON list of calls.")
        dry_run = request.query_params.get("dry_run", "").lower() in ("1", "true", "yes")
        result = actions.do_import_calls(rows, dry_run=dry_run)
        if result.errors:
            body = {"success": False, "error": "invalid_import", "detail": result.detail, "fields": {}}
            return Response({**body, **result.as_dict()}, status=400)
        return Response(result.as_dict())
