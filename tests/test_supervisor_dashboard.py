"""The supervisor dashboard page (`/dashboard/`) and its PDF export (`/api/dashboard/export.pdf`).

Django-client tests: who may open the page, and the PDF endpoint's access rules, validation, content
(the figures the section APIs return for the same query) and audit trail. Browser tests
(`-m browser`): supervisor_a watches the page in Debian's chromium while agent_a1 works a call and a
customer writes, and the board, KPI strip, team table and call history follow without a reload.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import AuditAction, AuditLog
from crm.models import AuthorType, Campaign, Channel, Direction, MessageStatus, Team, User
from crm.periods import local_midnight
from tests.factories import CallLogFactory, CampaignFactory, ContactFactory, ConversationFactory, MessageFactory

KPI_LABELS = {
    "activeConversations": "Active conversations",
    "avgResponseTime": "Average first response time",
    "whatsappDeliveryRate": "WhatsApp delivery rate",
    "openTickets": "Open tickets",
    "messagesToday": "Messages",
}


def today_at(hour: int, minute: int = 0) -> datetime:
    return local_midnight(timezone.localdate()) + timedelta(hours=hour, minutes=minute)


def api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def page_config(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page has no page-config block"
    return json.loads(found.group(1))


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def campaign_a(team_a: Team) -> Campaign:
    return CampaignFactory.create(name="Spring offer", team=team_a, channel=Channel.WHATSAPP)


@pytest.fixture
def chats(midday, team_a, team_b, agent_a1, agent_b1) -> None:
    """Today in team A: one conversation answered after 2 min (resolved), one still open and unanswered;
    team B: one conversation answered after 10 min (so its figures differ from team A's)."""
    answered = ConversationFactory.create(
        contact=ContactFactory.create(),
        assigned_agent=agent_a1,
        created_at=today_at(9),
        first_response_at=today_at(9, 2),
    )
    waiting = ConversationFactory.create(
        contact=ContactFactory.create(), assigned_agent=agent_a1, created_at=today_at(10)
    )
    other = ConversationFactory.create(
        contact=ContactFactory.create(),
        assigned_agent=agent_b1,
        created_at=today_at(8),
        first_response_at=today_at(8, 10),
    )
    for convo in (answered, waiting, other):
        MessageFactory.create(conversation=convo, contact=convo.contact, created_at=convo.created_at)
    for convo, agent in ((answered, agent_a1), (other, agent_b1)):
        assert convo.first_response_at is not None
        MessageFactory.create(
            conversation=convo,
            contact=convo.contact,
            direction=Direction.OUTBOUND,
            author_type=AuthorType.AGENT,
            agent=agent,
            status=MessageStatus.DELIVERED,
            created_at=convo.first_response_at,
        )


# --- the page ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_is_for_supervisors_and_admins_only(client, agent_a1, supervisor_a, admin, team_a, team_b):
    client.force_login(agent_a1)
    assert client.get("/dashboard/").status_code == 403

    client.force_login(supervisor_a)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    config = page_config(response.content.decode())
    assert config["user"]["role"] == "supervisor"
    assert config["teams"] == [{"id": team_a.pk, "name": "Team A"}]  # not team B
    html = response.content.decode()
    for hook in ("data-kpi-strip", "data-board", "data-team-table", "data-history", 'data-section="business-impact"'):
        assert hook in html, hook
    assert "vendor/plotly.min.js" in html and "cdn" not in html.lower()

    client.force_login(admin)
    config = page_config(client.get("/dashboard/").content.decode())
    assert [team["name"] for team in config["teams"]] == ["Team A", "Team B"]


@pytest.mark.django_db
def test_the_page_needs_a_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


# --- the PDF ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pdf_access_rules(supervisor_a, agent_b1, team_a, team_b):
    # an agent (of another team) asking for team A, and a supervisor for a team not theirs: 403
    for user, team in ((agent_b1, team_a), (supervisor_a, team_b)):
        response = api(user).get("/api/dashboard/export.pdf", {"team_id": team.pk})
        assert response.status_code == 403, response.content
        assert response.json()["detail"] == "You may only filter by a team you supervise."
    response = api(supervisor_a).get("/api/dashboard/export.pdf", {"team_id": 987654})
    assert response.status_code == 404
    assert response.json()["detail"] == "There is no team with id 987654."
    assert APIClient().get("/api/dashboard/export.pdf").status_code in (401, 403)
    assert not AuditLog.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field", "sentence"),
    [
        ({"dateRange": "yesterday"}, "dateRange", "dateRange must be one of today, week, month, not 'yesterday'."),
        ({"startDate": "2026-02-30", "endDate": "2026-03-01"}, "startDate", "startDate must be a date as YYYY-MM-DD"),
        ({"startDate": "2026-03-05", "endDate": "2026-03-01"}, "endDate", "endDate is before startDate."),
        ({"startDate": "2026-03-05"}, "endDate", "Give both startDate and endDate"),
        ({"team_id": "team-a"}, "team_id", "team_id must be a team's number, not 'team-a'."),
    ],
)
def test_pdf_refuses_bad_input_with_a_sentence(supervisor_a, team_a, params, field, sentence):
    response = api(supervisor_a).get("/api/dashboard/export.pdf", params, HTTP_ACCEPT="application/pdf")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["success"] is False
    message = body["fields"][field]
    assert (message if isinstance(message, str) else message[0]).startswith(sentence)
    assert sentence in body["detail"]
    assert not AuditLog.objects.exists()


