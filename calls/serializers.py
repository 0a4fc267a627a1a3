"""Request and response shapes of the calls API (field names fixed by API.md)."""

from __future__ import annotations

from rest_framework import serializers

from calls.models import (
    FINAL_CALL_STATUSES,
    AgentStatus,
    BreakReason,
    CallDirection,
    CallLog,
    CallOutcome,
    CallStatus,
)
from crm.models import BusinessReason, Campaign, Contact


class LocalDateField(serializers.DateField):
    """A local calendar day; years far from now are refused (the day after 9999-12-31 does not exist)."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not 1900 <= day.year <= 9000:
            raise serializers.ValidationError(f"{day.isoformat()} is not a date this service has data for.")
        return day


class StartCallSerializer(serializers.Serializer):
    phone_number = serializers.CharField(max_length=40)
    contact_id = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(),
        required=False,
        allow_null=True,
        source="contact",
        error_messages={"does_not_exist": "There is no contact with id {pk_value}."},
    )
    campaign_id = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(),
        required=False,
        allow_null=True,
        source="campaign",
        error_messages={"does_not_exist": "There is no campaign with id {pk_value}."},
    )
    direction = serializers.ChoiceField(choices=CallDirection.choices, default=CallDirection.OUTBOUND)
    started_at = serializers.DateTimeField(required=False)
    agent_id = serializers.IntegerField(required=False, help_text="Admins only: start the call for this agent.")


class CallIdSerializer(serializers.Serializer):
    call_id = serializers.IntegerField()


class AnsweredSerializer(CallIdSerializer):
    answered_at = serializers.DateTimeField(required=False)


class EndCallSerializer(CallIdSerializer):
    status = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in FINAL_CALL_STATUSES],
        error_messages={
            "invalid_choice": "{input} is not a final call status (completed, no_answer, busy, failed, dropped)."
        },
    )
    outcome = serializers.ChoiceField(choices=CallOutcome.choices, required=False, allow_blank=True, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    ended_at = serializers.DateTimeField(required=False)


class DispositionSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=CallOutcome.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    business_reason = serializers.ChoiceField(
        choices=BusinessReason.choices, required=False, allow_blank=True, default=""
    )
    callback_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class CallLogQuerySerializer(serializers.Serializer):
    user_id = serializers.IntegerField(required=False)
    team_id = serializers.IntegerField(required=False, help_text="Calls of one team's members (supervisors: own).")
    start_date = LocalDateField(required=False)
    end_date = LocalDateField(required=False)
    status = serializers.CharField(required=False)
    limit = serializers.IntegerField(
        required=False,
        default=100,
        min_value=1,
        max_value=1000,
        error_messages={"max_value": "limit may be at most 1000.", "min_value": "limit must be at least 1."},
    )

    def validate_status(self, value: str) -> str:
        if value not in CallStatus.values:
            raise serializers.ValidationError(f"{value!r} is not a call status ({', '.join(CallStatus.values)}).")
        return value

    def validate(self, attrs):
        if attrs.get("start_date") and attrs.get("end_date") and attrs["end_date"] < attrs["start_date"]:
            raise serializers.ValidationError({"end_date": "end_date is before start_date."})
        return attrs


class CallLogSerializer(serializers.ModelSerializer):
    call_id = serializers.IntegerField(source="pk", read_only=True)
    agent_id = serializers.IntegerField(read_only=True)
    agent = serializers.CharField(source="agent.username", read_only=True)

    class Meta:
        model = CallLog
        fields = [
            "call_id",
            "agent_id",
            "agent",
            "contact_id",
            "campaign_id",
            "phone_number",
            "direction",
            "status",
            "outcome",
            "started_at",
            "answered_at",
            "ended_at",
            "duration_seconds",
            "wrap_up_seconds",
            "disposition_at",
            "business_reason",
            "callback_at",
            "notes",
            "twilio_call_sid",
            "external_id",
            "price",
            "price_unit",
            "source",
        ]
        read_only_fields = fields


class AgentStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AgentStatus.choices)
    reason = serializers.ChoiceField(choices=BreakReason.choices, required=False, allow_blank=True, default="")


class TimelineQuerySerializer(serializers.Serializer):
    date = LocalDateField(required=False)
