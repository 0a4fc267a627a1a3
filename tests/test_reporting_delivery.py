"""Delivering reports (reporting/delivery.py, tasks, Slack, signed PDF links).

External services are faked only at their boundary: e-mail in Django's locmem outbox or a local SMTP
server (a socket speaking SMTP), Slack as a local HTTP server. Tasks run eagerly (both test runs), so
an enqueued send happens inside `on_commit`; retries are driven by the clock (time-machine) and the
dispatcher, as beat drives them in production.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.test import Client
from django.utils.text import slugify
from pypdf import PdfReader

from calls.models import CallStatus
from config.celery import app as celery_app
from crm.models import User
from reporting import delivery as reporting_delivery
from reporting import tasks
from reporting.delivery import (
    DEACTIVATED,
    EMPTY_PERIOD,
    DeliveryError,
    delivery_for,
    dispatch_due_deliveries,
    generate,
    preview_pdf,
    request_send,
    run_subscription,
    send_delivery,
    send_now,
    validate_recipients,
)
from reporting.models import DeliveryMethod, DeliveryStatus, ReportDelivery, ReportSubscription, ReportType
from tests.factories import CallLogFactory

# A Tuesday, mid-morning UTC: the daily report covers Monday 2026-03-09.
TUESDAY = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
MONDAY = date(2026, 3, 9)


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> Any:
    """PDFs are stored under a per-test MEDIA_ROOT, not the project's var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def subscribe(owner: User, **fields: Any) -> ReportSubscription:
    values: dict[str, Any] = {
        "name": "Morning numbers",
        "owner": owner,
        "report_type": ReportType.DAILY,
        "delivery_method": DeliveryMethod.EMAIL,
        "recipients": ["manager@example.com", "ceo@example.com"],
        "timezone": "UTC",
    }
    values.update(fields)
    return ReportSubscription.objects.create(**values)


def fire(subscription: ReportSubscription, capture_on_commit: Any) -> ReportDelivery:
    """Beat firing the subscription now, with the send it enqueues run (eagerly, on commit): the delivery
    as that left it."""
    with capture_on_commit(execute=True):
        delivery = run_subscription(subscription.pk)
    assert delivery is not None
    delivery.refresh_from_db()
    return delivery


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


# --- Fakes at the boundary ------------------------------------------------------------------------------


