"""The conversations API (docs/api.md "WhatsApp"). Views are thin: authorise, validate, call one action,
serialise."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import actions
from crm.access import conversation_for, current_user
from crm.models import Conversation, User
from crm.serializers import (
    AssignSerializer,
    ConversationDetailSerializer,
    ConversationQuerySerializer,
    ConversationSerializer,
    PrioritySerializer,
    validated,
)


def _in_unassigned_queue_of(user: User, conversation: Conversation) -> bool:
    """An unassigned conversation belongs to its campaign team's queue (everyone's when it has no team):
    that team's supervisors may assign it and its agents may take it."""
    if conversation.assigned_agent_id is not None:
        return False
    team_id = conversation.campaign.team_id if conversation.campaign else None
    if team_id is None:
        return True
    teams = user.supervised_teams if user.is_supervisor else user.teams
    return teams.filter(pk=team_id).exists()


class ConversationListView(APIView):
    @extend_schema(
        operation_id="conversations_list",
        parameters=[ConversationQuerySerializer],
        responses=inline_serializer(
            "ConversationPage",
            {"count": serializers.IntegerField(), "results": ConversationSerializer(many=True)},
        ),
    )
    def get(self, request: Request) -> Response:
        query = validated(ConversationQuerySerializer, request.query_params)
        conversations = Conversation.objects.for_user(current_user(request)).select_related("contact", "assigned_agent")
        if "status" in query:
            conversations = conversations.filter(status=query["status"])
        rows = conversations.order_by("-created_at", "-pk")[: query["limit"]]
        results = ConversationSerializer(rows, many=True).data
        return Response({"count": len(results), "results": results})


class ConversationDetailView(APIView):
    @extend_schema(responses=ConversationDetailSerializer)
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = conversation_for(current_user(request), conversation_id)
        return Response(ConversationDetailSerializer(conversation).data)


class ConversationAssignView(APIView):
    """Supervisors assign their teams' conversations to their teams' agents (or themselves), admins any to
    anyone; an agent may only take an unassigned conversation of their team's queue for themselves."""

    @extend_schema(request=AssignSerializer, responses=ConversationSerializer)
    def post(self, request: Request, conversation_id: int) -> Response:
        user = current_user(request)
        try:
            conversation = conversation_for(user, conversation_id)
        except PermissionDenied:
            conversation = Conversation.objects.select_related("contact", "campaign").get(pk=conversation_id)
            if not _in_unassigned_queue_of(user, conversation):
                raise
        data = validated(AssignSerializer, request.data)
        agent = User.objects.filter(pk=data["agent_id"], is_active=True).first()
        if agent is None:
            raise NotFound(f"There is no active user with id {data['agent_id']}.")
        if not (user.is_admin or user.is_supervisor):
            if agent.pk != user.pk:
                raise PermissionDenied("Agents may only take conversations for themselves.")
            if conversation.assigned_agent_id not in (None, user.pk):
                raise PermissionDenied("This conversation is already assigned to another agent.")
        elif not User.objects.visible_to(user).filter(pk=agent.pk).exists():
            raise PermissionDenied("You may only assign conversations to the agents of your teams.")
        conversation = actions.do_assign_conversation(conversation, agent, by=user)
        return Response(ConversationSerializer(conversation).data)


class ConversationPriorityView(APIView):
    @extend_schema(request=PrioritySerializer, responses=ConversationSerializer)
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = conversation_for(current_user(request), conversation_id)
        data = validated(PrioritySerializer, request.data)
        conversation = actions.do_set_conversation_priority(conversation, data["priority"])
        return Response(ConversationSerializer(conversation).data)


class ConversationResolveView(APIView):
    @extend_schema(request=None, responses=ConversationSerializer)
    def post(self, request: Request, conversation_id: int) -> Response:
        user = current_user(request)
        conversation = actions.do_resolve_conversation(conversation_for(user, conversation_id), by=user)
        return Response(ConversationSerializer(conversation).data)


class ConversationReopenView(APIView):
    @extend_schema(request=None, responses=ConversationSerializer)
    def post(self, request: Request, conversation_id: int) -> Response:
        user = current_user(request)
        conversation = actions.do_reopen_conversation(conversation_for(user, conversation_id), by=user)
        return Response(ConversationSerializer(conversation).data)
