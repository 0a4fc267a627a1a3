"""Who may see and set up which reports (API.md "Reporting", "Auth").

Admins: every subscription and delivery. Supervisors: those whose scope is a team they supervise or an
agent of one of those teams; an organisation-wide report is for admins only. Agents: none (they may
read templates). An unknown id is 404, someone else's report 403 — as everywhere in the API.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Q, QuerySet
from rest_framework.exceptions import NotFound, PermissionDenied

from crm.models import Team, User
from reporting.models import ReportDelivery, ReportSubscription

_Row = TypeVar("_Row", ReportSubscription, ReportDelivery)


def require_report_manager(user: User) -> None:
    """Subscriptions, deliveries, generate and send are for supervisors and admins."""
    if not (user.is_admin or user.is_supervisor):
        raise PermissionDenied("Reports are set up by supervisors and admins; agents may only read templates.")


def _supervised_team_ids(user: User) -> list[int]:
    return list(user.supervised_teams.values_list("pk", flat=True))


def _in_scope(user: User) -> Q:
    teams = _supervised_team_ids(user)
    return Q(team__in=teams) | Q(agent__teams__in=teams)


def _visible(user: User, rows: QuerySet[_Row]) -> QuerySet[_Row]:
    if user.is_admin:
        return rows
    if not user.is_supervisor:
        return rows.none()
    # A subquery of ids, not .distinct(): the agent's team join repeats rows, and DISTINCT would
    # also have to cover the ordering columns on PostgreSQL.
    return rows.filter(pk__in=rows.model._default_manager.filter(_in_scope(user)).values("pk"))


def subscriptions_for(user: User) -> QuerySet[ReportSubscription]:
    return _visible(user, ReportSubscription.objects.all())


def deliveries_for(user: User) -> QuerySet[ReportDelivery]:
    return _visible(user, ReportDelivery.objects.all())


def _one(user: User, rows: QuerySet[_Row], row_id: int | str, what: str) -> _Row:
    try:
        row = rows.get(pk=int(row_id))
    except (rows.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"There is no {what} with id {row_id}.") from None
    require_report_manager(user)
    if not _visible(user, rows.model._default_manager.filter(pk=row.pk)).exists():
        raise PermissionDenied(f"This {what} is about a team or agent you do not supervise.")
    return row


def subscription_for(user: User, subscription_id: int | str) -> ReportSubscription:
    rows = ReportSubscription.objects.select_related("team", "agent", "template", "periodic_task__crontab")
    return _one(user, rows, subscription_id, "report subscription")


def delivery_for_user(user: User, delivery_id: int | str) -> ReportDelivery:
    return _one(user, ReportDelivery.objects.select_related("subscription"), delivery_id, "report delivery")


def check_scope(user: User, team: Team | None, agent: User | None) -> None:
    """May `user` set up (or generate) a report about this team, agent or, with neither, the whole
    organisation? PermissionDenied with the reason otherwise."""
    require_report_manager(user)
    if user.is_admin:
        return
    teams = _supervised_team_ids(user)
    if team is not None:
        if team.pk not in teams:
            raise PermissionDenied(f"You may only set up reports for a team you supervise, not {team.name}.")
    elif agent is not None:
        if not agent.teams.filter(pk__in=teams).exists():
            raise PermissionDenied(
                f"You may only set up reports for an agent of a team you supervise; {agent} is not one."
            )
    else:
        raise PermissionDenied(
            "Only admins may set up organisation-wide reports; choose a team you supervise or one of its agents."
        )
