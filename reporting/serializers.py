"""Request and response shapes of the reporting API (API.md "Reporting"; field names fixed there).

Every bad value is refused with a sentence naming it (400), before anything is written.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone as dj_timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from analytics.periods import MAX_CUSTOM_DAYS
from calls.serializers import LocalDateField
from crm.models import Team, User
from reporting.delivery import validate_recipients
from reporting.models import (
    WEEKDAYS,
    DeliveryMethod,
    DeliveryStatus,
    ReportDelivery,
    ReportSubscription,
    ReportTemplate,
    ReportType,
    template_syntax_error,
)
from reporting.schedules import next_run, parse_hh_mm, parse_weekdays, schedule_text, zone_error

# --- values people type ----------------------------------------------------------------------------------


def recipients_error(method: str, recipients: list[str]) -> tuple[list[str], str | None]:
    """The recipients (each once, in order), and why they cannot receive reports sent by `method`
    (None when they can). The rules are reporting.delivery's: e-mail addresses, or Slack webhooks on
    an allowed host; at least one."""
    cleaned = list(dict.fromkeys(r.strip() for r in recipients if r.strip()))
    errors = validate_recipients(method, cleaned)
    return cleaned, " ".join(errors) if errors else None


@extend_schema_field({"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "example": "08:00"})
class HourMinuteField(serializers.Field):
    """A local clock time as "HH:MM"."""

    default_error_messages = {"invalid": "{message}"}

    def to_internal_value(self, data: Any) -> time:
        try:
            return parse_hh_mm(data)
        except ValueError as exc:
            self.fail("invalid", message=str(exc))
        raise AssertionError("unreachable")

    def to_representation(self, value: time | str) -> str:
        if isinstance(value, str):
            return parse_hh_mm(value).strftime("%H:%M")
        return value.strftime("%H:%M")


@extend_schema_field({"type": "array", "items": {"type": "string", "enum": WEEKDAYS}})
class WeekdaysField(serializers.Field):
    """Weekday names, e.g. ["Monday", "Thursday"]."""

    default_error_messages = {
        "invalid": "{message}",
        "not_a_list": 'Delivery days must be a list of weekday names, e.g. ["Monday", "Thursday"].',
    }

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        try:
            return parse_weekdays(data)
        except ValueError as exc:
            self.fail("invalid", message=str(exc))
        raise AssertionError("unreachable")

    def to_representation(self, value: list[str]) -> list[str]:
        return list(value)


class TimeZoneField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, required=False, allow_blank=True, allow_null=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        name = super().to_internal_value(data).strip()
        error = zone_error(name) if name else None
        if error:
            raise serializers.ValidationError(error)
        return name


def _choice(choices: Any, what: str, **kwargs: Any) -> serializers.ChoiceField:
    options = " or ".join(choices.values)
    return serializers.ChoiceField(
        choices=choices.choices,
        error_messages={"invalid_choice": f'"{{input}}" is not a {what}: use {options}.'},
        **kwargs,
    )


def _recipients_field(**kwargs: Any) -> serializers.ListField:
    kwargs.setdefault("help_text", "E-mail addresses; for Slack, incoming-webhook URLs on an allowed host.")
    return serializers.ListField(
        child=serializers.CharField(max_length=2000, trim_whitespace=True, allow_blank=True),
        error_messages={"not_a_list": "Recipients must be a list: e-mail addresses, or Slack webhook URLs."},
        **kwargs,
    )


def _related(queryset: Any, source: str, what: str, **kwargs: Any) -> serializers.PrimaryKeyRelatedField:
    return serializers.PrimaryKeyRelatedField(
        queryset=queryset,
        source=source,
        required=False,
        allow_null=True,
        error_messages={
            "does_not_exist": f"There is no {what} with id {{pk_value}}.",
            "incorrect_type": f"{what.capitalize()} ids are numbers, not {{data_type}}.",
        },
        **kwargs,
    )


# --- templates --------------------------------------------------------------------------------------------


class ReportTemplateSerializer(serializers.ModelSerializer):
    name = serializers.CharField(
        max_length=100,
        validators=[
            UniqueValidator(ReportTemplate.objects.all(), message="There is already a report template with this name.")
        ],
    )

    class Meta:
        model = ReportTemplate
        fields = ["id", "name", "description", "html", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_html(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("A template needs HTML; the built-in template is used when none is set.")
        error = template_syntax_error(value)
        if error:
            raise serializers.ValidationError(error)
        return value


# --- subscriptions ----------------------------------------------------------------------------------------


class ReportSubscriptionSerializer(serializers.ModelSerializer):
    name = serializers.CharField(
        max_length=200, required=False, help_text="Defaults to the report type and scope, e.g. “Daily report — Team A”."
    )
    team_id = _related(Team.objects.all(), "team", "team", help_text="The team reported on (or agent_id, or neither).")
    agent_id = _related(User.objects.all(), "agent", "user", help_text="The agent reported on.")
    report_type = _choice(ReportType, "report type", default=ReportType.DAILY)
    delivery_method = _choice(DeliveryMethod, "delivery method", default=DeliveryMethod.EMAIL)
    recipients = _recipients_field()
    delivery_time = HourMinuteField(default=time(8, 0), help_text='Local time "HH:MM" in the subscription\'s zone.')
    delivery_days = WeekdaysField(default=list, help_text="Weekday names; empty: every day (daily) or Monday (weekly).")
    timezone = TimeZoneField(help_text="IANA time zone; empty: the site's TIME_ZONE.")
    template_id = _related(ReportTemplate.objects.all(), "template", "report template")
    owner_id = serializers.IntegerField(read_only=True, help_text="Who created it (told when a delivery fails).")
    next_run = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()
    scope = serializers.CharField(read_only=True)

    class Meta:
        model = ReportSubscription
        fields = [
            "id",
            "name",
            "scope",
            "team_id",
            "agent_id",
            "report_type",
            "delivery_method",
            "recipients",
            "delivery_time",
            "delivery_days",
            "timezone",
            "template_id",
            "is_active",
            "skip_if_empty",
            "owner_id",
            "schedule",
            "next_run",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "owner_id", "created_at", "updated_at"]

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_next_run(self, subscription: ReportSubscription) -> str | None:
        when = next_run(subscription)
        return when.isoformat() if when else None

    def get_schedule(self, subscription: ReportSubscription) -> str:
        return schedule_text(subscription)

    def to_representation(self, instance: ReportSubscription) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["timezone"] = instance.timezone or None
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance
        team = attrs["team"] if "team" in attrs else getattr(current, "team", None)
        agent = attrs["agent"] if "agent" in attrs else getattr(current, "agent", None)
        errors: dict[str, str] = {}
        if team is not None and agent is not None:
            errors["agent_id"] = "Choose a team or an agent, not both."
        method = attrs.get("delivery_method", getattr(current, "delivery_method", DeliveryMethod.EMAIL))
        if "recipients" in attrs or "delivery_method" in attrs or current is None:
            recipients = attrs.get("recipients", getattr(current, "recipients", []))
            cleaned, problem = recipients_error(method, recipients)
            if problem:
                errors["recipients"] = problem
            else:
                attrs["recipients"] = cleaned
        if errors:
            raise serializers.ValidationError(errors)
        if "timezone" in attrs:
            attrs["timezone"] = attrs["timezone"] or ""
        if current is None and not attrs.get("name"):
            attrs["name"] = default_name(attrs.get("report_type", ReportType.DAILY), team, agent)
        return attrs


def default_name(report_type: str, team: Team | None, agent: User | None) -> str:
    kind = ReportType(report_type).label
    scope = team.name if team else (agent.get_full_name() or agent.get_username()) if agent else "Organisation"
    return f"{kind} report — {scope}"


# --- deliveries -------------------------------------------------------------------------------------------


class ReportDeliverySerializer(serializers.ModelSerializer):
    """A delivery. `data` (the report's figures as built) only with context {"with_data": True}: a
    single delivery, not the list. (One serializer, so the schema has one delivery component.)"""

    subscription_id = serializers.IntegerField(read_only=True, allow_null=True)
    team_id = serializers.IntegerField(read_only=True, allow_null=True)
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    requested_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    scope = serializers.CharField(read_only=True)
    title = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    is_empty = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportDelivery
        fields = [
            "id",
            "subscription_id",
            "report_type",
            "scope",
            "team_id",
            "agent_id",
            "delivery_method",
            "recipients",
            "period_start",
            "period_end",
            "timezone",
            "status",
            "attempts",
            "last_error",
            "title",
            "summary",
            "is_empty",
            "pdf_url",
            "requested_by_id",
            "created_at",
            "claimed_at",
            "next_attempt_at",
            "sent_at",
            "data",
        ]
        read_only_fields = fields
        extra_kwargs = {"data": {"help_text": "The report's figures as built; only when one delivery is asked for."}}

    def to_representation(self, instance: ReportDelivery) -> dict[str, Any]:
        representation = super().to_representation(instance)
        if not self.context.get("with_data"):
            representation.pop("data", None)
        return representation

    def get_title(self, delivery: ReportDelivery) -> str | None:
        return (delivery.data or {}).get("title")

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "value": {"type": "string"}},
            },
        }
    )
    def get_summary(self, delivery: ReportDelivery) -> list[dict[str, Any]]:
        return list((delivery.data or {}).get("summary") or [])

    def get_is_empty(self, delivery: ReportDelivery) -> bool | None:
        return (delivery.data or {}).get("is_empty") if delivery.data else None

    def get_pdf_url(self, delivery: ReportDelivery) -> str | None:
        return reverse("reporting-delivery-pdf", kwargs={"delivery_id": delivery.pk}) if delivery.pdf else None


def _limit() -> serializers.IntegerField:
    """At most this many rows, newest first (as every list of the API)."""
    return serializers.IntegerField(
        required=False,
        default=100,
        min_value=1,
        max_value=1000,
        error_messages={"max_value": "limit may be at most 1000.", "min_value": "limit must be at least 1."},
    )


class DeliveryQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=DeliveryStatus.choices,
        required=False,
        error_messages={
            "invalid_choice": f'"{{input}}" is not a delivery status: use {", ".join(DeliveryStatus.values)}.'
        },
    )
    subscription_id = serializers.IntegerField(required=False, min_value=1)
    limit = _limit()


class SubscriptionQuerySerializer(serializers.Serializer):
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)
    limit = _limit()


# --- generate and send ------------------------------------------------------------------------------------


class GenerateSerializer(serializers.Serializer):
    report_type = _choice(ReportType, "report type", default=ReportType.DAILY)
    date = LocalDateField(
        required=False, help_text="A day the report covers (weekly: its Monday–Sunday week). Default: the last period."
    )
    start_date = LocalDateField(required=False, help_text="First day of a custom period (with end_date).")
    end_date = LocalDateField(required=False, help_text="Last day of a custom period, inclusive.")
    team_id = _related(Team.objects.all(), "team", "team")
    agent_id = _related(User.objects.all(), "agent", "user")
    timezone = TimeZoneField(help_text="IANA time zone of the period's days; empty: the site's TIME_ZONE.")
    template_id = _related(ReportTemplate.objects.all(), "template", "report template")
    delivery_method = _choice(DeliveryMethod, "delivery method", default=DeliveryMethod.EMAIL)
    recipients = _recipients_field(required=False, help_text="Send the report to these now.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        if attrs.get("team") is not None and attrs.get("agent") is not None:
            errors["agent_id"] = "Choose a team or an agent, not both."
        start, end, day = attrs.get("start_date"), attrs.get("end_date"), attrs.get("date")
        if day is not None and (start or end):
            errors["date"] = "Give either date or start_date and end_date, not both."
        elif (start is None) != (end is None):
            missing = "end_date" if start else "start_date"
            errors[missing] = "Give both start_date and end_date (inclusive local dates)."
        elif start and end:
            if start > end:
                errors["end_date"] = f"start_date ({start}) is after end_date ({end})."
            elif (end - start).days + 1 > MAX_CUSTOM_DAYS:
                errors["end_date"] = f"A report may cover at most {MAX_CUSTOM_DAYS} days."
        if attrs.get("recipients") is not None:
            cleaned, problem = recipients_error(attrs["delivery_method"], attrs["recipients"])
            if problem:
                errors["recipients"] = problem
            else:
                attrs["recipients"] = cleaned
        if errors:
            raise serializers.ValidationError(errors)
        attrs["start"], attrs["end"] = _generate_period(attrs)
        today = dj_timezone.localtime(dj_timezone.now(), ZoneInfo(attrs.get("timezone") or settings.TIME_ZONE)).date()
        if attrs["start"] > today:
            raise serializers.ValidationError(
                {"start_date" if start else "date": "The period starts after today: there is nothing to report yet."}
            )
        return attrs


def _generate_period(attrs: dict[str, Any]) -> tuple[date, date]:
    """The days a generated report covers: the given range; the day (daily) or its Monday–Sunday week
    (weekly) of `date`; without either, what a report sent today would cover."""
    if attrs.get("start_date"):
        return attrs["start_date"], attrs["end_date"]
    day = attrs.get("date")
    if day is None:
        from reporting.content import report_period

        zone = ZoneInfo(attrs.get("timezone") or settings.TIME_ZONE)
        return report_period(attrs["report_type"], dj_timezone.localtime(dj_timezone.now(), zone).date())
    if attrs["report_type"] == ReportType.WEEKLY:
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    return day, day


class SendSerializer(serializers.Serializer):
    delivery_id = serializers.IntegerField(help_text="The delivery to send (from generate or the deliveries list).")
