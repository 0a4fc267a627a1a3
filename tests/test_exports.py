"""Exports of the dashboard sections and the team KPI table, and the metric drill-down (analytics/exports.py,
analytics/export_views.py).

Every file is parsed back (csv module, openpyxl) and compared with the JSON the screen gets for the
same parameters; filters, access rules and the audit log are checked through the API.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from openpyxl import load_workbook

from analytics import exports
from analytics.export_views import drill_down_url
from analytics.models import AuditAction, AuditLog
from analytics.periods import Period, custom_period, day_period
from analytics.registry import METRICS, Metric
from crm.models import Team, User
from crm.periods import local_midnight
from tests.factories import CallLogFactory, ConversationFactory, MessageFactory

SECTIONS = (
    "kpi",
    "conversation-effectiveness",
    "whatsapp-performance",
    "customer-load",
    "agent-productivity",
    "automation-impact",
    "business-impact",
)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- reading files back ------------------------------------------------------------------------------


def read_csv(content: bytes) -> dict[str, list[dict[str, str]]]:
    """{table: rows as dicts}; each block is a header row then data rows, all starting with the table name."""
    text = content.decode("utf-8-sig")
    tables: dict[str, list[dict[str, str]]] = {}
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row:
            header = None
            continue
        if header is None:
            assert row[0] == "table", row
            header = row[1:]
            continue
        tables.setdefault(row[0], []).append(dict(zip(header, row[1:], strict=True)))
    return tables


def read_xlsx(content: bytes) -> dict[str, list[dict[str, Any]]]:
    workbook = load_workbook(io.BytesIO(content))
    tables = {}
    for sheet in workbook.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        header = [str(h) for h in rows[0]]
        tables[sheet.title] = [dict(zip(header, row, strict=True)) for row in rows[1:]]
        assert all(cell.font.bold for cell in sheet[1])
    return tables


def expected_tables(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The JSON's figures in table form, computed independently of analytics.exports."""
    tables: dict[str, list[dict[str, Any]]] = {}

    def walk(obj: dict[str, Any], path: str) -> None:
        for key, value in obj.items():
            here = f"{path}.{key}" if path else key
            if isinstance(value, dict):
                walk(value, here)
            elif isinstance(value, list):
                rows: list[dict[str, Any]] = []
                for i, item in enumerate(value):
                    rows.append(flat_item(item) if isinstance(item, dict) else {"index": i, "value": item})
                tables[here] = rows
            else:
                row = {"metric": path or key, "field": key if path else "value", "value": value}
                tables.setdefault("summary", []).append(row)

    walk(data, "")
    return tables


def flat_item(item: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in item.items():
        column = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flat_item(value, column))
        elif isinstance(value, list) and not any(isinstance(v, dict) for v in value):
            flat.update({f"{column}.{i}": v for i, v in enumerate(value)})
        elif not isinstance(value, list):
            flat[column] = value
    return flat


def same_cell(expected: Any, got: Any, *, as_text: bool) -> bool:
    if expected is None:
        return got in ("", None)
    if isinstance(expected, str) and (moment := exports.as_local_datetime(expected)):
        if as_text:
            return parse_datetime(got) == moment
        return got == moment.replace(tzinfo=None, microsecond=0)
    if isinstance(expected, str) and len(expected) == 10 and not as_text and isinstance(got, datetime):
        return got.date().isoformat() == expected  # openpyxl reads a date cell back as a datetime
    if as_text:
        if isinstance(expected, bool):
            return got == ("true" if expected else "false")
        if isinstance(expected, str) and expected.startswith(("=", "+", "-", "@")) and not expected[1:].isdigit():
            return got == "'" + expected
        if isinstance(expected, (int, float)):
            return float(got) == float(expected)
        return got == str(expected)
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return isinstance(got, (int, float)) and float(got) == float(expected)
    return got == expected


