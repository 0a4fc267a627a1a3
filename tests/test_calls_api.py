"""The calls and agent-time API through the test client (API.md "Auth", "Calls", "Agent time").

Every bad request gets its own test: a 4xx, the contract's error body, and an unchanged database.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from calls import actions
from calls.models import AgentSession, AgentStatus, AgentStatusPeriod, ApiKey, CallLog, CallStatus
from crm.models import BusinessReason, Contact, LeadStatus, LeadStatusChange, User
from tests.factories import (
    AgentSessionFactory,
    AgentStatusPeriodFactory,
    CallLogFactory,
    CampaignFactory,
    ContactFactory,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def key_client(user: User) -> Client:
    _, raw = ApiKey.objects.create_key(user, "tests")
    return Client(headers={"authorization": f"Bearer {raw}"})


def session_client(user: User) -> Client:
    client = Client()
    client.force_login(user)  # for an agent this also records a login session (calls/receivers.py)
    return client


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def database_state() -> list[list[dict[str, Any]]]:
    """Every row the calls API may write, to prove a refused request wrote nothing."""
    models: list[type[Model]] = [CallLog, AgentStatusPeriod, AgentSession, Contact, LeadStatusChange]
    return [list(model._default_manager.order_by("pk").values()) for model in models]


def assert_error(response, status: int, code: str | None = None, fields: tuple[str, ...] = ()) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "error", "detail", "fields"}
    assert body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["detail"], str) and " " in body["detail"].strip()  # a sentence, not a code
    assert isinstance(body["fields"], dict)
    if code is not None:
        assert body["error"] == code
    for name in fields:
        assert name in body["fields"], body
    return body


@pytest.fixture(params=["api_key", "session"])
def agent_client(request, agent_a1) -> Client:
    """The agent's client, once with an API key and once with a browser session."""
    return key_client(agent_a1) if request.param == "api_key" else session_client(agent_a1)


@pytest.fixture
def agent_key(agent_a1) -> Client:
    return key_client(agent_a1)


def refused(client: Client, send: Callable[[Client], Any]) -> Any:
    before = database_state()
    response = send(client)
    assert database_state() == before
    return response


# --- The happy path ----------------------------------------------------------------------------------


def test_start_answer_end_and_disposition(agent_client, agent_a1):
    contact = ContactFactory.create()
    campaign = CampaignFactory.create()

    started = post(
        agent_client,
        "/api/calls/start",
        {"phone_number": "600 100 200", "contact_id": contact.pk, "campaign_id": campaign.pk, "started_at": iso(T0)},
    )
    assert started.status_code == 201, started.content
    call = CallLog.objects.get()
    assert started.json() == {"call_id": call.pk, "started_at": iso(T0), "status": "in_progress"}
    assert (call.agent, call.contact, call.campaign, call.phone_number) == (agent_a1, contact, campaign, "+48600100200")
    assert actions.current_status_period(agent_a1).status == AgentStatus.ON_CALL  # type: ignore[union-attr]

    answered = post(agent_client, "/api/calls/answered", {"call_id": call.pk, "answered_at": iso(at(10))})
    assert answered.status_code == 200, answered.content
    assert answered.json()["answered_at"] == iso(at(10))

    ended = post(agent_client, "/api/calls/end", {"call_id": call.pk, "status": "completed", "ended_at": iso(at(100))})
    assert ended.status_code == 200, ended.content
    assert ended.json() | {"status": None} == {
        "call_id": call.pk,
        "status": None,
        "duration_seconds": 90,
        "new_average": 90.0,
        "calls_made": 1,
        "total_talk_time": 90,
    }
    assert actions.current_status_period(agent_a1).status == AgentStatus.WRAP_UP  # type: ignore[union-attr]

    callback_at = iso(at(86400))
    disposed = post(
        agent_client,
        f"/api/calls/{call.pk}/disposition",
        {"outcome": "callback", "notes": "call after lunch", "callback_at": callback_at},
    )
    assert disposed.status_code == 200, disposed.content
    body = disposed.json()
    assert (body["call_id"], body["outcome"], body["business_reason"], body["callback_at"]) == (
        call.pk,
        "callback",
        "rescheduled",
        callback_at,
    )
    assert body["wrap_up_seconds"] >= 0 and body["disposition_at"] is not None
    contact.refresh_from_db()
    assert (contact.business_reason, contact.lead_status) == (BusinessReason.RESCHEDULED, LeadStatus.CONTACTED)
    assert actions.current_status_period(agent_a1).status == AgentStatus.AVAILABLE  # type: ignore[union-attr]


