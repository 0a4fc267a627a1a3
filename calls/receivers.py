"""Browser login/logout record an agent's session and state (API.md "Agent time")."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from calls.actions import do_agent_login, do_agent_logout
from crm.models import Role, User


@receiver(user_logged_in, dispatch_uid="calls-agent-login")
def agent_logged_in(sender, request, user, **kwargs) -> None:
    if isinstance(user, User) and user.role == Role.AGENT:
        do_agent_login(user)


@receiver(user_logged_out, dispatch_uid="calls-agent-logout")
def agent_logged_out(sender, request, user, **kwargs) -> None:
    if isinstance(user, User) and user.role == Role.AGENT:
        do_agent_logout(user)


def agent_presence(agent_ids: list[int]) -> dict[int, str]:
    """Current state of each agent (crm.bot assigns WhatsApp chats to available agents first)."""
    from calls.models import AgentStatusPeriod

    return dict(
        AgentStatusPeriod.objects.filter(agent_id__in=agent_ids, ended_at__isnull=True).values_list(
            "agent_id", "status"
        )
    )
