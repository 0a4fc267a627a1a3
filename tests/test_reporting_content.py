"""Report content (reporting/content.py, rendering.py, charts.py; the render_report command): the periods a
report covers, the figures against the dashboard API's for the same period and scope, the PDF's text
against the API's figures as the PDF formats them, empty periods, team and agent scope, time zones,
custom templates and the trend arrows of a weekly report.

The clock is frozen at Thursday 7 May 2026 12:00 (UTC, the tests' TIME_ZONE). History:
  Tue 5 May (the daily report's day) and Mon 4 May (its previous day): calls, chats, lead changes;
  Wed 6 May: nothing (the empty day);
  27 Apr – 3 May (the weekly report's week) and 20–26 Apr (the week before): a few calls, chats and
  lead changes a day, different each day.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest
import time_machine
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from analytics.pdf_views import fmt_change
from analytics.periods import with_trend
from calls.models import AgentStatus, CallLog, CallOutcome, CallStatus
from crm.models import AuthorType, Contact, ConversationStatus, Direction, LeadStatus, LeadStatusChange, MessageStatus
from reporting.content import ReportError, build_report, display, report_period
from reporting.rendering import render_html, render_pdf
from tests.factories import (
    AgentStatusPeriodFactory,
    CallLogFactory,
    ContactFactory,
    ConversationFactory,
    LeadStatusChangeFactory,
    MessageFactory,
)

NOW = datetime(2026, 5, 7, 12, 0, tzinfo=UTC)
DAY = date(2026, 5, 5)
EMPTY_DAY = date(2026, 5, 6)
WEEK = (date(2026, 4, 27), date(2026, 5, 3))
PREVIOUS_WEEK = (date(2026, 4, 20), date(2026, 4, 26))
KPI_STRIP = {
    "callsMade": "calls_made",
    "callSuccessRate": "success_rate",
    "averageHandleTime": "aht",
    "activeConversations": "active_conversations",
    "avgResponseTime": "first_response_time_avg",
    "messagesToday": "chat_messages",
    "whatsappDeliveryRate": "whatsapp_delivery_rate",
    "openTickets": "open_tickets",
}


# --- history -------------------------------------------------------------------------------------------


def at(day: date, hour: int, minute: int = 0, zone: str = "UTC") -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))


def call(agent: Any, when: datetime, status: str = CallStatus.COMPLETED, talk: int = 120, **fields: Any) -> CallLog:
    answered = when + timedelta(seconds=10) if talk else None
    return CallLogFactory.create(
        agent=agent,
        contact=None,
        phone_number="+48600000001",
        status=status,
        started_at=when,
        answered_at=answered,
        ended_at=(answered or when) + timedelta(seconds=talk or 25),
        duration_seconds=talk,
        **fields,
    )


def chat(agent: Any, when: datetime, *, response: int | None, resolved: int | None = None) -> None:
    """A conversation of `agent` created at `when`, answered after `response` s (read), resolved after
    `resolved` s, and the customer's first message."""
    contact = ContactFactory.create(assigned_agent=agent)
    conversation = ConversationFactory.create(
        contact=contact,
        assigned_agent=agent,
        created_at=when,
        first_response_at=when + timedelta(seconds=response) if response is not None else None,
        status=ConversationStatus.RESOLVED if resolved is not None else ConversationStatus.OPEN,
        resolved_at=when + timedelta(seconds=resolved) if resolved is not None else None,
    )
    MessageFactory.create(conversation=conversation, contact=contact, created_at=when)
    if response is not None:
        MessageFactory.create(
            conversation=conversation,
            contact=contact,
            direction=Direction.OUTBOUND,
            author_type=AuthorType.AGENT,
            agent=agent,
            status=MessageStatus.READ if response < 300 else MessageStatus.FAILED,
            created_at=when + timedelta(seconds=response),
        )


