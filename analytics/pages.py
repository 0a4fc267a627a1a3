"""The two live pages: the agent console (`/agent/`) and the supervisor dashboard (`/dashboard/`).

The pages are thin: a template, its script and a `page-config` JSON block (who is looking, where the
API and the socket are, the timer thresholds, translated choice labels). Every number on them comes
from the API (API.md) and from `/ws/dashboard/` events, never from the template.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from analytics import call_metrics
from analytics.registry import get as get_metric
from calls.board import board_row
from calls.models import FINAL_CALL_STATUSES, AgentStatus, BreakReason, CallDirection, CallOutcome, CallStatus
from crm.models import Team, User


def _choices(choices: Any, only: Any = None) -> list[dict[str, str]]:
    return [{"value": value, "label": str(label)} for value, label in choices.choices if only is None or value in only]


def _common(user: User) -> dict[str, Any]:
    return {
        "user": {"id": user.pk, "name": user.get_full_name() or user.username, "role": user.role},
        "ws_path": "/ws/dashboard/",
        # which calls are "today's" is decided in the organisation's zone (METRICS.md "Time")
        "time_zone": settings.TIME_ZONE,
        "poll_seconds": settings.DASHBOARD_POLL_SECONDS,
        "choices": {
            "agent_status": _choices(AgentStatus),
            "break_reason": _choices(BreakReason),
            "call_status": _choices(CallStatus),
            "final_call_status": _choices(CallStatus, FINAL_CALL_STATUSES),
            "call_outcome": _choices(CallOutcome),
            "call_direction": _choices(CallDirection),
        },
    }


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Everyone lands on their own page: agents on the console, supervisors and admins on the dashboard."""
    user: User = request.user  # type: ignore[assignment]
    return redirect("supervisor-dashboard" if user.is_admin or user.is_supervisor else "agent-console")


@require_GET
@login_required
def agent_console(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    config = {
        **_common(user),
        "timer": {"amber_seconds": settings.CALL_TIMER_AMBER_SECONDS, "red_seconds": settings.CALL_TIMER_RED_SECONDS},
        "board": board_row(user.pk),
        # units pick the format (seconds as h:mm:ss); formulas are the cards' "how is this computed"
        "metrics": {
            key: {"unit": get_metric(key).unit, "formula": get_metric(key).formula}
            for key in (*call_metrics.AGENT_STATS, *call_metrics.AGENT_KPIS)
        },
    }
    return render(request, "analytics/agent.html", {"page_config": config})


@require_GET
@login_required
def supervisor_dashboard(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not (user.is_admin or user.is_supervisor):
        raise PermissionDenied("The supervisor dashboard is for supervisors and admins.")
    teams = Team.objects.all() if user.is_admin else user.supervised_teams.all()
    config = {
        **_common(user),
        "teams": [{"id": t.pk, "name": t.name} for t in teams.order_by("name")],
    }
    return render(request, "analytics/dashboard.html", {"page_config": config})
