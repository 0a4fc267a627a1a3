"""Twilio voice: signed status callbacks (convergent, never lost) and the REST sync (paging, 429 backoff).

Everything goes through the real twilio library; only its HTTP client is fake (tests/twilio_fakes.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from calls import actions
from calls import twilio as calls_twilio
from calls.models import CallLog, CallStatus, TwilioCallEvent, TwilioSyncRun
from calls.tasks import sync_twilio_calls
from crm.periods import local_date, local_midnight
from tests.factories import CallLogFactory
from tests.twilio_fakes import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeHttpClient,
    calls_page,
    rate_limited,
    rfc2822,
    twilio_call,
    unauthorized,
)

PUBLIC = "https://callboard.example.com"
PATH = "/webhooks/twilio/voice/status"
SID = "CA" + "a" * 32


@pytest.fixture(autouse=True)
def _twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def fake_twilio(monkeypatch):
    """Install a scripted Twilio: `fake_twilio(*responses)` returns the FakeHttpClient."""

    def install(*responses):
        http = FakeHttpClient(*responses)
        monkeypatch.setattr(calls_twilio, "twilio_client", lambda: Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http))
        return http

    return install


def start() -> datetime:
    return timezone.now().replace(microsecond=0) - timedelta(minutes=10)


def callback(client, params: dict[str, str], *, signed_url: str = PUBLIC + PATH, signature: str | None = None):
    signature = (
        signature if signature is not None else RequestValidator(AUTH_TOKEN).compute_signature(signed_url, params)
    )
    return client.post(
        PATH,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def params(sid: str, status: str, at, seq: int, duration: int | None = None) -> dict[str, str]:
    p = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": sid,
        "CallStatus": status,
        "Timestamp": rfc2822(at),
        "SequenceNumber": str(seq),
        "From": "+48221234567",
        "To": "+48600100200",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
        "CallbackSource": "call-progress-events",
    }
    if duration is not None:
        p["CallDuration"] = str(duration)
    return p


def lifecycle(sid: str, t0) -> dict[str, dict[str, str]]:
    """A call answered 5 s after it started, talking 60 s (Twilio's timestamps agree with its duration)."""
    return {
        "initiated": params(sid, "initiated", t0, 0),
        "ringing": params(sid, "ringing", t0 + timedelta(seconds=1), 1),
        "in-progress": params(sid, "in-progress", t0 + timedelta(seconds=5), 2),
        "completed": params(sid, "completed", t0 + timedelta(seconds=65), 3, duration=60),
    }


def state(call: CallLog) -> tuple:
    call.refresh_from_db()
    return (call.status, call.answered_at, call.ended_at, call.duration_seconds)


def relative_state(call: CallLog) -> tuple:
    call.refresh_from_db()

    def offset(t):
        return None if t is None else (t - call.started_at).total_seconds()

    return (call.status, offset(call.answered_at), offset(call.ended_at), call.duration_seconds)


# --- Webhook: signatures ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_valid_callbacks_answer_and_end_the_call(client, agent_a1):
    t0 = start()
    call = actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=t0, twilio_call_sid=SID)
    steps = lifecycle(SID, t0)
    for name in ("initiated", "ringing", "in-progress", "completed"):
        response = callback(client, steps[name])
        assert response.status_code == 204, response.content
    assert state(call) == (CallStatus.COMPLETED, t0 + timedelta(seconds=5), t0 + timedelta(seconds=65), 60)
    events = TwilioCallEvent.objects.filter(call_sid=SID)
    assert events.count() == 4
    assert all(e.applied_at is not None and e.call_id == call.pk for e in events)
    assert events.get(call_status="completed").payload["CallDuration"] == "60"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature_for",
    [
        "forged",
        "missing",
        "http://testserver" + PATH,  # the URL the request arrived on, not the public one
        PUBLIC + "/webhooks/twilio/voice/other",
    ],
)
def test_unsigned_or_missigned_callbacks_are_refused_and_write_nothing(client, agent_a1, signature_for):
    t0 = start()
    call = actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=t0, twilio_call_sid=SID)
    before = state(call)
    p = lifecycle(SID, t0)["completed"]
    if signature_for == "forged":
        response = callback(client, p, signature=RequestValidator("not-the-token").compute_signature(PUBLIC + PATH, p))
    elif signature_for == "missing":
        response = client.post(PATH, data=urlencode(p), content_type="application/x-www-form-urlencoded")
    else:
        response = callback(client, p, signed_url=signature_for)
    assert response.status_code == 403
    body = response.json()
    assert body["success"] is False and body["error"] == "invalid_signature" and body["detail"]
    assert not TwilioCallEvent.objects.exists()
    assert state(call) == before