def lead(agent: Any, created: datetime, *steps: tuple[str, datetime]) -> Contact:
    """A contact of `agent` created at `created` (recorded as its change to `new`), then moved on."""
    contact = ContactFactory.create(assigned_agent=agent, created_at=created)
    LeadStatusChangeFactory.create(contact=contact, from_status="", to_status=LeadStatus.NEW, changed_at=created)
    status: str = LeadStatus.NEW
    for target, when in steps:
        LeadStatusChangeFactory.create(contact=contact, from_status=status, to_status=target, changed_at=when)
        status = target
    return contact


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def history(frozen, team_a, team_b, agent_a1, agent_a2, agent_b1) -> dict[str, Any]:
    # the daily report's day
    call(agent_a1, at(DAY, 9, 10), outcome=CallOutcome.LEAD, wrap_up_seconds=30)
    call(agent_a1, at(DAY, 9, 40), CallStatus.NO_ANSWER, talk=0)
    call(agent_a1, at(DAY, 14, 5), talk=300, outcome=CallOutcome.INTERESTED, wrap_up_seconds=20)
    call(agent_a2, at(DAY, 10), CallStatus.BUSY, talk=0)
    call(agent_a2, at(DAY, 10, 30), talk=60, outcome=CallOutcome.NOT_INTERESTED)
    call(agent_b1, at(DAY, 16), CallStatus.FAILED, talk=0)
    call(agent_b1, at(DAY, 16, 20), talk=200, outcome=CallOutcome.CALLBACK)
    call(agent_b1, at(DAY, 23, 30), talk=30, outcome=CallOutcome.VOICEMAIL)  # 01:30 the next day in Warsaw
    call(agent_a1, at(DAY, 2), talk=45, outcome=CallOutcome.OTHER)  # 22:00 the day before in New York
    AgentStatusPeriodFactory.create(
        agent=agent_a1, status=AgentStatus.AVAILABLE, started_at=at(DAY, 9), ended_at=at(DAY, 9, 10)
    )
    AgentStatusPeriodFactory.create(
        agent=agent_a1, status=AgentStatus.ON_CALL, started_at=at(DAY, 9, 10), ended_at=at(DAY, 9, 30)
    )
    chat(agent_a1, at(DAY, 11), response=120, resolved=3600)
    chat(agent_a2, at(DAY, 11, 30), response=900)
    chat(agent_b1, at(DAY, 15), response=None)
    lead(agent_a1, at(DAY, 8), (LeadStatus.CONTACTED, at(DAY, 9, 10)), (LeadStatus.CONVERTED, at(DAY, 14, 10)))
    lead(agent_b1, at(DAY, 8, 30))
    lead(agent_b1, at(DAY - timedelta(days=1), 8), (LeadStatus.LOST, at(DAY, 16)))
    # the day before
    previous = DAY - timedelta(days=1)
    call(agent_a1, at(previous, 9), talk=100, outcome=CallOutcome.LEAD)
    call(agent_a1, at(previous, 11), talk=50, outcome=CallOutcome.OTHER)
    call(agent_b1, at(previous, 15), CallStatus.NO_ANSWER, talk=0)
    chat(agent_a2, at(previous, 10), response=600, resolved=10800)
    # the weekly report's week and the week before: different each day
    for week_start, extra in ((WEEK[0], 1), (PREVIOUS_WEEK[0], 0)):
        for n in range(7):
            day = week_start + timedelta(days=n)
            for i, agent in enumerate((agent_a1, agent_a2, agent_b1)):
                for k in range((n + i + extra) % 3 + extra):
                    status = CallStatus.COMPLETED if (n + k) % 3 else CallStatus.NO_ANSWER
                    talk = 60 + 30 * k + 10 * n if status == CallStatus.COMPLETED else 0
                    outcome = (CallOutcome.LEAD, CallOutcome.INTERESTED, "")[(n + k + i) % 3] if talk else ""
                    call(agent, at(day, 9 + k, 5 * i), status, talk=talk, outcome=outcome)
            if n % 2 == extra:
                chat((agent_a1, agent_a2, agent_b1)[n % 3], at(day, 13), response=60 * (n + 1), resolved=7200)
            if n < 5:
                lead(
                    (agent_a1, agent_b1)[n % 2],
                    at(day, 8),
                    *((LeadStatus.CONTACTED, at(day, 10)), (LeadStatus.QUALIFIED, at(day, 11)))[: (n + extra) % 3],
                )
    return {"a1": agent_a1, "a2": agent_a2, "b1": agent_b1, "team_a": team_a, "team_b": team_b}


