"""The agent console (`/agent/`): the page and its config, the Twilio sync-run read endpoint it polls,
and the console driven in Debian's chromium against the live ASGI server (API + WebSocket)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from twilio.rest import Client

from calls import actions
from calls import twilio as calls_twilio
from calls.models import AgentStatus, CallLog, CallStatus, TwilioSyncRun
from crm.models import User
from tests.live import LiveServer, new_page, screenshot
from tests.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, FakeHttpClient, calls_page

STAT_KEYS = [
    "leads_today",
    "calls_total_today",
    "calls_connected_today",
    "calls_missed_today",
    "total_call_time_today",
    "average_call_time_today",
    "total_work_time_today",
    "total_logged_time_today",
    "total_break_time_today",
    "total_contacts",
    "total_rescheduled",
    "active_campaigns",
]


def page_config(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page has no page-config block"
    return json.loads(found.group(1))


def api(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


# --- the page -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_console_requires_login(client):
    response = client.get("/agent/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_console_renders_its_config_with_the_timer_thresholds_from_settings(client, agent_a1, team_a, settings):
    settings.CALL_TIMER_AMBER_SECONDS = 45
    settings.CALL_TIMER_RED_SECONDS = 300
    actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, reason="lunch")
    client.force_login(agent_a1)
    html = client.get("/agent/").content.decode()
    config = page_config(html)
    assert config["timer"] == {"amber_seconds": 45, "red_seconds": 300}
    assert config["user"]["id"] == agent_a1.pk and config["user"]["role"] == "agent"
    assert config["ws_path"] == "/ws/dashboard/" and config["time_zone"] == settings.TIME_ZONE
    # the agent's board row as it is now, not a placeholder
    assert (config["board"]["status"], config["board"]["reason"]) == ("break", "lunch")
    assert config["board"]["current_call"] is None
    assert [c["value"] for c in config["choices"]["final_call_status"]] == [
        "completed",
        "no_answer",
        "busy",
        "failed",
        "dropped",
    ]
    assert config["metrics"]["total_call_time_today"]["unit"] == "seconds"
    assert config["metrics"]["success_rate"]["unit"] == "percent"
    for key in STAT_KEYS:
        assert f'data-stat="{key}"' in html, key
        assert config["metrics"][key]["formula"], key
    # numbers come from the API and the socket, never from the template
    assert re.findall(r'<span class="stat-value"[^>]*>([^<]*)</span>', html) == ["–"] * 12
    assert 'role="alert"' in html


@pytest.mark.django_db
def test_the_console_shows_the_call_in_progress_in_its_config(client, agent_a1):
    call = actions.do_start_call(agent_a1, phone_number="+48600100200")
    client.force_login(agent_a1)
    board = page_config(client.get("/agent/").content.decode())["board"]
    assert board["status"] == "on_call"
    assert board["current_call"]["call_id"] == call.pk
    assert board["current_call"]["answered_at"] is None


# --- GET /api/crm/dashboard/sync-twilio/<run_id> ---------------------------------------------------------


def _run(requested_by: User | None, **fields: Any) -> TwilioSyncRun:
    return TwilioSyncRun.objects.create(day=timezone.localdate(), requested_by=requested_by, **fields)


@pytest.mark.django_db
def test_a_sync_run_reads_as_a_sentence_with_its_counts(agent_a1):
    run = _run(agent_a1)
    actions.do_finish_twilio_sync(run, fetched=5, matched=4, fixed=2, missing=1)
    body = api(agent_a1).get(f"/api/crm/dashboard/sync-twilio/{run.pk}").json()
    assert body["sync_run_id"] == run.pk and body["status"] == "succeeded" and body["requested_by_id"] == agent_a1.pk
    assert (body["fetched"], body["matched"], body["fixed"], body["missing"]) == (5, 4, 2, 1)
    assert body["detail"] == (
        f"Twilio listed 5 calls on {run.day.isoformat()}: 4 matched, 2 corrected, 1 not in the call log."
    )
    failed = _run(agent_a1)
    actions.do_finish_twilio_sync(failed, error="Twilio answered HTTP 401 (error 20003): Authenticate")
    body = api(agent_a1).get(f"/api/crm/dashboard/sync-twilio/{failed.pk}").json()
    assert body["status"] == "failed"
    assert body["detail"].endswith("failed: Twilio answered HTTP 401 (error 20003): Authenticate")
    running = api(agent_a1).get(f"/api/crm/dashboard/sync-twilio/{_run(agent_a1).pk}").json()
    assert running["status"] == "running" and running["finished_at"] is None


@pytest.mark.django_db
def test_sync_runs_are_visible_like_the_agents_who_started_them(
    agent_a1, agent_a2, agent_b1, supervisor_a, admin, team_a, team_b
):
    own, colleague, other_team, scheduled = _run(agent_a1), _run(agent_a2), _run(agent_b1), _run(None)
    url = "/api/crm/dashboard/sync-twilio/{}".format
    assert api(agent_a1).get(url(own.pk)).status_code == 200
    for run in (colleague, other_team, scheduled):
        response = api(agent_a1).get(url(run.pk))
        assert response.status_code == 403
        assert response.json()["detail"] == "This Twilio sync was started by someone else."
    for run in (own, colleague, scheduled, _run(supervisor_a)):
        assert api(supervisor_a).get(url(run.pk)).status_code == 200
    assert api(supervisor_a).get(url(other_team.pk)).status_code == 403
    for run in (own, other_team, scheduled):
        assert api(admin).get(url(run.pk)).status_code == 200
    assert api(None).get(url(own.pk)).status_code in (401, 403)


@pytest.mark.django_db
def test_an_unknown_sync_run_is_a_404_with_a_sentence(agent_a1):
    for run_id in (424242, 10**30):  # the second does not fit a database integer
        response = api(agent_a1).get(f"/api/crm/dashboard/sync-twilio/{run_id}")
        assert response.status_code == 404
        assert response.json()["detail"] == f"There is no Twilio sync with id {run_id}."
    response = api(agent_a1).get("/api/crm/dashboard/sync-twilio/abc")
    assert response.status_code == 404  # not a run id at all: no such path
    response = api(agent_a1).post(f"/api/crm/dashboard/sync-twilio/{_run(agent_a1).pk}", {}, format="json")
    assert response.status_code == 405 and response.json()["detail"]


@pytest.mark.django_db
def test_the_run_a_sync_request_started_is_read_back(agent_a1, settings, monkeypatch):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, AUTH_TOKEN
    settings.CELERY_TASK_ALWAYS_EAGER = True
    http = FakeHttpClient(calls_page([]))
    monkeypatch.setattr(calls_twilio, "twilio_client", lambda: Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http))
    started = api(agent_a1).post("/api/crm/dashboard/sync-twilio", {}, format="json")
    assert started.status_code == 202
    body = api(agent_a1).get(f"/api/crm/dashboard/sync-twilio/{started.json()['sync_run_id']}").json()
    assert body["status"] == "succeeded" and body["fetched"] == 0
    assert body["detail"].startswith("Twilio listed 0 calls on ")


def test_the_sync_run_endpoint_is_in_the_openapi_schema(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = out.read_text()
    assert "  /api/crm/dashboard/sync-twilio/{run_id}:" in schema
    assert "operationId: sync_twilio_run" in schema


# --- in a real browser ---------------------------------------------------------------------------------------

# The browser's clock is set an hour behind the server's: the timer must still count from the server's
# started_at / answered_at (the page measures the offset from the board's timestamp), not from 1:00:00.
SKEW = timedelta(hours=1)


def open_console(browser: Any, server: LiveServer, username: str, *, skew: timedelta = SKEW, **context: Any) -> Any:
    from playwright.sync_api import expect

    page = new_page(browser, server, username, **context)
    # keep the page's sockets reachable, so a test can drop the connection
    page.add_init_script(
        "const Native = window.WebSocket; window.__sockets = [];"
        "window.WebSocket = class extends Native { constructor(...a) { super(...a); window.__sockets.push(this); } };"
    )
    page.clock.install(time=datetime.now(tz=timezone.get_current_timezone()) - skew)
    page.goto("/agent/")
    expect(page.locator("[data-live-status]")).to_have_attribute("data-state", "live")
    expect(stat(page, "calls_total_today")).not_to_have_text("–")  # the first resync has landed
    return page


def stat(page: Any, key: str) -> Any:
    return page.locator(f'[data-stat="{key}"] .stat-value')


@pytest.mark.browser
def test_an_agent_runs_a_call_from_the_console(asgi_server, browser, agent_a1, team_a):
    from playwright.sync_api import expect

    page = open_console(browser, asgi_server, "agent_a1")
    timer = page.locator("#call-timer")
    clock = page.locator("#timer-clock")
    alert = page.locator("#console-alert")
    expect(stat(page, "calls_total_today")).to_have_text("0")
    expect(stat(page, "total_call_time_today")).to_have_text("0:00:00")
    expect(page.locator("#state-now")).to_contain_text("Available")
    expect(timer).to_have_attribute("data-level", "idle")
    expect(page.get_by_role("button", name="End call")).to_be_disabled()
    expect(page.get_by_role("button", name="Mark answered")).to_be_disabled()

    page.get_by_label("Phone number").fill("+48 600 100 200")
    page.get_by_role("button", name="Start call").click()
    expect(page.locator("#timer-phase")).to_have_text("Ringing")
    expect(timer).to_have_attribute("data-level", "normal")
    expect(clock).to_have_text(re.compile(r"^0:00:0\d$"))  # not 1:00:00: the browser's clock is an hour off
    expect(page.locator("#timer-number")).to_have_text("+48600100200", timeout=1000)  # the server's row, live
    expect(page.get_by_role("button", name="Start call")).to_be_disabled()
    expect(page.get_by_role("button", name="Take a break")).to_be_disabled()
    expect(stat(page, "calls_total_today")).to_have_text("1", timeout=1000)  # an in-progress call counts
    call = CallLog.objects.get(agent=agent_a1)
    assert call.status == CallStatus.IN_PROGRESS and call.phone_number == "+48600100200"

    page.get_by_role("button", name="Mark answered").click()
    expect(page.locator("#timer-phase")).to_have_text("Talking")
    expect(page.get_by_label("Result")).to_have_value("completed")
    expect(page.locator("#end-status option[value=no_answer]")).to_be_disabled()
    page.wait_for_timeout(1100)  # a second of real talk: the server counts whole seconds

    page.clock.fast_forward(110_000)  # plus the second or two of real time since the answer
    expect(clock).to_have_text(re.compile(r"^0:01:5\d$"))
    expect(timer).to_have_attribute("data-level", "normal")
    expect(page.locator("#timer-cue")).to_be_empty()
    page.clock.fast_forward(10_000)
    expect(timer).to_have_attribute("data-level", "amber")
    expect(page.locator("#timer-cue")).to_have_text("Long call: over 0:02:00")
    page.clock.fast_forward(480_000)
    expect(timer).to_have_attribute("data-level", "red")
    expect(page.locator("#timer-cue")).to_have_text("Very long call: over 0:10:00")
    expect(clock).to_have_text(re.compile(r"^0:10:0\d$"))
    screenshot(page, "agent-console-long-call")

    page.get_by_label("Outcome").select_option("lead")
    with page.expect_response("**/api/calls/end") as ended:
        page.get_by_role("button", name="End call").click()
    assert ended.value.status == 200
    # the cards follow the call's end without a reload (the agent_stats event)
    expect(stat(page, "leads_today")).to_have_text("1", timeout=1000)
    expect(stat(page, "calls_connected_today")).to_have_text("1", timeout=1000)
    expect(page.locator('[data-kpi="today.successful_calls"]')).to_have_text("1", timeout=1000)
    expect(page.locator('[data-kpi="month.calls_made"]')).to_have_text("1", timeout=1000)
    expect(page.locator('[data-kpi="today.success_rate"]')).to_have_text("100%", timeout=1000)
    expect(timer).to_have_attribute("data-level", "idle")
    expect(page.locator("#state-now")).to_contain_text("Wrap-up", timeout=1000)
    rows = page.locator("#calls-body tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("+48600100200")
    expect(rows.first).to_contain_text("Completed")
    call.refresh_from_db()
    assert (call.status, call.outcome) == (CallStatus.COMPLETED, "lead")
    # talk time was measured by the server's clock (seconds), not by the browser's fast-forwarded one
    assert 1 <= call.duration_seconds < 60
    expect(stat(page, "total_call_time_today")).to_have_text(f"0:00:{call.duration_seconds:02d}")

    page.get_by_label("Break reason").select_option("lunch")
    page.get_by_role("button", name="Take a break").click()
    expect(page.locator("#state-now")).to_contain_text("Break (Lunch)")
    expect(page.locator("#state-now")).to_have_attribute("data-status", "break")
    expect(page.get_by_role("button", name="Take a break")).to_be_disabled()
    expect(page.locator("#timeline-list .entry.state").last).to_contain_text("Break (Lunch)", timeout=5000)
    expect(page.locator("#timeline-list .entry.call")).to_have_count(1)
    expect(page.get_by_role("alert")).to_be_empty()  # present (a live region) and silent
    assert actions.current_status_period(agent_a1).status == AgentStatus.BREAK  # type: ignore[union-attr]
    expect(alert).to_be_empty()
    screenshot(page, "agent-console")
    page.set_viewport_size({"width": 1920, "height": 1080})
    screenshot(page, "agent-console-wall")

    page.set_viewport_size({"width": 375, "height": 812})
    expect(page.get_by_role("button", name="Available")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "agent-console-phone")


@pytest.mark.browser
def test_the_console_shows_the_servers_sentence_and_changes_nothing_on_errors(asgi_server, browser, agent_a1):
    from playwright.sync_api import expect

    page = open_console(browser, asgi_server, "agent_a1")
    alert = page.locator("#console-alert")

    page.get_by_role("button", name="Start call").click()  # no number: the browser says so, nothing is sent
    expect(alert).to_have_text("Enter the phone number to call.")
    expect(page.get_by_label("Phone number")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Phone number").fill("12")
    with page.expect_response("**/api/calls/start") as refused:
        page.get_by_role("button", name="Start call").click()
    assert refused.value.status == 400
    sentence = refused.value.json()["detail"]
    expect(alert).to_have_text(sentence)
    expect(page.locator("#call-timer")).to_have_attribute("data-level", "idle")
    expect(page.get_by_role("button", name="End call")).to_be_disabled()
    expect(page.get_by_label("Phone number")).to_have_value("12")  # kept, to correct it
    assert not CallLog.objects.exists()

    with page.expect_response("**/api/crm/dashboard/sync-twilio") as sync:
        page.get_by_role("button", name="Sync with Twilio").click()
    assert sync.value.status == 503
    expect(alert).to_have_text("Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
    expect(page.locator("#sync-result")).to_be_empty()
    expect(page.get_by_role("button", name="Sync with Twilio")).to_be_enabled()
    assert not TwilioSyncRun.objects.exists()

    page.get_by_label("Phone number").fill("+48600100201")
    page.get_by_role("button", name="Start call").click()
    expect(page.locator("#timer-phase")).to_have_text("Ringing")
    expect(alert).to_be_empty()  # the next accepted action clears the old message


@pytest.mark.browser
def test_a_call_started_elsewhere_appears_live_and_a_reconnect_resyncs(asgi_server, browser, agent_a1):
    from playwright.sync_api import expect

    page = open_console(browser, asgi_server, "agent_a1")
    expect(stat(page, "calls_total_today")).to_have_text("0")

    # e.g. a softphone or Twilio click-to-call: the API, not this page
    call = actions.do_start_call(agent_a1, phone_number="+48600100300", direction="inbound")
    expect(page.locator("#timer-phase")).to_have_text("Ringing", timeout=2000)
    expect(page.locator("#timer-number")).to_have_text("+48600100300")
    expect(stat(page, "calls_total_today")).to_have_text("1", timeout=2000)
    expect(page.locator("#calls-body tr")).to_have_count(1)
    expect(page.locator("#calls-body tr").first).to_contain_text("Inbound")
    expect(page.get_by_role("button", name="Mark answered")).to_be_enabled()

    actions.do_end_call(call, status=CallStatus.NO_ANSWER)
    expect(page.locator("#call-timer")).to_have_attribute("data-level", "idle", timeout=2000)
    expect(stat(page, "calls_missed_today")).to_have_text("1", timeout=2000)
    expect(page.locator("#calls-body tr").first).to_contain_text("No answer")

    # While the socket is down nothing is pushed; the resync after the reconnect reads what changed.
    page.clock.pause_at(datetime.now(tz=timezone.get_current_timezone()))  # no reconnect until we say so
    page.evaluate("window.__sockets.at(-1).close()")
    expect(page.locator("[data-live-status]")).to_have_attribute("data-state", "connecting")
    actions.do_change_agent_status(agent_a1, AgentStatus.AWAY)
    page.wait_for_timeout(500)
    expect(page.locator("#state-now")).not_to_contain_text("Away")
    page.clock.run_for(3_000)  # the reconnect back-off (2 s after a first failure)
    expect(page.locator("[data-live-status]")).to_have_attribute("data-state", "live", timeout=5000)
    expect(page.locator("#state-now")).to_contain_text("Away", timeout=2000)