def test_end_reports_the_agents_totals_for_the_local_day_of_the_call(settings, agent_key, agent_a1, agent_a2):
    settings.TIME_ZONE = "Europe/Warsaw"
    # 2026-05-04 in Warsaw (UTC+2) is [05-03 22:00Z, 05-04 22:00Z).
    CallLogFactory.create(agent=agent_a1, started_at=datetime(2026, 5, 3, 22, 30, tzinfo=UTC))  # 120 s, same day
    CallLogFactory.create(
        agent=agent_a1,
        started_at=datetime(2026, 5, 4, 8, 0, tzinfo=UTC),
        status=CallStatus.NO_ANSWER,
        answered_at=None,
        duration_seconds=0,
    )
    CallLogFactory.create(agent=agent_a1, started_at=datetime(2026, 5, 3, 21, 30, tzinfo=UTC))  # the day before
    CallLogFactory.create(agent=agent_a2, started_at=T0)  # another agent

    call_id = post(agent_key, "/api/calls/start", {"phone_number": "+48600100200", "started_at": iso(T0)}).json()[
        "call_id"
    ]
    post(agent_key, "/api/calls/answered", {"call_id": call_id, "answered_at": iso(at(30))})
    response = post(agent_key, "/api/calls/end", {"call_id": call_id, "status": "completed", "ended_at": iso(at(90))})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["duration_seconds"], body["calls_made"], body["total_talk_time"], body["new_average"]) == (
        60,
        3,
        180,
        90.0,
    )


def test_ending_again_with_the_same_body_returns_the_same_response(agent_key, agent_a1):
    call = CallLogFactory.create(
        agent=agent_a1, status=CallStatus.IN_PROGRESS, answered_at=None, ended_at=None, duration_seconds=0
    )
    body = {"call_id": call.pk, "status": "no_answer", "notes": "rang out"}

    first = post(agent_key, "/api/calls/end", body)
    again = post(agent_key, "/api/calls/end", body)

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


def test_admin_may_start_a_call_for_an_agent(admin, agent_a1):
    response = post(key_client(admin), "/api/calls/start", {"phone_number": "+48600100200", "agent_id": agent_a1.pk})
    assert response.status_code == 201, response.content
    assert CallLog.objects.get().agent == agent_a1


def test_an_agent_may_name_themselves_as_the_agent(agent_key, agent_a1):
    response = post(agent_key, "/api/calls/start", {"phone_number": "+48600100200", "agent_id": agent_a1.pk})
    assert response.status_code == 201
    assert CallLog.objects.get().agent == agent_a1


def test_my_status(agent_client, agent_a1):
    response = post(agent_client, "/api/agents/me/status", {"status": "break", "reason": "lunch"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["reason"]) == ("break", "lunch")
    since = parse_datetime(body["since"])
    assert since is not None and abs((timezone.now() - since).total_seconds()) < 60
    period = actions.current_status_period(agent_a1)
    assert period is not None and (period.status, period.started_at) == (AgentStatus.BREAK, since)
    # The same status again changes nothing: same `since`.
    assert post(agent_client, "/api/agents/me/status", {"status": "break", "reason": "lunch"}).json() == body


# --- Call log ----------------------------------------------------------------------------------------


def test_log_is_newest_first_and_only_the_callers_calls(agent_key, agent_a1, agent_a2):
    calls = [CallLogFactory.create(agent=agent_a1, started_at=at(60 * n)) for n in range(3)]
    CallLogFactory.create(agent=agent_a2, started_at=at(30))

    response = agent_key.get("/api/calls/log")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["call_id"] for row in body["results"]] == [c.pk for c in reversed(calls)]
    first = body["results"][0]
    assert (first["agent_id"], first["agent"], first["status"], first["duration_seconds"]) == (
        agent_a1.pk,
        "agent_a1",
        "completed",
        120,
    )