def api(user: Any, url: str, **params: Any) -> dict[str, Any]:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def dates(start: date, end: date) -> dict[str, str]:
    return {"startDate": start.isoformat(), "endDate": end.isoformat()}


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def raw_calls(start: date, end: date, zone: str = "UTC", agents: set[int] | None = None) -> list[CallLog]:
    """Calls that started in the local days start..end of `zone`, straight from the call log."""
    lo = datetime.combine(start, time.min, tzinfo=ZoneInfo(zone))
    hi = datetime.combine(end + timedelta(days=1), time.min, tzinfo=ZoneInfo(zone))
    calls = CallLog.objects.filter(started_at__gte=lo, started_at__lt=hi)
    return list(calls.filter(agent_id__in=agents) if agents is not None else calls)


# --- periods -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent_on", "expected"),
    [
        (date(2026, 5, 6), (date(2026, 5, 5), date(2026, 5, 5))),
        (date(2026, 1, 1), (date(2025, 12, 31), date(2025, 12, 31))),
        (date(2026, 3, 1), (date(2026, 2, 28), date(2026, 2, 28))),
    ],
)
def test_a_daily_report_covers_the_day_before(sent_on, expected):
    assert report_period("daily", sent_on) == expected


@pytest.mark.parametrize(
    ("sent_on", "expected"),
    [
        # sent on any day of a week, it covers the whole week before (Monday–Sunday)
        (date(2026, 5, 4), (date(2026, 4, 27), date(2026, 5, 3))),  # Monday
        (date(2026, 5, 7), (date(2026, 4, 27), date(2026, 5, 3))),  # Thursday
        (date(2026, 5, 10), (date(2026, 4, 27), date(2026, 5, 3))),  # Sunday: still the week before
        (date(2026, 5, 3), (date(2026, 4, 20), date(2026, 4, 26))),  # the Sunday before that Monday
        # across a year boundary: the week of Monday 29 December 2025 to Sunday 4 January 2026
        (date(2026, 1, 5), (date(2025, 12, 29), date(2026, 1, 4))),
        (date(2026, 1, 11), (date(2025, 12, 29), date(2026, 1, 4))),
        (date(2026, 1, 4), (date(2025, 12, 22), date(2025, 12, 28))),
    ],
)
def test_a_weekly_report_covers_the_last_complete_monday_to_sunday_week(sent_on, expected):
    start, end = report_period("weekly", sent_on)
    assert (start, end) == expected
    assert start.weekday() == 0 and end.weekday() == 6 and end < sent_on


def test_an_unknown_report_type_is_refused_with_a_sentence():
    with pytest.raises(ReportError, match="daily or weekly"):
        report_period("monthly", date(2026, 5, 6))


# --- the daily report against the dashboard API --------------------------------------------------------