def assert_file_matches(data: dict[str, Any], tables: dict[str, list[dict[str, Any]]], *, as_text: bool) -> None:
    expected = expected_tables(data)
    by_name = {exports.sheet_title(name, set()) if not as_text else name: rows for name, rows in expected.items()}
    nonempty = {name for name, rows in by_name.items() if rows}
    assert nonempty <= set(tables), (nonempty - set(tables), set(tables))
    for name, rows in by_name.items():
        got = tables.get(name, [])
        assert len(got) == len(rows), name
        for want_row, got_row in zip(rows, got, strict=True):
            for column, want in want_row.items():
                assert same_cell(want, got_row[column], as_text=as_text), (name, column, want, got_row[column])


# --- flattening (no database) ------------------------------------------------------------------------


SAMPLE = {
    "period": {"start": "2026-05-04T00:00:00+00:00", "end": "2026-05-05T00:00:00+00:00", "label": "custom"},
    "totalConversations": 12,
    "avgFirstResponseTime": {"value": 42.5, "trend": "up", "change": 12.0, "slaStatus": "good"},
    "openTickets": {"value": 5, "byPriority": {"high": 2, "low": 3}},
    "conversationsPerAgent": [
        {"agentId": 1, "agentName": "=cmd()", "conversations": 7, "active": True, "phone": "+48600000001"},
        {"agentId": 2, "agentName": "Bo", "conversations": 5, "active": False, "extra": None},
    ],
    "heatmap": [{"day": "Mon", "hours": [0, 1, 2]}, {"day": "Tue", "hours": [3, 4, 5]}],
    "labels": ["a", "b"],
    "funnel": [{"stage": "sent", "steps": [{"at": "2026-05-04T09:00:00Z", "n": 1}]}],
}


def test_flatten_puts_scalars_in_summary_and_each_list_in_its_own_table():
    tables = {t.name: t for t in exports.flatten(SAMPLE)}
    assert list(tables) == [
        "summary",
        "conversationsPerAgent",
        "heatmap",
        "labels",
        "funnel",
        "funnel.steps",
    ]
    summary = tables["summary"].rows
    assert ["totalConversations", "value", 12] in summary
    assert ["avgFirstResponseTime", "trend", "up"] in summary
    assert ["openTickets.byPriority", "high", 2] in summary
    assert ["period", "label", "custom"] in summary
    agents = tables["conversationsPerAgent"]
    assert agents.columns == ["agentId", "agentName", "conversations", "active", "phone", "extra"]
    assert agents.rows[0] == [1, "=cmd()", 7, True, "+48600000001", None]
    assert tables["heatmap"].columns == ["day", "hours.0", "hours.1", "hours.2"]
    assert tables["labels"].records() == [{"index": 0, "value": "a"}, {"index": 1, "value": "b"}]
    assert tables["funnel.steps"].records() == [{"parent": 0, "at": "2026-05-04T09:00:00Z", "n": 1}]


def test_csv_and_xlsx_round_trip_the_sample(settings):
    settings.TIME_ZONE = "Europe/Warsaw"
    timezone.deactivate()
    tables = exports.flatten(SAMPLE)
    text = read_csv(exports.to_csv(tables))
    assert_file_matches(SAMPLE, text, as_text=True)
    assert text["conversationsPerAgent"][0]["agentName"] == "'=cmd()"  # never a formula
    assert text["conversationsPerAgent"][0]["phone"] == "+48600000001"  # a phone number stays as it is
    assert text["summary"][0]["value"] == "2026-05-04T02:00:00+02:00"  # local time with its offset
    sheets = read_xlsx(exports.to_xlsx(tables))
    assert_file_matches(SAMPLE, sheets, as_text=False)
    assert sheets["conversationsPerAgent"][0]["agentName"] == "=cmd()"  # text, not a formula
    assert sheets["summary"][0]["value"] == datetime(2026, 5, 4, 2, 0)  # noqa: DTZ001 - Excel's wall clock
    assert isinstance(sheets["heatmap"][1]["hours.2"], int)


def test_xlsx_sheet_titles_are_valid_and_unique():
    taken: set[str] = set()
    long = "a" * 40
    assert exports.sheet_title(long, taken) == "a" * 31
    second = exports.sheet_title(long, taken)
    assert len(second) <= 31 and second != "a" * 31
    assert exports.sheet_title("x/y[1]", taken) == "x_y_1_"


