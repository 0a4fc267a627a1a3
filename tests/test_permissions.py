"""Who may touch which call or agent (API.md "Auth"): the whole matrix, one request per cell.

Agents see only their own data, supervisors their teams' agents (and themselves), admins everything.
Someone else's data is 403, an unknown id is 404 — the same on every endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client

from calls.models import AgentSession, AgentStatusPeriod, ApiKey, CallLog, CallStatus
from crm.models import Contact, LeadStatusChange, User
from tests.factories import CallLogFactory

UNKNOWN_ID = 987654

#               own call   agent_a2's   agent_b1's   unknown id
#                          (team A)     (team B)
EXPECTED = {
    "admin": {"own": 200, "agent_a2": 200, "agent_b1": 200, "unknown": 404},
    "supervisor_a": {"own": 200, "agent_a2": 200, "agent_b1": 403, "unknown": 404},
    "agent_a1": {"own": 200, "agent_a2": 403, "agent_b1": 403, "unknown": 404},
}
PERSONAS = list(EXPECTED)
TARGETS = ["own", "agent_a2", "agent_b1", "unknown"]


def _post(body: dict[str, Any]) -> Callable[[Client, str], Any]:
    return lambda client, path: client.post(path, data=json.dumps(body), content_type="application/json")


def _in_progress(agent: User) -> CallLog:
    return CallLogFactory.create(
        agent=agent, status=CallStatus.IN_PROGRESS, answered_at=None, ended_at=None, duration_seconds=0
    )


def _ended(agent: User) -> CallLog:
    return CallLogFactory.create(agent=agent, started_at=datetime(2026, 5, 4, 9, tzinfo=UTC))


# endpoint → (the target row it needs, given its owner; the request, given the target's id)
ENDPOINTS: dict[str, tuple[Callable[[User], Any], Callable[[int], tuple[str, Callable[[Client, str], Any]]]]] = {
    "answered": (_in_progress, lambda pk: ("/api/calls/answered", _post({"call_id": pk}))),
    "end": (_in_progress, lambda pk: ("/api/calls/end", _post({"call_id": pk, "status": "no_answer"}))),
    "disposition": (_ended, lambda pk: (f"/api/calls/{pk}/disposition", _post({"outcome": "voicemail"}))),
    "log": (lambda user: user, lambda pk: (f"/api/calls/log?user_id={pk}", lambda c, p: c.get(p))),
    "timeline": (lambda user: user, lambda pk: (f"/api/agents/{pk}/timeline?date=2026-05-04", lambda c, p: c.get(p))),
}


def _state() -> list[list[dict[str, Any]]]:
    models: list[type[Model]] = [CallLog, AgentStatusPeriod, AgentSession, Contact, LeadStatusChange]
    return [list(model._default_manager.order_by("pk").values()) for model in models]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_matrix(request, team_a, team_b, persona, target, endpoint):
    user: User = request.getfixturevalue(persona)
    make_target, make_request = ENDPOINTS[endpoint]
    if target == "unknown":
        target_id = UNKNOWN_ID
    else:
        owner: User = user if target == "own" else request.getfixturevalue(target)
        target_id = make_target(owner).pk
    _, raw = ApiKey.objects.create_key(user, "matrix")
    client = Client(headers={"authorization": f"Bearer {raw}"})
    path, send = make_request(target_id)
    expected = EXPECTED[persona][target]

    before = _state()
    response = send(client, path)

    assert response.status_code == expected, (persona, target, endpoint, response.content)
    body = response.json()
    if expected >= 400:
        assert _state() == before
        assert body["success"] is False
        assert body["error"] == {403: "forbidden", 404: "not_found"}[expected]
    elif endpoint == "log":
        assert {row["agent_id"] for row in body["results"]} <= {target_id}
    elif endpoint == "timeline":
        assert body["agent_id"] == target_id


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_log_without_user_id_shows_exactly_whom_the_caller_may_see(
    request, team_a, team_b, admin, supervisor_a, agent_a1, agent_a2, agent_b1, persona
):
    everyone = [admin, supervisor_a, agent_a1, agent_a2, agent_b1]
    for person in everyone:
        _ended(person)
    visible = {
        "admin": everyone,
        "supervisor_a": [supervisor_a, agent_a1, agent_a2],
        "agent_a1": [agent_a1],
    }[persona]
    _, raw = ApiKey.objects.create_key(request.getfixturevalue(persona), "matrix")

    rows = Client(headers={"authorization": f"Bearer {raw}"}).get("/api/calls/log").json()["results"]

    assert sorted(row["agent_id"] for row in rows) == sorted(person.pk for person in visible)


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