@pytest.mark.django_db
def test_tampered_parameters_are_refused(client, agent_a1):
    p = lifecycle(SID, start())["completed"]
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + PATH, p)
    response = callback(client, {**p, "CallDuration": "6000"}, signature=signature)
    assert response.status_code == 403
    assert not TwilioCallEvent.objects.exists()


@pytest.mark.django_db
def test_behind_a_tls_proxy_the_public_https_url_is_validated(client, agent_a1):
    # The test request arrives as http://testserver/...; Twilio signed https://callboard.example.com/...
    p = lifecycle(SID, start())["ringing"]
    response = client.post(
        PATH,
        data=urlencode(p),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + PATH, p),
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert response.status_code == 204
    assert TwilioCallEvent.objects.filter(call_sid=SID, call_status="ringing").exists()


@pytest.mark.django_db
def test_webhook_needs_no_session_or_csrf_and_only_accepts_post(agent_a1):
    csrf_client = APIClient(enforce_csrf_checks=True)
    p = lifecycle(SID, start())["ringing"]
    assert callback(csrf_client, p).status_code == 204
    assert csrf_client.get(PATH).status_code == 405


# --- Webhook: convergence -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_duplicate_callbacks_change_nothing(client, agent_a1):
    t0 = start()
    call = actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=t0, twilio_call_sid=SID)
    steps = lifecycle(SID, t0)
    callback(client, steps["in-progress"])
    callback(client, steps["completed"])
    final = state(call)
    updated_at = CallLog.objects.get(pk=call.pk).updated_at
    for name in ("completed", "in-progress", "completed"):
        assert callback(client, steps[name]).status_code == 204
    assert state(call) == final
    assert CallLog.objects.get(pk=call.pk).updated_at == updated_at
    assert TwilioCallEvent.objects.filter(call_sid=SID, applied_at__isnull=True).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "order",
    [
        ["completed", "in-progress", "ringing", "initiated"],
        ["ringing", "completed", "initiated", "in-progress"],
        ["in-progress", "completed", "ringing"],
    ],
)
def test_out_of_order_callbacks_converge_to_the_in_order_state(client, agent_a1, agent_a2, order):
    t0 = start()
    in_order = actions.do_start_call(
        agent_a2, phone_number="+48600100200", started_at=t0, twilio_call_sid="CA" + "b" * 32
    )
    for name in ("initiated", "ringing", "in-progress", "completed"):
        callback(client, lifecycle("CA" + "b" * 32, t0)[name])
    shuffled = actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=t0, twilio_call_sid=SID)
    for name in order:
        assert callback(client, lifecycle(SID, t0)[name]).status_code == 204
    assert relative_state(shuffled) == relative_state(in_order) == (CallStatus.COMPLETED, 5.0, 65.0, 60)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("twilio_status", "expected"),
    [
        ("busy", CallStatus.BUSY),
        ("no-answer", CallStatus.NO_ANSWER),
        ("failed", CallStatus.FAILED),
        ("canceled", CallStatus.FAILED),
    ],
)
def test_unanswered_final_statuses_end_the_call_at_the_callback_time(client, agent_a1, twilio_status, expected):
    t0 = start()
    call = actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=t0, twilio_call_sid=SID)
    callback(client, params(SID, "ringing", t0 + timedelta(seconds=1), 1))
    callback(client, params(SID, twilio_status, t0 + timedelta(seconds=30), 2, duration=0))
    assert state(call) == (expected, None, t0 + timedelta(seconds=30), 0)


