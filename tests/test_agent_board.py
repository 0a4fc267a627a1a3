"""`GET /api/agents/board` (docs/api.md "Agent board"): who is on it, what a row says, and refusals."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from calls import actions

pytestmark = pytest.mark.django_db


def board(user, **query):
    client = APIClient()
    client.force_authenticate(user)
    return client.get("/api/agents/board", query)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["agent_id"] for row in response.json()["results"]]


def test_each_role_sees_its_people_and_a_row_says_what_they_are_doing(
    team_a, team_b, agent_a1, agent_a2, agent_b1, supervisor_a, admin
):
    actions.do_change_agent_status(agent_a2, "break", reason="lunch")
    call = actions.do_start_call(agent_a1, phone_number="+48600100200")
    assert ids(board(agent_a1)) == [agent_a1.pk]
    assert sorted(ids(board(supervisor_a))) == sorted([agent_a1.pk, agent_a2.pk])  # an idle supervisor is not on it
    assert sorted(ids(board(admin))) == sorted([agent_a1.pk, agent_a2.pk, agent_b1.pk])
    assert ids(board(admin, team_id=team_b.pk)) == [agent_b1.pk]
    rows = {row["agent_id"]: row for row in board(supervisor_a).json()["results"]}
    assert rows[agent_a1.pk]["status"] == "on_call" and rows[agent_a1.pk]["current_call"]["call_id"] == call.pk
    assert rows[agent_a2.pk]["status"] == "break" and rows[agent_a2.pk]["reason"] == "lunch"
    assert rows[agent_a2.pk]["teams"] == [{"id": team_a.pk, "name": "Team A"}]
    b1 = board(admin, team_id=team_b.pk).json()["results"][0]
    assert b1["status"] == "offline" and b1["since"] is None and b1["current_call"] is None


def test_a_supervisor_taking_a_call_shows_on_the_board_and_anyone_can_read_their_own_row(team_a, supervisor_a, admin):
    actions.do_start_call(supervisor_a, phone_number="+48600100200")
    assert supervisor_a.pk in ids(board(admin))
    assert ids(board(admin, agent_id=admin.pk)) == [admin.pk]  # not on the board, but their own console reads it


@pytest.mark.parametrize(
    ("who", "query", "status"),
    [
        ("agent_a1", {"agent_id": "agent_a2"}, 403),
        ("agent_a1", {"agent_id": "abc"}, 400),
        ("supervisor_a", {"agent_id": "agent_b1"}, 403),
        ("supervisor_a", {"team_id": "team_b"}, 403),
        ("admin", {"agent_id": 987654}, 404),
        ("admin", {"team_id": 987654}, 404),
        ("admin", {"team_id": "x1"}, 400),
    ],
)
def test_refusals_are_clear(request, team_a, team_b, who, query, status):
    people = {
        name: request.getfixturevalue(name) for name in ("agent_a1", "agent_a2", "agent_b1", "supervisor_a", "admin")
    }
    teams = {"team_a": team_a, "team_b": team_b}
    resolved = {
        key: people[value].pk if value in people else teams[value].pk if value in teams else value
        for key, value in query.items()
    }
    response = board(people[who], **resolved)
    assert response.status_code == status
    assert response.json()["success"] is False and response.json()["detail"]


def test_the_call_log_filters_by_team_with_the_same_rules(team_a, team_b, agent_a1, agent_b1, supervisor_a, admin):
    mine = actions.do_start_call(agent_a1, phone_number="+48600100200")
    actions.do_start_call(agent_b1, phone_number="+48600100201")

    def log(user, team_id):
        client = APIClient()
        client.force_authenticate(user)
        return client.get("/api/calls/log", {"team_id": team_id})

    assert [row["call_id"] for row in log(supervisor_a, team_a.pk).json()["results"]] == [mine.pk]
    assert log(admin, team_b.pk).json()["count"] == 1
    for user, team_id, status in (
        (supervisor_a, team_b.pk, 403),
        (agent_a1, team_a.pk, 403),
        (admin, 987654, 404),
        (admin, "x", 400),
    ):
        response = log(user, team_id)
        assert response.status_code == status, (user, team_id)
        assert response.json()["detail"]
