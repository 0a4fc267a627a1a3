"""Realtime dashboard updates (API.md "Realtime"): what is pushed to which WebSocket group, and when.

Groups (decided by the server in analytics.consumers, never by the client):
- ``agent.<id>``: one agent's own console;
- ``team.<id>``: the supervisors of a team;
- ``org``: admins.

Every event carries the *current* value of what it names (an agent's 12 stats and KPIs, an agent's
board row, a call's row, the KPI strip of today for the group's scope), never a delta, so an event
that is dropped or coalesced away costs nothing: the next one, or the page's resync on reconnect,
carries the whole truth.

When: after the commit (calls.events and crm.rollups announce from ``transaction.on_commit``), only for
groups with a socket connected (anywhere: the count lives in the shared cache), and at most one
leading and one trailing push per group and subject within ``REALTIME_COALESCE_SECONDS``: the first
change is pushed at once, later ones in the window collapse into one push at its end that reads the
state as it is then.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache, caches
from django.db import close_old_connections, connections
from django.utils import timezone

from config.cache import claim

logger = logging.getLogger(__name__)

ORG = "org"
LISTENERS_TTL = 24 * 3600


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


# --- who is listening -----------------------------------------------------------------------------------
# A count per group in the shared cache, kept by the consumers. A process that dies without
# disconnecting leaves a count too high, which only costs a push nobody receives; it expires in a day.


def _listeners_key(group: str) -> str:
    return f"realtime:listeners:{group}"


def joined(groups: list[str]) -> None:
    for group in groups:
        key = _listeners_key(group)
        if not cache.add(key, 1, timeout=LISTENERS_TTL):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=LISTENERS_TTL)


def left(groups: list[str]) -> None:
    for group in groups:
        try:
            if cache.decr(_listeners_key(group)) <= 0:
                cache.delete(_listeners_key(group))
        except ValueError:
            pass


def listening(groups: list[str]) -> list[str]:
    counts = cache.get_many([_listeners_key(g) for g in groups])
    return [g for g in groups if counts.get(_listeners_key(g), 0) > 0]


# --- sending --------------------------------------------------------------------------------------------
# The in-memory channel layer keeps its queues in the server's event loop; a send from any other loop
# (a timer thread, a worker thread) must run on that loop. The consumers record it when they connect.
_server_loop: asyncio.AbstractEventLoop | None = None


def remember_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def event(section: str, data: dict[str, Any]) -> dict[str, Any]:
    """The message as the browser receives it (the consumer forwards `event` as it is)."""
    return {"type": "dashboard:update", "section": section, "data": data, "timestamp": timezone.now().isoformat()}


def send(group: str, section: str, data: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "dashboard.update", "event": event(section, data)}
    loop = _server_loop
    if loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # already on the server's loop (async code): schedule, never block it
            loop.create_task(layer.group_send(group, message))
            return
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(timeout=10)
        return
    async_to_sync(layer.group_send)(group, message)


# --- coalescing -----------------------------------------------------------------------------------------


def push(
    group: str,
    subject: str,
    section: str,
    compute: Callable[[], dict[str, Any] | None],
    *,
    window: float | None = None,
) -> None:
    """Push `section` (its current value from `compute`) to `group` now, or once at the end of the window.

    `subject` names what is coalesced (a section, or a section and an id: one agent's board row);
    `window` defaults to REALTIME_COALESCE_SECONDS.
    """
    window = settings.REALTIME_COALESCE_SECONDS if window is None else window
    if window <= 0 or claim(caches["default"], f"realtime:lead:{group}:{subject}", window):
        _compute_and_send(group, section, compute)
        return
    # A push went out in this window: one trailing push at its end carries every later change.
    if claim(caches["default"], f"realtime:trail:{group}:{subject}", window):
        timer = threading.Timer(window, _trailing, args=(group, section, compute))
        timer.daemon = True
        timer.start()


def _compute_and_send(group: str, section: str, compute: Callable[[], dict[str, Any] | None]) -> None:
    try:
        data = compute()
        if data is not None:
            send(group, section, data)
    except Exception:  # a push must never break the write that caused it
        logger.exception("Realtime push of %s to %s failed", section, group)


def _trailing(group: str, section: str, compute: Callable[[], dict[str, Any] | None]) -> None:
    close_old_connections()
    try:
        _compute_and_send(group, section, compute)
    finally:
        connections.close_all()  # this thread's own connections


# --- what each change pushes ----------------------------------------------------------------------------


def _team_ids(agent_id: int) -> list[int]:
    from crm.models import Team

    return list(Team.objects.filter(members=agent_id).values_list("pk", flat=True))


def _watchers(agent_id: int) -> list[str]:
    """Groups that may see `agent_id`'s data, besides the agent's own."""
    return [ORG, *(team_group(t) for t in _team_ids(agent_id))]


def agent_stats_data(agent_id: int) -> dict[str, Any] | None:
    """The agent console's numbers: the 12 stats of today and the call KPIs of today, week and month."""
    from analytics.access import agent_scope
    from analytics.agent_views import agent_stats, kpis_of
    from analytics.periods import named_period
    from analytics.registry import Context
    from crm.models import User
    from crm.periods import local_date

    agent = User.objects.filter(pk=agent_id).first()
    if agent is None:
        return None
    now = timezone.now()
    scope = agent_scope(agent)
    kpis = {name: kpis_of(Context(named_period(name, now), scope, now).calls) for name in ("today", "week", "month")}
    return {"agent_id": agent_id, "stats": agent_stats(agent, local_date(now), fresh=True), "kpis": kpis}


def board_data(agent_id: int) -> dict[str, Any] | None:
    from calls.board import board_row

    return board_row(agent_id)


def call_data(call_id: int) -> dict[str, Any] | None:
    from calls.models import CallLog
    from calls.serializers import CallLogSerializer

    call = CallLog.objects.select_related("agent").filter(pk=call_id).first()
    return dict(CallLogSerializer(call).data) if call else None


def kpi_data(group: str) -> dict[str, Any] | None:
    """Today's KPI strip for the group's scope: what `GET /api/dashboard/kpi?dateRange=today` answers."""
    from analytics.access import AnalyticsScope, team_scope
    from analytics.dashboard_views import section_data
    from analytics.periods import named_period
    from analytics.registry import Context
    from crm.rollups import EVERYONE

    now = timezone.now()
    if group == ORG:
        scope = AnalyticsScope(EVERYONE, None)
    elif group.startswith("team."):
        scope = team_scope(int(group.removeprefix("team.")))
    else:
        return None
    ctx = Context(named_period("today", now), scope, now)
    return {**section_data("kpi", ctx), "period": ctx.period.as_dict(), "team_id": scope.team_id}


def _kpi(group: str) -> Callable[[], dict[str, Any] | None]:
    return lambda: kpi_data(group)


class _Shared:
    """One value for every group pushed at once (a call's row is the same for all its watchers); a
    trailing push, later, reads afresh."""

    def __init__(self, compute: Callable[[], dict[str, Any] | None]) -> None:
        self.compute, self.now = compute, True
        self.value: dict[str, Any] | None = None
        self.done = False

    def __call__(self) -> dict[str, Any] | None:
        if not self.now:
            return self.compute()
        if not self.done:
            self.value, self.done = self.compute(), True
        return self.value

    def expire(self) -> None:
        self.now, self.value = False, None


def call_changed(call_id: int, agent_id: int, change: str, **kwargs: Any) -> None:
    own = agent_group(agent_id)
    call, board = _Shared(lambda: call_data(call_id)), _Shared(lambda: board_data(agent_id))
    for group in listening([own, *_watchers(agent_id)]):
        push(group, f"call:{call_id}", "call", call)
        push(group, f"agent:{agent_id}", "agent", board)
        if group == own:
            push(own, "agent_stats", "agent_stats", lambda: agent_stats_data(agent_id))
        else:
            push(group, "kpi", "kpi", _kpi(group))
    call.expire()
    board.expire()


def agent_status_changed(agent_id: int, **kwargs: Any) -> None:
    own = agent_group(agent_id)
    board = _Shared(lambda: board_data(agent_id))
    for group in listening([own, *_watchers(agent_id)]):
        push(group, f"agent:{agent_id}", "agent", board)
        if group == own:
            push(own, "agent_stats", "agent_stats", lambda: agent_stats_data(agent_id))
        else:
            push(group, "kpi", "kpi", _kpi(group))  # utilisation follows agent states
    board.expire()


def counters_changed() -> None:
    """Any committed change of counters, WhatsApp's included: the KPI strips being watched.

    The hook does not say whose counters changed, so every watched strip is refreshed, with its own
    scope, at most once per REALTIME_KPI_REFRESH_SECONDS; calls and agent states also push their
    teams' strips at once (above).
    """
    from crm.models import Team

    groups = listening([ORG, *(team_group(t) for t in Team.objects.values_list("pk", flat=True))])
    for group in groups:
        push(group, "kpi:any", "kpi", _kpi(group), window=settings.REALTIME_KPI_REFRESH_SECONDS)


def connect_receivers() -> None:
    from calls import events
    from crm import rollups

    events.call_changed.connect(_on_call_changed, dispatch_uid="realtime-call-changed")
    events.agent_status_changed.connect(_on_agent_status_changed, dispatch_uid="realtime-agent-status")
    if counters_changed not in rollups.on_counters_changed:
        rollups.on_counters_changed.append(counters_changed)


def _on_call_changed(sender: Any, **kwargs: Any) -> None:
    call_changed(**kwargs)


def _on_agent_status_changed(sender: Any, **kwargs: Any) -> None:
    agent_status_changed(**kwargs)
