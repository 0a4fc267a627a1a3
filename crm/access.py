"""Who may touch what (API.md "Auth"): an unknown id is 404, someone else's data is 403 — everywhere."""

from __future__ import annotations

from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied

from crm.models import Conversation, User


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
