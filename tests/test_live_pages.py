"""The live pages in Debian's chromium against the real ASGI server: both pages at once (an agent's
console drives a supervisor's wall screen), and what the pages do without WebSockets."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.live import new_page, screenshot

pytestmark = pytest.mark.browser


def test_an_agents_console_drives_the_supervisors_screen_live(
    asgi_server, browser, team_a, supervisor_a, agent_a1, agent_a2
):
    wall = new_page(browser, asgi_server, "supervisor_a", viewport={"width": 1600, "height": 1000})
    console = new_page(browser, asgi_server, "agent_a1")
    for page in (wall, console):
        expect(page.locator("[data-live-status]").first).to_have_attribute("data-state", "live")
    row = wall.locator(f'[data-board] tbody tr[data-agent="{agent_a1.pk}"]')
    calls_made = wall.locator('[data-kpi="callsMade"] [data-value]')
    expect(calls_made).to_have_text("0")
    expect(row.locator(".state-badge")).to_have_text("Available")  # the console's login made them available

    console.get_by_label("Phone number").fill("+48 600 100 200")
    console.get_by_role("button", name="Start call").click()
    expect(row.locator(".state-badge")).to_have_text("On call", timeout=1000)  # the wall, without a reload
    expect(calls_made).to_have_text("1", timeout=3000)  # the supervisor's own scope: re-read after 1 s

    console.get_by_role("button", name="Mark answered").click()
    expect(console.locator("#timer-phase")).to_have_text("Talking")
    console.get_by_label("Outcome").select_option("lead")
    with console.expect_response(re.compile(r"/api/calls/end$")):
        console.get_by_role("button", name="End call").click()
    expect(console.locator('[data-stat="leads_today"] .stat-value')).to_have_text("1", timeout=1000)
    expect(row.locator(".state-badge")).to_have_text("Wrap-up", timeout=1000)
    expect(wall.locator('[data-kpi="callSuccessRate"] [data-value]')).to_have_text("100%", timeout=3000)
    screenshot(wall, "supervisor-dashboard-live")
    screenshot(console, "agent-console-live")


def settled(page: Any, reads: list[str]) -> int:
    """How many reads the page made once it has made none for a second of real time (the page's clock
    is paused, so its timers do not move meanwhile). "networkidle" alone is not enough on a loaded machine: a page reading its endpoints one
    after another can be idle for 500 ms between two of them."""
    count, deadline = -1, time.monotonic() + 15
    while count != len(reads) and time.monotonic() < deadline:
        count = len(reads)
        time.sleep(1.0)
        page.evaluate("0")  # let Playwright deliver the request events of that second
    return count


def test_without_websockets_the_page_says_so_and_reads_the_api_every_30_seconds(asgi_server, browser, agent_a1):
    page = browser.new_context(base_url=asgi_server.url).new_page()
    page.add_init_script("delete window.WebSocket;")  # a browser or proxy without WebSockets
    # Paused: the page's time moves only by run_for (a clock that flows would reach 30 s on a slow machine).
    start = datetime.now(UTC)
    page.clock.install(time=start)
    page.clock.pause_at(start + timedelta(seconds=1))
    reads: list[str] = []
    page.on("request", lambda request: reads.append(request.url) if "/api/" in request.url else None)
    page.goto("/accounts/login/")
    page.fill("#id_username", "agent_a1")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/agent/$"))
    expect(page.locator("[data-live-status]").first).to_have_attribute("data-state", "polling")
    first = settled(page, reads)
    assert first > 0  # the first read of the page
    page.clock.run_for(29_000)
    assert settled(page, reads) == first  # not before 30 s
    with page.expect_request(lambda request: "/api/" in request.url):
        page.clock.run_for(2_000)  # 31 s after the first read: the page reads again
    expect(page.locator("[data-live-status]").first).to_have_attribute("data-state", "polling")