def test_log_filters_by_inclusive_local_dates_status_and_user(settings, admin, agent_a1, agent_a2):
    settings.TIME_ZONE = "Europe/Warsaw"  # UTC+2 in May
    inside = [
        CallLogFactory.create(agent=agent_a1, started_at=datetime(2026, 5, 3, 22, 0, tzinfo=UTC)),  # 05-04 00:00
        CallLogFactory.create(agent=agent_a1, started_at=datetime(2026, 5, 5, 21, 59, 59, tzinfo=UTC)),  # 05-05 23:59
    ]
    CallLogFactory.create(agent=agent_a1, started_at=datetime(2026, 5, 3, 21, 59, 59, tzinfo=UTC))  # 05-03 23:59
    CallLogFactory.create(agent=agent_a1, started_at=datetime(2026, 5, 5, 22, 0, tzinfo=UTC))  # 05-06 00:00
    CallLogFactory.create(agent=agent_a2, started_at=datetime(2026, 5, 4, 12, 0, tzinfo=UTC))
    missed = CallLogFactory.create(
        agent=agent_a1,
        started_at=datetime(2026, 5, 4, 12, 0, tzinfo=UTC),
        status=CallStatus.NO_ANSWER,
        answered_at=None,
        duration_seconds=0,
    )
    client = key_client(admin)

    dates = f"user_id={agent_a1.pk}&start_date=2026-05-04&end_date=2026-05-05"
    rows = client.get(f"/api/calls/log?{dates}").json()["results"]
    assert [r["call_id"] for r in rows] == [inside[1].pk, missed.pk, inside[0].pk]
    rows = client.get(f"/api/calls/log?{dates}&status=no_answer").json()["results"]
    assert [r["call_id"] for r in rows] == [missed.pk]
    assert client.get("/api/calls/log").json()["count"] == 6  # admins see everyone


def test_log_limit_defaults_to_100_and_allows_1000(agent_key, agent_a1):
    CallLog.objects.bulk_create(
        CallLog(
            agent=agent_a1,
            phone_number="+48600100200",
            status=CallStatus.BUSY,
            started_at=at(n),
            ended_at=at(n + 1),
        )
        for n in range(101)
    )
    assert agent_key.get("/api/calls/log").json()["count"] == 100
    assert agent_key.get("/api/calls/log?limit=1000").json()["count"] == 101
    page = agent_key.get("/api/calls/log?limit=2").json()["results"]
    assert [r["started_at"] for r in page] == [iso(at(100)), iso(at(99))]


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/api/calls/log?format=csv", {}), ("/api/calls/log", {"accept": "text/csv"})],
    ids=["format-param", "accept-header"],
)
def test_log_as_csv_streams_the_same_rows(agent_a1, path, headers):
    _, raw = ApiKey.objects.create_key(agent_a1, "csv")
    client = Client(headers={"authorization": f"Bearer {raw}", **headers})
    for n in range(3):
        CallLogFactory.create(agent=agent_a1, started_at=at(60 * n), notes=f"note, with comma {n}")
    json_rows = key_client(agent_a1).get("/api/calls/log?status=completed").json()["results"]

    response = client.get(path + ("&" if "?" in path else "?") + "status=completed")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["call_id"]) for r in rows] == [r["call_id"] for r in json_rows]
    assert list(rows[0]) == list(json_rows[0])
    assert [r["notes"] for r in rows] == [r["notes"] for r in json_rows]


def test_log_csv_errors_are_still_the_json_error_body(agent_key):
    assert_error(agent_key.get("/api/calls/log?format=csv&limit=5000"), 400, "invalid", ("limit",))


# --- Timeline ----------------------------------------------------------------------------------------


