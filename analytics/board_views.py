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
from calls.access import agent_for
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
        "board). Agents see themselves, supervisors their teams, admins everyone: people with role agent, "
        "plus anyone else on a call or not offline. `team_id` narrows it; `agent_id` asks for one row.",
        parameters=[
            OpenApiParameter("team_id", int, description="One team (admins: any; supervisors: their own)."),
            OpenApiParameter("agent_id", int, description="One person's row (yourself, or someone you may see)."),
        ],
        responses={
            200: inline_serializer("AgentBoard", {"results": BoardRow, "timestamp": serializers.DateTimeField()})
        },
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        agent_id = request.query_params.get("agent_id") or None
        if agent_id is not None:
            if not agent_id.isdigit():
                raise ValidationError({"agent_id": [f"agent_id must be a person's number, not {agent_id!r}."]})
            rows = board_rows([agent_for(user, agent_id).pk])
        else:
            scope = scope_for(user, team_id=request.query_params.get("team_id") or None)
            if scope.agent_ids is None:
                rows = board_rows(working_only=True)
            else:
                team_filtered = scope.team_id is not None and request.query_params.get("team_id")
                ids = scope.agent_ids if team_filtered else User.objects.visible_to(user).values_list("pk", flat=True)
                rows = board_rows(ids, working_only=True)
        return Response({"results": rows, "timestamp": timezone.now().isoformat()})
