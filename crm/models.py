"""People and customers: users with roles, teams, campaigns, contacts (leads) and conversations."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from crm.phones import to_e164, validate_e164
from crm.rollups import TrackedModel

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager


def _choices_check(field: str, choices: type[models.TextChoices], *, blank: bool = False) -> models.CheckConstraint:
    values = list(choices.values) + ([""] if blank else [])
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": values}), name=f"%(app_label)s_%(class)s_{field}_valid"
    )


# --- Users -----------------------------------------------------------------------------------------


class Role(models.TextChoices):
    # a context of their own: "Admin" as a person's role is not the top bar's "Admin" (the admin site)
    AGENT = "agent", pgettext_lazy("user role", "Agent")
    SUPERVISOR = "supervisor", pgettext_lazy("user role", "Supervisor")
    ADMIN = "admin", pgettext_lazy("user role", "Admin")


class UserQuerySet(models.QuerySet["User"]):
    def agents(self) -> UserQuerySet:
        return self.filter(role=Role.AGENT)

    def visible_to(self, user: User) -> UserQuerySet:
        """The people whose data `user` may see: admins all, supervisors their teams' members, agents self."""
        if user.role == Role.ADMIN or user.is_superuser:
            return self.all()
        if user.role == Role.SUPERVISOR:
            return self.filter(Q(teams__supervisors=user) | Q(pk=user.pk)).distinct()
        return self.filter(pk=user.pk)


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT, db_index=True)
    phone_extension = models.CharField(max_length=16, blank=True, help_text="Softphone extension or SIP user.")
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text="Interface language; empty = browser's.",
    )

    objects: ClassVar[UserManager] = UserManager()

    if TYPE_CHECKING:
        teams: RelatedManager[Team]
        supervised_teams: RelatedManager[Team]

    class Meta:
        ordering = ["username"]
        constraints = [_choices_check("role", Role)]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR


# --- Teams and campaigns -----------------------------------------------------------------------------


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    supervisors = models.ManyToManyField(User, related_name="supervised_teams", blank=True)
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Channel(models.TextChoices):
    VOICE = "voice", "Voice"
    WHATSAPP = "whatsapp", "WhatsApp"
    MIXED = "mixed", "Voice and WhatsApp"


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def active(self) -> CampaignQuerySet:
        return self.filter(is_active=True)