def test_timeline_clips_periods_and_sessions_to_the_day(admin, agent_a1, agent_a2):
    day_start = datetime(2026, 5, 4, tzinfo=UTC)
    AgentStatusPeriodFactory.create(
        agent=agent_a1,
        status=AgentStatus.BREAK,
        started_at=day_start - timedelta(minutes=10),
        ended_at=day_start + timedelta(minutes=20),
    )
    AgentStatusPeriodFactory.create(
        agent=agent_a1,
        status=AgentStatus.AVAILABLE,
        started_at=day_start + timedelta(minutes=20),
        ended_at=day_start + timedelta(hours=25),
    )
    AgentStatusPeriodFactory.create(
        agent=agent_a1, started_at=day_start - timedelta(hours=3), ended_at=day_start - timedelta(hours=1)
    )
    AgentSessionFactory.create(
        agent=agent_a1, started_at=day_start - timedelta(minutes=10), ended_at=day_start + timedelta(hours=2)
    )
    call = CallLogFactory.create(agent=agent_a1, started_at=day_start + timedelta(hours=9))
    CallLogFactory.create(agent=agent_a1, started_at=day_start - timedelta(hours=1))
    CallLogFactory.create(agent=agent_a2, started_at=day_start + timedelta(hours=9))

    response = key_client(admin).get(f"/api/agents/{agent_a1.pk}/timeline?date=2026-05-04")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["agent_id"], body["date"]) == (agent_a1.pk, "2026-05-04")
    assert [(p["status"], p["seconds_in_day"]) for p in body["periods"]] == [
        ("break", 20 * 60),
        ("available", 24 * 3600 - 20 * 60),
    ]
    assert [s["seconds_in_day"] for s in body["sessions"]] == [2 * 3600]
    assert [c["call_id"] for c in body["calls"]] == [call.pk]


def test_timeline_of_a_dst_day_has_23_hours(settings, admin, agent_a1):
    settings.TIME_ZONE = "Europe/Warsaw"
    AgentStatusPeriodFactory.create(
        agent=agent_a1,
        started_at=datetime(2026, 3, 28, 12, tzinfo=UTC),
        ended_at=datetime(2026, 3, 30, 12, tzinfo=UTC),
    )
    body = key_client(admin).get(f"/api/agents/{agent_a1.pk}/timeline?date=2026-03-29").json()
    assert [p["seconds_in_day"] for p in body["periods"]] == [23 * 3600]


def test_timeline_defaults_to_today_and_counts_an_open_period_until_now(agent_key, agent_a1):
    actions.do_change_agent_status(agent_a1, AgentStatus.AVAILABLE, at=timezone.now() - timedelta(seconds=30))
    body = agent_key.get(f"/api/agents/{agent_a1.pk}/timeline").json()
    assert body["date"] == timezone.localdate().isoformat()
    [period] = body["periods"]
    assert period["ended_at"] is None and 30 <= period["seconds_in_day"] < 90


# --- Bad input: a 4xx, the error body, nothing written ---------------------------------------------------


@pytest.fixture
def open_call(agent_a1) -> CallLog:
    return actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=T0)


def test_invalid_phone(agent_key):
    response = refused(agent_key, lambda c: post(c, "/api/calls/start", {"phone_number": "not a phone"}))
    assert_error(response, 400, "invalid_phone", ("phone_number",))


def test_missing_phone(agent_key):
    response = refused(agent_key, lambda c: post(c, "/api/calls/start", {}))
    assert_error(response, 400, "invalid", ("phone_number",))


def test_unknown_contact(agent_key):
    body = {"phone_number": "+48600100200", "contact_id": 999999}
    response = assert_error(refused(agent_key, lambda c: post(c, "/api/calls/start", body)), 400, "invalid")
    assert "999999" in response["fields"]["contact_id"]


def test_unknown_campaign(agent_key):
    body = {"phone_number": "+48600100200", "campaign_id": 999999}
    assert_error(refused(agent_key, lambda c: post(c, "/api/calls/start", body)), 400, "invalid", ("campaign_id",))


def test_unknown_agent_for_an_admin(admin):
    body = {"phone_number": "+48600100200", "agent_id": 999999}
    assert_error(refused(key_client(admin), lambda c: post(c, "/api/calls/start", body)), 404, "not_found")