def test_the_daily_report_has_the_dashboards_figures(history, admin):
    data = build_report("daily", DAY, DAY)
    assert data["report_type"] == "daily" and not data["is_empty"]
    assert data["period"] | {"start": DAY.isoformat(), "end": DAY.isoformat()} == data["period"]
    assert data["scope"] == {"kind": "organisation", "team_id": None, "agent_id": None, "label": "Whole organisation"}
    # the day's performance: the KPI strip of /api/dashboard/kpi for the same day, with its trend
    kpi = api(admin, "/api/dashboard/kpi", **dates(DAY, DAY))
    performance = {figure["key"]: figure for figure in data["performance"]}
    for name, key in KPI_STRIP.items():
        figure = performance[key]
        assert (figure["value"], figure["trend"], figure["change"]) == (
            kpi[name]["value"],
            kpi[name]["trend"],
            kpi[name]["change"],
        ), key
    assert kpi["callsMade"]["value"] == 9 and performance["calls_made"]["previous"] == 3
    # the staff table: the team table's call KPIs and agent productivity's chat figures, per agent
    table = api(admin, "/api/analytics/agents/kpis", **dates(DAY, DAY))["results"]
    productivity = api(admin, "/api/dashboard/agent-productivity", **dates(DAY, DAY))["agentMetrics"]
    staff = {row["agent_id"]: row for row in data["staff"]["rows"]}
    assert set(staff) == {row["agent_id"] for row in table}
    for row in table:
        mine = staff[row["agent_id"]]
        assert mine["name"] == row["agent_name"]
        for key in ("calls_made", "successful_calls", "success_rate", "total_talk_time", "aht", "occupancy"):
            assert mine["values"][key] == row["kpis"][key], (row["agent_name"], key)
    for row in productivity:
        assert staff[row["agentId"]]["values"]["conversations"] == row["chatsHandled"]
        assert staff[row["agentId"]]["values"]["resolution_rate"] == row["resolutionRate"]
    assert [row["values"]["calls_made"] for row in data["staff"]["rows"]] == [4, 3, 2]  # busiest first
    # call success: the organisation's totals are the team table's sums
    calls = {figure["key"]: figure["value"] for figure in data["calls"]["figures"]}
    for key in ("calls_made", "successful_calls", "failed_calls", "total_talk_time"):
        assert calls[key] == sum(row["kpis"][key] for row in table), key
    assert (calls["success_rate"], calls["aht"]) == (kpi["callSuccessRate"]["value"], kpi["averageHandleTime"]["value"])
    # conversations per hour of the day: the dashboard's customer load
    load = api(admin, "/api/dashboard/customer-load", **dates(DAY, DAY))["incomingChatsPerHour"]
    hours = data["time_of_day"]["hours"]
    assert [row["conversations"] for row in hours] == [row["count"] for row in load]
    # calls per hour and outcomes: no dashboard shows them, so they are counted here from the call log
    day_calls = raw_calls(DAY, DAY)
    assert [row["calls"] for row in hours] == [sum(c.started_at.hour == h for c in day_calls) for h in range(24)]
    assert [row["successful"] for row in hours] == [
        sum(c.started_at.hour == h and c.status == CallStatus.COMPLETED for c in day_calls) for h in range(24)
    ]
    assert data["time_of_day"]["peak_calls_hour"] == 9
    outcomes = {row["outcome"]: row["value"] for row in data["outcomes"]["rows"]}
    assert outcomes == {o: sum(c.outcome == o for c in day_calls) for o in [*CallOutcome.values, ""]}
    assert data["outcomes"]["calls"] == len(day_calls) == 9
    # leads: business impact's leads generated (with its trend); status changes from the change log
    impact = api(admin, "/api/dashboard/business-impact", **dates(DAY, DAY))["leadsGenerated"]
    generated = next(f for f in data["leads"]["figures"] if f["key"] == "leads_generated")
    assert (generated["value"], generated["trend"], generated["change"]) == (
        impact["total"],
        impact["trend"],
        impact["change"],
    )
    changes = Counter(
        LeadStatusChange.objects.filter(changed_at__gte=at(DAY, 0), changed_at__lt=at(EMPTY_DAY, 0)).values_list(
            "to_status", flat=True
        )
    )
    assert {row["status"]: row["value"] for row in data["leads"]["by_status"]} == {
        status: changes[status] for status in LeadStatus.values
    }
    assert changes == {"new": 2, "contacted": 1, "converted": 1, "lost": 1}


