"""Who may touch what (API.md "Auth"): an unknown id is 404, someone else's data is 403 — everywhere."""

from __future__ import annotations

from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied, ValidationError

from crm.models import Conversation, Team, User


def current_user(request) -> User:
    """The authenticated user of an API request (IsAuthenticated has already run)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def conversation_for(user: User, conversation_id: int | str) -> Conversation:
    try:
        conversation = Conversation.objects.select_related("contact").get(pk=int(conversation_id))
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"There is no conversation with id {conversation_id}.") from None
    if not Conversation.objects.for_user(user).filter(pk=conversation.pk).exists():
        raise PermissionDenied("This conversation belongs to another agent's queue.")
    return conversation


def team_for(user: User, team_id: int | str) -> Team:
    """A team `user` may filter by: any for admins, their own for supervisors (400 / 404 / 403 otherwise)."""
    if not str(team_id).isdigit():
        raise ValidationError({"team_id": [f"team_id must be a team's number, not {team_id!r}."]})
    try:
        team = Team.objects.get(pk=int(team_id))
    except Team.DoesNotExist:
        raise NotFound(f"There is no team with id {team_id}.") from None
    if not user.is_admin and not team.supervisors.filter(pk=user.pk).exists():
        raise PermissionDenied("You may only filter by a team you supervise.")
    return team