class Campaign(models.Model):
    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.VOICE)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaigns",
        help_text="Escalated WhatsApp chats are assigned to this team's agents.",
    )
    members = models.ManyToManyField(User, related_name="campaigns", blank=True)
    is_active = models.BooleanField(default=True, db_index=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            _choices_check("channel", Channel),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(end_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="crm_campaign_end_after_start",
                violation_error_message="A campaign cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# --- Contacts (leads) --------------------------------------------------------------------------------


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    CONVERTED = "converted", "Converted"
    LOST = "lost", "Lost"


class BusinessReason(models.TextChoices):
    """Why a contact stands where it does, set by the agent's disposition (docs/data-model.md)."""

    RESCHEDULED = "rescheduled", "Rescheduled (call back later)"
    INTERESTED = "interested", "Interested"
    NOT_INTERESTED = "not_interested", "Not interested"
    NO_BUDGET = "no_budget", "No budget"
    COMPETITOR = "competitor", "Chose a competitor"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    DO_NOT_CALL = "do_not_call", "Do not call"
    OTHER = "other", "Other"


class ContactQuerySet(models.QuerySet["Contact"]):
    def for_user(self, user: User) -> ContactQuerySet:
        if user.is_admin:
            return self.all()
        return self.filter(assigned_agent__in=User.objects.visible_to(user))


class Contact(TrackedModel):
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(
        max_length=20, unique=True, validators=[validate_e164], help_text="E.164, e.g. +48600100200."
    )
    email = models.EmailField(blank=True)
    company = models.CharField(max_length=200, blank=True)
    assigned_agent = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    lead_status = models.CharField(max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    lead_status_changed_at = models.DateTimeField(default=timezone.now)
    business_reason = models.CharField(max_length=32, choices=BusinessReason.choices, blank=True)
    callback_at = models.DateTimeField(null=True, blank=True)
    whatsapp_opted_out_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the contact asked not to be messaged; outbound WhatsApp is refused.",
    )
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContactQuerySet.as_manager()

    if TYPE_CHECKING:
        status_changes: RelatedManager[LeadStatusChange]

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            _choices_check("lead_status", LeadStatus),
            _choices_check("business_reason", BusinessReason, blank=True),
        ]
        indexes = [
            models.Index(fields=["assigned_agent", "business_reason"], name="contact_agent_reason"),
            models.Index(fields=["campaign", "lead_status"], name="contact_campaign_status"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.phone}".strip()

    def clean_fields(self, exclude=None) -> None:
        # Accept what people type ("600 100 200") and store E.164; the field's validator then
        # reports anything that is not a phone number at all.
        if self.phone and not (exclude and "phone" in exclude):
            with contextlib.suppress(ValidationError):
                self.phone = to_e164(self.phone)
        super().clean_fields(exclude)


class LeadStatusChange(TrackedModel):
    """One row per change of a contact's lead status (the first row records its creation as `new`)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=LeadStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=LeadStatus.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-changed_at"]
        constraints = [
            _choices_check("from_status", LeadStatus, blank=True),
            _choices_check("to_status", LeadStatus),
            models.CheckConstraint(
                condition=~Q(from_status=models.F("to_status")), name="crm_leadstatuschange_changes"
            ),
        ]
        indexes = [
            models.Index(fields=["to_status", "changed_at"], name="leadchange_status_time"),
            models.Index(fields=["contact", "changed_at"], name="leadchange_contact_time"),
            models.Index(fields=["changed_at"], name="leadchange_time"),
        ]

    def __str__(self) -> str:
        return f"{self.contact}: {self.from_status or '∅'} → {self.to_status}"


# --- Conversations (WhatsApp and other chat) --------------------------------------------------------


class ConversationChannel(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    SMS = "sms", "SMS"
    WEBCHAT = "webchat", "Web chat"


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    PENDING = "pending", "Pending (waiting for the customer)"
    RESOLVED = "resolved", "Resolved"


OPEN_CONVERSATION_STATUSES = (ConversationStatus.OPEN, ConversationStatus.PENDING)


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def open(self) -> ConversationQuerySet:
        return self.filter(status__in=OPEN_CONVERSATION_STATUSES)

    def for_user(self, user: User) -> ConversationQuerySet:
        if user.is_admin:
            return self.all()
        return self.filter(assigned_agent__in=User.objects.visible_to(user))


class Conversation(TrackedModel):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    channel = models.CharField(max_length=16, choices=ConversationChannel.choices, default=ConversationChannel.WHATSAPP)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    assigned_agent = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    status = models.CharField(max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    our_number = models.CharField(max_length=20, blank=True, help_text="Our WhatsApp sender number (E.164).")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    handled_by_bot_first = models.BooleanField(
        default=False, help_text="The bot answered before any human (the base of the escalation rate)."
    )
    escalated_to_human = models.BooleanField(default=False)
    escalated_at = models.DateTimeField(
        null=True, blank=True, help_text="Bot hand-off time; FRT is measured from here."
    )
    first_response_at = models.DateTimeField(null=True, blank=True, help_text="First outbound message by a human.")
    first_response_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="Last resolution (cleared while reopened).")
    resolved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reopened_count = models.PositiveSmallIntegerField(default=0)
    csat_requested_at = models.DateTimeField(null=True, blank=True)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Customer rating 1–5.")
    csat_received_at = models.DateTimeField(null=True, blank=True)
    is_returning = models.BooleanField(
        default=False, editable=False, help_text="The contact had an earlier conversation (set when created)."
    )

    objects = ConversationQuerySet.as_manager()

    if TYPE_CHECKING:
        messages: RelatedManager[Message]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            self.is_returning = Conversation.objects.filter(
                contact_id=self.contact_id, created_at__lt=self.created_at
            ).exists()
        super().save(*args, **kwargs)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            _choices_check("channel", ConversationChannel),
            _choices_check("status", ConversationStatus),
            _choices_check("priority", Priority),
            models.UniqueConstraint(
                fields=["contact", "channel"],
                condition=Q(status__in=OPEN_CONVERSATION_STATUSES),
                name="crm_conversation_one_open_per_contact",
                violation_error_message="This contact already has an open conversation on this channel.",
            ),
            models.CheckConstraint(
                condition=Q(status=ConversationStatus.RESOLVED, resolved_at__isnull=False)
                | (~Q(status=ConversationStatus.RESOLVED) & Q(resolved_at__isnull=True)),
                name="crm_conversation_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("created_at")),
                name="crm_conversation_resolved_after_created",
            ),
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True) | Q(first_response_at__gte=models.F("created_at")),
                name="crm_conversation_response_after_created",
            ),
            models.CheckConstraint(
                condition=Q(escalated_at__isnull=True) | Q(escalated_at__gte=models.F("created_at")),
                name="crm_conversation_escalated_after_created",
            ),
            models.CheckConstraint(
                condition=Q(escalated_to_human=False) | Q(escalated_at__isnull=False),
                name="crm_conversation_escalation_has_time",
            ),
            models.CheckConstraint(
                condition=Q(csat_score__isnull=True) | Q(csat_score__gte=1, csat_score__lte=5),
                name="crm_conversation_csat_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="conversation_created"),
            models.Index(fields=["assigned_agent", "created_at"], name="conversation_agent_created"),
            # open tickets by priority at a moment (created_at): an index-only count of the open set
            models.Index(fields=["status", "priority", "created_at"], name="conversation_status_prio_time"),
            models.Index(fields=["contact", "created_at"], name="conversation_contact_created"),
            models.Index(fields=["resolved_at"], name="conversation_resolved"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.contact} ({self.get_status_display()})"


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class AuthorType(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent (human)"
    BOT = "bot", "Bot / auto-reply"
    SYSTEM = "system", "System (broadcast, CSAT prompt)"


class MessageStatus(models.TextChoices):
    """Twilio's message statuses; outbound ones only move forward (see docs/data-model.md)."""

    RECEIVED = "received", "Received"
    ACCEPTED = "accepted", "Accepted"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"
    UNDELIVERED = "undelivered", "Undelivered"
    CANCELED = "canceled", "Canceled"


class Message(TrackedModel):
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="messages")
    broadcast = models.ForeignKey(
        "Broadcast", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    sender = models.ForeignKey(
        "WhatsAppSender",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        help_text="Our number that sent or received it.",
    )
    direction = models.CharField(max_length=16, choices=Direction.choices)
    author_type = models.CharField(max_length=16, choices=AuthorType.choices)
    agent = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        help_text="The human author.",
    )
    body = models.TextField(blank=True)
    intent = models.CharField(max_length=100, blank=True, help_text="The auto-reply rule's intent (bot replies).")
    media_count = models.PositiveSmallIntegerField(default=0)
    twilio_sid = models.CharField(max_length=64, null=True, blank=True, unique=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    error_code = models.PositiveIntegerField(null=True, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    price_unit = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            _choices_check("direction", Direction),
            _choices_check("author_type", AuthorType),
            _choices_check("status", MessageStatus),
            models.CheckConstraint(
                condition=Q(conversation__isnull=False) | Q(broadcast__isnull=False),
                name="crm_message_in_conversation_or_broadcast",
            ),
            models.CheckConstraint(
                condition=Q(direction=Direction.INBOUND, author_type=AuthorType.CUSTOMER)
                | (Q(direction=Direction.OUTBOUND) & ~Q(author_type=AuthorType.CUSTOMER)),
                name="crm_message_author_matches_direction",
            ),
            models.CheckConstraint(
                condition=~Q(author_type=AuthorType.AGENT) | Q(agent__isnull=False),
                name="crm_message_agent_message_has_agent",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_conversation_time"),
            models.Index(fields=["direction", "status", "created_at"], name="message_direction_status"),
            models.Index(fields=["created_at"], name="message_created"),
            models.Index(fields=["agent", "created_at"], name="message_agent_created"),
            # the bot replies of a period by intent (top intents), without reading every message of it
            models.Index(
                fields=["created_at"],
                condition=Q(author_type="bot") & ~Q(intent=""),
                name="message_bot_intent_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.get_author_type_display()} {self.created_at:%Y-%m-%d %H:%M}"


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Broadcast(models.Model):
    """A template message sent to a campaign's contacts; each recipient's copy is a Message."""

    name = models.CharField(max_length=150)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="broadcasts")
    body = models.TextField(help_text="The message text (WhatsApp template body).")
    content_sid = models.CharField(max_length=64, blank=True, help_text="Twilio Content template SID, if any.")
    sender = models.ForeignKey(
        "WhatsAppSender", null=True, blank=True, on_delete=models.SET_NULL, related_name="broadcasts"
    )
    status = models.CharField(max_length=16, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            _choices_check("status", BroadcastStatus),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True)
                | Q(started_at__isnull=False, completed_at__gte=models.F("started_at")),
                name="crm_broadcast_completed_after_started",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# --- WhatsApp senders, auto-replies, status callbacks -------------------------------------------------


class SenderStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DEGRADED = "degraded", "Degraded (recent delivery failures)"
    DISCONNECTED = "disconnected", "Disconnected"


class WhatsAppSender(models.Model):
    """One of our WhatsApp numbers. last_seen_at moves with every message and status callback through it."""

    phone = models.CharField(max_length=20, unique=True, validators=[validate_e164], help_text="E.164.")
    name = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=SenderStatus.choices, default=SenderStatus.ACTIVE)
    is_default = models.BooleanField(default=False, help_text="Used for replies when a conversation has no number.")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["phone"]
        verbose_name = "WhatsApp sender"
        constraints = [
            _choices_check("status", SenderStatus),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="crm_whatsappsender_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.phone}".strip()


class AutoReplyRule(models.Model):
    """A keyword/intent rule: an inbound message containing one of the keywords gets `reply` from the bot,
    or, for a hand-off rule, is escalated to a human."""

    intent = models.CharField(max_length=100, help_text="A name for what the customer wants, e.g. 'opening hours'.")
    keywords = models.TextField(help_text="Comma-separated words or phrases; matched case-insensitively.")
    reply = models.TextField(blank=True, help_text="The bot's answer (empty for a hand-off rule).")
    hands_off = models.BooleanField(default=False, help_text="The customer asks for a person: escalate to a human.")
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="auto_reply_rules",
        help_text="Only for this campaign's conversations; empty = all.",
    )
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower is tried first.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["priority", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hands_off=True) | ~Q(reply=""),
                name="crm_autoreplyrule_reply_or_hand_off",
                violation_error_message="A rule either replies or hands off to a person.",
            )
        ]

    def __str__(self) -> str:
        return self.intent

    def keyword_list(self) -> list[str]:
        return [k.strip().lower() for k in self.keywords.split(",") if k.strip()]


class TwilioMessageEvent(models.Model):
    """Every signature-valid WhatsApp status callback as received; applied to the message with its
    MessageSid, or kept until that message appears (never lost)."""

    message_sid = models.CharField(max_length=64, db_index=True)
    message_status = models.CharField(max_length=32)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="twilio_events")

    class Meta:
        ordering = ["received_at"]
        indexes = [models.Index(fields=["message_sid", "applied_at"], name="twilio_msg_event_sid_applied")]

    def __str__(self) -> str:
        return f"{self.message_sid} {self.message_status}"