def test_the_daily_pdf_shows_the_apis_figures_as_it_formats_them(history, admin):
    data = build_report("daily", DAY, DAY)
    text = pdf_text(render_pdf(data))
    assert "Daily report" in text and "Whole organisation" in text and "Tuesday 5 May 2026" in text
    kpi = api(admin, "/api/dashboard/kpi", **dates(DAY, DAY))
    for name, key in KPI_STRIP.items():
        figure = next(f for f in data["performance"] if f["key"] == key)
        unit, shown = figure["unit"], kpi[name]
        # the row: label, this day, the day before, the change with its arrow
        row = f"{display(unit, shown['value'])} {display(unit, figure['previous'])} {fmt_change(shown['trend'], shown['change'])}"
        assert figure["label"] in text and row in text, row
    for row in api(admin, "/api/analytics/agents/kpis", **dates(DAY, DAY))["results"]:
        kpis = row["kpis"]
        cells = [
            str(kpis["calls_made"]),
            str(kpis["successful_calls"]),
            display("percent", kpis["success_rate"]),
            display("seconds", kpis["total_talk_time"]),
            display("seconds", kpis["aht"]),
            display("percent", kpis["occupancy"]),
        ]
        assert f"{row['agent_name']} {' '.join(cells)}" in text, row["agent_name"]
    assert "Page 1 of" in text
    # the summary strip, as the e-mail and Slack show it
    for item in data["summary"]:
        assert item["label"].upper() in text and f"{item['value']} {item['change']} vs Mon 4 May" in text


# --- the weekly report ---------------------------------------------------------------------------------


def test_the_weekly_report_compares_the_week_with_the_one_before_as_the_dashboard_does(history, admin):
    data = build_report("weekly", *WEEK)
    assert data["period"]["label"] == "Week 18: 27 April – 3 May 2026"
    assert (data["period"]["previous_start"], data["period"]["previous_end"]) == (
        PREVIOUS_WEEK[0].isoformat(),
        PREVIOUS_WEEK[1].isoformat(),
    )
    kpi = api(admin, "/api/dashboard/kpi", **dates(*WEEK))
    performance = {figure["key"]: figure for figure in data["performance"]}
    for name, key in KPI_STRIP.items():
        assert (performance[key]["value"], performance[key]["trend"], performance[key]["change"]) == (
            kpi[name]["value"],
            kpi[name]["trend"],
            kpi[name]["change"],
        )
    # every figure's arrow and change are METRICS.md's trend of this week against the previous week
    assert len(data["performance"]) > len(KPI_STRIP)
    for figure in data["performance"]:
        expected = with_trend(figure["value"], figure["previous"])
        assert (figure["trend"], figure["change"]) == (expected["trend"], expected["change"]), figure["key"]
    assert {f["trend"] for f in data["performance"]} >= {"up", "down"}
    # the previous values are the dashboard's for the previous week
    before = api(admin, "/api/dashboard/kpi", **dates(*PREVIOUS_WEEK))
    for name, key in KPI_STRIP.items():
        assert performance[key]["previous"] == before[name]["value"], key
    # conversations and WhatsApp: the sections of the same week
    effectiveness = api(admin, "/api/dashboard/conversation-effectiveness", **dates(*WEEK))
    conversations = data["conversations"]
    assert conversations["sla"]["compliant"] == effectiveness["slaCompliance"]["compliant"]
    assert conversations["sla"]["non_compliant"] == effectiveness["slaCompliance"]["nonCompliant"]
    assert conversations["sla"]["percentage"] == effectiveness["slaCompliance"]["percentage"]
    assert (conversations["resolved"], conversations["open"]) == (
        effectiveness["resolvedVsOpen"]["resolved"],
        effectiveness["resolvedVsOpen"]["open"],
    )
    figures = {figure["key"]: figure for figure in conversations["figures"]}
    assert figures["sla_compliance"]["value"] == effectiveness["slaCompliance"]["percentage"]
    assert figures["resolution_rate"]["value"] == effectiveness["resolvedVsOpen"]["percentage"]
    assert figures["first_response_time_avg"]["value"] == kpi["avgResponseTime"]["value"]
    whatsapp = api(admin, "/api/dashboard/whatsapp-performance", **dates(*WEEK))
    assert {stage["stage"]: stage["value"] for stage in data["whatsapp"]["funnel"]} == whatsapp["messageFunnel"]
    assert data["whatsapp"]["delivery_rate"]["value"] == kpi["whatsappDeliveryRate"]["value"]
    # staff: this week's and last week's team table
    this_week = {r["agent_id"]: r["kpis"] for r in api(admin, "/api/analytics/agents/kpis", **dates(*WEEK))["results"]}
    last_week = {
        r["agent_id"]: r["kpis"] for r in api(admin, "/api/analytics/agents/kpis", **dates(*PREVIOUS_WEEK))["results"]
    }
    for row in data["staff_comparison"]["rows"]:
        for key in ("calls_made", "success_rate", "total_talk_time", "aht"):
            cell = row["values"][key]
            now, then = this_week[row["agent_id"]][key], last_week[row["agent_id"]][key]
            assert (cell["value"], cell["previous"]) == (now, then), (row["name"], key)
            assert {k: cell[k] for k in ("trend", "change")} == {
                k: v for k, v in with_trend(now, then).items() if k != "value"
            }
    # the lead funnel: status changes of the week from the change log
    lo, hi = at(WEEK[0], 0), at(WEEK[1] + timedelta(days=1), 0)
    changes = Counter(
        LeadStatusChange.objects.filter(changed_at__gte=lo, changed_at__lt=hi).values_list("to_status", flat=True)
    )
    stages = {stage["stage"]: stage["value"] for stage in data["funnel"]["stages"]}
    assert stages == {s: changes[s] for s in ("new", "contacted", "qualified", "converted")}
    assert stages["new"] == 5 and stages["contacted"] > 0
    # calls per day against the same weekday of the week before, from the call log
    assert [(row["calls"], row["previous_calls"]) for row in data["by_day"]] == [
        (
            len(raw_calls(WEEK[0] + timedelta(days=n), WEEK[0] + timedelta(days=n))),
            len(raw_calls(PREVIOUS_WEEK[0] + timedelta(days=n), PREVIOUS_WEEK[0] + timedelta(days=n))),
        )
        for n in range(7)
    ]