def _kpi_figures(kpi: dict[str, Any]) -> dict[str, str]:
    """The KPI values as the PDF (and the screen) write them: counts as integers, seconds as h:mm:ss,
    percentages with one decimal."""
    seconds = int(kpi["avgResponseTime"]["value"])
    return {
        "activeConversations": str(kpi["activeConversations"]["value"]),
        "avgResponseTime": f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}",
        "whatsappDeliveryRate": f"{kpi['whatsappDeliveryRate']['value']:.1f} %",
        "openTickets": str(kpi["openTickets"]["value"]),
        "messagesToday": str(kpi["messagesToday"]["value"]),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["supervisor_a", "admin"])
def test_pdf_holds_the_figures_the_api_returns_and_is_audited(request, who, chats, team_a, admin, agent_b1):
    user = request.getfixturevalue(who)
    params = {"dateRange": "today", "team_id": team_a.pk}
    kpi = api(user).get("/api/dashboard/kpi", params).json()
    # the data is not trivial: team A has 2 conversations and 3 messages; team B's are left out
    assert kpi["activeConversations"]["value"] == 2
    assert kpi["messagesToday"]["value"] == 3
    assert kpi["avgResponseTime"]["value"] == 120.0
    sections = {
        name: api(user).get(f"/api/dashboard/{name}", params).json()
        for name in ("conversation-effectiveness", "agent-productivity")
    }

    response = api(user).get("/api/dashboard/export.pdf", params, HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    day = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="callboard-dashboard-today-{day}.pdf"'
    text = pdf_text(response.content)
    assert "Team Team A" in text
    for name, figure in _kpi_figures(kpi).items():
        line = next((line for line in text.splitlines() if line.startswith(KPI_LABELS[name] + " ")), None)
        assert line is not None, f"no line for {name} in {text[:800]}"
        assert line.split(" ", len(KPI_LABELS[name].split()))[-1].startswith(figure), (name, line, figure)
    assert "SLA: good" in text
    # every section is in it, with its figures
    for title in (
        "Conversation effectiveness",
        "WhatsApp performance",
        "Customer load",
        "Agent productivity",
        "Automation impact",
        "Business impact",
        "How each number is computed",
    ):
        assert title in text, title
    sla = sections["conversation-effectiveness"]["slaCompliance"]
    assert f"SLA compliance {sla['percentage']:.1f} %" in text
    for row in sections["agent-productivity"]["agentMetrics"]:
        assert row["agentName"] in text
    assert agent_b1.get_full_name() not in text

    entry = AuditLog.objects.get()
    assert (entry.user, entry.action, entry.resource) == (user, AuditAction.EXPORT, "dashboard-pdf")
    assert entry.detail["format"] == "pdf" and entry.detail["team_id"] == team_a.pk
    assert entry.detail["period"]["label"] == "today"


@pytest.mark.django_db
def test_pdf_of_a_custom_range_without_data_says_so(supervisor_a, team_a):
    response = api(supervisor_a).get("/api/dashboard/export.pdf", {"startDate": "2025-01-06", "endDate": "2025-01-12"})
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"] == 'attachment; filename="callboard-dashboard-2025-01-06_2025-01-12.pdf"'
    text = pdf_text(response.content)
    assert "All teams you supervise" in text
    assert "No conversations in this period." in text
    assert AuditLog.objects.get().detail["period"]["label"] == "custom"


# --- in a real browser -------------------------------------------------------------------------------

SECTION_CHARTS = {
    "conversation-effectiveness": 4,
    "whatsapp-performance": 2,
    "customer-load": 3,
    "agent-productivity": 2,
    "automation-impact": 4,
    "business-impact": 2,
}
LIVE_TIMEOUT_MS = 2000


def earlier(minutes: int) -> datetime:
    """`minutes` ago, but never before today's first minute (the view is "today")."""
    return max(timezone.now() - timedelta(minutes=minutes), local_midnight(timezone.localdate()) + timedelta(minutes=1))


@pytest.fixture
def team_a_today(team_a, agent_a1, agent_a2) -> None:
    """Some of today in team A, so the charts have something to draw: four conversations (answered in
    1, 3 and 7 minutes, one waiting), their messages (delivered, read, failed) and a call of agent_a2."""
    for agent, created, response, status in (
        (agent_a1, earlier(90), 60, MessageStatus.READ),
        (agent_a2, earlier(70), 180, MessageStatus.DELIVERED),
        (agent_a2, earlier(50), 420, MessageStatus.FAILED),
        (agent_a1, earlier(30), None, None),
    ):
        convo = ConversationFactory.create(
            contact=ContactFactory.create(),
            assigned_agent=agent,
            created_at=created,
            first_response_at=created + timedelta(seconds=response) if response else None,
        )
        MessageFactory.create(conversation=convo, contact=convo.contact, created_at=created)
        if response:
            MessageFactory.create(
                conversation=convo,
                contact=convo.contact,
                direction=Direction.OUTBOUND,
                author_type=AuthorType.AGENT,
                agent=agent,
                status=status,
                created_at=created + timedelta(seconds=response),
            )
    CallLogFactory.create(agent=agent_a2, started_at=earlier(40))


def _watch_console(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def _kpi_now(user: User, **params: Any) -> dict[str, Any]:
    # the live server's settings allow only its own host names
    return api(user).get("/api/dashboard/kpi", params, HTTP_HOST="localhost").json()


@pytest.mark.browser
def test_supervisor_watches_the_team_live(
    asgi_server, browser, supervisor_a, team_a, team_b, agent_a1, agent_a2, agent_b1, campaign_a, team_a_today
):
    from playwright.sync_api import expect

    from calls import actions as call_actions
    from crm import actions as crm_actions
    from tests.live import new_page, screenshot

    call_actions.do_agent_login(agent_a1)
    page = new_page(browser, asgi_server, "supervisor_a", viewport={"width": 1600, "height": 1000})
    errors = _watch_console(page)
    page.goto("/dashboard/")
    expect(page.locator("[data-live-status]")).to_have_attribute("data-state", "live")

    # the KPI strip: five figures read from the API, each with its trend and a tooltip
    kpi = _kpi_now(supervisor_a)
    strip = page.locator("[data-kpi-strip] [data-kpi]")
    expect(strip).to_have_count(8)  # five chat KPIs, three call KPIs
    messages = page.locator('[data-kpi="messagesToday"] [data-value]')
    expect(messages).to_have_text(str(kpi["messagesToday"]["value"]))
    assert kpi["avgResponseTime"]["trend"] == "up" and kpi["avgResponseTime"]["value"] == 220.0
    expect(page.locator('[data-kpi="avgResponseTime"] [data-value]')).to_have_text("0:03:40")
    expect(page.locator('[data-kpi="avgResponseTime"] .trend')).to_have_text("▲ Up +100 % vs previous period")
    tip_button = page.locator('[data-kpi="messagesToday"] .how-btn')
    tip_button.focus()
    tooltip = page.locator(f"#{tip_button.get_attribute('aria-describedby')}")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("Messages created in the period")

    # every section drew its charts with the local plotly.js
    for name, charts in SECTION_CHARTS.items():
        drawn = page.locator(f'[data-section="{name}"] .chart.js-plotly-plot')
        expect(drawn).to_have_count(charts)
        expect(drawn.first.locator("svg.main-svg").first).to_be_attached()
    assert page.evaluate("typeof window.Plotly.react") == "function"

    # the board: team A's agents (not team B's), in their current state
    board = page.locator("[data-board] tbody")
    row_a1 = board.locator(f'tr[data-agent="{agent_a1.pk}"]')
    expect(row_a1).to_contain_text("Available")
    expect(board.locator(f'tr[data-agent="{agent_a2.pk}"]')).to_contain_text("Offline")
    expect(board.locator(f'tr[data-agent="{agent_b1.pk}"]')).to_have_count(0)
    elapsed = row_a1.locator("td.elapsed")
    first = elapsed.inner_text()
    expect(elapsed).not_to_have_text(first, timeout=LIVE_TIMEOUT_MS)  # time in state ticks
    calls_made = page.locator(f'[data-team-table] tr[data-agent="{agent_a1.pk}"] td[data-kpi="calls_made"]')
    expect(calls_made).to_have_text("0")

    # agent_a1 works a call, server side, while the page is open: no reload
    call = call_actions.do_start_call(agent_a1, phone_number="+48600111222")
    expect(row_a1.locator(".state-badge")).to_have_text("On call", timeout=LIVE_TIMEOUT_MS)
    expect(row_a1).to_contain_text("+48600111222", timeout=LIVE_TIMEOUT_MS)
    history_row = page.locator(f'[data-history] tr[data-call="{call.pk}"]')
    expect(history_row).to_contain_text("In progress", timeout=LIVE_TIMEOUT_MS)
    call_actions.do_mark_answered(call)
    call = call_actions.do_end_call(call, status="completed")
    expect(row_a1.locator(".state-badge")).to_have_text("Wrap-up", timeout=LIVE_TIMEOUT_MS)
    expect(history_row).to_contain_text("Completed", timeout=LIVE_TIMEOUT_MS)
    expect(calls_made).to_have_text("1", timeout=LIVE_TIMEOUT_MS + 1000)  # after the 1 s debounce
    call_actions.do_set_disposition(call, outcome="lead")
    expect(row_a1.locator(".state-badge")).to_have_text("Available", timeout=LIVE_TIMEOUT_MS)
    expect(row_a1).not_to_contain_text("+48600111222")

    # a customer of team A's campaign writes: the KPI strip follows
    contact = ContactFactory.create(campaign=campaign_a)
    crm_actions.do_receive_inbound_message(
        message_sid="SMlive1", from_number=f"whatsapp:{contact.phone}", to_number="whatsapp:+48600900100", body="Hi"
    )
    after = _kpi_now(supervisor_a)
    assert after["messagesToday"]["value"] == kpi["messagesToday"]["value"] + 1
    expect(messages).to_have_text(str(after["messagesToday"]["value"]), timeout=LIVE_TIMEOUT_MS)
    expect(page.locator('[data-kpi="activeConversations"] [data-value]')).to_have_text(
        str(after["activeConversations"]["value"]), timeout=LIVE_TIMEOUT_MS
    )
    page.keyboard.press("Escape")
    page.locator("h1").click()  # no tooltip over the figures in the picture
    screenshot(page, "supervisor-dashboard")

    # another period refetches every part, and the URL keeps the view
    with page.expect_response(lambda r: "/api/dashboard/kpi?dateRange=week" in r.url) as week:
        page.select_option("#f-range", "week")
    assert week.value.ok
    expect(page).to_have_url(re.compile(r"/dashboard/\?dateRange=week$"))
    expect(page.locator("[data-period]")).to_contain_text("This week")
    with page.expect_response(lambda r: f"/api/agents/board?team_id={team_a.pk}" in r.url) as board_read:
        page.select_option("#f-team", str(team_a.pk))
    assert board_read.value.ok
    expect(page).to_have_url(re.compile(rf"dateRange=week&team_id={team_a.pk}$"))
    expect(page.locator("[data-export-pdf]")).to_have_attribute(
        "href", f"/api/dashboard/export.pdf?dateRange=week&team_id={team_a.pk}"
    )
    # the bookmark opens the same view
    page.reload()
    expect(page.locator("#f-range")).to_have_value("week")
    expect(page.locator("#f-team")).to_have_value(str(team_a.pk))
    expect(page.locator("[data-history] tbody tr")).to_have_count(2)  # agent_a2's and agent_a1's calls
    assert errors == []


@pytest.mark.browser
def test_dashboard_on_a_phone_and_with_the_keyboard(asgi_server, browser, supervisor_a, team_a, agent_a1):
    from playwright.sync_api import expect

    from tests.live import new_page, screenshot

    page = new_page(browser, asgi_server, "supervisor_a", viewport={"width": 375, "height": 812}, is_mobile=True)
    errors = _watch_console(page)
    page.goto("/dashboard/?startDate=2025-01-06&endDate=2025-01-12")
    expect(page.locator("#f-range")).to_have_value("custom")
    expect(page.locator("#f-start")).to_have_value("2025-01-06")
    expect(page.locator('[data-section="business-impact"] .chart.js-plotly-plot')).to_have_count(2)
    expect(page.locator('[data-kpi="messagesToday"] [data-value]')).to_have_text("0")
    expect(page.locator("[data-history-count]")).to_have_text("No calls match.")
    # nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # an end before the start is refused in words, and nothing is refetched
    page.fill("#f-end", "2025-01-01")
    expect(page.locator("[data-filter-error]")).to_have_text("The end date is before the start date.")
    # the tooltips are reachable with Tab
    page.locator("#f-team").focus()
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('how-btn')"):
            break
    assert page.evaluate("document.activeElement.classList.contains('how-btn')")
    described = page.evaluate("document.activeElement.getAttribute('aria-describedby')")
    expect(page.locator(f"#{described}")).to_be_visible()
    page.keyboard.press("Escape")
    screenshot(page, "supervisor-dashboard-phone")
    assert errors == []
