"""`/ws/dashboard/` (API.md "Realtime"): who may connect, which groups the server chooses, what each
socket receives, only after commit, coalesced, and always the current value.

The sockets talk to the real ASGI application through channels' WebsocketCommunicator and the
configured channel layer (in-memory in the SQLite run, Redis in the PostgreSQL + Redis run). Writes go
through the real actions in a worker thread (as a request would), so the tests need committed rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client

from analytics import realtime
from analytics.consumers import UNAUTHENTICATED, LocalFanout, groups_for
from calls import actions
from calls.models import ApiKey, CallLog, CallStatus
from config.asgi import application
from crm.models import User

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]
QUIET = 0.3  # seconds to wait for a message that must not come


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return async_to_sync(test)()


async def connect(user: User | None = None, *, token: str | None = None) -> WebsocketCommunicator:
    path = "/ws/dashboard/" + (f"?token={token}" if token else "")
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    if user is not None:
        communicator.scope["user"] = user  # what AuthMiddlewareStack puts there for a logged-in browser
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def hello(communicator: WebsocketCommunicator) -> dict[str, Any]:
    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "dashboard:hello", message
    return message


async def updates(communicator: WebsocketCommunicator, *, wait: float = 1.0) -> list[dict[str, Any]]:
    """Every update that arrives until the socket has been quiet for `wait` seconds."""
    received = []
    # receive_nothing waits without cancelling the application (a receive timeout would)
    while not await communicator.receive_nothing(timeout=wait, interval=0.02):
        received.append(await communicator.receive_json_from(timeout=5))
    return received


def sections(messages: list[dict[str, Any]]) -> list[str]:
    return [m["section"] for m in messages]


def start_call(agent: User, phone: str = "+48600100200") -> CallLog:
    return actions.do_start_call(agent, phone_number=phone)


def api_kpi(user: User, **query: Any) -> dict[str, Any]:
    client = Client()
    client.force_login(user)
    response = client.get("/api/dashboard/kpi", {"dateRange": "today", **query})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def no_coalescing(settings):
    settings.REALTIME_COALESCE_SECONDS = 0


# --- who may connect, and to what -----------------------------------------------------------------------


def test_an_anonymous_socket_is_told_why_and_closed():
    async def scenario():
        communicator = await connect()
        error = await communicator.receive_json_from(timeout=5)
        closed = await communicator.receive_output(timeout=5)
        return error, closed

    error, closed = run(scenario)
    assert error["error"] == "not_authenticated" and "token" in error["detail"]
    assert closed == {"type": "websocket.close", "code": UNAUTHENTICATED}


def test_an_api_key_authenticates_a_program_and_a_bad_one_does_not(agent_a1):
    _, raw = ApiKey.objects.create_key(agent_a1, "softphone")

    async def scenario():
        good = await connect(token=raw)
        greeting = await hello(good)
        await good.disconnect()
        bad = await connect(token="cbk_not-a-key")
        error = await bad.receive_json_from(timeout=5)
        return greeting, error

    greeting, error = run(scenario)
    assert greeting["user_id"] == agent_a1.pk and greeting["groups"] == [f"agent.{agent_a1.pk}"]
    assert error["error"] == "not_authenticated"


def test_the_server_chooses_the_groups_by_role(team_a, team_b, agent_a1, supervisor_a, admin):
    assert groups_for(agent_a1) == [f"agent.{agent_a1.pk}"]
    assert groups_for(supervisor_a) == [f"agent.{supervisor_a.pk}", f"team.{team_a.pk}"]
    assert groups_for(admin) == [f"agent.{admin.pk}", "org"]


def test_a_client_cannot_subscribe_itself_to_other_groups(team_a, team_b, agent_a1, agent_b1, no_coalescing):
    async def scenario():
        socket = await connect(agent_a1)
        await hello(socket)
        await socket.send_json_to({"type": "subscribe", "group": "org"})
        refusal = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "ping"})
        pong = await socket.receive_json_from(timeout=5)
        await database_sync_to_async(start_call)(agent_b1)
        leaked = await updates(socket, wait=QUIET)
        await socket.disconnect()
        return refusal, pong, leaked

    refusal, pong, leaked = run(scenario)
    assert refusal["error"] == "not_supported" and "server chooses" in refusal["detail"]
    assert pong == {"type": "pong"}
    assert leaked == []


# --- what each socket receives ---------------------------------------------------------------------------


def test_each_socket_receives_only_what_its_user_may_see(
    team_a, team_b, agent_a1, agent_a2, supervisor_a, admin, agent_b1, no_coalescing
):
    async def scenario():
        sockets = {user.username: await connect(user) for user in (agent_a1, agent_a2, supervisor_a, admin, agent_b1)}
        for socket in sockets.values():
            await hello(socket)
        call = await database_sync_to_async(start_call)(agent_a1)
        received = {name: await updates(socket) for name, socket in sockets.items()}
        for socket in sockets.values():
            await socket.disconnect()
        return call, received

    call, received = run(scenario)
    own = received["agent_a1"]
    assert set(sections(own)) >= {"call", "agent", "agent_stats"}
    assert received["agent_a2"] == [] and received["agent_b1"] == []  # another agent's call: nothing
    for watcher in ("supervisor_a", "admin"):
        assert {"call", "agent"} <= set(sections(received[watcher])), watcher
        assert "agent_stats" not in sections(received[watcher])  # the agent console's own numbers
    # every event carries the current value, enough to update the page without a refetch
    call_event = next(m for m in received["supervisor_a"] if m["section"] == "call")
    assert call_event["type"] == "dashboard:update" and call_event["timestamp"]
    assert call_event["data"]["call_id"] == call.pk and call_event["data"]["status"] == CallStatus.IN_PROGRESS
    board = next(m for m in received["admin"] if m["section"] == "agent")["data"]
    assert board["agent_id"] == agent_a1.pk and board["status"] == "on_call"
    assert board["current_call"]["call_id"] == call.pk
    stats = next(m for m in own if m["section"] == "agent_stats")["data"]
    assert stats["stats"]["calls_total_today"] == 1 and stats["kpis"]["today"]["calls_made"] == 1


def test_a_supervisor_does_not_receive_another_teams_agents(team_a, team_b, supervisor_a, agent_b1, no_coalescing):
    async def scenario():
        socket = await connect(supervisor_a)
        await hello(socket)
        await database_sync_to_async(start_call)(agent_b1)
        received = await updates(socket, wait=QUIET)
        await socket.disconnect()
        return received

    received = run(scenario)
    # at most a refresh of the supervisor's own team's KPI strip; nothing of team B's agent
    assert {m["section"] for m in received} <= {"kpi"}
    assert all(m["data"]["team_id"] == team_a.pk for m in received)


def test_the_kpi_strip_is_pushed_with_the_groups_scope(
    team_a, team_b, supervisor_a, agent_a1, agent_b1, admin, no_coalescing
):
    async def scenario():
        supervisor, org = await connect(supervisor_a), await connect(admin)
        await hello(supervisor)
        await hello(org)
        call = await database_sync_to_async(start_call)(agent_a1)
        await database_sync_to_async(actions.do_end_call)(call, status=CallStatus.COMPLETED)
        found = await updates(supervisor), await updates(org)
        await supervisor.disconnect()
        await org.disconnect()
        return found

    supervisor, org = run(scenario)
    team_kpi = [m["data"] for m in supervisor if m["section"] == "kpi"][-1]
    org_kpi = [m["data"] for m in org if m["section"] == "kpi"][-1]
    assert team_kpi["team_id"] == team_a.pk and org_kpi["team_id"] is None
    assert team_kpi["period"]["label"] == "today"
    # exactly what the API answers for the same scope, so the page can apply it without a refetch
    figures = lambda body: {k: v for k, v in body.items() if k not in ("team_id", "period")}  # noqa: E731
    assert figures(team_kpi) == figures(api_kpi(supervisor_a, team_id=team_a.pk))
    assert figures(org_kpi) == figures(api_kpi(admin))
    assert team_kpi["callsMade"]["value"] == org_kpi["callsMade"]["value"] == 1


def test_the_agent_board_follows_status_changes(team_a, supervisor_a, agent_a1, no_coalescing):
    async def scenario():
        socket = await connect(supervisor_a)
        await hello(socket)
        await database_sync_to_async(actions.do_change_agent_status)(agent_a1, "break", reason="lunch")
        received = await updates(socket)
        await socket.disconnect()
        return received

    board = [m["data"] for m in run(scenario) if m["section"] == "agent"]
    assert board[-1]["status"] == "break" and board[-1]["reason"] == "lunch" and board[-1]["since"]


# --- when: after commit, coalesced ------------------------------------------------------------------------


def test_nothing_is_pushed_for_a_write_that_rolls_back_and_only_after_commit(agent_a1, no_coalescing):
    class Rollback(Exception):
        pass

    def rolled_back() -> None:
        try:
            with transaction.atomic():
                start_call(agent_a1)
                raise Rollback
        except Rollback:
            pass

    def committed_later(seen_before_commit: list[int]) -> None:
        with transaction.atomic():
            start_call(agent_a1)
            # still inside the transaction: the socket must not have heard anything yet
            seen_before_commit.append(len(realtime.listening([realtime.agent_group(agent_a1.pk)])))

    async def scenario():
        socket = await connect(agent_a1)
        await hello(socket)
        await database_sync_to_async(rolled_back)()
        after_rollback = await updates(socket, wait=QUIET)
        listening: list[int] = []
        task = asyncio.ensure_future(database_sync_to_async(committed_later)(listening))
        await task
        after_commit = await updates(socket)
        await socket.disconnect()
        return after_rollback, listening, after_commit

    after_rollback, listening, after_commit = run(scenario)
    assert after_rollback == []
    assert listening == [1]  # the socket was listening all along
    assert "call" in sections(after_commit)


def test_a_burst_is_coalesced_and_the_last_push_carries_the_final_state(settings, team_a, supervisor_a, agent_a1):
    settings.REALTIME_COALESCE_SECONDS = 0.5
    states = ["break", "available", "away", "available", "break", "away"]

    def burst() -> None:
        for status in states:
            actions.do_change_agent_status(agent_a1, status, reason="lunch" if status == "break" else "")

    async def scenario():
        socket = await connect(supervisor_a)
        await hello(socket)
        await database_sync_to_async(burst)()
        received = await updates(socket, wait=1.5)  # past the window: the trailing push has come
        await socket.disconnect()
        return received

    board = [m["data"] for m in run(scenario) if m["section"] == "agent"]
    assert 1 <= len(board) <= 2 < len(states)  # one at once, one at the window's end
    assert board[-1]["status"] == "away"


def test_no_work_is_done_for_groups_nobody_listens_to(agent_a1, django_assert_max_num_queries):
    call = start_call(agent_a1)
    with django_assert_max_num_queries(2):  # who is listening (teams of the agent); no reads for pushes
        realtime.call_changed(call_id=call.pk, agent_id=agent_a1.pk, change="started")


def test_a_socket_quiet_for_longer_than_the_layers_blocking_read_still_receives(agent_a1, no_coalescing):
    # On Redis the layer's receive blocks for 5 s; redis-py's default 5 s socket timeout used to kill
    # every socket that heard nothing for that long (config/settings.py sets a longer one).
    async def scenario():
        socket = await connect(agent_a1)
        await hello(socket)
        quiet = await socket.receive_nothing(timeout=6.5, interval=0.5)
        await database_sync_to_async(start_call)(agent_a1)
        received = await updates(socket)
        await socket.disconnect()
        return quiet, received

    quiet, received = run(scenario)
    assert quiet and "call" in sections(received)


def test_a_change_watched_by_several_groups_reads_each_row_once(team_a, supervisor_a, agent_a1, admin, no_coalescing):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call = start_call(agent_a1)
    groups = groups_for(agent_a1) + groups_for(supervisor_a) + groups_for(admin)
    realtime.joined(groups)  # as if their sockets were connected
    with CaptureQueriesContext(connection) as queries:
        realtime.call_changed(call_id=call.pk, agent_id=agent_a1.pk, change="started")
    by_pk = [q["sql"] for q in queries if 'FROM "calls_calllog"' in q["sql"] and '"calls_calllog"."id" =' in q["sql"]]
    assert len(by_pk) == 1, by_pk  # one read of the call's row for the agent, the team and org


def test_sockets_of_one_group_share_one_subscription_that_ends_with_the_last(admin, agent_a1, no_coalescing):
    """LocalFanout: the process subscribes each group once; a socket leaving does not cut off the others,
    and the last one leaving ends the subscription (nothing keeps reading for nobody)."""
    second_admin = User.objects.create_user("admin2", role=admin.role)

    async def scenario():
        first, second = await connect(admin), await connect(second_admin)
        await hello(first)
        await hello(second)
        hub = LocalFanout.for_loop(get_channel_layer())
        shared = (len(hub.members["org"]), hub.channel is not None)
        await first.disconnect()
        await database_sync_to_async(start_call)(agent_a1)
        after_one_left = await updates(second)
        await second.disconnect()
        return shared, after_one_left, dict(hub.members), hub.channel, [t.done() or t.cancelling() for t in hub.tasks]

    shared, after_one_left, members, channel, tasks = run(scenario)
    assert shared == (2, True)
    assert "call" in sections(after_one_left)
    assert members == {} and channel is None and tasks == []


def test_a_socket_that_stops_reading_holds_up_only_itself(admin, agent_a1, no_coalescing):
    """Each write is a task of its own: a write that never completes (a client that stopped reading,
    its transport paused) or fails leaves every other socket receiving every later update."""
    second_admin = User.objects.create_user("admin2", role=admin.role)

    async def scenario():
        stuck, healthy = await connect(admin), await connect(second_admin)
        await hello(stuck)
        await hello(healthy)
        hub = LocalFanout.for_loop(get_channel_layer())
        (consumer,) = [c for c in hub.members["org"] if c.scope["user"].pk == admin.pk]

        async def never_returns(**kwargs: Any) -> None:
            await asyncio.Event().wait()

        consumer.send = never_returns
        call = await database_sync_to_async(start_call)(agent_a1)
        await database_sync_to_async(actions.do_end_call)(call, status=CallStatus.COMPLETED)
        received = await updates(healthy)
        for write in list(hub.writes):
            write.cancel()
        await stuck.disconnect()
        await healthy.disconnect()
        return call.pk, received

    call_id, received = run(scenario)
    rows = [m["data"] for m in received if m["section"] == "call" and m["data"]["call_id"] == call_id]
    assert [row["status"] for row in rows] == ["in_progress", "completed"]


@pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="the core Redis layer needs REDIS_URL (the PostgreSQL + Redis run)"
)
def test_the_core_redis_layer_delivers_through_the_process_fanout(
    settings, team_a, supervisor_a, agent_a1, no_coalescing
):
    """CHANNELS_LAYER=core: the hub's channel must be one the core layer reads (its process-local channels
    all share the "specific." prefix's key; a hub channel of another prefix once received nothing)."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": django_settings.REDIS_URL, "socket_timeout": 15}],
                "prefix": f"test-core-{uuid.uuid4().hex[:8]}",
            },
        }
    }

    async def scenario():
        assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
        socket = await connect(supervisor_a)
        await hello(socket)
        call = await database_sync_to_async(start_call)(agent_a1)
        received = await updates(socket)
        await socket.disconnect()
        return call.pk, received

    call_id, received = run(scenario)
    assert any(m["section"] == "call" and m["data"]["call_id"] == call_id for m in received)