def test_another_agent_for_a_non_admin_is_forbidden(agent_key, agent_a2):
    body = {"phone_number": "+48600100200", "agent_id": agent_a2.pk}
    assert_error(refused(agent_key, lambda c: post(c, "/api/calls/start", body)), 403, "forbidden")


def test_supervisor_may_not_start_a_call_for_a_team_member(supervisor_a, agent_a1, team_a):
    body = {"phone_number": "+48600100200", "agent_id": agent_a1.pk}
    assert_error(refused(key_client(supervisor_a), lambda c: post(c, "/api/calls/start", body)), 403, "forbidden")


def test_second_call_while_one_is_in_progress(agent_key, open_call):
    body = {"phone_number": "+48600100201"}
    assert_error(refused(agent_key, lambda c: post(c, "/api/calls/start", body)), 409, "call_in_progress")


def test_start_in_the_future(agent_key):
    body = {"phone_number": "+48600100200", "started_at": iso(timezone.now() + timedelta(hours=1))}
    assert_error(refused(agent_key, lambda c: post(c, "/api/calls/start", body)), 400, "future_time", ("started_at",))


def test_unknown_direction(agent_key):
    body = {"phone_number": "+48600100200", "direction": "sideways"}
    assert_error(refused(agent_key, lambda c: post(c, "/api/calls/start", body)), 400, "invalid", ("direction",))


def test_end_before_start(agent_key, open_call):
    body = {"call_id": open_call.pk, "status": "completed", "ended_at": iso(at(-60))}
    response = refused(agent_key, lambda c: post(c, "/api/calls/end", body))
    assert_error(response, 400, "ended_before_start", ("ended_at",))


def test_answered_before_start(agent_key, open_call):
    body = {"call_id": open_call.pk, "answered_at": iso(at(-60))}
    response = refused(agent_key, lambda c: post(c, "/api/calls/answered", body))
    assert_error(response, 400, "answered_before_start", ("answered_at",))


def test_ending_an_ended_call_with_another_status(agent_key, open_call):
    post(agent_key, "/api/calls/end", {"call_id": open_call.pk, "status": "completed", "ended_at": iso(at(60))})
    body = {"call_id": open_call.pk, "status": "failed", "ended_at": iso(at(60))}
    assert_error(refused(agent_key, lambda c: post(c, "/api/calls/end", body)), 409, "already_ended")


def test_no_answer_after_an_answer(agent_key, open_call):
    post(agent_key, "/api/calls/answered", {"call_id": open_call.pk, "answered_at": iso(at(5))})
    body = {"call_id": open_call.pk, "status": "no_answer", "ended_at": iso(at(60))}
    assert_error(refused(agent_key, lambda c: post(c, "/api/calls/end", body)), 409, "answered_call", ("status",))


def test_missing_final_status(agent_key, open_call):
    response = refused(agent_key, lambda c: post(c, "/api/calls/end", {"call_id": open_call.pk}))
    assert_error(response, 400, "invalid", ("status",))


@pytest.mark.parametrize("status", ["in_progress", "ringing"])
def test_non_final_status(agent_key, open_call, status):
    body = {"call_id": open_call.pk, "status": status}
    response = assert_error(refused(agent_key, lambda c: post(c, "/api/calls/end", body)), 400, "invalid", ("status",))
    assert "final" in response["fields"]["status"]


def test_missing_call_id(agent_key):
    assert_error(
        refused(agent_key, lambda c: post(c, "/api/calls/end", {"status": "completed"})), 400, "invalid", ("call_id",)
    )


def test_unknown_call(agent_key):
    body = {"call_id": 999999, "status": "completed"}
    assert_error(refused(agent_key, lambda c: post(c, "/api/calls/end", body)), 404, "not_found")


def test_disposition_of_a_call_in_progress(agent_key, open_call):
    response = refused(agent_key, lambda c: post(c, f"/api/calls/{open_call.pk}/disposition", {"outcome": "lead"}))
    assert_error(response, 409, "call_in_progress")