@dataclass
class Webhook:
    """A local stand-in for Slack's incoming webhooks: records each POST, answers `status`."""

    status: int = 200
    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def webhook_server(status: int = 200) -> Iterator[Webhook]:
    hook = Webhook(status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.posts.append(
                {"path": self.path, "content_type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            answer = b"ok" if hook.status == 200 else b"internal_error"
            self.send_response(hook.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/T0001/B0001/secret"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpServer:
    """A local SMTP server refusing the addresses in `refuse` (550 at RCPT TO), keeping what it accepts."""

    refuse: set[str]
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@contextmanager
def smtp_server(refuse: set[str]) -> Iterator[SmtpServer]:
    fake = SmtpServer(refuse=refuse)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 localhost fake ESMTP")
            accepted: list[str] = []
            while line := self.rfile.readline():
                command = line.decode().strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 localhost")
                elif verb == "MAIL":
                    accepted = []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    address = command.split(":", 1)[1].strip().strip("<>")
                    if address in fake.refuse:
                        fake.refused.append(address)
                        self.reply("550 5.1.1 Mailbox unavailable")
                    else:
                        accepted.append(address)
                        self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk
                    fake.messages.append(email.message_from_bytes(data, policy=email.policy.default))
                    self.reply("250 OK queued")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:  # RSET, NOOP
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.port = server.server_address[1]
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# --- E-mail --------------------------------------------------------------------------------------------


def test_an_email_report_has_a_text_and_html_body_and_the_pdf_attached(
    admin: User, agent_a1: User, django_capture_on_commit_callbacks: Any
) -> None:
    # Monday's calls: the report is not empty, and its figures are in the e-mail and the PDF.
    for hour in (9, 10, 14):
        CallLogFactory.create(agent=agent_a1, started_at=datetime(2026, 3, 9, hour, 0, tzinfo=UTC))
    CallLogFactory.create(
        agent=agent_a1,
        status=CallStatus.NO_ANSWER,
        started_at=datetime(2026, 3, 9, 15, 0, tzinfo=UTC),
        answered_at=None,
        duration_seconds=0,
    )
    subscription = subscribe(admin)
    with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
        delivery = run_subscription(subscription.pk)
    assert delivery is not None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 1, "")
    assert delivery.sent_at == TUESDAY
    assert (delivery.period_start, delivery.period_end) == (MONDAY, MONDAY)
    data = delivery.data
    assert data is not None and data["is_empty"] is False
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert isinstance(message, EmailMultiAlternatives)
    assert message.to == ["manager@example.com", "ceo@example.com"]
    assert message.from_email == django_settings.DEFAULT_FROM_EMAIL
    assert message.subject == data["title"]  # "Daily report · Whole organisation · Monday 9 March 2026"
    html, mimetype = message.alternatives[0]
    assert isinstance(html, str)
    assert mimetype == "text/html"
    for item in data["summary"]:
        assert f"{item['label']}: {item['value']}" in message.body
        assert item["label"] in html and item["value"] in html
    assert f"{data['scope']['label']} · {data['period']['label']}" in message.body
    assert data["heading"] in html and data["period"]["label"] in html
    [(filename, content, content_type)] = message.attachments
    assert (filename, content_type) == ("morning-numbers-2026-03-09.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    with delivery.pdf.open("rb") as stored:
        assert stored.read() == content  # the attachment is the stored PDF
    text = pdf_text(content)
    assert data["heading"] in text and data["period"]["label"] in text
    calls_made = next(item for item in data["summary"] if item["key"] == "calls_made")
    assert calls_made["value"] == "4" and "4" in text


def test_a_weekly_report_covers_the_last_complete_week_and_names_its_period(
    admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    subscription = subscribe(admin, report_type=ReportType.WEEKLY, name="Week in review")
    with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
        delivery = run_subscription(subscription.pk)
    assert delivery is not None
    delivery.refresh_from_db()
    assert (delivery.period_start, delivery.period_end) == (date(2026, 3, 2), date(2026, 3, 8))
    assert delivery.status == DeliveryStatus.SENT
    [(filename, _, _)] = mail.outbox[0].attachments
    assert filename == "week-in-review-2026-03-02_2026-03-08.pdf"
    data = delivery.data
    assert data is not None and data["is_empty"] is True
    assert data["empty_message"] and data["empty_message"] in mail.outbox[0].body


# --- Slack ---------------------------------------------------------------------------------------------


def test_a_slack_report_posts_the_summary_and_an_expiring_link_to_the_pdf(
    admin: User, settings: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REPORT_SLACK_WEBHOOK_HOSTS = ["127.0.0.1"]
    with webhook_server() as hook:
        subscription = subscribe(admin, delivery_method=DeliveryMethod.SLACK, recipients=[hook.url])
        with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
            delivery = run_subscription(subscription.pk)
    assert delivery is not None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert mail.outbox == []
    [post] = hook.posts
    assert post["path"] == "/services/T0001/B0001/secret" and post["content_type"] == "application/json"
    payload = post["json"]
    data = delivery.data
    assert data is not None
    for item in data["summary"]:
        assert f"{item['label']}: {item['value']}" in payload["text"]
    assert payload["text"].startswith(f"*{data['title']}*")
    assert payload["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": data["heading"], "emoji": False},
    }
    fields = next(block["fields"] for block in payload["blocks"] if "fields" in block)
    assert [f["text"] for f in fields] == [f"*{i['label']}*\n{i['value']}" for i in data["summary"]]
    # The link: absolute (PUBLIC_BASE_URL), signed, serving the stored PDF until it expires.
    link = next(word for word in payload["text"].split() if "/reports/pdf/" in word)
    assert link.startswith(django_settings.PUBLIC_BASE_URL + "/reports/pdf/")
    path = urlsplit(link).path
    with delivery.pdf.open("rb") as stored:
        pdf = stored.read()
    with time_machine.travel(TUESDAY + timedelta(days=6), tick=False):
        response = client.get(path)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert b"".join(response.streaming_content) == pdf  # type: ignore[attr-defined]
        assert 'filename="morning-numbers-2026-03-09.pdf"' in response["Content-Disposition"]
    expired_at = TUESDAY + timedelta(seconds=settings.REPORT_PDF_LINK_MAX_AGE_SECONDS + 1)
    with time_machine.travel(expired_at, tick=False):
        response = client.get(path)
    assert response.status_code == 410
    assert response.content.decode().startswith("This report link has expired.")
    tampered = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    response = client.get(tampered)
    assert response.status_code == 403
    assert response.content.decode().startswith("This report link is not valid.")
    assert client.get("/reports/pdf/not-a-token").status_code == 403


def test_slack_webhooks_on_hosts_not_allowed_are_refused_on_save_and_at_send_time(
    admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert settings.REPORT_SLACK_WEBHOOK_HOSTS == ["hooks.slack.com"]  # the default
    assert validate_recipients("slack", ["https://hooks.slack.com/services/T/B/x"]) == []
    [error] = validate_recipients("slack", ["https://attacker.example/services/T/B/x"])
    assert "'attacker.example' is not allowed" in error
    [error] = validate_recipients("slack", ["http://hooks.slack.com/services/T/B/x"])
    assert "must use https" in error
    [error] = validate_recipients("slack", ["https://user:pw@hooks.slack.com/services/T/B/x"])
    assert "user name or password" in error
    assert validate_recipients("slack", []) == ["Add at least one recipient (Slack incoming-webhook URLs)."]
    assert validate_recipients("email", ["manager@example.com"]) == []
    assert validate_recipients("email", ["not-an-address"]) == ["'not-an-address' is not a valid e-mail address."]
    assert validate_recipients("fax", ["x"]) == ["Unknown delivery method 'fax': use email or slack."]
    assert validate_recipients("email", "manager@example.com") == ["Recipients must be a list of e-mail addresses."]

    # A subscription saved while 127.0.0.1 was allowed, sent after the list changed: refused, nothing posted,
    # failed at once (a refused host will not become allowed by waiting) and the owner told.
    with webhook_server() as hook:
        settings.REPORT_SLACK_WEBHOOK_HOSTS = ["127.0.0.1"]
        assert validate_recipients("slack", [hook.url]) == []
        subscription = subscribe(admin, delivery_method=DeliveryMethod.SLACK, recipients=[hook.url])
        settings.REPORT_SLACK_WEBHOOK_HOSTS = ["hooks.slack.com"]
        with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
            delivery = run_subscription(subscription.pk)
    assert delivery is not None
    delivery.refresh_from_db()
    assert hook.posts == []
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert "'127.0.0.1' is not allowed" in delivery.last_error
    [notice] = mail.outbox
    assert notice.to == [admin.email]
    assert "'127.0.0.1' is not allowed" in notice.body


def test_plain_http_is_accepted_only_for_an_allowed_loopback_host(settings: Any) -> None:
    settings.REPORT_SLACK_WEBHOOK_HOSTS = ["127.0.0.1", "relay.internal", "localhost"]
    assert validate_recipients("slack", ["http://127.0.0.1:9999/hook", "http://localhost/hook"]) == []
    assert validate_recipients("slack", ["https://relay.internal/hook"]) == []
    [error] = validate_recipients("slack", ["http://relay.internal/hook"])
    assert "must use https" in error
    [error] = validate_recipients("slack", ["http://127.0.0.2/hook"])
    assert "'127.0.0.2' is not allowed" in error


# --- Failures and retries ------------------------------------------------------------------------------


def test_slack_failures_retry_with_exponential_backoff_then_fail_and_the_owner_is_emailed(
    admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REPORT_SLACK_WEBHOOK_HOSTS = ["127.0.0.1"]
    assert (settings.REPORT_MAX_ATTEMPTS, settings.REPORT_RETRY_BASE_SECONDS) == (5, 60)  # the defaults
    with webhook_server(status=500) as hook, time_machine.travel(TUESDAY, tick=False) as clock:
        subscription = subscribe(admin, delivery_method=DeliveryMethod.SLACK, recipients=[hook.url])
        delivery = fire(subscription, django_capture_on_commit_callbacks)
        first_pdf = delivery.pdf.name
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert delivery.last_error.startswith("Slack webhook at 127.0.0.1 answered HTTP 500")
        now = TUESDAY
        for attempt, delay in enumerate([60, 120, 240, 480], start=2):
            assert delivery.next_attempt_at == now + timedelta(seconds=delay)
            # Not due yet: neither the task nor the dispatcher tries it early.
            clock.move_to(delivery.next_attempt_at - timedelta(seconds=1))
            assert send_delivery(delivery.pk) == DeliveryStatus.PENDING
            assert dispatch_due_deliveries() == 0
            assert len(hook.posts) == attempt - 1
            now = delivery.next_attempt_at
            clock.move_to(now)
            assert dispatch_due_deliveries() == 1
            delivery.refresh_from_db()
            assert (delivery.attempts, len(hook.posts)) == (attempt, attempt)
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.next_attempt_at is None
        assert delivery.last_error.endswith("(gave up after 5 attempts)")
        assert delivery.pdf.name == first_pdf  # built and rendered once, sent five times
        assert dispatch_due_deliveries() == 0  # failed stays failed
    [notice] = mail.outbox
    assert notice.to == [admin.email]
    assert notice.subject == f"Report not delivered: Morning numbers · {delivery.data['period']['label']}"  # type: ignore[index]
    assert "Attempts: 5" in notice.body and "HTTP 500" in notice.body
    assert 'use "Send now" on the subscription "Morning numbers"' in notice.body


def test_a_retry_posts_only_to_the_slack_webhooks_that_have_not_taken_the_report(
    admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REPORT_SLACK_WEBHOOK_HOSTS = ["127.0.0.1"]
    with (
        webhook_server() as working,
        webhook_server(status=500) as broken,
        time_machine.travel(TUESDAY, tick=False) as clock,
    ):
        subscription = subscribe(admin, delivery_method=DeliveryMethod.SLACK, recipients=[broken.url, working.url])
        delivery = fire(subscription, django_capture_on_commit_callbacks)
        # The broken hook first: the working one is still tried in the same attempt.
        assert (len(broken.posts), len(working.posts)) == (1, 1)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert delivery.delivered_to == [working.url]
        assert delivery.last_error.startswith("Slack webhook at 127.0.0.1 answered HTTP 500")
        assert delivery.last_error.endswith("(1 of 2 webhooks took it; a retry posts only to the others.)")

        broken.status = 200
        assert delivery.next_attempt_at is not None
        clock.move_to(delivery.next_attempt_at)
        assert dispatch_due_deliveries() == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
        assert (len(broken.posts), len(working.posts)) == (2, 1)  # the working channel got it once
        assert sorted(delivery.delivered_to) == sorted([working.url, broken.url])
        # The same report (its PDF link is signed afresh for each attempt).
        assert broken.posts[1]["json"]["blocks"][:2] == working.posts[0]["json"]["blocks"][:2]

        # "Send now" is a deliberate resend: to every webhook again.
        with django_capture_on_commit_callbacks(execute=True):
            send_now(subscription, requested_by=admin)
        assert (len(broken.posts), len(working.posts)) == (3, 2)


def test_an_attempt_fails_for_good_only_when_every_webhook_failed_for_good(
    admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REPORT_SLACK_WEBHOOK_HOSTS = ["127.0.0.1"]
    with (
        webhook_server(status=404) as gone,
        webhook_server(status=500) as down,
        time_machine.travel(TUESDAY, tick=False),
    ):
        both = subscribe(admin, delivery_method=DeliveryMethod.SLACK, recipients=[gone.url, down.url])
        delivery = fire(both, django_capture_on_commit_callbacks)
        # 404 alone would fail at once; with a 500 beside it the attempt is retried.
        assert (delivery.status, delivery.delivered_to) == (DeliveryStatus.PENDING, [])
        assert "HTTP 404" in delivery.last_error and "HTTP 500" in delivery.last_error

        gone_only = subscribe(admin, name="Gone", delivery_method=DeliveryMethod.SLACK, recipients=[gone.url])
        failed = fire(gone_only, django_capture_on_commit_callbacks)
        assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 1)

        with webhook_server() as working:
            partly = subscribe(
                admin, name="Partly", delivery_method=DeliveryMethod.SLACK, recipients=[working.url, gone.url]
            )
            failed = fire(partly, django_capture_on_commit_callbacks)
        assert (failed.status, failed.attempts, failed.delivered_to) == (DeliveryStatus.FAILED, 1, [working.url])
        assert failed.last_error.endswith("(1 of 2 webhooks took it.)")  # no retry to promise
        assert len(working.posts) == 1


def test_deactivating_a_subscription_skips_its_pending_retry_but_not_a_send_now(
    admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REPORT_SLACK_WEBHOOK_HOSTS = ["127.0.0.1"]
    with webhook_server(status=500) as hook, time_machine.travel(TUESDAY, tick=False) as clock:
        subscription = subscribe(admin, delivery_method=DeliveryMethod.SLACK, recipients=[hook.url])
        delivery = fire(subscription, django_capture_on_commit_callbacks)
        assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None
        retry_at = delivery.next_attempt_at

        hook.status = 200
        subscription.is_active = False
        subscription.save()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.last_error, delivery.next_attempt_at) == (
            DeliveryStatus.SKIPPED,
            DEACTIVATED,
            None,
        )
        clock.move_to(retry_at)
        assert dispatch_due_deliveries() == 0
        assert len(hook.posts) == 1  # only the first, failed attempt

        # A retry already handed to a worker when the switch was flipped: skipped when it is claimed.
        ReportDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING, last_error="", next_attempt_at=retry_at
        )
        assert send_delivery(delivery.pk) == DeliveryStatus.SKIPPED
        delivery.refresh_from_db()
        assert delivery.last_error == DEACTIVATED
        assert len(hook.posts) == 1
        with pytest.raises(DeliveryError, match="skipped: the subscription was deactivated"):
            request_send(delivery)

        # A person asking ("send now") still sends an inactive subscription's report.
        with django_capture_on_commit_callbacks(execute=True):
            again = send_now(subscription, requested_by=admin)
        again.refresh_from_db()
        assert again.status == DeliveryStatus.SENT
        assert len(hook.posts) == 2


def test_a_mail_server_refusing_the_recipients_is_retried_then_the_owner_is_told_through_it(
    admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REPORT_MAX_ATTEMPTS = 2
    settings.REPORT_RETRY_BASE_SECONDS = 30
    with smtp_server(refuse={"manager@example.com", "ceo@example.com"}) as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        with time_machine.travel(TUESDAY, tick=False) as clock:
            subscription = subscribe(admin)
            delivery = fire(subscription, django_capture_on_commit_callbacks)
            assert delivery.status == DeliveryStatus.PENDING
            assert delivery.next_attempt_at == TUESDAY + timedelta(seconds=30)
            assert "The mail server did not take the report" in delivery.last_error
            clock.move_to(TUESDAY + timedelta(seconds=30))
            assert dispatch_due_deliveries() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    assert smtp.refused == ["manager@example.com", "ceo@example.com"] * 2
    [notice] = smtp.messages  # the report never got through; the owner's notice did
    assert notice["To"] == admin.email
    assert str(notice["Subject"]).strip().startswith("Report not delivered: Morning numbers")
    body = notice.get_content()  # type: ignore[attr-defined]
    assert "manager@example.com: 550 5.1.1 Mailbox unavailable; ceo@example.com: 550" in body
    assert "(gave up after 2 attempts)" in body


def test_without_an_owner_address_the_admins_are_told(
    admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.ADMINS = [("Ops", "ops@example.com")]
    admin.email = ""
    admin.save()
    subscription = subscribe(admin, recipients=["manager@example.com"])
    settings.REPORT_MAX_ATTEMPTS = 1
    with smtp_server(refuse={"manager@example.com"}) as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
            run_subscription(subscription.pk)
    [notice] = smtp.messages
    assert notice["To"] == "ops@example.com"
    assert (
        str(notice["Subject"]).strip().startswith("[Django] Report not delivered: Morning numbers")
    )  # mail_admins' prefix


# --- Exactly one send ----------------------------------------------------------------------------------


def test_workers_racing_on_one_delivery_send_it_once(admin: User, transactional_db: None) -> None:
    template = generate(report_type=ReportType.DAILY, start=MONDAY, end=MONDAY, recipients=["manager@example.com"])
    deliveries = [template] + [
        ReportDelivery.objects.create(
            report_type=ReportType.DAILY,
            recipients=["manager@example.com"],
            period_start=MONDAY,
            period_end=MONDAY,
            data=template.data,
            pdf=template.pdf.name,
        )
        for _ in range(4)
    ]
    for delivery in deliveries:
        barrier = threading.Barrier(3)
        results: list[str] = []

        def worker(delivery_id: int, barrier: threading.Barrier = barrier, results: list[str] = results) -> None:
            try:
                barrier.wait(timeout=10)
                results.append(send_delivery(delivery_id))
            finally:
                connection.close()  # each thread had its own connection

        threads = [threading.Thread(target=worker, args=(delivery.pk,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert results.count(DeliveryStatus.SENT) >= 1 and len(results) == 3
        assert set(results) <= {DeliveryStatus.SENT, DeliveryStatus.SENDING}
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)
    assert len(mail.outbox) == len(deliveries)  # one e-mail per delivery, never two


def test_firing_twice_and_delivery_for_are_idempotent(admin: User, django_capture_on_commit_callbacks: Any) -> None:
    subscription = subscribe(admin)
    first = delivery_for(subscription, date(2026, 3, 10))
    assert delivery_for(subscription, date(2026, 3, 10)).pk == first.pk
    assert first.status == DeliveryStatus.PENDING and first.next_attempt_at is None  # made, not scheduled
    assert delivery_for(subscription, date(2026, 3, 11)).pk != first.pk
    weekly = subscribe(admin, name="Weekly", report_type=ReportType.WEEKLY)
    monday, sunday = delivery_for(weekly, date(2026, 3, 9)), delivery_for(weekly, date(2026, 3, 15))
    assert monday.pk == sunday.pk  # the same week is covered all week long
    with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert run_subscription(subscription.pk).pk == first.pk  # type: ignore[union-attr]
        assert run_subscription(subscription.pk).pk == first.pk  # type: ignore[union-attr]
    assert ReportDelivery.objects.filter(subscription=subscription).count() == 2
    assert len(mail.outbox) == 1
    subscription.is_active = False
    subscription.save()
    assert run_subscription(subscription.pk) is None
    assert run_subscription(999_999) is None


def test_a_subscription_runs_on_todays_date_in_its_own_time_zone(admin: User) -> None:
    late_evening_utc = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    tokyo = subscribe(admin, name="Tokyo", timezone="Asia/Tokyo")  # already Wednesday 08:30 there
    los_angeles = subscribe(admin, name="LA", timezone="America/Los_Angeles")  # still Tuesday 16:30
    tokyo_delivery = run_subscription(tokyo.pk, now=late_evening_utc)
    la_delivery = run_subscription(los_angeles.pk, now=late_evening_utc)
    assert tokyo_delivery is not None and la_delivery is not None
    assert (tokyo_delivery.period_start, tokyo_delivery.period_end) == (date(2026, 3, 10), date(2026, 3, 10))
    assert (la_delivery.period_start, la_delivery.period_end) == (date(2026, 3, 9), date(2026, 3, 9))
    assert tokyo_delivery.timezone == "Asia/Tokyo"
    assert tokyo_delivery.next_attempt_at == late_evening_utc  # scheduled (its send waits for the commit)
    assert tokyo_delivery.status == DeliveryStatus.PENDING


# --- Stuck and skipped -----------------------------------------------------------------------------------


def test_a_delivery_stuck_in_sending_is_recovered_and_sent_again(admin: User, settings: Any) -> None:
    subscription = subscribe(admin)
    stuck = delivery_for(subscription, date(2026, 3, 10))
    timeout = settings.REPORT_SENDING_TIMEOUT_SECONDS
    claimed = TUESDAY - timedelta(seconds=timeout + 1)
    ReportDelivery.objects.filter(pk=stuck.pk).update(status=DeliveryStatus.SENDING, claimed_at=claimed, attempts=1)
    busy = delivery_for(subscription, date(2026, 3, 11))  # a worker still within the timeout: left alone
    ReportDelivery.objects.filter(pk=busy.pk).update(
        status=DeliveryStatus.SENDING, claimed_at=TUESDAY - timedelta(seconds=timeout - 5), attempts=1
    )
    with time_machine.travel(TUESDAY, tick=False):
        assert send_delivery(stuck.pk) == DeliveryStatus.SENDING  # a claim is not taken by another worker
        assert dispatch_due_deliveries() == 1
    stuck.refresh_from_db()
    busy.refresh_from_db()
    assert (stuck.status, stuck.attempts) == (DeliveryStatus.SENT, 2)
    assert (busy.status, busy.attempts) == (DeliveryStatus.SENDING, 1)
    assert len(mail.outbox) == 1


def test_a_delivery_stuck_on_its_last_attempt_fails_and_the_owner_is_told(admin: User, settings: Any) -> None:
    subscription = subscribe(admin)
    stuck = delivery_for(subscription, date(2026, 3, 10))
    ReportDelivery.objects.filter(pk=stuck.pk).update(
        status=DeliveryStatus.SENDING,
        claimed_at=TUESDAY - timedelta(hours=1),
        attempts=settings.REPORT_MAX_ATTEMPTS,
    )
    with time_machine.travel(TUESDAY, tick=False):
        assert dispatch_due_deliveries() == 0
    stuck.refresh_from_db()
    assert stuck.status == DeliveryStatus.FAILED
    assert "The worker sending it stopped without finishing" in stuck.last_error
    [notice] = mail.outbox
    assert notice.to == [admin.email] and "it may or may not have gone out" in notice.body


def test_skip_if_empty_sends_nothing_for_an_empty_period_and_sends_one_with_data(
    admin: User, agent_a1: User, django_capture_on_commit_callbacks: Any
) -> None:
    quiet = subscribe(admin, name="Quiet", skip_if_empty=True)
    with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
        delivery = run_subscription(quiet.pk)
    assert delivery is not None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SKIPPED
    assert delivery.data is not None and delivery.data["is_empty"] is True
    assert not delivery.pdf  # not even rendered
    assert delivery.last_error == EMPTY_PERIOD  # the admin shows why nothing came
    assert mail.outbox == []
    with pytest.raises(DeliveryError, match="skipped: the period had no data, and the subscription skips"):
        request_send(delivery)

    CallLogFactory.create(agent=agent_a1, started_at=datetime(2026, 3, 10, 11, 0, tzinfo=UTC))
    with (
        time_machine.travel(TUESDAY + timedelta(days=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        busy_day = run_subscription(quiet.pk)
    assert busy_day is not None
    busy_day.refresh_from_db()
    assert busy_day.status == DeliveryStatus.SENT and busy_day.data["is_empty"] is False  # type: ignore[index]
    assert len(mail.outbox) == 1


# --- Send now, send, generate, preview -------------------------------------------------------------------


def test_send_now_resends_the_current_period_and_refuses_while_it_is_being_sent(
    admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    subscription = subscribe(admin)
    with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
        first = run_subscription(subscription.pk)
    assert first is not None
    first.refresh_from_db()
    first_built = first.data["generated_at"]  # type: ignore[index]
    subscription.recipients = ["new.manager@example.com"]
    subscription.save()
    later = TUESDAY + timedelta(hours=2)
    with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks(execute=True):
        again = send_now(subscription, requested_by=admin)
    assert again.pk == first.pk
    again.refresh_from_db()
    assert (again.status, again.attempts, again.sent_at) == (DeliveryStatus.SENT, 1, later)
    assert again.requested_by == admin
    assert [m.to for m in mail.outbox] == [["manager@example.com", "ceo@example.com"], ["new.manager@example.com"]]
    assert again.data["generated_at"] != first_built  # type: ignore[index]  # the figures were built afresh
    assert again.pdf and again.pdf.storage.exists(again.pdf.name)
    assert sorted(p.name for p in (Path(settings.MEDIA_ROOT) / "reports/2026/03").iterdir()) == [
        "morning-numbers-2026-03-09.pdf"  # the old PDF was removed, not left beside the new one
    ]

    ReportDelivery.objects.filter(pk=again.pk).update(status=DeliveryStatus.SENDING)
    with (
        time_machine.travel(later, tick=False),
        pytest.raises(DeliveryError, match="is being sent right now"),
    ):
        send_now(subscription)
    subscription.recipients = []
    with pytest.raises(DeliveryError, match="Add at least one recipient"):
        send_now(subscription)


def test_generate_builds_and_stores_a_report_without_sending_and_request_send_sends_it(
    admin: User, team_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    delivery = generate(
        report_type=ReportType.WEEKLY,
        start=date(2026, 3, 2),
        end=date(2026, 3, 8),
        team_id=team_a.pk,
        timezone="Europe/Warsaw",
        recipients=["manager@example.com"],
        requested_by=admin,
    )
    assert delivery.subscription is None
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.PENDING, 0, None)
    assert delivery.data is not None and delivery.data["scope"]["kind"] == "team"
    with delivery.pdf.open("rb") as handle:
        assert handle.read().startswith(b"%PDF")
    assert mail.outbox == []
    with time_machine.travel(TUESDAY, tick=False):
        assert dispatch_due_deliveries() == 0  # an ad-hoc report is not sent by itself
    with django_capture_on_commit_callbacks(execute=True):
        request_send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    [message] = mail.outbox
    assert delivery.data is not None
    title = delivery.data["title"]
    assert message.attachments[0][0] == slugify(title) + "-2026-03-02_2026-03-08.pdf"
    assert message.attachments[0][0].startswith("weekly-report-team-team-a-week-10")
    with pytest.raises(DeliveryError, match="already sent"):
        request_send(delivery)

    nobody = generate(report_type=ReportType.DAILY, start=MONDAY, end=MONDAY)
    with pytest.raises(DeliveryError, match="no recipients"):
        request_send(nobody)
    # A failed delivery is sent again with a fresh set of attempts.
    ReportDelivery.objects.filter(pk=nobody.pk).update(
        status=DeliveryStatus.FAILED, attempts=5, last_error="x", recipients=["a@example.com"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        request_send(nobody)
    nobody.refresh_from_db()
    assert (nobody.status, nobody.attempts, nobody.last_error) == (DeliveryStatus.SENT, 1, "")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"report_type": "monthly"}, "A report is daily or weekly, not 'monthly'"),
        ({"start": date(2026, 3, 9), "end": date(2026, 3, 1)}, "end date is before its start date"),
        ({"start": date(2024, 1, 1), "end": date(2026, 1, 1)}, "at most 366 days"),
        ({"team_id": 999_999}, "There is no team 999999."),
        ({"team_id": 1, "agent_id": 1}, "not a team and an agent"),
        ({"timezone": "Mars/Olympus"}, "not a known IANA time zone"),
        ({"recipients": ["https://evil.example/x"], "delivery_method": "slack"}, "is not allowed"),
        ({"delivery_method": "pigeon"}, "Unknown delivery method 'pigeon'"),
    ],
)
def test_generate_refuses_bad_input_with_a_sentence_and_stores_nothing(
    db: None, arguments: dict[str, Any], message: str
) -> None:
    values: dict[str, Any] = {"report_type": ReportType.DAILY, "start": MONDAY, "end": MONDAY}
    values.update(arguments)
    with pytest.raises(DeliveryError, match=message):
        generate(**values)
    assert not ReportDelivery.objects.exists()


def test_preview_pdf_builds_the_current_period_and_stores_nothing(admin: User) -> None:
    subscription = subscribe(admin, name="Preview me")
    with time_machine.travel(TUESDAY, tick=False):
        pdf = preview_pdf(subscription)
    assert pdf.startswith(b"%PDF")
    assert "Monday 9 March 2026" in pdf_text(pdf)  # today is Tuesday the 10th: yesterday's report
    assert not ReportDelivery.objects.exists()
    assert mail.outbox == []


# --- Celery configuration ----------------------------------------------------------------------------------


def test_the_celery_settings_fit_the_retry_and_recovery_times(settings: Any) -> None:
    conf = celery_app.conf
    assert conf.task_acks_late is True and conf.worker_prefetch_multiplier == 1
    longest_wait = max(settings.REPORT_RETRY_MAX_DELAY_SECONDS, settings.REPORT_SENDING_TIMEOUT_SECONDS)
    assert conf.broker_transport_options["visibility_timeout"] > longest_wait
    assert tasks.send_delivery.time_limit < settings.REPORT_SENDING_TIMEOUT_SECONDS
    route = celery_app.amqp.router.route({}, "reporting.tasks.send_delivery", args=(1,), kwargs={})
    assert route["queue"].name == "reports"
    assert (
        celery_app.amqp.router.route({}, "reporting.tasks.run_subscription", args=(1,), kwargs={})["queue"].name
        == conf.task_default_queue
    )
    assert settings.CELERY_BEAT_SCHEDULE["reporting-dispatch-due-deliveries"]["task"] == (
        "reporting.tasks.dispatch_due_deliveries"
    )
    assert conf.worker_max_tasks_per_child == settings.CELERY_WORKER_MAX_TASKS_PER_CHILD


def test_the_retry_delay_doubles_and_is_capped(settings: Any) -> None:
    settings.REPORT_RETRY_BASE_SECONDS, settings.REPORT_RETRY_MAX_DELAY_SECONDS = 60, 300
    delays = [reporting_delivery.retry_delay(n).total_seconds() for n in range(1, 7)]
    assert delays == [60, 120, 240, 300, 300, 300]


def test_the_link_expiry_is_shown_in_the_reports_time_zone(
    admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REPORT_SLACK_WEBHOOK_HOSTS = ["127.0.0.1"]
    settings.REPORT_PDF_LINK_MAX_AGE_SECONDS = 3600
    with webhook_server() as hook:
        subscription = subscribe(
            admin, delivery_method=DeliveryMethod.SLACK, recipients=[hook.url], timezone="Europe/Warsaw"
        )
        with time_machine.travel(TUESDAY, tick=False), django_capture_on_commit_callbacks(execute=True):
            run_subscription(subscription.pk)
    expires = (TUESDAY + timedelta(hours=1)).astimezone(ZoneInfo("Europe/Warsaw"))
    assert f"(link valid until {expires:%Y-%m-%d %H:%M} CET)" in hook.posts[0]["json"]["text"]