@pytest.mark.django_db
def test_a_callback_before_its_call_is_kept_and_applied_when_the_sid_is_attached(client, agent_a1):
    t0 = start()
    steps = lifecycle(SID, t0)
    for name in ("ringing", "in-progress", "completed"):
        assert callback(client, steps[name]).status_code == 204
    assert TwilioCallEvent.objects.filter(call_sid=SID, applied_at__isnull=True, call__isnull=True).count() == 3

    call = actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=t0)
    actions.do_attach_twilio_sid(call, SID)

    assert state(call) == (CallStatus.COMPLETED, t0 + timedelta(seconds=5), t0 + timedelta(seconds=65), 60)
    assert not TwilioCallEvent.objects.filter(call_sid=SID, applied_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_call_started_with_a_sid_applies_the_callbacks_that_came_before_it(client, agent_a1):
    t0 = start()
    steps = lifecycle(SID, t0)
    callback(client, steps["in-progress"])
    call = actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=t0, twilio_call_sid=SID)
    assert call.answered_at == t0 + timedelta(seconds=5)
    assert not TwilioCallEvent.objects.filter(call_sid=SID, applied_at__isnull=True).exists()
    callback(client, steps["completed"])
    assert state(call) == (CallStatus.COMPLETED, t0 + timedelta(seconds=5), t0 + timedelta(seconds=65), 60)


@pytest.mark.django_db
def test_attaching_a_sid_of_another_call_is_refused(agent_a1, agent_a2):
    CallLogFactory.create(agent=agent_a2, twilio_call_sid=SID)
    call = actions.do_start_call(agent_a1, phone_number="+48600100200")
    with pytest.raises(actions.CallActionError) as error:
        actions.do_attach_twilio_sid(call, SID)
    assert error.value.code == "sid_taken"


# --- Sync -------------------------------------------------------------------------------------------------


def _day_calls(agent):
    """Yesterday: A (we logged 120 s, Twilio billed 60 s), B (Twilio only), C (agrees), D (still open
    here, completed at Twilio). Twilio lists A twice, across its two pages."""
    day = local_date(timezone.now()) - timedelta(days=1)
    noon = local_midnight(day) + timedelta(hours=12)
    sid_a, sid_c, sid_d = ("CA" + digit * 32 for digit in "134")
    a = CallLogFactory.create(agent=agent, twilio_call_sid=sid_a, started_at=noon)
    c = CallLogFactory.create(
        agent=agent,
        twilio_call_sid=sid_c,
        started_at=noon + timedelta(hours=1),
        price=Decimal("0.01350"),
        price_unit="USD",
    )
    d = CallLogFactory.create(
        agent=agent,
        twilio_call_sid=sid_d,
        started_at=noon + timedelta(hours=2),
        status=CallStatus.IN_PROGRESS,
        answered_at=None,
        ended_at=None,
        duration_seconds=0,
    )
    page1 = [
        twilio_call(sid_a, start_time=noon, end_time=noon + timedelta(seconds=70), duration=60),
        twilio_call("CA" + "2" * 32, start_time=noon + timedelta(minutes=5), end_time=noon + timedelta(minutes=6)),
    ]
    page2 = [
        twilio_call(sid_a, start_time=noon, end_time=noon + timedelta(seconds=70), duration=60),
        twilio_call(sid_c, start_time=c.started_at, end_time=c.ended_at, duration=120),
        twilio_call(sid_d, start_time=d.started_at, end_time=d.started_at + timedelta(seconds=40), duration=30),
    ]
    return day, (a, c, d), page1, page2


@pytest.mark.django_db
def test_sync_pages_matches_fixes_and_counts(agent_a1, fake_twilio):
    day, (a, _c, d), page1, page2 = _day_calls(agent_a1)
    http = fake_twilio(calls_page(page1, page=0, page_size=2, last=False), calls_page(page2, page=1, page_size=2))

    run = calls_twilio.sync_twilio_day(day, requested_by_id=agent_a1.pk, sleep=lambda s: pytest.fail("no 429 here"))

    run.refresh_from_db()
    assert run.status == TwilioSyncRun.Status.SUCCEEDED and run.error == "" and run.finished_at is not None
    assert (run.fetched, run.matched, run.fixed, run.missing, run.duplicates) == (5, 3, 2, 1, 1)
    assert run.day == day and run.requested_by == agent_a1

    a.refresh_from_db()
    assert (a.status, a.duration_seconds, a.ended_at - a.answered_at) == (
        CallStatus.COMPLETED,
        60,
        timedelta(seconds=60),
    )
    assert (a.price, a.price_unit) == (Decimal("0.01350"), "USD")
    d.refresh_from_db()
    assert (d.status, d.duration_seconds) == (CallStatus.COMPLETED, 30)
    assert d.answered_at == d.started_at + timedelta(seconds=10)
    assert d.ended_at == d.started_at + timedelta(seconds=40)

    first, second = http.requests
    assert first.method == "GET" and first.url.endswith(f"/Accounts/{ACCOUNT_SID}/Calls.json")
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    assert first.params["StartTime>"] == start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first.params["StartTime<"] == end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first.params["PageSize"] == calls_twilio.PAGE_SIZE
    assert "Page=1" in second.url and "PageToken=" in second.url


