"""Django admin for voice: calls, agent state timelines, login sessions and API keys."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from calls.actions import talk_seconds
from calls.models import (
    AgentDayRollup,
    AgentHourRollup,
    AgentSession,
    AgentStatusPeriod,
    ApiKey,
    CallLog,
    OrgDayRollup,
    RecordSource,
    SessionEndReason,
    TwilioCallEvent,
    TwilioSyncRun,
)
from crm.admin import PreciseTimesAdmin, ReadOnlyAdmin, RollupAdmin, RollupAgentFilter


def hms(seconds: int | float | None) -> str:
    """A duration as h:mm:ss, the way a contact centre reads talk and wrap-up time."""
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class OpenListFilter(admin.SimpleListFilter):
    """Open rows (the agent's current state or session) against closed ones."""

    title = "open / closed"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Open (current)"), ("no", "Closed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(CallLog)
class CallLogAdmin(PreciseTimesAdmin):
    list_display = (
        "started_at",
        "agent",
        "phone_number",
        "direction",
        "status",
        "outcome",
        "talk_time",
        "wrap_up_time",
        "campaign",
    )
    list_filter = (
        "status",
        "outcome",
        "direction",
        "business_reason",
        "source",
        ("campaign", admin.RelatedOnlyFieldListFilter),
        ("agent", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("agent", "campaign")
    search_fields = (
        "phone_number",
        "agent__username",
        "agent__first_name",
        "agent__last_name",
        "contact__name",
        "twilio_call_sid",
        "external_id",
    )
    date_hierarchy = "started_at"
    autocomplete_fields = ("agent", "contact", "campaign")
    readonly_fields = ("duration_seconds", "talk_time", "source", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("agent", "contact", "campaign", "phone_number", "direction")}),
        (
            "Telephony",
            {
                "fields": (
                    "status",
                    "started_at",
                    "answered_at",
                    "ended_at",
                    ("duration_seconds", "talk_time"),
                )
            },
        ),
        (
            "Disposition",
            {
                "fields": (
                    "outcome",
                    "business_reason",
                    "callback_at",
                    "disposition_at",
                    "wrap_up_seconds",
                    "notes",
                )
            },
        ),
        (
            "Provenance",
            {
                "fields": (
                    "source",
                    "twilio_call_sid",
                    "external_id",
                    ("price", "price_unit"),
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    list_per_page = 100

    @admin.display(description="Talk time", ordering="duration_seconds")
    def talk_time(self, obj: CallLog) -> str:
        return hms(obj.duration_seconds)

    @admin.display(description="Wrap-up", ordering="wrap_up_seconds")
    def wrap_up_time(self, obj: CallLog) -> str:
        return hms(obj.wrap_up_seconds)

    def save_model(self, request: HttpRequest, obj: CallLog, form: ModelForm, change: bool) -> None:
        # Talk time is derived, never typed: a staff correction of the times corrects it too.
        obj.duration_seconds = talk_seconds(obj.answered_at, obj.ended_at)
        if not change:
            obj.source = RecordSource.ADMIN
        super().save_model(request, obj, form, change)


class _TimelineAdmin(PreciseTimesAdmin):
    list_select_related = ("agent",)
    search_fields = ("agent__username", "agent__first_name", "agent__last_name")
    date_hierarchy = "started_at"
    autocomplete_fields = ("agent",)
    readonly_fields = ("source",)
    list_per_page = 100

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        if not change:
            obj.source = RecordSource.ADMIN
        super().save_model(request, obj, form, change)

    @admin.display(description="Length")
    def length(self, obj: AgentStatusPeriod | AgentSession) -> str:
        end = obj.ended_at or timezone.now()
        text = hms((end - obj.started_at).total_seconds())
        return text if obj.ended_at else f"{text} (open)"


@admin.register(AgentStatusPeriod)
class AgentStatusPeriodAdmin(_TimelineAdmin):
    list_display = ("agent", "status", "reason", "started_at", "ended_at", "length", "source")
    list_filter = (OpenListFilter, "status", "reason", "source", ("agent", admin.RelatedOnlyFieldListFilter))


@admin.register(AgentSession)
class AgentSessionAdmin(_TimelineAdmin):
    list_display = ("agent", "started_at", "ended_at", "length", "end_reason", "source")
    list_filter = (OpenListFilter, "end_reason", "source", ("agent", admin.RelatedOnlyFieldListFilter))

    def save_model(self, request: HttpRequest, obj: AgentSession, form: ModelForm, change: bool) -> None:
        if obj.ended_at is not None and not obj.end_reason:
            obj.end_reason = SessionEndReason.ADMIN
        super().save_model(request, obj, form, change)


class ApiKeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are generated by the server; staff name them, see the raw key once, and revoke them."""

    list_display = ("name", "user", "masked_key", "is_active", "created_at", "last_used_at", "revoked_at")
    list_filter = (ApiKeyStatusFilter,)
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username", "user__first_name", "user__last_name")
    date_hierarchy = "created_at"
    autocomplete_fields = ("user",)
    actions = ("revoke_keys",)
    list_per_page = 100

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        # key_hash is never shown, not even read-only.
        if obj is None:
            return ("user", "name")
        return ("user", "name", "masked_key", "is_active", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("user", "masked_key", "is_active", "created_at", "last_used_at", "revoked_at")

    @admin.display(description="Key")
    def masked_key(self, obj: ApiKey) -> str:
        return f"{obj.prefix}…"

    @admin.display(description="Active", boolean=True, ordering="revoked_at")
    def is_active(self, obj: ApiKey) -> bool:
        return obj.is_active

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = ApiKey.objects.create_key(obj.user, obj.name)
        # The admin goes on with `obj` (log entry, redirect): make it the saved row.
        obj.pk = key.pk
        obj.refresh_from_db()
        obj._state.adding = False
        messages.success(
            request,
            format_html(
                "The API key for {} is <code>{}</code> — copy it now: it is stored hashed and will not be shown again.",
                obj.user,
                raw,
            ),
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            key.revoke()
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)


@admin.register(TwilioCallEvent)
class TwilioCallEventAdmin(admin.ModelAdmin):
    """Voice status callbacks as Twilio sent them: an audit trail, read-only."""

    list_display = ("received_at", "call_sid", "call_status", "sequence_number", "call", "applied_at")
    list_filter = ("call_status", ("applied_at", admin.EmptyFieldListFilter))
    list_select_related = ("call",)
    search_fields = ("call_sid",)
    date_hierarchy = "received_at"
    readonly_fields = ("call_sid", "call_status", "sequence_number", "payload", "received_at", "applied_at", "call")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TwilioSyncRun)
class TwilioSyncRunAdmin(admin.ModelAdmin):
    """Sync health: what each pull from Twilio matched, fixed and found missing."""

    list_display = (
        "started_at",
        "day",
        "status",
        "fetched",
        "matched",
        "fixed",
        "missing",
        "duplicates",
        "requested_by",
    )
    list_filter = ("status",)
    list_select_related = ("requested_by",)
    search_fields = ("error", "requested_by__username")
    date_hierarchy = "started_at"
    readonly_fields = (
        "day",
        "requested_by",
        "status",
        "started_at",
        "finished_at",
        "fetched",
        "matched",
        "fixed",
        "missing",
        "duplicates",
        "error",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AgentHourRollup)
class AgentHourRollupAdmin(RollupAdmin):
    list_display = (
        "hour",
        "agent",
        "calls",
        "calls_completed",
        "calls_connected",
        "talk_time",
        "wrap_up_time",
        "outcome_lead",
        "work_time",
        "break_time",
        "logged_time",
    )

    @admin.display(description="Talk time", ordering="talk_seconds")
    def talk_time(self, obj: AgentHourRollup) -> str:
        return hms(obj.talk_seconds)

    @admin.display(description="Wrap-up", ordering="wrap_up_seconds")
    def wrap_up_time(self, obj: AgentHourRollup) -> str:
        return hms(obj.wrap_up_seconds)

    @admin.display(description="Work (available, on call, wrap-up)")
    def work_time(self, obj: AgentHourRollup) -> str:
        return hms((obj.available_us + obj.on_call_us + obj.wrap_up_us) // 1_000_000)

    @admin.display(description="Break", ordering="break_us")
    def break_time(self, obj: AgentHourRollup) -> str:
        return hms(obj.break_us // 1_000_000)

    @admin.display(description="Logged in", ordering="logged_us")
    def logged_time(self, obj: AgentHourRollup) -> str:
        return hms(obj.logged_us // 1_000_000)


@admin.register(AgentDayRollup)
class AgentDayRollupAdmin(AgentHourRollupAdmin):
    """The same counters per local day (what month-long reads sum)."""

    date_hierarchy = "day"
    list_filter = (("day", admin.DateFieldListFilter), RollupAgentFilter)
    ordering = ("-day", "agent_id")
    list_display = ("day", *AgentHourRollupAdmin.list_display[1:])


@admin.register(OrgDayRollup)
class OrgDayRollupAdmin(ReadOnlyAdmin):
    """The organisation's counters per local day (what an admin's month-long reads sum)."""

    date_hierarchy = "day"
    ordering = ("-day",)
    search_fields = ("day",)
    list_display = ("day", "calls", "calls_completed", "calls_connected", "talk_time", "outcome_lead", "logged_time")

    @admin.display(description="Talk time", ordering="talk_seconds")
    def talk_time(self, obj: OrgDayRollup) -> str:
        return hms(obj.talk_seconds)

    @admin.display(description="Logged in", ordering="logged_us")
    def logged_time(self, obj: OrgDayRollup) -> str:
        return hms(obj.logged_us // 1_000_000)
