"""A live ASGI server (HTTP + WebSockets, the project's own `config.asgi`) and Debian's chromium, for
browser tests.

`asgi_server` runs uvicorn in a thread of the test process, so it shares the test database (the
SQLite test database is a shared-cache in-memory one; PostgreSQL is a real server) and the in-memory
channel layer; tests using it need `transactional_db` (the server's threads see only committed rows).
`browser` is one chromium per test module; `new_page(browser, server, username)` logs someone in
through the real login form and returns their page in a context of its own.

Static files come from the finders (as with `runserver`), so a test never depends on collectstatic.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts"
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it as root)"
)


@dataclass
class LiveServer:
    url: str
    host: str
    port: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def asgi_server(transactional_db: None, settings: Any) -> Iterator[LiveServer]:
    import uvicorn

    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    from django.core.asgi import get_asgi_application

    import config.asgi

    # a fresh HTTP handler, so middleware (WhiteNoise) reads the settings above
    application = config.asgi.application
    application.application_mapping["http"] = get_asgi_application()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, lifespan="off", log_level="warning", ws="websockets-sansio"
        )
    )
    thread = threading.Thread(target=server.run, name="asgi-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("The test ASGI server did not start.")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        application.application_mapping["http"] = config.asgi.django_asgi_app


# Module scope, not session: while Playwright's sync API is running, its event loop occupies the main
# thread, and other modules' async_to_sync calls (channels' communicator tests) cannot run there.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; Django would then refuse the
    # test's own (synchronous) database calls as "from an async context". They are not: let them be.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            )
            yield launched
            launched.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


def new_page(browser: Any, server: LiveServer, username: str, password: str = "pw", **context: Any) -> Any:  # noqa: S107 - the factories' test password
    """`username`'s page, logged in through the login form, in a browser context of its own."""
    page = browser.new_context(base_url=server.url, **context).new_page()
    page.set_default_timeout(10_000)
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def screenshot(page: Any, name: str) -> Path:
    """Saved under var/test-artifacts/ (kept by CI, linked from the README)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
