"""`make run`'s server for real: a subprocess on a free port, the embedded default, seeded demo data.

Covers what a person sees: the login page, the admin with demo data (in Debian's chromium), static
files, the WebSocket stack, embedded beat syncing its schedule, and a clean stop on Ctrl-C (SIGINT).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    settings.REDIS_URL is not None, reason="serves the embedded default; covered by the SQLite run"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, process: subprocess.Popen[str], url: str, var_dir: Path) -> None:
        self.process, self.url, self.var_dir = process, url, var_dir

    def get(self, path: str) -> tuple[int, str]:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 - our own localhost server
            return response.status, response.read().decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var_dir = tmp_path_factory.mktemp("var")
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    env.update(CALLBOARD_VAR_DIR=str(var_dir), DEMO_PASSWORD="demo", PYTHONUNBUFFERED="1")
    manage = [sys.executable, "manage.py"]
    steps = (
        ["migrate", "--noinput", "-v0"],
        ["collectstatic", "--noinput", "-v0"],
        ["seed_demo", "--if-empty", "--days", "2", "--agents", "3"],
    )
    for command in steps:  # what `make run` does before serving
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    port = _free_port()
    log = (var_dir / "server.log").open("w")
    process = subprocess.Popen(
        [*manage, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2).close()  # noqa: S310
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the server did not start:\n" + (var_dir / "server.log").read_text())
            time.sleep(0.3)
    yield Server(process, url, var_dir)
    if process.poll() is None:
        process.kill()
    log.close()


def test_health_login_page_and_static_files(server: Server) -> None:
    status, body = server.get("/healthz")
    assert (status, json.loads(body)["status"]) == (200, "ok")
    status, body = server.get("/accounts/login/")
    assert status == 200 and "Log in to Callboard" in body
    status, css = server.get("/static/css/callboard.css")
    assert status == 200 and "--accent" in css
    status, _ = server.get("/static/admin/css/base.css")
    assert status == 200


def test_anonymous_visitors_are_sent_to_the_login_page(server: Server) -> None:
    with urllib.request.urlopen(server.url + "/", timeout=10) as response:  # noqa: S310
        assert response.url.startswith(server.url + "/accounts/login/")


def test_websocket_stack_answers(server: Server) -> None:
    from websockets.sync.client import connect
    from websockets.typing import Origin

    ws_url = server.url.replace("http://", "ws://") + "/ws/health/"
    with connect(ws_url, origin=Origin(server.url), open_timeout=10) as websocket:
        websocket.send(json.dumps({"type": "ping"}))
        reply = json.loads(websocket.recv(timeout=10))
    assert reply == {"type": "pong", "channel_layer": "InMemoryChannelLayer"}


def test_embedded_beat_synced_the_backup_schedule(server: Server) -> None:
    database = server.var_dir / "callboard.sqlite3"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as db:
            rows = db.execute(
                "SELECT task, enabled FROM django_celery_beat_periodictask WHERE name = ?", ("backup-sqlite-database",)
            ).fetchall()
        if rows:
            break
        time.sleep(0.5)
    assert rows == [("config.tasks.backup_database", 1)]
    assert "Embedded Celery beat started" in (server.var_dir / "server.log").read_text()


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it as root)")
def test_admin_logs_in_and_sees_demo_data_in_a_real_browser(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page()
        page.goto(server.url + "/admin/calls/calllog/")
        assert "/accounts/login/" in page.url or "/admin/login/" in page.url
        page.goto(server.url + "/accounts/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "wrong")
        page.click("button[type=submit]")
        assert page.get_by_role("alert").inner_text().startswith("Your username and password didn't match")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "demo")
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/dashboard/")
        assert "Dashboard" in page.inner_text("h1")
        page.click("nav >> text=Admin")
        page.click("a[href='/admin/calls/calllog/']")
        page.wait_for_selector("#result_list")
        rows = page.locator("#result_list tbody tr").count()
        assert rows > 0
        page.screenshot(path=str(tmp_path / "admin-calls.png"), full_page=True)
        page.goto(server.url + "/admin/crm/contact/")
        assert page.locator("#result_list tbody tr").count() > 0
        browser.close()


def test_ctrl_c_stops_the_server_cleanly(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=20) == 0
    log = (server.var_dir / "server.log").read_text()
    assert "Traceback" not in log, log