def test_the_weekly_pdf_shows_each_figure_with_its_arrow_and_change(history):
    data = build_report("weekly", *WEEK)
    text = pdf_text(render_pdf(data))
    assert "Weekly report" in text and "This week Previous week" in text
    for figure in data["performance"]:
        arrow = fmt_change(figure["trend"], figure["change"])
        assert arrow[0] == {"up": "▲", "down": "▼", "stable": "▶"}[figure["trend"]]
        unit = figure["unit"]
        row = f"{display(unit, figure['value'])} {display(unit, figure['previous'])} {arrow}"
        assert figure["label"] in text and row in text, row
    for row in data["staff_comparison"]["rows"]:
        assert row["name"] in text


# --- empty periods, scope, time zones ------------------------------------------------------------------


def test_a_day_without_calls_chats_or_lead_changes_says_so_plainly(history):
    data = build_report("daily", EMPTY_DAY, EMPTY_DAY)
    assert data["is_empty"] is True
    message = "No calls, conversations or lead changes were recorded on Wednesday 6 May 2026."
    assert data["empty_message"] == message
    assert data["performance"][0]["previous"] == 9  # the day before had calls: still compared
    text = pdf_text(render_pdf(data))
    assert message in text
    assert "Staff" not in text and "Time of day" not in text  # no empty charts or tables
    assert build_report("daily", DAY, DAY)["is_empty"] is False


def test_an_empty_week_says_so_too(frozen, admin):
    data = build_report("weekly", *WEEK)
    assert data["is_empty"] is True
    assert data["empty_message"] == (
        "No calls, conversations or lead changes were recorded from 27 April 2026 to 3 May 2026."
    )


def test_a_team_report_counts_only_the_teams_rows(history, admin):
    team_a = history["team_a"]
    data = build_report("daily", DAY, DAY, team_id=team_a.pk)
    assert data["scope"] == {"kind": "team", "team_id": team_a.pk, "agent_id": None, "label": "Team Team A"}
    members = {history["a1"].pk, history["a2"].pk}
    assert {row["agent_id"] for row in data["staff"]["rows"]} == members
    calls = {figure["key"]: figure["value"] for figure in data["calls"]["figures"]}
    assert calls["calls_made"] == len(raw_calls(DAY, DAY, agents=members)) == 6
    kpi = api(admin, "/api/dashboard/kpi", team_id=team_a.pk, **dates(DAY, DAY))
    performance = {figure["key"]: figure for figure in data["performance"]}
    for name, key in KPI_STRIP.items():
        assert performance[key]["value"] == kpi[name]["value"], key
    assert sum(row["value"] for row in data["leads"]["by_status"]) == 3  # agent_a1's contact: new, contacted, converted
    assert history["b1"].get_full_name() not in pdf_text(render_pdf(data))


