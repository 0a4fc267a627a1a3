"""Request and response shapes of the conversations API (docs/api.md "WhatsApp")."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import Conversation, ConversationStatus, Message, Priority


def validated(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    """`data` checked by the serializer (a 400 with every field's message otherwise), as validated_data."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ConversationQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConversationStatus.choices, required=False)
    limit = serializers.IntegerField(
        required=False,
        default=100,
        min_value=1,
        max_value=1000,
        error_messages={"max_value": "limit may be at most 1000.", "min_value": "limit must be at least 1."},
    )


class AssignSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField()


class PrioritySerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices)


class MessageSerializer(serializers.ModelSerializer):
    message_id = serializers.IntegerField(source="pk", read_only=True)

    class Meta:
        model = Message
        fields = [
            "message_id",
            "direction",
            "author_type",
            "agent_id",
            "body",
            "media_count",
            "status",
            "twilio_sid",
            "error_code",
            "error_message",
            "created_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
        ]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    conversation_id = serializers.IntegerField(source="pk", read_only=True)
    contact_name = serializers.CharField(source="contact.name", read_only=True)
    contact_phone = serializers.CharField(source="contact.phone", read_only=True)
    assigned_agent = serializers.CharField(source="assigned_agent.username", read_only=True, default=None)

    class Meta:
        model = Conversation
        fields = [
            "conversation_id",
            "contact_id",
            "contact_name",
            "contact_phone",
            "channel",
            "campaign_id",
            "assigned_agent_id",
            "assigned_agent",
            "status",
            "priority",
            "our_number",
            "created_at",
            "last_message_at",
            "handled_by_bot_first",
            "escalated_to_human",
            "escalated_at",
            "first_response_at",
            "resolved_at",
            "resolved_by_id",
            "reopened_count",
            "csat_requested_at",
            "csat_score",
            "csat_received_at",
        ]
        read_only_fields = fields


class ConversationDetailSerializer(ConversationSerializer):
    messages = serializers.SerializerMethodField()

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]
        read_only_fields = fields

    @extend_schema_field(MessageSerializer(many=True))
    def get_messages(self, conversation: Conversation) -> Any:
        return MessageSerializer(conversation.messages.order_by("created_at", "pk"), many=True).data
