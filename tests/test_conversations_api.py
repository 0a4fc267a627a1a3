"""The conversations API (docs/api.md "WhatsApp"): list, detail, assign, priority, resolve, reopen, and who
may do each (agents their own, supervisors their teams', admins all; 403 someone else's, 404 unknown)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.utils import timezone

from calls.models import ApiKey
from crm.models import AuthorType, Conversation, ConversationStatus, Message, Priority, User
from tests.factories import CampaignFactory, ConversationFactory, MessageFactory, UserFactory

UNKNOWN_ID = 987654

EXPECTED = {
    "admin": {"own": 200, "agent_a2": 200, "agent_b1": 200, "unknown": 404},
    "supervisor_a": {"own": 200, "agent_a2": 200, "agent_b1": 403, "unknown": 404},
    "agent_a1": {"own": 200, "agent_a2": 403, "agent_b1": 403, "unknown": 404},
}


def key_client(user: User) -> Client:
    _, raw = ApiKey.objects.create_key(user, "tests")
    return Client(headers={"authorization": f"Bearer {raw}"})


def post(client: Client, path: str, body: dict[str, Any] | None = None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


def state() -> list[list[dict[str, Any]]]:
    models: list[type[Model]] = [Conversation, Message]
    return [list(model._default_manager.order_by("pk").values()) for model in models]


def _open(owner: User) -> Conversation:
    return ConversationFactory.create(assigned_agent=owner)


def _resolved(owner: User) -> Conversation:
    return ConversationFactory.create(
        assigned_agent=owner, status=ConversationStatus.RESOLVED, resolved_at=timezone.now() - timedelta(minutes=5)
    )


# endpoint → (the conversation it needs, given its owner; the request, given the caller and the id)
ENDPOINTS: dict[str, tuple[Callable[[User], Conversation], Callable[[Client, User, int], Any]]] = {
    "detail": (_open, lambda c, u, pk: c.get(f"/api/conversations/{pk}")),
    "assign": (_open, lambda c, u, pk: post(c, f"/api/conversations/{pk}/assign", {"agent_id": u.pk})),
    "priority": (_open, lambda c, u, pk: post(c, f"/api/conversations/{pk}/priority", {"priority": "urgent"})),
    "resolve": (_open, lambda c, u, pk: post(c, f"/api/conversations/{pk}/resolve")),
    "reopen": (_resolved, lambda c, u, pk: post(c, f"/api/conversations/{pk}/reopen")),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("target", ["own", "agent_a2", "agent_b1", "unknown"])
@pytest.mark.parametrize("persona", list(EXPECTED))
def test_permission_matrix(request, team_a, team_b, persona, target, endpoint):
    user: User = request.getfixturevalue(persona)
    make_target, send = ENDPOINTS[endpoint]
    if target == "unknown":
        target_id = UNKNOWN_ID
    else:
        owner: User = user if target == "own" else request.getfixturevalue(target)
        target_id = make_target(owner).pk
    expected = EXPECTED[persona][target]
    before = state()
    response = send(key_client(user), user, target_id)
    assert response.status_code == expected, (persona, target, endpoint, response.content)
    body = response.json()
    if expected >= 400:
        assert state() == before
        assert body["success"] is False and body["error"] == {403: "forbidden", 404: "not_found"}[expected]
    else:
        assert body["conversation_id"] == target_id


def test_anonymous_is_401(db):
    assert Client().get("/api/conversations").status_code in (401, 403)
    assert Client().post("/api/conversations/1/resolve").status_code in (401, 403)


# --- List and detail -------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", list(EXPECTED))
def test_list_shows_exactly_the_visible_conversations_newest_first(
    request, team_a, team_b, admin, supervisor_a, agent_a1, agent_a2, agent_b1, persona
):
    now = timezone.now()
    rows = {
        person.username: ConversationFactory.create(assigned_agent=person, created_at=now - timedelta(hours=i + 1))
        for i, person in enumerate([admin, supervisor_a, agent_a1, agent_a2, agent_b1])
    }
    unassigned = ConversationFactory.create()
    visible = {
        "admin": [*rows.values(), unassigned],
        "supervisor_a": [rows["supervisor_a"], rows["agent_a1"], rows["agent_a2"]],
        "agent_a1": [rows["agent_a1"]],
    }[persona]
    body = key_client(request.getfixturevalue(persona)).get("/api/conversations").json()
    expected = sorted(visible, key=lambda c: c.created_at, reverse=True)
    assert [row["conversation_id"] for row in body["results"]] == [c.pk for c in expected]
    assert body["count"] == len(expected)


def test_list_filters_by_status_and_limits(agent_a1, django_assert_max_num_queries):
    client = key_client(agent_a1)
    for _ in range(3):
        ConversationFactory.create(assigned_agent=agent_a1)
    resolved = _resolved(agent_a1)
    body = client.get("/api/conversations?status=resolved").json()
    assert [row["conversation_id"] for row in body["results"]] == [resolved.pk]
    assert body["results"][0]["assigned_agent"] == "agent_a1"
    assert client.get("/api/conversations?limit=2").json()["count"] == 2
    with django_assert_max_num_queries(6):  # no query per row
        assert client.get("/api/conversations").json()["count"] == 4


@pytest.mark.parametrize("query", ["status=closed", "limit=0", "limit=1001", "limit=x"])
def test_bad_list_query_is_400(agent_a1, query):
    response = key_client(agent_a1).get(f"/api/conversations?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and set(body["fields"]) <= {"status", "limit"} and body["fields"]


def test_detail_has_the_messages_in_order(agent_a1):
    conversation = ConversationFactory.create(assigned_agent=agent_a1)
    first = MessageFactory.create(conversation=conversation, body="Hi", created_at=timezone.now())
    second = MessageFactory.create(conversation=conversation, body="Anyone?", created_at=first.created_at)
    body = key_client(agent_a1).get(f"/api/conversations/{conversation.pk}").json()
    assert [m["message_id"] for m in body["messages"]] == [first.pk, second.pk]
    assert body["messages"][0]["author_type"] == "customer" and body["contact_phone"] == conversation.contact.phone


# --- Assign ----------------------------------------------------------------------------------------


def test_supervisor_assigns_within_the_team_only(team_a, team_b, supervisor_a, agent_a1, agent_a2, agent_b1):
    conversation = ConversationFactory.create(assigned_agent=agent_a1)
    client = key_client(supervisor_a)
    response = post(client, f"/api/conversations/{conversation.pk}/assign", {"agent_id": agent_a2.pk})
    assert response.status_code == 200 and response.json()["assigned_agent_id"] == agent_a2.pk
    before = state()
    response = post(client, f"/api/conversations/{conversation.pk}/assign", {"agent_id": agent_b1.pk})
    assert response.status_code == 403 and state() == before


def test_unassigned_conversations_belong_to_their_campaign_teams_queue(
    team_a, team_b, supervisor_a, agent_a1, agent_a2, agent_b1
):
    ours = ConversationFactory.create(campaign=CampaignFactory.create(team=team_a))
    theirs = ConversationFactory.create(campaign=CampaignFactory.create(team=team_b))
    shared = ConversationFactory.create()
    assert (
        post(key_client(supervisor_a), f"/api/conversations/{ours.pk}/assign", {"agent_id": agent_a2.pk}).status_code
        == 200
    )
    assert (
        post(key_client(supervisor_a), f"/api/conversations/{theirs.pk}/assign", {"agent_id": agent_a2.pk}).status_code
        == 403
    )
    # An agent takes an unassigned conversation of their team (or of nobody's team) for themselves only.
    assert (
        post(key_client(agent_a1), f"/api/conversations/{shared.pk}/assign", {"agent_id": agent_a2.pk}).status_code
        == 403
    )
    assert (
        post(key_client(agent_a1), f"/api/conversations/{shared.pk}/assign", {"agent_id": agent_a1.pk}).status_code
        == 200
    )
    assert (
        post(key_client(agent_a1), f"/api/conversations/{theirs.pk}/assign", {"agent_id": agent_a1.pk}).status_code
        == 403
    )
    assert (
        post(key_client(agent_b1), f"/api/conversations/{theirs.pk}/assign", {"agent_id": agent_b1.pk}).status_code
        == 200
    )
    # Once taken it is that agent's; a colleague cannot take it over.
    ours.refresh_from_db()
    assert ours.assigned_agent == agent_a2
    assert (
        post(key_client(agent_a1), f"/api/conversations/{ours.pk}/assign", {"agent_id": agent_a1.pk}).status_code == 403
    )


def test_assign_validation(admin, agent_a1):
    conversation = ConversationFactory.create(assigned_agent=agent_a1)
    client = key_client(admin)
    missing = post(client, f"/api/conversations/{conversation.pk}/assign", {})
    assert missing.status_code == 400 and "agent_id" in missing.json()["fields"]
    unknown = post(client, f"/api/conversations/{conversation.pk}/assign", {"agent_id": UNKNOWN_ID})
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    inactive = UserFactory.create(is_active=False)
    assert post(client, f"/api/conversations/{conversation.pk}/assign", {"agent_id": inactive.pk}).status_code == 404


# --- Priority, resolve, reopen ---------------------------------------------------------------------


def test_priority(agent_a1):
    conversation = ConversationFactory.create(assigned_agent=agent_a1)
    client = key_client(agent_a1)
    response = post(client, f"/api/conversations/{conversation.pk}/priority", {"priority": "high"})
    assert response.status_code == 200 and response.json()["priority"] == "high"
    conversation.refresh_from_db()
    assert conversation.priority == Priority.HIGH
    bad = post(client, f"/api/conversations/{conversation.pk}/priority", {"priority": "asap"})
    assert bad.status_code == 400 and "priority" in bad.json()["fields"]


def test_resolve_then_reopen(agent_a1, settings):
    settings.WHATSAPP_CSAT_ON_RESOLVE = True
    conversation = ConversationFactory.create(assigned_agent=agent_a1)
    client = key_client(agent_a1)
    response = post(client, f"/api/conversations/{conversation.pk}/resolve")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "resolved" and body["resolved_by_id"] == agent_a1.pk and body["resolved_at"]
    assert body["csat_requested_at"] == body["resolved_at"]
    assert conversation.messages.filter(author_type=AuthorType.SYSTEM).count() == 1
    again = post(client, f"/api/conversations/{conversation.pk}/resolve")
    assert again.status_code == 409 and again.json()["error"] == "already_resolved"

    response = post(client, f"/api/conversations/{conversation.pk}/reopen")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "open" and body["resolved_at"] is None and body["resolved_by_id"] is None
    assert body["reopened_count"] == 1
    again = post(client, f"/api/conversations/{conversation.pk}/reopen")
    assert again.status_code == 409 and again.json()["error"] == "not_resolved"


def test_reopen_refused_while_the_contact_has_another_open_conversation(agent_a1):
    old = _resolved(agent_a1)
    current = ConversationFactory.create(contact=old.contact, assigned_agent=agent_a1)
    response = post(key_client(agent_a1), f"/api/conversations/{old.pk}/reopen")
    assert response.status_code == 409 and response.json()["error"] == "conversation_open"
    assert str(current.pk) in response.json()["detail"]


def test_conversation_endpoints_are_in_the_schema(admin):
    schema = key_client(admin).get("/api/schema/?format=json").json()
    for path in ["/api/conversations", "/api/conversations/{conversation_id}/assign"]:
        assert path in schema["paths"]


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