def test_disposition_with_an_unknown_outcome(agent_key, agent_a1):
    call = CallLogFactory.create(agent=agent_a1)
    response = refused(agent_key, lambda c: post(c, f"/api/calls/{call.pk}/disposition", {"outcome": "maybe"}))
    assert_error(response, 400, "invalid", ("outcome",))


def test_callback_without_callback_at(agent_key, agent_a1):
    call = CallLogFactory.create(agent=agent_a1)
    response = refused(agent_key, lambda c: post(c, f"/api/calls/{call.pk}/disposition", {"outcome": "callback"}))
    assert_error(response, 400, "callback_required", ("callback_at",))


def test_limit_above_1000(agent_key):
    assert_error(refused(agent_key, lambda c: c.get("/api/calls/log?limit=1001")), 400, "invalid", ("limit",))


@pytest.mark.parametrize("limit", ["0", "-1", "ten"])
def test_limit_not_a_positive_number(agent_key, limit):
    assert_error(agent_key.get(f"/api/calls/log?limit={limit}"), 400, "invalid", ("limit",))


@pytest.mark.parametrize("param", ["start_date", "end_date"])
def test_malformed_log_date(agent_key, param):
    assert_error(agent_key.get(f"/api/calls/log?{param}=2026-13-01"), 400, "invalid", (param,))


def test_log_end_date_before_start_date(agent_key):
    response = agent_key.get("/api/calls/log?start_date=2026-05-04&end_date=2026-05-03")
    assert_error(response, 400, "invalid", ("end_date",))


def test_log_unknown_status(agent_key):
    assert_error(agent_key.get("/api/calls/log?status=ringing"), 400, "invalid", ("status",))


def test_malformed_timeline_date(agent_key, agent_a1):
    assert_error(agent_key.get(f"/api/agents/{agent_a1.pk}/timeline?date=yesterday"), 400, "invalid", ("date",))


def test_malformed_started_at(agent_key):
    body = {"phone_number": "+48600100200", "started_at": "yesterday at noon"}
    assert_error(refused(agent_key, lambda c: post(c, "/api/calls/start", body)), 400, "invalid", ("started_at",))


def test_malformed_json(agent_key):
    response = refused(
        agent_key, lambda c: c.post("/api/calls/start", data='{"phone_number": ', content_type="application/json")
    )
    assert_error(response, 400, "malformed_request")


def test_form_encoded_body_is_unsupported(agent_key):
    response = refused(agent_key, lambda c: c.post("/api/calls/start", data={"phone_number": "+48600100200"}))
    assert_error(response, 415, "unsupported_media_type")


def test_unknown_agent_status(agent_key):
    response = refused(agent_key, lambda c: post(c, "/api/agents/me/status", {"status": "sleeping"}))
    assert_error(response, 400, "invalid", ("status",))


def test_reason_outside_a_break(agent_key):
    body = {"status": "available", "reason": "lunch"}
    assert_error(
        refused(agent_key, lambda c: post(c, "/api/agents/me/status", body)), 400, "invalid_reason", ("reason",)
    )


def test_status_change_is_refused_while_back_dated_state_is_current(agent_key, agent_a1):
    actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, at=timezone.now() + timedelta(minutes=2))
    response = refused(agent_key, lambda c: post(c, "/api/agents/me/status", {"status": "available"}))
    assert_error(response, 409, "out_of_order")


# --- Authentication and throttling -------------------------------------------------------------------


def test_missing_key(db):
    response = refused(Client(), lambda c: post(c, "/api/calls/start", {"phone_number": "+48600100200"}))
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("raw", ["cb_unknown", "nonsense", "cb_" + "x" * 5000])
def test_unknown_key(db, raw):
    client = Client(headers={"authorization": f"Bearer {raw}"})
    response = refused(client, lambda c: post(c, "/api/calls/start", {"phone_number": "+48600100200"}))
    assert_error(response, 401, "authentication_failed")


def test_malformed_authorization_header(db):
    client = Client(headers={"authorization": "Bearer two words"})
    assert_error(client.get("/api/calls/log"), 401, "authentication_failed")


