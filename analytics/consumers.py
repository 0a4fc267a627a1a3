"""`/ws/dashboard/` (API.md "Realtime"): live updates for the agent console and the supervisor dashboard.

Browsers are authenticated by their session (channels' AuthMiddlewareStack); programs pass an API key
as `?token=`. The server alone decides the groups from the user's role — the agent's own group for
everyone, the supervised teams' groups for supervisors, the organisation's for admins — so a client
cannot subscribe itself to data it may not see: anything it sends other than a ping is refused.

On connect the socket receives `{"type": "dashboard:hello", "groups": [...], "user_id": ...}`; the page
then reads the API once (the resync) and applies `dashboard:update` events from there on.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from analytics import realtime

# WebSocket close codes (4000-4999 are the application's): the page stops reconnecting on these.
UNAUTHENTICATED = 4401


def groups_for(user: Any) -> list[str]:
    """The groups `user` may receive (the same visibility as the API's: API.md "Auth")."""
    groups = [realtime.agent_group(user.pk)]
    if user.is_admin:
        groups.append(realtime.ORG)
    elif user.is_supervisor:
        groups.extend(realtime.team_group(t) for t in user.supervised_teams.values_list("pk", flat=True))
    return groups


def _user_for_token(raw: str) -> Any:
    from calls.models import ApiKey

    key = ApiKey.objects.for_key(raw)
    return key.user if key is not None and key.user.is_active else None


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        user = await self._authenticate()
        if user is None:
            # Accept, then close with a reason: a browser cannot read why a handshake was refused.
            await self.accept()
            await self.send_json({"type": "error", "error": "not_authenticated", "detail": "Log in or pass ?token=."})
            await self.close(code=UNAUTHENTICATED)
            return
        realtime.remember_loop(asyncio.get_running_loop())
        self.groups_joined = await database_sync_to_async(groups_for)(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await database_sync_to_async(realtime.joined)(self.groups_joined)
        await self.accept()
        await self.send_json({"type": "dashboard:hello", "user_id": user.pk, "groups": self.groups_joined})

    async def _authenticate(self) -> Any:
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        if token:
            return await database_sync_to_async(_user_for_token)(token)
        user = self.scope.get("user")
        return user if user is not None and user.is_authenticated else None

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.groups_joined:
            await database_sync_to_async(realtime.left)(self.groups_joined)
        self.groups_joined = []

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        await self.send_json(
            {
                "type": "error",
                "error": "not_supported",
                "detail": "This socket only sends updates; the server chooses what you receive. Send "
                '{"type": "ping"} to check it is alive.',
            }
        )

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels runs close_old_connections in a worker thread before every handler (a thread hop of
        # about a millisecond). An update touches no database, and a wall of 1,000 sockets spent most of
        # its time on that hop (measured: benchmarks/realtime.py, docs/benchmarks.md): updates skip it.
        if message["type"] == "dashboard.update":
            await self.dashboard_update(message)
            return
        await super().dispatch(message)

    async def dashboard_update(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["text"])  # serialised once by the publisher, for every socket
