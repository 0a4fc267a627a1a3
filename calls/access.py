"""Who may touch what (API.md "Auth"): an unknown id is 404, someone else's data is 403 — everywhere."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, PermissionDenied

from calls.models import CallLog, TwilioSyncRun
from crm.access import current_user  # noqa: F401 - one definition, used by calls views too
from crm.models import User


def agent_for(user: User, agent_id: int | str) -> User:
    try:
        agent = User.objects.get(pk=int(agent_id))
    except (User.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"There is no user with id {agent_id}.") from None
    if not user.is_admin and not User.objects.visible_to(user).filter(pk=agent.pk).exists():  # admins see all
        raise PermissionDenied("You may not see this agent's data.")
    return agent


def call_for(user: User, call_id: int | str) -> CallLog:
    try:
        call = CallLog.objects.select_related("agent").get(pk=int(call_id))
    except (CallLog.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"There is no call with id {call_id}.") from None
    if not CallLog.objects.for_user(user).filter(pk=call.pk).exists():
        raise PermissionDenied("This call belongs to another agent.")
    return call


def sync_run_for(user: User, run_id: int | str) -> TwilioSyncRun:
    """Agents read the runs they started; supervisors also their teams' agents' runs and the scheduled
    ones (a sync corrects every agent's calls of its day); admins every run."""
    try:
        run = TwilioSyncRun.objects.get(pk=int(run_id))
    except (TwilioSyncRun.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"There is no Twilio sync with id {run_id}.") from None
    if user.is_admin:
        return run
    if run.requested_by_id is None:
        allowed = user.is_supervisor
    else:
        allowed = User.objects.visible_to(user).filter(pk=run.requested_by_id).exists()
    if not allowed:
        raise PermissionDenied("This Twilio sync was started by someone else.")
    return run