def test_revoked_key(agent_a1):
    key, raw = ApiKey.objects.create_key(agent_a1, "revoked")
    key.revoke()
    client = Client(headers={"authorization": f"Bearer {raw}"})
    response = refused(client, lambda c: post(c, "/api/calls/start", {"phone_number": "+48600100200"}))
    assert_error(response, 401, "authentication_failed")


def test_expired_key(agent_a1):
    _, raw = ApiKey.objects.create_key(agent_a1, "expired", expires_at=timezone.now() - timedelta(seconds=1))
    client = Client(headers={"authorization": f"Bearer {raw}"})
    response = refused(client, lambda c: post(c, "/api/calls/start", {"phone_number": "+48600100200"}))
    assert_error(response, 401, "authentication_failed")


def test_key_of_an_inactive_user(agent_a1):
    _, raw = ApiKey.objects.create_key(agent_a1, "left the company")
    User.objects.filter(pk=agent_a1.pk).update(is_active=False)
    client = Client(headers={"authorization": f"Bearer {raw}"})
    assert_error(client.get("/api/calls/log"), 401, "authentication_failed")


def test_key_records_when_it_was_last_used(agent_a1):
    key, raw = ApiKey.objects.create_key(agent_a1, "softphone")
    Client(headers={"authorization": f"Bearer {raw}"}).get("/api/calls/log")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_session_writes_need_csrf(agent_a1):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_a1)
    response = refused(client, lambda c: post(c, "/api/calls/start", {"phone_number": "+48600100200"}))
    assert_error(response, 403, "forbidden")


def test_throttle(settings, agent_key):
    settings.API_THROTTLE_RATE = "3/hour"
    for _ in range(3):
        assert agent_key.get("/api/calls/log").status_code == 200

    response = refused(agent_key, lambda c: post(c, "/api/calls/start", {"phone_number": "+48600100200"}))

    body = assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 3600
    assert response["Retry-After"] in body["detail"]


def test_throttle_counts_per_key(settings, agent_a1):
    settings.API_THROTTLE_RATE = "3/hour"
    first, second = key_client(agent_a1), key_client(agent_a1)
    for _ in range(3):
        first.get("/api/calls/log")
    assert first.get("/api/calls/log").status_code == 429
    assert second.get("/api/calls/log").status_code == 200


# --- Never a 500 -------------------------------------------------------------------------------------

GARBAGE: list[Any] = [
    None,
    [],
    ["+48600100200"],
    {},
    {"nested": [1, 2]},
    True,
    -1,
    0,
    1.5,
    10**30,
    "",
    " ",
    "x" * 100_000,
    "9" * 400,
    "2026-02-30T25:61:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "\x00",
    "\ud83d\ude00" * 10,
]


def _post_bodies(valid: dict[str, Any]) -> list[Any]:
    bodies: list[Any] = [[], "a string", None, 12, [valid]]
    for name in valid:
        bodies.extend(valid | {name: value} for value in GARBAGE)
        bodies.append({k: v for k, v in valid.items() if k != name})
    return bodies


def test_garbage_never_causes_a_500(admin, agent_a1):
    client = key_client(agent_a1)
    client.raise_request_exception = False
    ended = CallLogFactory.create(agent=agent_a1)
    endpoints: list[tuple[str, dict[str, Any]]] = [
        (
            "/api/calls/start",
            {
                "phone_number": "+48600100200",
                "contact_id": None,
                "campaign_id": None,
                "direction": "outbound",
                "started_at": iso(T0),
                "agent_id": agent_a1.pk,
            },
        ),
        ("/api/calls/answered", {"call_id": ended.pk, "answered_at": iso(T0)}),
        (
            "/api/calls/end",
            {"call_id": ended.pk, "status": "completed", "outcome": "", "notes": "", "ended_at": iso(T0)},
        ),
        (
            f"/api/calls/{ended.pk}/disposition",
            {"outcome": "lead", "notes": "", "business_reason": "", "callback_at": None},
        ),
        ("/api/agents/me/status", {"status": "break", "reason": "lunch"}),
    ]
    failures = []
    for path, valid in endpoints:
        for body in _post_bodies(valid):
            response = post(client, path, body)
            if response.status_code >= 500:
                failures.append((path, repr(body)[:200], response.status_code))
            elif response.status_code >= 400:
                assert_error(response, response.status_code)
        # A body that is not even JSON, and raw bytes.
        for raw in (b"\xff\xfe", b"[1,", b"null"):
            response = client.post(path, data=raw, content_type="application/json")
            if response.status_code >= 500:
                failures.append((path, repr(raw), response.status_code))
    assert failures == []