def test_filename_names_the_resource_and_the_period():
    day = day_period(date(2026, 5, 4))
    assert exports.filename("kpi", day, "csv") == "callboard-kpi-2026-05-04.csv"
    span = custom_period(date(2026, 5, 1), date(2026, 5, 31))
    assert exports.filename("agent-kpis", span, "xlsx") == "callboard-agent-kpis-2026-05-01_2026-05-31.xlsx"
    today = Period(local_midnight(date(2026, 5, 4)), local_midnight(date(2026, 5, 4)) + timedelta(hours=12), "today")
    assert exports.filename("kpi", today, "csv") == "callboard-kpi-today-2026-05-04.csv"


# --- drill-down links ----------------------------------------------------------------------------------


def test_drill_down_url_fills_period_and_agent():
    period = custom_period(date(2026, 5, 1), date(2026, 5, 7))
    template = "/api/calls/log?user_id={agent}&start_date={start_date}&end_date={end_date}&status=no_answer"
    assert (
        drill_down_url(template, period, 7)
        == "/api/calls/log?user_id=7&start_date=2026-05-01&end_date=2026-05-07&status=no_answer"
    )
    # no single agent: the parameter goes, the reader sees everything they may see
    assert (
        drill_down_url(template, period, None)
        == "/api/calls/log?start_date=2026-05-01&end_date=2026-05-07&status=no_answer"
    )
    # the short names and a daily link over a longer period
    daily = "/api/calls/log?user_id={agent}&start_date={date}&end_date={date}"
    assert drill_down_url(daily, period, 3) == "/api/calls/log?user_id=3&start_date=2026-05-01&end_date=2026-05-07"
    assert drill_down_url("/api/calls/log?start_date={start}&end_date={end}", period, None) == (
        "/api/calls/log?start_date=2026-05-01&end_date=2026-05-07"
    )
    assert drill_down_url("/api/x?q={unknown}&a=1", period, None) == "/api/x?a=1"
    assert drill_down_url("", period, 1) == ""


@pytest.fixture
def probe_metric(monkeypatch) -> Metric:
    probe = Metric(
        "probe_calls",
        "Probe calls",
        "count",
        "Calls of the probe, for the drill-down tests of the export module.",
        from_counters=lambda c: c.get("calls", 0),
        drill_down="/api/calls/log?user_id={agent}&start_date={start_date}&end_date={end_date}",
    )
    monkeypatch.setitem(METRICS, probe.key, probe)
    return probe