def test_an_agent_report_counts_only_the_agents_rows(history, admin):
    agent = history["b1"]
    data = build_report("daily", DAY, DAY, agent_id=agent.pk)
    assert data["scope"]["kind"] == "agent" and data["scope"]["label"] == agent.get_full_name()
    kpis = api(admin, f"/api/analytics/agents/{agent.pk}/kpis", **dates(DAY, DAY))["kpis"]
    calls = {figure["key"]: figure["value"] for figure in data["calls"]["figures"]}
    assert {key: calls[key] for key in calls} == {key: kpis[key] for key in calls}
    assert calls["calls_made"] == 3
    assert [row["agent_id"] for row in data["staff"]["rows"]] == [agent.pk]
    assert {row["outcome"]: row["value"] for row in data["outcomes"]["rows"] if row["value"]} == {
        CallOutcome.CALLBACK: 1,
        CallOutcome.VOICEMAIL: 1,
        "": 1,
    }


@pytest.mark.parametrize("zone", ["Europe/Warsaw", "Asia/Kolkata", "America/New_York"])
def test_a_report_in_another_time_zone_counts_that_zones_local_day(history, zone):
    """The organisation's rollups are UTC hours here; a day in Warsaw (UTC+2), Kolkata (UTC+5:30, half an
    hour off every stored hour) or New York (UTC-4) is read from them and the raw rows at its edges."""
    data = build_report("daily", DAY, DAY, timezone=zone)
    assert data["period"]["timezone"] == zone
    calls = {figure["key"]: figure["value"] for figure in data["calls"]["figures"]}
    local = raw_calls(DAY, DAY, zone=zone)
    assert calls["calls_made"] == len(local)
    assert calls["successful_calls"] == sum(c.status == CallStatus.COMPLETED for c in local)
    assert calls["total_talk_time"] == sum(c.duration_seconds for c in local)
    tz = ZoneInfo(zone)
    hours = [row["calls"] for row in data["time_of_day"]["hours"]]
    assert sum(hours) == len(local)
    if NOW.astimezone(tz).minute == NOW.minute:  # hours of the day are the stored (organisation's) hours
        assert hours == [sum(c.started_at.astimezone(tz).hour == h for c in local) for h in range(24)]
    # the same instants, counted for the organisation's UTC day, differ: the zone really moved the day
    assert len(local) != len(raw_calls(DAY, DAY))


def test_bad_requests_are_refused_with_a_sentence(history):
    with pytest.raises(ReportError, match="There is no team 999999"):
        build_report("daily", DAY, DAY, team_id=999_999)
    with pytest.raises(ReportError, match="There is no user"):
        build_report("daily", DAY, DAY, agent_id=999_999)
    with pytest.raises(ReportError, match="not a team and an agent"):
        build_report("daily", DAY, DAY, team_id=history["team_a"].pk, agent_id=history["a1"].pk)
    with pytest.raises(ReportError, match="not a known IANA time zone"):
        build_report("daily", DAY, DAY, timezone="Mars/Olympus")
    with pytest.raises(ReportError, match="before its start date"):
        build_report("daily", DAY, DAY - timedelta(days=1))
    with pytest.raises(ReportError, match="at most 400 days"):
        build_report("weekly", date(2024, 1, 1), DAY)
    with pytest.raises(ReportError, match="daily or weekly"):
        build_report("hourly", DAY, DAY)


# --- templates -----------------------------------------------------------------------------------------

