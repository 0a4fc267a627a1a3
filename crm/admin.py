"""Django admin for people and customers: staff run users, teams, campaigns, contacts and chats from here."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, DateTimeField, Model, OuterRef, Q, QuerySet, Subquery
from django.forms import ModelForm
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from crm.actions import do_change_lead_status, do_record_contact_created, do_start_broadcast
from crm.broadcasts import PENDING_STATUSES, broadcast_stats
from crm.errors import ActionError
from crm.models import (
    AutoReplyRule,
    Broadcast,
    BroadcastStatus,
    Campaign,
    ChatAgentDayRollup,
    ChatDayRollup,
    ChatHourRollup,
    ChatOrgDayRollup,
    ChatOrgHourRollup,
    Contact,
    Conversation,
    LeadStatusChange,
    Message,
    Team,
    TwilioMessageEvent,
    User,
    WhatsAppSender,
)


def _team_links(teams: QuerySet[Team]) -> SafeString | str:
    links = format_html_join(
        ", ", '<a href="{}">{}</a>', ((reverse("admin:crm_team_change", args=[t.pk]), t.name) for t in teams)
    )
    return links or "—"


class PreciseTimesAdmin(admin.ModelAdmin):
    """Admin date-time widgets show whole seconds, so saving a form would truncate every timestamp of
    the row, and open sub-second gaps between an agent's adjacent status periods. Keep the stored
    value of each date-time the staff user did not change."""

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        obj = super().save_form(request, form, change)
        if change:
            keep_stored_times(obj, form)
        return obj


def keep_stored_times(obj: Model, form: ModelForm) -> None:
    untouched = [
        f.attname
        for f in obj._meta.concrete_fields
        if isinstance(f, DateTimeField) and f.name in form.fields and f.name not in form.changed_data
    ]
    if untouched:
        stored = type(obj)._default_manager.filter(pk=obj.pk).values(*untouched).get()
        for attname, value in stored.items():
            setattr(obj, attname, value)


# --- Users and teams ---------------------------------------------------------------------------------


@admin.register(User)
class UserAdmin(PreciseTimesAdmin, DjangoUserAdmin):
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        (
            "Contact centre",
            {"fields": ("role", "phone_extension", "language", "team_list", "supervised_team_list")},
        ),
        (
            "Permissions",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                "classes": ("collapse",),
            },
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (
            "Contact centre",
            {
                "classes": ("wide",),
                "fields": ("first_name", "last_name", "email", "role", "phone_extension", "language"),
            },
        ),
    )
    readonly_fields = ("team_list", "supervised_team_list", "last_login", "date_joined")
    list_display = (
        "username",
        "full_name",
        "email",
        "role",
        "phone_extension",
        "team_names",
        "is_active",
        "is_staff",
        "last_login",
    )
    list_filter = ("role", "is_active", "is_staff", "is_superuser", "teams", "language")
    search_fields = ("username", "first_name", "last_name", "email", "phone_extension")
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("teams", "supervised_teams")

    @admin.display(description="Name", ordering="last_name")
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    @admin.display(description="Teams")
    def team_names(self, obj: User) -> str:
        # .all() reads the prefetch cache filled by get_queryset: no query per row.
        return ", ".join(t.name for t in obj.teams.all())

    @admin.display(description="Member of")
    def team_list(self, obj: User) -> SafeString | str:
        return _team_links(obj.teams.all())

    @admin.display(description="Supervises")
    def supervised_team_list(self, obj: User) -> SafeString | str:
        return _team_links(obj.supervised_teams.all())


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "supervisor_names", "member_count", "created_at")
    search_fields = ("name", "description")
    autocomplete_fields = ("supervisors", "members")
    readonly_fields = ("created_at",)
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Count("members", distinct=True))
            .prefetch_related("supervisors")
        )

    @admin.display(description="Supervisors")
    def supervisor_names(self, obj: Team) -> str:
        return ", ".join(str(u) for u in obj.supervisors.all())

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj: Any) -> int:
        return obj.member_count


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "team", "is_active", "start_date", "end_date", "contact_count")
    list_filter = ("is_active", "channel", "team")
    list_select_related = ("team",)
    search_fields = ("name", "description")
    date_hierarchy = "start_date"
    autocomplete_fields = ("team", "members")
    readonly_fields = ("created_at",)
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return super().get_queryset(request).annotate(contact_count=Count("contacts", distinct=True))

    @admin.display(description="Contacts", ordering="contact_count")
    def contact_count(self, obj: Any) -> int:
        return obj.contact_count


# --- Contacts (leads) --------------------------------------------------------------------------------


class LeadStatusChangeInline(admin.TabularInline):
    """The contact's lead history: an audit trail, so read-only here."""

    model = LeadStatusChange
    fields = ("changed_at", "from_status", "to_status", "changed_by", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-changed_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[LeadStatusChange]:
        return super().get_queryset(request).select_related("contact", "changed_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(PreciseTimesAdmin):
    list_display = (
        "name",
        "phone",
        "company",
        "lead_status",
        "business_reason",
        "assigned_agent",
        "campaign",
        "callback_at",
        "created_at",
    )
    list_filter = (
        "lead_status",
        "business_reason",
        ("campaign", admin.RelatedOnlyFieldListFilter),
        ("assigned_agent", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("assigned_agent", "campaign")
    search_fields = ("name", "phone", "email", "company", "external_id")
    date_hierarchy = "created_at"
    autocomplete_fields = ("assigned_agent", "campaign")
    readonly_fields = ("lead_status_changed_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "phone", "email", "company", "external_id")}),
        (
            "Lead",
            {
                "fields": (
                    "campaign",
                    "assigned_agent",
                    "lead_status",
                    "lead_status_changed_at",
                    "business_reason",
                    "callback_at",
                )
            },
        ),
        ("WhatsApp", {"fields": ("whatsapp_opted_out_at",)}),
        (None, {"fields": ("notes", "created_at", "updated_at")}),
    )
    inlines = (LeadStatusChangeInline,)
    list_per_page = 50

    def save_model(self, request: HttpRequest, obj: Contact, form: ModelForm, change: bool) -> None:
        # Every lead status change is recorded with its time (METRICS.md "Leads"), admin edits included,
        # through the same actions as calls and chats.
        by = request.user if isinstance(request.user, User) else None
        if change and "lead_status" in form.changed_data:
            new_status = obj.lead_status
            obj.lead_status = form.initial["lead_status"]
            super().save_model(request, obj, form, change)
            do_change_lead_status(obj, new_status, by=by, note="Changed in the admin")
            return
        super().save_model(request, obj, form, change)
        if not change:
            do_record_contact_created(obj, by=by, note="Created in the admin")


@admin.register(LeadStatusChange)
class LeadStatusChangeAdmin(admin.ModelAdmin):
    """History rows can be added (back-filling) or deleted, but an existing row is never rewritten."""

    list_display = ("changed_at", "contact", "from_status", "to_status", "changed_by", "note")
    list_filter = ("to_status", "from_status")
    list_select_related = ("contact", "changed_by")
    search_fields = ("contact__name", "contact__phone", "note")
    date_hierarchy = "changed_at"
    autocomplete_fields = ("contact", "changed_by")
    list_per_page = 100

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)


# --- Conversations -----------------------------------------------------------------------------------


class MessageInline(admin.TabularInline):
    """The conversation's transcript, oldest first; messages come from Twilio and agents, never typed here."""

    model = Message
    fk_name = "conversation"
    fields = ("created_at", "direction", "author_type", "agent", "body", "status", "delivery")
    readonly_fields = fields
    ordering = ("created_at",)
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("agent")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Delivery")
    def delivery(self, obj: Message) -> str:
        return delivery_summary(obj)


def delivery_summary(message: Message) -> str:
    """'sent 10:02:03 · delivered 10:02:05 · read 10:04:00', or the failure with Twilio's error."""
    steps = [
        (label, moment)
        for label, moment in (
            ("sent", message.sent_at),
            ("delivered", message.delivered_at),
            ("read", message.read_at),
            ("failed", message.failed_at),
        )
        if moment is not None
    ]
    text = " · ".join(f"{label} {timezone.localtime(moment):%H:%M:%S}" for label, moment in steps)
    if message.error_code is not None or message.error_message:
        text += f" — error {message.error_code or ''} {message.error_message}".rstrip()
    return text or "—"


@admin.register(Conversation)
class ConversationAdmin(PreciseTimesAdmin):
    list_display = (
        "__str__",
        "channel",
        "status",
        "priority",
        "assigned_agent",
        "campaign",
        "created_at",
        "last_message_at",
        "escalated_to_human",
        "csat_score",
    )
    list_filter = (
        "status",
        "priority",
        "channel",
        "escalated_to_human",
        "handled_by_bot_first",
        ("campaign", admin.RelatedOnlyFieldListFilter),
        ("assigned_agent", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("contact", "assigned_agent", "campaign")
    search_fields = ("contact__name", "contact__phone", "our_number")
    date_hierarchy = "created_at"
    autocomplete_fields = ("contact", "campaign", "assigned_agent", "first_response_by", "resolved_by")
    readonly_fields = ("created_at", "updated_at", "last_message_at")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "contact",
                    "channel",
                    "our_number",
                    "campaign",
                    "assigned_agent",
                    "status",
                    "priority",
                )
            },
        ),
        (
            "Timeline",
            {
                "fields": (
                    "created_at",
                    "updated_at",
                    "last_message_at",
                    ("handled_by_bot_first", "escalated_to_human", "escalated_at"),
                    ("first_response_at", "first_response_by"),
                    ("resolved_at", "resolved_by"),
                    "reopened_count",
                )
            },
        ),
        ("Satisfaction", {"fields": ("csat_requested_at", "csat_score", "csat_received_at")}),
    )
    inlines = (MessageInline,)
    list_per_page = 50


@admin.register(Message)
class MessageAdmin(PreciseTimesAdmin):
    list_display = (
        "created_at",
        "direction",
        "author_type",
        "contact",
        "agent",
        "short_body",
        "status",
        "sender",
        "conversation_link",
    )
    list_filter = (
        "direction",
        "author_type",
        "status",
        ("broadcast", admin.EmptyFieldListFilter),
        ("sender", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("contact", "agent", "sender")
    search_fields = ("body", "contact__name", "contact__phone", "twilio_sid")
    date_hierarchy = "created_at"
    autocomplete_fields = ("conversation", "contact", "broadcast", "agent", "sender")
    readonly_fields = ("created_at", "updated_at")
    list_per_page = 100

    @admin.display(description="Message")
    def short_body(self, obj: Message) -> str:
        return Truncator(obj.body).chars(80)

    @admin.display(description="Conversation", ordering="conversation")
    def conversation_link(self, obj: Message) -> SafeString | str:
        # The id is enough to link; showing the conversation's name would join its contact too.
        if obj.conversation_id is None:
            return "—"
        url = reverse("admin:crm_conversation_change", args=[obj.conversation_id])
        return format_html('<a href="{}">#{}</a>', url, obj.conversation_id)


BROADCAST_INLINE_LIMIT = 50


class FirstMessagesFormSet(BaseInlineFormSet):
    """At most BROADCAST_INLINE_LIMIT rows: a broadcast has thousands of messages; the rest are one
    click away in the message list."""

    def get_queryset(self) -> Any:
        if not hasattr(self, "_first_messages"):
            self._first_messages = super().get_queryset()[:BROADCAST_INLINE_LIMIT]
        return self._first_messages


class BroadcastMessageInline(admin.TabularInline):
    model = Message
    fk_name = "broadcast"
    formset = FirstMessagesFormSet
    fields = ("contact", "status", "created_at", "delivery", "twilio_sid")
    readonly_fields = fields
    ordering = ("pk",)
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"Messages (the first {BROADCAST_INLINE_LIMIT})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("contact")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Delivery")
    def delivery(self, obj: Message) -> str:
        return delivery_summary(obj)


@admin.register(Broadcast)
class BroadcastAdmin(PreciseTimesAdmin):
    list_display = (
        "name",
        "campaign",
        "sender",
        "status",
        "scheduled_at",
        "started_at",
        "completed_at",
        "message_count",
        "created_by",
    )
    list_filter = ("status", ("campaign", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("campaign", "created_by", "sender")
    search_fields = ("name", "body", "content_sid")
    date_hierarchy = "created_at"
    autocomplete_fields = ("campaign", "sender")
    readonly_fields = ("created_by", "created_at", "started_at", "completed_at", "delivery_stats")
    inlines = (BroadcastMessageInline,)
    actions = ("start_broadcasts",)
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Broadcast]:
        return super().get_queryset(request).annotate(message_count=Count("messages"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Once started, the status moves only through the actions (sending → completed).
        started = obj is not None and obj.status not in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
        return (*self.readonly_fields, "status") if started else self.readonly_fields

    @admin.display(description="Messages", ordering="message_count")
    def message_count(self, obj: Any) -> int:
        return obj.message_count

    @admin.display(description="Delivery")
    def delivery_stats(self, obj: Broadcast) -> SafeString | str:
        if obj.pk is None:
            return "—"
        stats = broadcast_stats(obj)

        def rate(value: float | None) -> str:
            return "—" if value is None else f"{value:.1f} %"

        rows = [
            ("Recipients", stats["recipients"]),
            ("Waiting (queued, accepted, sending)", stats["queued"]),
            ("Sent (incl. delivered and read)", stats["sent"]),
            ("Delivered (incl. read)", stats["delivered"]),
            ("Read", stats["read"]),
            ("Failed or undelivered", stats["failed"]),
            ("Canceled", stats["canceled"]),
            ("Success rate: delivered / recipients", rate(stats["success_rate"])),
            ("Delivery rate: delivered / (sent + failed)", rate(stats["delivery_rate"])),
        ]
        url = reverse("admin:crm_message_changelist") + f"?broadcast__id__exact={obj.pk}"
        return format_html(
            '<table>{}</table><p><a href="{}">All {} messages of this broadcast</a></p>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
            url,
            stats["recipients"],
        )

    @admin.action(description="Start broadcast (send to the campaign's contacts who have not opted out)")
    def start_broadcasts(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        by = request.user if isinstance(request.user, User) else None
        for broadcast in queryset:
            try:
                count = do_start_broadcast(broadcast, by)
            except ActionError as exc:
                self.message_user(request, f"{broadcast}: {exc.detail}", level=messages.WARNING)
            else:
                self.message_user(request, f"{broadcast}: started, {count} message(s) queued.")

    def save_model(self, request: HttpRequest, obj: Broadcast, form: ModelForm, change: bool) -> None:
        if not change and isinstance(request.user, User):
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# --- WhatsApp senders, auto-reply rules, status callbacks ---------------------------------------------


@admin.register(WhatsAppSender)
class WhatsAppSenderAdmin(admin.ModelAdmin):
    list_display = ("phone", "name", "status", "is_default", "queue_depth", "last_seen_at")
    list_filter = ("status", "is_default")
    search_fields = ("phone", "name")
    readonly_fields = ("last_seen_at", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WhatsAppSender]:
        return (
            super()
            .get_queryset(request)
            .annotate(queue_depth=Count("messages", filter=Q(messages__status__in=PENDING_STATUSES)))
        )

    @admin.display(description="Queue (queued, accepted, sending)", ordering="queue_depth")
    def queue_depth(self, obj: Any) -> int:
        return obj.queue_depth


@admin.register(AutoReplyRule)
class AutoReplyRuleAdmin(admin.ModelAdmin):
    list_display = ("intent", "keywords", "hands_off", "campaign", "priority", "is_active")
    list_filter = ("is_active", "hands_off", ("campaign", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("campaign",)
    list_editable = ("priority", "is_active")
    search_fields = ("intent", "keywords", "reply")
    autocomplete_fields = ("campaign",)


@admin.register(TwilioMessageEvent)
class TwilioMessageEventAdmin(admin.ModelAdmin):
    """WhatsApp status callbacks as Twilio sent them: an audit trail, read-only."""

    list_display = ("received_at", "message_sid", "message_status", "message", "applied_at")
    list_filter = ("message_status", ("applied_at", admin.EmptyFieldListFilter))
    list_select_related = ("message",)
    search_fields = ("message_sid",)
    date_hierarchy = "received_at"
    readonly_fields = ("message_sid", "message_status", "payload", "received_at", "applied_at", "message")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Hourly counters (read-only) -------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the system (counters, checks, snapshots, audit): staff may look, not touch."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RollupAgentFilter(admin.SimpleListFilter):
    """The agents that have counters (agent_id is a plain column, 0 for "no agent")."""

    title = "agent"
    parameter_name = "agent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ids = model_admin.model._default_manager.values("agent_id")
        choices = [(str(u.pk), u.get_username()) for u in User.objects.filter(pk__in=ids).order_by("username")]
        return [("0", "(no agent)"), *choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(agent_id=int(value)) if value and value.isdigit() else queryset


class RollupAdmin(ReadOnlyAdmin):
    """Hourly counters kept by the write actions (crm/rollups.py), shown for checking; never edited
    here — `manage.py rebuild_rollups` recomputes them from the raw rows."""

    date_hierarchy = "hour"
    list_filter = (("hour", admin.DateFieldListFilter), RollupAgentFilter)
    search_fields: ClassVar[tuple[str, ...]] = ("agent_username",)
    ordering = ("-hour", "agent_id")
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        username = User.objects.filter(pk=OuterRef("agent_id")).values("username")[:1]
        return super().get_queryset(request).annotate(agent_username=Subquery(username))

    @admin.display(description="Agent", ordering="agent_username")
    def agent(self, obj: Any) -> str:
        return obj.agent_username or ("—" if obj.agent_id == 0 else f"#{obj.agent_id} (deleted)")


@admin.register(ChatHourRollup)
class ChatHourRollupAdmin(RollupAdmin):
    list_display = (
        "hour",
        "agent",
        "campaign",
        "conversations",
        "resolved",
        "frt_count",
        "messages_inbound",
        "messages_agent",
        "messages_bot",
        "broadcast_messages",
        "contacts_created",
    )
    search_fields: ClassVar[tuple[str, ...]] = ("agent_username", "campaign_name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        name = Campaign.objects.filter(pk=OuterRef("campaign_id")).values("name")[:1]
        return super().get_queryset(request).annotate(campaign_name=Subquery(name))

    @admin.display(description="Campaign", ordering="campaign_name")
    def campaign(self, obj: Any) -> str:
        return obj.campaign_name or ("—" if obj.campaign_id == 0 else f"#{obj.campaign_id} (deleted)")


@admin.register(ChatDayRollup)
class ChatDayRollupAdmin(ChatHourRollupAdmin):
    """The same counters per local day (what month-long reads sum)."""

    date_hierarchy = "day"
    list_filter = (("day", admin.DateFieldListFilter), RollupAgentFilter)
    ordering = ("-day", "agent_id")
    list_display = ("day", *ChatHourRollupAdmin.list_display[1:])


@admin.register(ChatAgentDayRollup)
class ChatAgentDayRollupAdmin(ReadOnlyAdmin):
    """Each agent's counters per local day, all campaigns together (what per-agent month reads sum)."""

    date_hierarchy = "day"
    list_filter = (("day", admin.DateFieldListFilter), RollupAgentFilter)
    ordering = ("-day", "agent_id")
    search_fields = ("day", "=agent_id")
    list_display = ("day", "agent_id", "conversations", "resolved", "messages_inbound", "contacts_created")


@admin.register(ChatOrgHourRollup)
class ChatOrgHourRollupAdmin(ReadOnlyAdmin):
    """The organisation's counters per local hour and campaign (what an admin's hourly charts read)."""

    date_hierarchy = "hour"
    ordering = ("-hour", "campaign_id")
    search_fields = ("hour", "=campaign_id")
    list_display = ("hour", "campaign_id", "conversations", "resolved", "messages_inbound", "contacts_created")


@admin.register(ChatOrgDayRollup)
class ChatOrgDayRollupAdmin(ReadOnlyAdmin):
    """The organisation's counters per local day and campaign (what an admin's month-long reads sum)."""

    date_hierarchy = "day"
    ordering = ("-day", "campaign_id")
    search_fields = ("day", "=campaign_id")
    list_display = ("day", "campaign_id", "conversations", "resolved", "messages_inbound", "contacts_created")