# --- Rollups (hourly counters; see crm/rollups.py and crm/counters.py) --------------------------------


def _counter(help_text: str = "") -> models.BigIntegerField:
    return models.BigIntegerField(default=0, db_default=0, help_text=help_text)


class ChatRollupCounters(models.Model):
    """Per assigned agent (0: none) × campaign (0: none) — or fewer keys — counters of conversations (in the bucket
    they were created; resolutions also in the bucket of resolved_at), messages (bucket created) and
    leads, shared by the hour and day rollups. Kept by crm/counters.py in the same transaction as the
    rows; `manage.py rebuild_rollups` recomputes them."""

    # conversations, in their creation hour
    conversations = _counter()
    returning = _counter("Conversations whose contact had an earlier one.")
    bot_first = _counter("Conversations the bot handled first.")
    bot_first_escalated = _counter("Of those, escalated to a human.")
    with_human = _counter("Conversations with a human agent's message (first_response_at set).")
    resolved = _counter("Conversations now resolved.")
    resolutions = _counter("Resolved conversations counted in the bucket of their (last) resolved_at.")
    # by priority, for open tickets at a past moment (created before it, resolved after it)
    resolved_low = _counter()
    resolved_normal = _counter()
    resolved_high = _counter()
    resolved_urgent = _counter()
    resolutions_low = _counter()
    resolutions_normal = _counter()
    resolutions_high = _counter()
    resolutions_urgent = _counter()
    resolved_by_bot = _counter("Resolved without any human agent message.")
    frt_count = _counter()
    frt_us = _counter("Σ first response time, microseconds.")
    frt_within_sla = _counter("FRT ≤ SLA_FIRST_RESPONSE_SECONDS.")
    resolution_us = _counter("Σ resolution time of resolved conversations, microseconds.")
    csat_count = _counter()
    csat_sum = _counter()
    # messages, in their creation hour
    messages_inbound = _counter()
    messages_agent = _counter("Outbound by a human agent.")
    messages_bot = _counter("Outbound by the bot or auto-replies.")
    messages_system = _counter("Outbound system messages (broadcasts, CSAT prompts).")
    out_queued = _counter()
    out_accepted = _counter()
    out_sending = _counter()
    out_sent = _counter()
    out_delivered = _counter()
    out_read = _counter()
    out_failed = _counter()
    out_undelivered = _counter()
    out_canceled = _counter()
    broadcast_messages = _counter()
    broadcast_ok = _counter("Broadcast messages sent, delivered or read.")
    broadcast_failed = _counter("Broadcast messages failed or undelivered.")
    # contacts (creation hour) and lead status changes (hour of the change)
    contacts_created = _counter()
    leads_to_new = _counter()
    leads_to_contacted = _counter()
    leads_to_qualified = _counter()
    leads_to_converted = _counter()
    leads_to_lost = _counter()

    class Meta:
        abstract = True