@pytest.mark.parametrize(
    "query",
    [
        "user_id=abc",
        "user_id=" + "9" * 40,
        "user_id=-1",
        "start_date=" + "9" * 400,
        "start_date=0000-01-01",
        "end_date=9999-12-31",
        "start_date=0001-01-01",
        "limit=" + "9" * 400,
        "status=" + "x" * 10000,
        "limit=1.5",
    ],
)
def test_garbage_in_the_log_query_never_causes_a_500(agent_key, query):
    agent_key.raise_request_exception = False
    response = agent_key.get(f"/api/calls/log?{query}")
    assert response.status_code < 500
    if response.status_code >= 400:
        assert_error(response, response.status_code)


@pytest.mark.parametrize(
    "path",
    [
        "/api/agents/99999999999999999999999999/timeline",
        "/api/agents/{me}/timeline?date=0001-01-01",
        "/api/agents/{me}/timeline?date=9999-12-31",
        "/api/agents/{me}/timeline?date=" + "9" * 400,
        "/api/calls/99999999999999999999999999/disposition",
    ],
)
def test_garbage_in_paths_never_causes_a_500(agent_key, agent_a1, path):
    agent_key.raise_request_exception = False
    path = path.replace("{me}", str(agent_a1.pk))
    response = post(agent_key, path, {"outcome": "lead"}) if path.endswith("disposition") else agent_key.get(path)
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert_error(response, response.status_code)


# --- Hot reads: the number of queries does not grow with the rows ---------------------------------------


def _queries_for(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
        if response.streaming:
            b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "path", ["/api/calls/log", "/api/calls/log?format=csv", "/api/agents/{me}/timeline?date=2026-05-04"]
)
def test_reads_do_not_query_per_row(agent_key, agent_a1, path):
    path = path.replace("{me}", str(agent_a1.pk))
    agent_key.get(path)  # the key's last_used_at is written on the first request only
    CallLogFactory.create(agent=agent_a1, started_at=T0)
    few = _queries_for(agent_key, path)
    for n in range(1, 20):
        CallLogFactory.create(agent=agent_a1, started_at=at(60 * n))
        AgentStatusPeriodFactory.create(agent=agent_a1, started_at=at(60 * n), ended_at=at(60 * n + 30))
    assert _queries_for(agent_key, path) == few


@pytest.mark.django_db
def test_csv_export_neutralises_spreadsheet_formulas_in_free_text(client, agent_a1):
    from tests.factories import CallLogFactory

    CallLogFactory.create(agent=agent_a1, notes='=HYPERLINK("http://evil.example")')
    client.force_login(agent_a1)
    body = b"".join(client.get("/api/calls/log?format=csv").streaming_content).decode()
    assert "'=HYPERLINK" in body
    assert "+48" in body  # phone numbers stay as they are


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["answered_at", "ended_at"])
def test_times_far_in_the_future_are_refused(client, agent_a1, field):
    from datetime import timedelta

    from django.utils import timezone

    from calls.models import CallLog

    client.force_login(agent_a1)
    call_id = client.post("/api/calls/start", {"phone_number": "+48600100200"}, content_type="application/json").json()[
        "call_id"
    ]
    future = (timezone.now() + timedelta(hours=2)).isoformat()
    body = {"call_id": call_id, field: future} | ({"status": "completed"} if field == "ended_at" else {})
    response = client.post(
        f"/api/calls/{'answered' if field == 'answered_at' else 'end'}", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "future_time"
    call = CallLog.objects.get(pk=call_id)
    assert (call.answered_at, call.ended_at, call.status) == (None, None, "in_progress")


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