CUSTOM = """<html><body>
<h1>{{ title }}</h1>
<p>Scope: {{ scope.label }}; period {{ period.start }} to {{ period.end }} ({{ period.timezone }}).</p>
<ul>{% for item in summary %}<li>{{ item.label }} = {{ item.value }} ({{ item.change }})</li>{% endfor %}</ul>
<table>{% for f in performance %}<tr><td>{{ f.label }}</td><td>{{ f.display }}</td><td>{{ f.change_display }}</td></tr>{% endfor %}</table>
{% for row in staff.rows %}<p>{{ row.name }}: {% for cell in row.cells %}{{ cell.display }} {% endfor %}</p>{% endfor %}
<p>Chart: {{ charts.time_of_day|slice:":26" }}</p>
<p>Notes: {{ notes.performance.0.label }}</p>
<img src="https://example.com/tracking.png">
</body></html>"""


def test_a_custom_template_gets_the_same_context(history):
    data = build_report("daily", DAY, DAY)
    html = render_html(data, CUSTOM)
    assert f"<h1>{data['title']}</h1>" in html
    assert f"period {DAY} to {DAY} (UTC)" in html
    first = data["summary"][0]
    assert f"<li>{first['label']} = {first['value']} ({first['change']})</li>" in html
    calls = data["performance"][0]
    assert f"<td>Calls made</td><td>{display('count', calls['value'])}</td>" in html
    assert "Chart: data:image/svg+xml;base64," in html
    assert "Notes: Calls made" in html
    top = data["staff"]["rows"][0]
    assert f"<p>{top['name']}: {top['values']['calls_made']} " in html
    # rendered to PDF without fetching anything from outside (the tracking pixel is left out)
    text = pdf_text(render_pdf(data, CUSTOM))
    assert data["title"] in text and "Scope: Whole organisation" in text
    # the built-in template and a custom one read the same data
    assert render_html(data) != html and data["title"] in render_html(data)


def test_the_charts_are_svg_drawn_from_the_data(history):
    data = build_report("weekly", *WEEK)
    html = render_html(data)
    charts = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(charts) == 5  # calls and conversations by day, lead funnel, WhatsApp, staff
    import base64

    svg = base64.b64decode(charts[2]).decode()
    assert svg.startswith("<?xml") and "<svg" in svg
    stages = data["funnel"]["stages"]
    assert f"{stages[0]['label']}  {stages[0]['value']:,}" in svg  # drawn from the report's figures


# --- the command ---------------------------------------------------------------------------------------


def test_render_report_writes_the_pdf_and_a_png_preview(history, tmp_path: Path):
    out, png = tmp_path / "daily.pdf", tmp_path / "daily.png"
    stdout = io.StringIO()
    call_command(
        "render_report",
        "--type",
        "daily",
        "--date",
        DAY.isoformat(),
        "--out",
        str(out),
        "--png",
        str(png),
        "--pages",
        "2",
        stdout=stdout,
    )
    assert out.read_bytes().startswith(b"%PDF")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "Daily report · Whole organisation · Tuesday 5 May 2026" in stdout.getvalue()
    assert "Tuesday 5 May 2026" in pdf_text(out.read_bytes())
    # weekly: the Monday–Sunday week containing the date; without a date, the week before this one
    weekly = tmp_path / "weekly.pdf"
    call_command(
        "render_report", "--type", "weekly", "--team", str(history["team_a"].pk), "--out", str(weekly), stdout=stdout
    )
    assert "Week 18: 27 April – 3 May 2026" in pdf_text(weekly.read_bytes())
    call_command("render_report", "--type", "weekly", "--date", "2026-04-22", "--out", str(weekly), stdout=stdout)
    assert "Week 17: 20–26 April 2026" in pdf_text(weekly.read_bytes())


def test_render_report_refuses_bad_input_with_a_sentence(history, tmp_path: Path):
    out = tmp_path / "x.pdf"
    with pytest.raises(CommandError, match="There is no team"):
        call_command("render_report", "--type", "daily", "--team", "999999", "--out", str(out))
    with pytest.raises(CommandError, match="not a known IANA time zone"):
        call_command("render_report", "--type", "daily", "--timezone", "Nowhere/Land", "--out", str(out))
    with pytest.raises(CommandError):
        call_command("render_report", "--type", "daily", "--date", "5 May", "--out", str(out))
    assert not out.exists()