def test_metric_endpoint_describes_and_fills_for_an_agent(agent_a1, team_a, probe_metric):
    response = client_for(agent_a1).get(
        "/api/dashboard/metrics/probe_calls", {"startDate": "2026-05-01", "endDate": "2026-05-03"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["key"] == "probe_calls" and body["unit"] == "count" and body["formula"]
    assert body["drill_down"] == probe_metric.drill_down
    assert body["drill_down_url"] == f"/api/calls/log?user_id={agent_a1.pk}&start_date=2026-05-01&end_date=2026-05-03"
    assert body["agent_id"] == agent_a1.pk


def test_metric_endpoint_for_a_team_and_for_one_agent(supervisor_a, agent_a1, team_a, team_b, agent_b1, probe_metric):
    client = client_for(supervisor_a)
    team = client.get("/api/dashboard/metrics/probe_calls", {"dateRange": "today", "team_id": team_a.pk})
    assert team.status_code == 200
    today = timezone.localdate().isoformat()
    assert team.json()["drill_down_url"] == f"/api/calls/log?start_date={today}&end_date={today}"
    assert team.json()["team_id"] == team_a.pk
    one = client.get("/api/dashboard/metrics/probe_calls", {"agent_id": agent_a1.pk})
    assert one.json()["drill_down_url"].startswith(f"/api/calls/log?user_id={agent_a1.pk}&")
    assert client.get("/api/dashboard/metrics/probe_calls", {"agent_id": agent_b1.pk}).status_code == 403
    assert client.get("/api/dashboard/metrics/probe_calls", {"team_id": team_b.pk}).status_code == 403
    assert client.get("/api/dashboard/metrics/probe_calls", {"agent_id": 999999}).status_code == 404
    missing = client.get("/api/dashboard/metrics/no_such_metric")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    bad = client.get("/api/dashboard/metrics/probe_calls", {"startDate": "2026-05-01"})
    assert bad.status_code == 400 and "endDate" in bad.json()["fields"]


def test_every_registered_drill_down_uses_supported_placeholders():
    from analytics.export_views import _load_registry

    _load_registry()
    period = custom_period(date(2026, 5, 1), date(2026, 5, 2))
    for metric in METRICS.values():
        if metric.drill_down:
            url = drill_down_url(metric.drill_down, period, 1)
            assert "{" not in url and "}" not in url, metric.key
            assert url.count("=") == metric.drill_down.count("="), (metric.key, url)  # no parameter dropped


# --- the team KPI table --------------------------------------------------------------------------------


@pytest.fixture
def noon() -> Iterator[datetime]:
    """Local noon today, the clock stopped: the screen's JSON and the export read the same "now"."""
    moment = local_midnight(timezone.localdate()) + timedelta(hours=12)
    with time_machine.travel(moment, tick=False):
        yield moment


@pytest.fixture
def calls(noon, agent_a1, agent_a2, agent_b1, team_a, team_b) -> Iterator[None]:
    now = timezone.now()
    CallLogFactory.create(agent=agent_a1, started_at=now - timedelta(hours=1))
    CallLogFactory.create(
        agent=agent_a1, started_at=now - timedelta(hours=2), status="no_answer", answered_at=None, duration_seconds=0
    )
    CallLogFactory.create(agent=agent_a2, started_at=now - timedelta(minutes=30), outcome="lead")
    CallLogFactory.create(agent=agent_b1, started_at=now - timedelta(minutes=50))
    CallLogFactory.create(agent=agent_a1, started_at=now - timedelta(days=3))
    yield


def kpi_rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **{k: v for k, v in row.items() if k not in ("teams", "kpis")},
            "teams": ", ".join(t["name"] for t in row["teams"]),
            **row["kpis"],
        }
        for row in table["results"]
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(
    "params",
    [{}, {"dateRange": "week"}, {"team_id": "TEAM_A"}],
    ids=["today", "week", "team"],
)
def test_agent_kpis_export_equals_the_table(admin, calls, team_a, fmt, params):
    params = {k: (team_a.pk if v == "TEAM_A" else v) for k, v in params.items()}
    client = client_for(admin)
    table = client.get("/api/analytics/agents/kpis", params).json()
    response = client.get("/api/analytics/agents/kpis/export", {**params, "format": fmt})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == exports.FORMATS[fmt]
    assert response["Content-Disposition"].startswith('attachment; filename="callboard-agent-kpis-')
    parsed = read_csv(response.content) if fmt == "csv" else read_xlsx(response.content)
    assert_file_matches({"period": table["period"], "results": kpi_rows(table)}, parsed, as_text=fmt == "csv")
    names = [row["username"] for row in parsed["results"]]
    assert names == [row["username"] for row in table["results"]]
    if "team_id" in params:
        assert set(names) == {"agent_a1", "agent_a2"}
    assert sum(float(row["calls_made"]) for row in parsed["results"]) == sum(
        row["kpis"]["calls_made"] for row in table["results"]
    )
    audit = AuditLog.objects.get()
    assert audit.user == admin and audit.action == AuditAction.EXPORT and audit.resource == "agent-kpis"
    assert audit.detail["format"] == fmt
    assert audit.detail["team_id"] == params.get("team_id")
    assert audit.detail["period"]["label"] == params.get("dateRange", "today")


def test_agent_kpis_export_access_and_bad_requests(supervisor_a, agent_b1, team_a, team_b, calls):
    client = client_for(supervisor_a)
    bad = client.get("/api/analytics/agents/kpis/export", {"format": "pdf"})
    assert bad.status_code == 400
    assert bad.json()["fields"]["format"] == "format must be one of csv, xlsx, not 'pdf'."
    assert client.get("/api/analytics/agents/kpis/export", {"team_id": team_b.pk}).status_code == 403
    assert client.get("/api/analytics/agents/kpis/export", {"team_id": 999999}).status_code == 404
    assert client.get("/api/analytics/agents/kpis/export", {"dateRange": "year"}).status_code == 400
    assert Client().get("/api/analytics/agents/kpis/export").status_code in (401, 403)
    assert not AuditLog.objects.exists()
    # a supervisor's own export: their teams only
    own = read_csv(client.get("/api/analytics/agents/kpis/export").content)
    assert "agent_b1" not in {row["username"] for row in own["results"]}
    assert AuditLog.objects.filter(user=supervisor_a, resource="agent-kpis").count() == 1
    assert Team.objects.count() == 2


# --- the dashboard sections ----------------------------------------------------------------------------


@pytest.fixture
def chats(calls, noon, agent_a1, agent_a2, agent_b1) -> None:
    """Conversations, agent replies and a failed message for agents of both teams, today and last week."""
    now = timezone.now()
    for agent, minutes, resolved in (
        (agent_a1, 90, True),
        (agent_a1, 40, False),
        (agent_a2, 70, True),
        (agent_b1, 30, False),
    ):
        created = now - timedelta(minutes=minutes)
        conversation = ConversationFactory.create(
            assigned_agent=agent,
            created_at=created,
            first_response_at=created + timedelta(seconds=120),
            first_response_by=agent,
            status="resolved" if resolved else "open",
            resolved_at=created + timedelta(minutes=20) if resolved else None,
            resolved_by=agent if resolved else None,
            priority="high" if agent == agent_b1 else "normal",
        )
        MessageFactory.create(conversation=conversation, created_at=created)
        MessageFactory.create(
            conversation=conversation,
            direction="outbound",
            author_type="agent",
            agent=agent,
            status="delivered",
            created_at=created + timedelta(seconds=120),
        )
    failed = ConversationFactory.create(assigned_agent=agent_b1, created_at=now - timedelta(minutes=20))
    MessageFactory.create(
        conversation=failed,
        direction="outbound",
        author_type="agent",
        agent=agent_b1,
        status="failed",
        error_code=63016,
        error_message="Outside the 24 h window",
        created_at=now - timedelta(minutes=19),
    )
    ConversationFactory.create(assigned_agent=agent_a1, created_at=now - timedelta(days=8))


def screen_and_file(client: Client, section: str, params: dict[str, Any], fmt: str) -> tuple[dict[str, Any], Any]:
    screen = client.get(f"/api/dashboard/{section}", params)
    assert screen.status_code == 200, screen.content
    cache.clear()  # the export computes afresh: equal figures, not just one cache entry read twice
    response = client.get(f"/api/dashboard/{section}/export", {**params, "format": fmt})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == exports.FORMATS[fmt]
    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="callboard-{section}-') and disposition.endswith(f'.{fmt}"')
    parsed = read_csv(response.content) if fmt == "csv" else read_xlsx(response.content)
    return screen.json(), parsed


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("section", SECTIONS)
def test_section_export_equals_the_screen(admin, chats, section, fmt):
    data, parsed = screen_and_file(client_for(admin), section, {}, fmt)
    assert_file_matches(data, parsed, as_text=fmt == "csv")
    export = AuditLog.objects.get(action=AuditAction.EXPORT)
    assert (export.user, export.resource) == (admin, section)
    assert export.detail == {"format": fmt, "period": data["period"], "team_id": None}


@pytest.mark.parametrize("section", SECTIONS)
def test_section_export_honours_team_and_custom_dates(admin, supervisor_a, chats, team_a, section):
    today = timezone.localdate()
    custom = {"startDate": (today - timedelta(days=9)).isoformat(), "endDate": today.isoformat()}
    for user, params in (
        (admin, {"team_id": team_a.pk}),
        (admin, custom),
        (supervisor_a, {**custom, "team_id": team_a.pk}),
    ):
        cache.clear()
        data, parsed = screen_and_file(client_for(user), section, params, "csv")
        assert_file_matches(data, parsed, as_text=True)
        audit = AuditLog.objects.filter(action=AuditAction.EXPORT).latest("pk")
        assert audit.user == user and audit.detail["team_id"] == params.get("team_id")
        assert audit.detail["period"]["label"] == ("custom" if "startDate" in params else "today")
        in_name = (
            f"{custom['startDate']}_{custom['endDate']}.csv"
            in client_for(user).get(f"/api/dashboard/{section}/export", params)["Content-Disposition"]
        )
        assert in_name == ("startDate" in params)


def test_team_filter_changes_what_is_exported(admin, chats, team_a, agent_b1):
    client = client_for(admin)
    everyone = read_csv(client.get("/api/dashboard/agent-productivity/export").content)
    team = read_csv(client.get("/api/dashboard/agent-productivity/export", {"team_id": team_a.pk}).content)
    ids = {row["agentId"] for row in everyone["agentMetrics"]}
    team_ids = {row["agentId"] for row in team["agentMetrics"]}
    assert str(agent_b1.pk) in ids and str(agent_b1.pk) not in team_ids and team_ids < ids
    whole = {
        (r["metric"], r["field"]): r["value"]
        for r in read_csv(client.get("/api/dashboard/kpi/export").content)["summary"]
    }
    narrow = read_csv(client.get("/api/dashboard/kpi/export", {"team_id": team_a.pk}).content)["summary"]
    assert {(r["metric"], r["field"]): r["value"] for r in narrow} != whole


def test_an_agent_exports_only_their_own_numbers(agent_a1, chats):
    data, parsed = screen_and_file(client_for(agent_a1), "conversation-effectiveness", {}, "csv")
    assert_file_matches(data, parsed, as_text=True)
    assert {row["agentId"] for row in parsed.get("conversationsPerAgent", [])} <= {str(agent_a1.pk)}


def test_section_export_errors(supervisor_a, agent_a1, team_a, team_b, chats):
    client = client_for(supervisor_a)
    bad = client.get("/api/dashboard/kpi/export", {"format": "pdf"})
    assert bad.status_code == 400 and bad["Content-Type"] == "application/json"
    assert bad.json()["detail"] == "The request is not valid. format: format must be one of csv, xlsx, not 'pdf'."
    assert client.get("/api/dashboard/kpi/export", {"format": "XLSX"}).status_code == 200  # case does not matter
    assert client.get("/api/dashboard/kpi/export", {"team_id": team_b.pk}).status_code == 403
    assert client.get("/api/dashboard/kpi/export", {"team_id": 999999}).status_code == 404
    assert client.get("/api/dashboard/no-such-section/export").status_code == 404
    period = client.get("/api/dashboard/kpi/export", {"startDate": "2026-05-02", "endDate": "2026-05-01"})
    assert period.status_code == 400 and "endDate" in period.json()["fields"]
    assert client_for(agent_a1).get("/api/dashboard/kpi/export", {"team_id": team_a.pk}).status_code == 403
    assert Client().get("/api/dashboard/kpi/export").status_code in (401, 403)
    assert AuditLog.objects.filter(action=AuditAction.EXPORT).count() == 1  # only the XLSX that succeeded


def test_business_impact_export_is_audited_as_an_export(admin, chats):
    client_for(admin).get("/api/dashboard/business-impact/export", {"format": "xlsx", "dateRange": "month"})
    entry = AuditLog.objects.get()
    assert (entry.action, entry.resource, entry.detail["format"]) == (AuditAction.EXPORT, "business-impact", "xlsx")
    assert entry.detail["period"]["label"] == "month"


def test_call_log_csv_export_is_audited_with_its_filters(agent_a1):
    """The call log's CSV (calls/, which cannot import analytics/) is announced by calls.events.exported."""
    CallLogFactory.create(agent=agent_a1, started_at=timezone.now() - timedelta(hours=1))
    client = client_for(agent_a1)

    assert client.get("/api/calls/log", {"status": "completed"}).status_code == 200  # JSON: a view, not an export
    assert client.get("/api/calls/log", {"format": "csv", "limit": "5000"}).status_code == 400  # refused: nothing
    assert not AuditLog.objects.exists()
    response = client.get("/api/calls/log", {"format": "csv", "status": "completed", "start_date": "2026-05-01"})
    b"".join(response.streaming_content)  # type: ignore[attr-defined]

    entry = AuditLog.objects.get()
    assert (entry.user, entry.action, entry.resource) == (agent_a1, AuditAction.EXPORT, "call-log")
    assert entry.detail == {
        "format": "csv",
        "filters": {"status": "completed", "start_date": "2026-05-01", "limit": "100"},
    }
