"""The live agent board: each agent's current state, since when, and the call in progress.

One row shape serves the board API (`GET /api/agents/board`), the agent console's first paint and the
realtime "agent" events, so a page never has to reconcile two shapes of the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.utils import timezone

from calls.models import AgentStatus, AgentStatusPeriod, CallLog, CallStatus
from crm.models import User


def _name(user: User) -> str:
    return f"{user.first_name} {user.last_name}".strip() or user.username


def board_rows(agent_ids: Iterable[int] | None = None, *, working_only: bool = False) -> list[dict[str, Any]]:
    """Rows for `agent_ids` (None: everyone), sorted by name; a few queries whatever the count.

    `working_only` keeps people with role agent plus anyone else on a call or in a state other than
    offline (a supervisor taking calls shows on the board; an idle one does not).
    """
    users = User.objects.prefetch_related("teams").order_by("first_name", "last_name", "username")
    if agent_ids is not None:
        users = users.filter(pk__in=list(agent_ids))
    if working_only:
        active = AgentStatusPeriod.objects.open().exclude(status=AgentStatus.OFFLINE).values("agent_id")
        on_call = CallLog.objects.filter(status=CallStatus.IN_PROGRESS).values("agent_id")
        users = users.filter(Q(role="agent") | Q(pk__in=active) | Q(pk__in=on_call))
    people = list(users)
    ids = [u.pk for u in people]
    states = {
        p.agent_id: p
        for p in AgentStatusPeriod.objects.open().filter(agent_id__in=ids).order_by("agent_id", "started_at")
    }
    calls: dict[int, CallLog] = {}
    for call in CallLog.objects.filter(agent_id__in=ids, status=CallStatus.IN_PROGRESS).order_by("started_at"):
        calls[call.agent_id] = call  # the newest call in progress wins
    return [_row(user, states.get(user.pk), calls.get(user.pk)) for user in people]


def board_row(agent_id: int) -> dict[str, Any] | None:
    rows = board_rows([agent_id])
    return rows[0] if rows else None


def _row(user: User, state: AgentStatusPeriod | None, call: CallLog | None) -> dict[str, Any]:
    return {
        "agent_id": user.pk,
        "agent_name": _name(user),
        "username": user.username,
        "teams": sorted(({"id": t.pk, "name": t.name} for t in user.teams.all()), key=lambda t: t["name"]),
        "status": state.status if state else AgentStatus.OFFLINE.value,
        "reason": state.reason if state else "",
        "since": state.started_at.isoformat() if state else None,
        "current_call": _call(call) if call else None,
        "timestamp": timezone.now().isoformat(),
    }


def _call(call: CallLog) -> dict[str, Any]:
    return {
        "call_id": call.pk,
        "phone_number": call.phone_number,
        "direction": call.direction,
        "contact_id": call.contact_id,
        "campaign_id": call.campaign_id,
        "started_at": call.started_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
    }