@pytest.mark.django_db
def test_sync_is_idempotent(agent_a1, fake_twilio):
    day, calls, page1, page2 = _day_calls(agent_a1)
    fake_twilio(calls_page(page1, last=False), calls_page(page2, page=1))
    calls_twilio.sync_twilio_day(day)
    before = [state(c) for c in calls]
    fake_twilio(calls_page(page1, last=False), calls_page(page2, page=1))
    run = calls_twilio.sync_twilio_day(day)
    assert (run.matched, run.fixed, run.missing, run.duplicates) == (3, 0, 1, 1)
    assert [state(c) for c in calls] == before


@pytest.mark.django_db
def test_rate_limited_pages_are_retried_with_exponential_backoff(agent_a1, fake_twilio):
    day, _calls, page1, page2 = _day_calls(agent_a1)
    http = fake_twilio(
        rate_limited(), rate_limited(), calls_page(page1, last=False), rate_limited(), calls_page(page2, page=1)
    )
    sleeps: list[float] = []
    run = calls_twilio.sync_twilio_day(day, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 1.0]
    assert len(http.requests) == 5
    assert run.status == TwilioSyncRun.Status.SUCCEEDED
    assert (run.matched, run.fixed, run.missing, run.duplicates) == (3, 2, 1, 1)


