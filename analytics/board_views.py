"""`GET /api/agents/board`: every visible agent's current state (the supervisor dashboard's live board)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.access import scope_for
from calls.board import board_rows
from crm.access import current_user
from crm.models import User

BoardRow = inline_serializer(
    "AgentBoardRow",
    {
        "agent_id": serializers.IntegerField(),
        "agent_name": serializers.CharField(),
        "username": serializers.CharField(),
        "teams": inline_serializer(
            "AgentBoardTeam", {"id": serializers.IntegerField(), "name": serializers.CharField()}, many=True
        ),
        "status": serializers.CharField(help_text="available, on_call, wrap_up, break, away or offline"),
        "reason": serializers.CharField(help_text="The break's reason, empty otherwise."),
        "since": serializers.DateTimeField(allow_null=True, help_text="When the current state began."),
        "current_call": serializers.DictField(allow_null=True, help_text="The call in progress, if any."),
        "timestamp": serializers.DateTimeField(),
    },
    many=True,
)


class AgentBoardView(APIView):
    @extend_schema(
        operation_id="agent_board",
        description="Each visible agent's current state, since when, and the call in progress (VICIdial-style "
        "board). Agents see themselves, supervisors their teams, admins everyone; `team_id` narrows it.",
        parameters=[OpenApiParameter("team_id", int, description="One team (admins: any; supervisors: their own).")],
        responses={
            200: inline_serializer("AgentBoard", {"results": BoardRow, "timestamp": serializers.DateTimeField()})
        },
    )
    def get(self, request: Request) -> Response:
        team_id = request.query_params.get("team_id") or None
        if team_id is not None and not team_id.isdigit():
            raise ValidationError({"team_id": [f"team_id must be a team's number, not {team_id!r}."]})
        user = current_user(request)
        scope = scope_for(user, team_id=team_id)
        if scope.agent_ids is None:
            rows = board_rows()
        else:
            ids = set(scope.agent_ids) if team_id else set(User.objects.visible_to(user).values_list("pk", flat=True))
            rows = board_rows(ids)
        return Response({"results": rows, "timestamp": timezone.now().isoformat()})
