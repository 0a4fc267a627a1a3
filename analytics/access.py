"""Whose numbers a reader may see (API.md "Auth"): agents their own, supervisors their teams',
admins everyone's. A team filter narrows that; a team the reader may not see is 403, an unknown one 404."""

from __future__ import annotations

from dataclasses import dataclass

from crm.access import team_for
from crm.models import Campaign, Role, User
from crm.rollups import EVERYONE, Scope


@dataclass(frozen=True)
class AnalyticsScope:
    """`rollup` filters the counters; `agent_ids` (None: everyone) filters raw rows and agent lists."""

    rollup: Scope
    agent_ids: frozenset[int] | None
    team_id: int | None = None

    @property
    def cache_key(self) -> str:
        if self.agent_ids is None:
            return "all"
        agents = ",".join(str(a) for a in sorted(self.agent_ids))
        campaigns = ",".join(str(c) for c in sorted(self.rollup.campaign_ids))
        return f"a{agents}c{campaigns}"


def _team_scope(team_ids: list[int], *, extra_agents: frozenset[int] = frozenset()) -> AnalyticsScope:
    agents = frozenset(User.objects.filter(teams__in=team_ids).values_list("pk", flat=True)) | extra_agents
    campaigns = frozenset(Campaign.objects.filter(team__in=team_ids).values_list("pk", flat=True))
    return AnalyticsScope(Scope(agents, campaigns), agents, team_ids[0] if len(team_ids) == 1 else None)


def scope_for(user: User, *, team_id: int | str | None = None) -> AnalyticsScope:
    is_admin = user.role == Role.ADMIN or user.is_superuser
    if team_id not in (None, ""):
        return _team_scope([team_for(user, team_id).pk])  # type: ignore[arg-type]
    if is_admin:
        return AnalyticsScope(EVERYONE, None)
    if user.role == Role.SUPERVISOR:
        teams = list(user.supervised_teams.values_list("pk", flat=True))
        return _team_scope(teams, extra_agents=frozenset({user.pk}))
    return AnalyticsScope(Scope(frozenset({user.pk})), frozenset({user.pk}))


def team_scope(team_id: int) -> AnalyticsScope:
    """One team's numbers (the caller's access to the team is checked by whoever names it)."""
    return _team_scope([team_id])


def agent_scope(agent: User) -> AnalyticsScope:
    """One agent's own numbers (the caller's access to `agent` is checked by calls.access.agent_for)."""
    return AnalyticsScope(Scope(frozenset({agent.pk})), frozenset({agent.pk}))