@pytest.mark.django_db
def test_rate_limit_that_does_not_pass_fails_the_run_for_a_task_retry(fake_twilio):
    day = local_date(timezone.now())
    fake_twilio(*[rate_limited() for _ in range(calls_twilio.RATE_LIMIT_ATTEMPTS)])
    sleeps: list[float] = []
    with pytest.raises(calls_twilio.TwilioSyncError, match="20429"):
        calls_twilio.sync_twilio_day(day, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    run = TwilioSyncRun.objects.get()
    assert run.status == TwilioSyncRun.Status.FAILED and "Too Many Requests" in run.error


@pytest.mark.django_db
def test_wrong_credentials_fail_the_run_without_retrying(fake_twilio):
    fake_twilio(unauthorized())
    run = calls_twilio.sync_twilio_day(local_date(timezone.now()), sleep=lambda s: pytest.fail("not a 429"))
    assert run.status == TwilioSyncRun.Status.FAILED and "20003" in run.error


@pytest.mark.django_db
def test_sync_applies_callbacks_still_waiting_for_their_call(client, agent_a1, fake_twilio):
    day = local_date(timezone.now())
    t0 = start()
    steps = lifecycle(SID, t0)
    callback(client, steps["in-progress"])
    call = CallLogFactory.create(
        agent=agent_a1,
        twilio_call_sid=SID,
        started_at=t0,
        status=CallStatus.IN_PROGRESS,
        answered_at=None,
        ended_at=None,
        duration_seconds=0,
    )
    fake_twilio(calls_page([twilio_call(SID, status="in-progress", duration=None, price=None, start_time=t0)]))
    run = calls_twilio.sync_twilio_day(day)
    assert (run.matched, run.fixed) == (1, 0)
    call.refresh_from_db()
    assert call.answered_at == t0 + timedelta(seconds=5) and call.status == CallStatus.IN_PROGRESS


@pytest.mark.django_db
def test_the_task_is_a_retrying_wrapper(agent_a1, fake_twilio):
    options = {name: getattr(sync_twilio_calls, name) for name in ("autoretry_for", "acks_late", "retry_backoff")}
    assert options == {"autoretry_for": (calls_twilio.TwilioSyncError,), "acks_late": True, "retry_backoff": 30}
    day, _calls, page1, page2 = _day_calls(agent_a1)
    fake_twilio(calls_page(page1, last=False), calls_page(page2, page=1))
    run_id = sync_twilio_calls.apply(args=(day.isoformat(), agent_a1.pk)).get()
    assert TwilioSyncRun.objects.get(pk=run_id).status == TwilioSyncRun.Status.SUCCEEDED


# --- API ----------------------------------------------------------------------------------------------------


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_any_user_may_sync_today(agent_a1, fake_twilio, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    fake_twilio(calls_page([]))
    response = api(agent_a1).post("/api/crm/dashboard/sync-twilio", {}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["task_id"]
    run = TwilioSyncRun.objects.get(pk=body["sync_run_id"])
    assert (run.day, run.requested_by, run.status) == (
        local_date(timezone.now()),
        agent_a1,
        TwilioSyncRun.Status.SUCCEEDED,
    )


@pytest.mark.django_db
def test_supervisors_may_sync_another_day_agents_may_not(agent_a1, supervisor_a, team_a, fake_twilio, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    day = (local_date(timezone.now()) - timedelta(days=3)).isoformat()
    response = api(agent_a1).post("/api/crm/dashboard/sync-twilio", {"date": day}, format="json")
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert not TwilioSyncRun.objects.exists()

    fake_twilio(calls_page([]))
    response = api(supervisor_a).post("/api/crm/dashboard/sync-twilio", {"date": day}, format="json")
    assert response.status_code == 202
    assert TwilioSyncRun.objects.get(pk=response.json()["sync_run_id"]).day.isoformat() == day


@pytest.mark.django_db
def test_sync_rejects_a_future_day_and_anonymous_users(admin):
    tomorrow = (local_date(timezone.now()) + timedelta(days=1)).isoformat()
    response = api(admin).post("/api/crm/dashboard/sync-twilio", {"date": tomorrow}, format="json")
    assert response.status_code == 400 and "date" in response.json()["fields"]
    assert APIClient().post("/api/crm/dashboard/sync-twilio", {}, format="json").status_code in (401, 403)


@pytest.mark.django_db
def test_sync_without_twilio_credentials_says_what_to_set(agent_a1, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    response = api(agent_a1).post("/api/crm/dashboard/sync-twilio", {}, format="json")
    assert response.status_code == 503
    assert response.json()["error"] == "twilio_not_configured"
    assert response.json()["detail"] == "Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."
    assert not TwilioSyncRun.objects.exists()


@pytest.mark.django_db
def test_sync_failure_in_process_is_recorded_on_the_run(agent_a1, fake_twilio, settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr(calls_twilio.time, "sleep", lambda s: None)
    fake_twilio(*[rate_limited() for _ in range(calls_twilio.RATE_LIMIT_ATTEMPTS * 10)])
    response = api(agent_a1).post("/api/crm/dashboard/sync-twilio", {}, format="json")
    assert response.status_code == 202
    run = TwilioSyncRun.objects.get(pk=response.json()["sync_run_id"])
    assert run.status == TwilioSyncRun.Status.FAILED and "20429" in run.error
    assert TwilioSyncRun.objects.count() == 1


# --- Click to call ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_click_to_call_creates_the_twilio_call_and_links_its_sid(agent_a1, fake_twilio):
    created = twilio_call(SID, status="queued", duration=None, price=None, start_time=timezone.now())
    http = fake_twilio(Response(201, json.dumps(created)))
    call = calls_twilio.start_twilio_call(agent_a1, "+48600100200", "+48221234567")
    assert call.twilio_call_sid == SID and call.status == CallStatus.IN_PROGRESS
    sent = http.requests[0]
    assert sent.method == "POST" and sent.data["To"] == "+48600100200" and sent.data["From"] == "+48221234567"
    assert sent.data["StatusCallback"] == PUBLIC + PATH
    assert "<Client>agent_a1</Client>" in sent.data["Twiml"]


@pytest.mark.django_db
def test_a_callback_that_cannot_be_applied_is_kept_not_lost(client, agent_a1, monkeypatch):
    t0 = start()
    call = actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=t0, twilio_call_sid=SID)
    real_end_call = actions.do_end_call

    def refuse(*args, **kwargs):
        raise actions.CallActionError("boom", "Refused for the test.", status=409)

    monkeypatch.setattr(actions, "do_end_call", refuse)
    assert callback(client, lifecycle(SID, t0)["completed"]).status_code == 204
    assert TwilioCallEvent.objects.get(call_sid=SID).applied_at is None
    assert state(call)[0] == CallStatus.IN_PROGRESS

    monkeypatch.setattr(actions, "do_end_call", real_end_call)
    actions.apply_pending_twilio_call_events(call)
    assert state(call) == (CallStatus.COMPLETED, t0 + timedelta(seconds=5), t0 + timedelta(seconds=65), 60)


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
