"""`/ws/dashboard/` (API.md "Realtime"): live updates for the agent console and the supervisor dashboard.

Browsers are authenticated by their session (channels' AuthMiddlewareStack); programs pass an API key
as `?token=`. The server alone decides the groups from the user's role — the agent's own group for
everyone, the supervised teams' groups for supervisors, the organisation's for admins — so a client
cannot subscribe itself to data it may not see: anything it sends other than a ping is refused.

Once the socket is in its groups it receives `{"type": "dashboard:hello", "groups": [...], "user_id": ...}`
(an update may come just before it); the page then reads the API once (the resync) and applies
`dashboard:update` events from there on.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from analytics import realtime

logger = logging.getLogger(__name__)

# WebSocket close codes (4000-4999 are the application's): the page stops reconnecting on these.
UNAUTHENTICATED = 4401
# Group memberships expire in channels' layers (group_expiry, a day by default); a hub renews its own.
GROUP_RENEW_SECONDS = 3600


class LocalFanout:
    """One channel-layer subscription per group for all the sockets of this process (per event loop).

    The layer delivers each update once to the process (to the hub's channel), and the hub writes its
    text to every local socket of the group. Without it every socket is a channel of its own: one queue
    put, one consumer wake-up and one round of channels' dispatch machinery per socket per update,
    which at 1,000 sockets on one process was most of the fan-out's time (benchmarks/realtime.py). Each
    write is a task of its own, so a client that stopped reading holds up only itself.
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LocalFanout] = weakref.WeakKeyDictionary()

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.members: dict[str, set[DashboardConsumer]] = {}
        self.channel: str | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.writes: set[asyncio.Task[None]] = set()
        self.lock = asyncio.Lock()

    @classmethod
    def for_loop(cls, layer: Any) -> LocalFanout:
        loop = asyncio.get_running_loop()
        hub = cls._by_loop.get(loop)
        if hub is None or hub.layer is not layer:
            hub = cls._by_loop[loop] = cls(layer)
        return hub

    async def join(self, group: str, consumer: DashboardConsumer) -> None:
        async with self.lock:
            if self.channel is None:
                # The default prefix: channels-redis' core layer reads every process-local channel from one
                # key per prefix, the one of "specific." (a channel of another prefix is never read).
                self.channel = await self.layer.new_channel()
                self.tasks = [asyncio.create_task(self._deliver(self.channel)), asyncio.create_task(self._renew())]
                for task in self.tasks:
                    task.add_done_callback(self._ended)
            members = self.members.get(group)
            if members is None:
                await self.layer.group_add(group, self.channel)
                members = self.members[group] = set()
            members.add(consumer)

    async def leave(self, group: str, consumer: DashboardConsumer) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None:
                return
            members.discard(consumer)
            if not members:
                del self.members[group]
                await self.layer.group_discard(group, self.channel)
            if not self.members:
                for task in self.tasks:
                    task.cancel()
                self.tasks, self.channel = [], None

    async def _deliver(self, channel: str) -> None:
        while True:
            message = await self.layer.receive(channel)
            members = self.members.get(message.get("group", ""))
            if message.get("type") != "dashboard.update" or not members:
                continue
            text = message["text"]
            for consumer in members:
                write = asyncio.create_task(consumer.send(text_data=text))
                self.writes.add(write)
                write.add_done_callback(self._written)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:  # never silently: every socket goes quiet
            logger.error("Realtime fan-out of this process stopped", exc_info=task.exception())

    def _written(self, write: asyncio.Task[None]) -> None:
        self.writes.discard(write)
        if not write.cancelled() and write.exception() is not None:  # e.g. the client just went away
            logger.debug("Realtime write to a socket failed", exc_info=write.exception())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(GROUP_RENEW_SECONDS)
            async with self.lock:
                for group in list(self.members):
                    await self.layer.group_add(group, self.channel)


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
    fanout: LocalFanout

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
        await self.accept()
        # Joined before the hello: the page resyncs from the API when the hello arrives, so every change
        # after its resync reaches it (updates that come before the hello are simply overwritten).
        self.fanout = LocalFanout.for_loop(self.channel_layer)
        for group in self.groups_joined:
            await self.fanout.join(group, self)
        await database_sync_to_async(realtime.joined)(self.groups_joined)
        await self.send_json({"type": "dashboard:hello", "user_id": user.pk, "groups": self.groups_joined})

    async def _authenticate(self) -> Any:
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        if token:
            return await database_sync_to_async(_user_for_token)(token)
        user = self.scope.get("user")
        return user if user is not None and user.is_authenticated else None

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.fanout.leave(group, self)
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
