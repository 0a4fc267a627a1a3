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
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache, caches
from django.core.serializers.json import DjangoJSONEncoder
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
    """The message as the browser receives it."""
    return {"type": "dashboard:update", "section": section, "data": data, "timestamp": timezone.now().isoformat()}


# Sends scheduled on the server's loop, kept until done (a task nobody references may be collected).
_in_flight: set[Any] = set()


def _report(done: Any) -> None:
    _in_flight.discard(done)
    if not done.cancelled() and done.exception() is not None:
        logger.error("Realtime send failed", exc_info=done.exception())


def send(group: str, section: str, data: dict[str, Any]) -> None:
    """Hand the event to the channel layer without waiting for its delivery.

    The JSON text is made once here; each socket's consumer sends it as it is (1,000 sockets watching
    one group cost one serialisation, not 1,000). On the server's loop (the in-memory layer lives
    there) the send is scheduled and this returns at once: a request never waits for a fan-out.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    message = {
        "type": "dashboard.update",
        "group": group,
        "text": json.dumps(event(section, data), cls=DjangoJSONEncoder),
    }
    loop = _server_loop
    if loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        future: Any
        if running is loop:  # already on the server's loop (async code)
            future = loop.create_task(layer.group_send(group, message))
        else:
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        _in_flight.add(future)
        future.add_done_callback(_report)
        return
    async_to_sync(layer.group_send)(group, message)  # a worker process without a server loop


# --- coalescing -----------------------------------------------------------------------------------------


# Figures that take tens of milliseconds to compute (an agent's stats and KPIs, a KPI strip) are
# computed by this thread, after the cheap rows: the request that made the change, and the `call` and
# `agent` events, never wait for them.
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="realtime")


def push(
    group: str,
    subject: str,
    section: str,
    compute: Callable[[], dict[str, Any] | None],
    *,
    window: float | None = None,
    background: bool = False,
) -> None:
    """Push `section` (its current value from `compute`) to `group` now, or once at the end of the window.

    `subject` names what is coalesced (a section, or a section and an id: one agent's board row);
    `window` defaults to REALTIME_COALESCE_SECONDS; `background` computes in the realtime thread.
    """
    window = settings.REALTIME_COALESCE_SECONDS if window is None else window
    if window <= 0 or claim(caches["default"], f"realtime:lead:{group}:{subject}", window):
        if background:
            _background.submit(_in_own_thread, group, section, compute)
        else:
            _compute_and_send(group, section, compute)
        return
    # A push went out in this window: one trailing push at its end carries every later change.
    if claim(caches["default"], f"realtime:trail:{group}:{subject}", window):
        timer = threading.Timer(window, _in_own_thread, args=(group, section, compute))
        timer.daemon = True
        _timers.add(timer)
        timer.start()


def _compute_and_send(group: str, section: str, compute: Callable[[], dict[str, Any] | None]) -> None:
    try:
        data = compute()
        if data is not None:
            send(group, section, data)
    except Exception:  # a push must never break the write that caused it
        logger.exception("Realtime push of %s to %s failed", section, group)


def _in_own_thread(group: str, section: str, compute: Callable[[], dict[str, Any] | None]) -> None:
    close_old_connections()
    try:
        _compute_and_send(group, section, compute)
    finally:
        connections.close_all()  # this thread's own connections
        current = threading.current_thread()
        if isinstance(current, threading.Timer):
            _timers.discard(current)


_timers: set[threading.Timer] = set()


def drain(timeout: float = 10.0) -> None:
    """Drop the trailing pushes not yet due and wait for the realtime thread's work to finish.

    For the test suite (nothing may read the database while a test's data is being removed) and for an
    orderly shutdown; a running server never needs it.
    """
    for timer in list(_timers):
        timer.cancel()
        if timer.is_alive() and timer is not threading.current_thread():
            timer.join(timeout)
    _timers.clear()
    _background.submit(lambda: None).result(timeout=timeout)


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
    """The call's row and the agent's board row first, to every group at once; then the heavier
    figures (the agent's stats, the teams' KPI strips) from the realtime thread."""
    own = agent_group(agent_id)
    groups = listening([own, *_watchers(agent_id)])
    call = _Shared(lambda: call_data(call_id))
    for group in groups:
        push(group, f"call:{call_id}", "call", call)
    call.expire()
    # after the call's fan-out has begun: each socket handles its messages in order, so a second
    # message published at once would hold every later socket's `call` behind it
    for group in groups:
        push(group, f"agent:{agent_id}", "agent", lambda: board_data(agent_id), background=True)
    _push_figures(own, agent_id, groups)


def agent_status_changed(agent_id: int, **kwargs: Any) -> None:
    own = agent_group(agent_id)
    groups = listening([own, *_watchers(agent_id)])
    board = _Shared(lambda: board_data(agent_id))
    for group in groups:
        push(group, f"agent:{agent_id}", "agent", board)
    board.expire()
    _push_figures(own, agent_id, groups)  # logged-in and break time; utilisation follows states


def _push_figures(own: str, agent_id: int, groups: list[str]) -> None:
    for group in groups:
        if group == own:
            push(own, "agent_stats", "agent_stats", lambda: agent_stats_data(agent_id), background=True)
        else:
            push(group, "kpi", "kpi", _kpi(group), background=True)


def counters_changed() -> None:
    """Any committed change of counters, WhatsApp's included: the KPI strips being watched.

    The hook does not say whose counters changed, so every watched strip is refreshed, with its own
    scope, at most once per REALTIME_KPI_REFRESH_SECONDS; calls and agent states also push their
    teams' strips at once (above).
    """
    from crm.models import Team

    groups = listening([ORG, *(team_group(t) for t in Team.objects.values_list("pk", flat=True))])
    for group in groups:
        push(group, "kpi:any", "kpi", _kpi(group), window=settings.REALTIME_KPI_REFRESH_SECONDS, background=True)


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