class ChatHourRollup(ChatRollupCounters):
    hour = models.DateTimeField(help_text="Start of the local hour (stored in UTC).")
    agent_id = models.IntegerField()
    campaign_id = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "agent_id", "campaign_id"], name="crm_chathourrollup_key")
        ]
        indexes = [models.Index(fields=["agent_id", "hour"], name="chathourrollup_agent_hour")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} campaign {self.campaign_id} @ {self.hour:%Y-%m-%d %H:%M}"


class ChatDayRollup(ChatRollupCounters):
    day = models.DateTimeField(help_text="Local midnight starting the day (stored in UTC).")
    agent_id = models.IntegerField()
    campaign_id = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "agent_id", "campaign_id"], name="crm_chatdayrollup_key")]
        indexes = [models.Index(fields=["agent_id", "day"], name="chatdayrollup_agent_day")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} campaign {self.campaign_id} on {timezone.localtime(self.day):%Y-%m-%d}"


class ChatAgentDayRollup(ChatRollupCounters):
    """The same counters per local day and agent, all campaigns together: what per-agent reads of a long
    period (an admin's or an agent's month) sum when no campaign filter applies."""

    day = models.DateTimeField(help_text="Local midnight starting the day (stored in UTC).")
    agent_id = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "agent_id"], name="crm_chatagentdayrollup_key")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} on {timezone.localtime(self.day):%Y-%m-%d}"


class ChatOrgHourRollup(ChatRollupCounters):
    """The same counters for the whole organisation per local hour and campaign: what an admin's hourly
    charts over a long period (the customer-load heatmap) and today's whole hours read."""

    hour = models.DateTimeField(help_text="Start of the local hour (stored in UTC).")
    campaign_id = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "campaign_id"], name="crm_chatorghourrollup_key")]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} @ {self.hour:%Y-%m-%d %H:%M}"


class ChatOrgDayRollup(ChatRollupCounters):
    """The same counters for the whole organisation per local day and campaign: what an admin's month reads."""

    day = models.DateTimeField(help_text="Local midnight starting the day (stored in UTC).")
    campaign_id = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "campaign_id"], name="crm_chatorgdayrollup_key")]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} on {timezone.localtime(self.day):%Y-%m-%d}"
