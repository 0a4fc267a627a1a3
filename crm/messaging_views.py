"""WhatsApp messaging HTTP endpoints: agent replies (`POST /api/conversations/{id}/messages`), the
senders list (`GET /api/whatsapp/senders`) and Twilio's message status callback
(`POST /webhooks/twilio/messaging/status`; Twilio signs every request and nothing unsigned is written)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import actions, messaging
from crm.access import conversation_for, current_user
from crm.errors import ActionError
from crm.models import WhatsAppSender
from crm.serializers import MessageSerializer
from crm.twilio_account import twilio_webhook, webhook_error

logger = logging.getLogger(__name__)


@twilio_webhook
def message_status(request: HttpRequest) -> HttpResponse:
    """Message status callback: store it, apply it if its message is known, answer 204."""
    payload = {key: request.POST.get(key, "") for key in request.POST}
    try:
        actions.do_record_message_status_event(payload)
    except ActionError as exc:
        return webhook_error(exc.code, exc.detail, exc.status)
    return HttpResponse(status=204)


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text=f"Text, up to {messaging.MAX_BODY_LENGTH} characters."
    )


class ConversationMessagesView(APIView):
    """An agent's reply: agents in their own (assigned) conversations, supervisors their teams', admins all."""

    @extend_schema(request=ReplySerializer, responses={201: MessageSerializer})
    def post(self, request: Request, conversation_id: int) -> Response:
        user = current_user(request)
        conversation = conversation_for(user, conversation_id)
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = actions.do_send_agent_reply(conversation, user, serializer.validated_data["body"])
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class SenderSerializer(serializers.ModelSerializer):
    queue_depth = serializers.SerializerMethodField(help_text="Outbound messages still queued/accepted/sending.")

    class Meta:
        model = WhatsAppSender
        fields = ["id", "phone", "name", "status", "is_default", "last_seen_at", "queue_depth"]
        read_only_fields = fields

    def get_queue_depth(self, sender: WhatsAppSender) -> int:
        return self.context["depths"].get(sender.pk, 0)


class WhatsAppSenderListView(APIView):
    """Our WhatsApp numbers with their health and queue depth (supervisors and admins)."""

    @extend_schema(responses={200: SenderSerializer(many=True)})
    def get(self, request: Request) -> Response:
        user = current_user(request)
        if not (user.is_admin or user.is_supervisor):
            raise PermissionDenied("Only supervisors and admins may see the WhatsApp senders.")
        senders = WhatsAppSender.objects.all()
        context = {"depths": messaging.sender_queue_depths()}
        return Response(SenderSerializer(senders, many=True, context=context).data)
