"""Voice calls, agent state timelines, login sessions and API keys."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import BusinessReason, Campaign, Contact, User, _choices_check
from crm.phones import validate_e164
from crm.rollups import TrackedModel


class CallStatus(models.TextChoices):
    """Telephony result (METRICS.md "Calls")."""

    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    FAILED = "failed", _("Failed")
    DROPPED = "dropped", _("Dropped")


FINAL_CALL_STATUSES = tuple(s for s in CallStatus if s != CallStatus.IN_PROGRESS)
FAILED_CALL_STATUSES = (CallStatus.FAILED, CallStatus.DROPPED, CallStatus.BUSY, CallStatus.NO_ANSWER)


class CallOutcome(models.TextChoices):
    """Business disposition set by the agent; empty until set."""

    LEAD = "lead", _("Lead")
    INTERESTED = "interested", _("Interested")
    NOT_INTERESTED = "not_interested", _("Not interested")
    CALLBACK = "callback", _("Call back")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    VOICEMAIL = "voicemail", _("Voicemail")
    OTHER = "other", _("Other")


class CallDirection(models.TextChoices):
    OUTBOUND = "outbound", _("Outbound")
    INBOUND = "inbound", _("Inbound")


class RecordSource(models.TextChoices):
    """Where a row came from (for audits and for re-imports)."""

    API = "api", "API"
    TWILIO = "twilio", "Twilio"
    IMPORT = "import", "Import"
    ADMIN = "admin", "Admin"
    DEMO = "demo", "Demo data"


class CallLogQuerySet(models.QuerySet["CallLog"]):
    def in_period(self, start: datetime, end: datetime) -> CallLogQuerySet:
        """Calls that STARTED in [start, end) — a call belongs to the period in which it started."""
        return self.filter(started_at__gte=start, started_at__lt=end)

    def for_agents(self, agents: Iterable[User] | models.QuerySet[User]) -> CallLogQuerySet:
        return self.filter(agent__in=agents)

    def for_user(self, user: User) -> CallLogQuerySet:
        if user.is_admin:
            return self.all()
        return self.filter(agent__in=User.objects.visible_to(user))

    def connected(self) -> CallLogQuerySet:
        return self.filter(duration_seconds__gt=0)


class CallLog(TrackedModel):
    agent = models.ForeignKey(User, on_delete=models.PROTECT, related_name="calls")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    phone_number = models.CharField(max_length=20, validators=[validate_e164])
    direction = models.CharField(max_length=16, choices=CallDirection.choices, default=CallDirection.OUTBOUND)
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.IN_PROGRESS)
    outcome = models.CharField(max_length=16, choices=CallOutcome.choices, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(
        default=0, help_text="Talk time: ended − answered for answered calls, else 0. Computed by the server."
    )
    wrap_up_seconds = models.PositiveIntegerField(default=0, help_text="From call end to the disposition.")
    disposition_at = models.DateTimeField(null=True, blank=True)
    business_reason = models.CharField(max_length=32, choices=BusinessReason.choices, blank=True)
    callback_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    twilio_call_sid = models.CharField(max_length=64, null=True, blank=True, unique=True)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    price = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    price_unit = models.CharField(max_length=3, blank=True)
    source = models.CharField(max_length=16, choices=RecordSource.choices, default=RecordSource.API)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CallLogQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            _choices_check("status", CallStatus),
            _choices_check("outcome", CallOutcome, blank=True),
            _choices_check("direction", CallDirection),
            _choices_check("business_reason", BusinessReason, blank=True),
            _choices_check("source", RecordSource),
            models.CheckConstraint(
                condition=Q(status=CallStatus.IN_PROGRESS, ended_at__isnull=True)
                | (~Q(status=CallStatus.IN_PROGRESS) & Q(ended_at__isnull=False)),
                name="calls_calllog_ended_iff_final",
                violation_error_message="A call has an end time exactly when its status is final.",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="calls_calllog_ended_after_started",
                violation_error_message="A call cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | Q(answered_at__gte=models.F("started_at")),
                name="calls_calllog_answered_after_started",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True)
                | Q(ended_at__isnull=True)
                | Q(ended_at__gte=models.F("answered_at")),
                name="calls_calllog_ended_after_answered",
            ),
            models.CheckConstraint(
                condition=Q(duration_seconds__gte=0) & Q(wrap_up_seconds__gte=0),
                name="calls_calllog_durations_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=False) | Q(duration_seconds=0),
                name="calls_calllog_unanswered_has_no_talk_time",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "started_at"], name="call_agent_started"),
            models.Index(fields=["started_at"], name="call_started"),
            models.Index(fields=["campaign", "started_at"], name="call_campaign_started"),
            models.Index(fields=["contact", "started_at"], name="call_contact_started"),
        ]

    def __str__(self) -> str:
        return f"Call #{self.pk} {self.phone_number} ({self.get_status_display()})"


class AgentStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    ON_CALL = "on_call", _("On call")
    WRAP_UP = "wrap_up", _("Wrap-up")
    BREAK = "break", _("Break")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


WORK_STATUSES = (AgentStatus.AVAILABLE, AgentStatus.ON_CALL, AgentStatus.WRAP_UP)


class BreakReason(models.TextChoices):
    LUNCH = "lunch", _("Lunch")
    SHORT = "short", _("Short break")
    TRAINING = "training", _("Training")
    MEETING = "meeting", _("Meeting")
    PERSONAL = "personal", _("Personal")
    OTHER = "other", _("Other")


class AgentStatusPeriodQuerySet(models.QuerySet["AgentStatusPeriod"]):
    def overlapping(self, start: datetime, end: datetime) -> AgentStatusPeriodQuerySet:
        """Periods that cover any part of [start, end); open periods count until now."""
        return self.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start), started_at__lt=end)

    def open(self) -> AgentStatusPeriodQuerySet:
        return self.filter(ended_at__isnull=True)


class AgentStatusPeriod(TrackedModel):
    """One stretch of time an agent spent in one state; the agent's periods form a gap-free timeline."""

    agent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="status_periods")
    status = models.CharField(max_length=16, choices=AgentStatus.choices)
    reason = models.CharField(max_length=16, choices=BreakReason.choices, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Empty while this is the agent's current state.")
    source = models.CharField(max_length=16, choices=RecordSource.choices, default=RecordSource.API)

    objects = AgentStatusPeriodQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            _choices_check("status", AgentStatus),
            _choices_check("reason", BreakReason, blank=True),
            _choices_check("source", RecordSource),
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(ended_at__isnull=True),
                name="calls_agentstatusperiod_one_open_per_agent",
                violation_error_message="An agent has exactly one current state.",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="calls_agentstatusperiod_ended_after_started",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "started_at"], name="status_agent_started"),
            models.Index(fields=["agent", "ended_at"], name="status_agent_ended"),
            # rollup reads of the organisation: periods overlapping a partial hour
            models.Index(fields=["ended_at"], name="status_ended"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.get_status_display()} from {self.started_at:%Y-%m-%d %H:%M}"


class SessionEndReason(models.TextChoices):
    LOGOUT = "logout", "Logged out"
    OFFLINE = "offline", "Went offline"
    TIMEOUT = "timeout", "Timed out"
    ADMIN = "admin", "Closed by an admin"


class AgentSessionQuerySet(models.QuerySet["AgentSession"]):
    def overlapping(self, start: datetime, end: datetime) -> AgentSessionQuerySet:
        """Sessions that cover any part of [start, end); an open session counts until now."""
        return self.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start), started_at__lt=end)

    def open(self) -> AgentSessionQuerySet:
        return self.filter(ended_at__isnull=True)


class AgentSession(TrackedModel):
    """A login session: from the first change away from `offline` (or login) to `offline` (or logout)."""

    agent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="agent_sessions")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=SessionEndReason.choices, blank=True)
    source = models.CharField(max_length=16, choices=RecordSource.choices, default=RecordSource.API)

    objects = AgentSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            _choices_check("end_reason", SessionEndReason, blank=True),
            _choices_check("source", RecordSource),
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(ended_at__isnull=True),
                name="calls_agentsession_one_open_per_agent",
                violation_error_message="An agent has at most one open login session.",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="calls_agentsession_ended_after_started",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "started_at"], name="session_agent_started"),
            models.Index(fields=["agent", "ended_at"], name="session_agent_ended"),
            models.Index(fields=["ended_at"], name="session_ended"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} session from {self.started_at:%Y-%m-%d %H:%M}"


# --- API keys --------------------------------------------------------------------------------------

API_KEY_PREFIX = "cb_"


def hash_api_key(raw: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough (no dictionary to attack); a slow password
    # hash would cost every API request tens of milliseconds.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()), revoked_at__isnull=True, user__is_active=True
        )

    def for_key(self, raw: str) -> ApiKey | None:
        if not raw.startswith(API_KEY_PREFIX):
            return None
        return self.active().select_related("user").filter(key_hash=hash_api_key(raw)).first()


class ApiKeyManager(models.Manager["ApiKey"]):
    def get_queryset(self) -> ApiKeyQuerySet:
        return ApiKeyQuerySet(self.model, using=self._db)

    def for_key(self, raw: str) -> ApiKey | None:
        return self.get_queryset().for_key(raw)

    def active(self) -> ApiKeyQuerySet:
        return self.get_queryset().active()

    def create_key(self, user: User, name: str, *, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
        """Create a key and return it with the raw secret, which is never stored and never shown again."""
        raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
        key = self.create(user=user, name=name, prefix=raw[:10], key_hash=hash_api_key(raw), expires_at=expires_at)
        return key, raw


class ApiKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What this key is for, e.g. 'softphone on desk 12'.")
    prefix = models.CharField(
        max_length=10, db_index=True, editable=False, help_text="First characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Optional; the key stops working then.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyManager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


# --- Twilio voice ---------------------------------------------------------------------------------


class TwilioCallEvent(models.Model):
    """Every signature-valid voice status callback, as received (the raw form fields).

    Applied to the call with the same CallSid when it exists; a callback that arrives before its
    call is kept unapplied and applied when the call appears (never lost).
    """

    call_sid = models.CharField(max_length=64, db_index=True)
    call_status = models.CharField(max_length=32)
    sequence_number = models.PositiveIntegerField(null=True, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    call = models.ForeignKey(CallLog, null=True, blank=True, on_delete=models.SET_NULL, related_name="twilio_events")

    class Meta:
        ordering = ["received_at"]
        indexes = [models.Index(fields=["call_sid", "applied_at"], name="twilio_event_sid_applied")]

    def __str__(self) -> str:
        return f"{self.call_sid} {self.call_status}"


class TwilioSyncRun(models.Model):
    """One pull of a day's calls from Twilio's REST API, with what it found (sync health)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    day = models.DateField()
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0, help_text="Calls listed by Twilio for the day.")
    matched = models.PositiveIntegerField(default=0, help_text="Twilio calls found in our log by SID.")
    fixed = models.PositiveIntegerField(default=0, help_text="Matched calls whose status/duration/price we corrected.")
    missing = models.PositiveIntegerField(default=0, help_text="Twilio calls with no call in our log.")
    duplicates = models.PositiveIntegerField(default=0, help_text="SIDs Twilio listed more than once.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Twilio sync {self.day} ({self.get_status_display()})"


def _counter(help_text: str = "") -> models.BigIntegerField:
    return models.BigIntegerField(default=0, db_default=0, help_text=help_text)


class AgentRollupCounters(models.Model):
    """Counters of calls and agent time per agent, shared by the hour and day rollups. Kept by
    calls/counters.py in the same transaction as the rows they count (see crm/rollups.py). Never edit
    by hand: `manage.py rebuild_rollups` recomputes them from the raw rows.

    Calls count in the bucket they started in; state and session time (microseconds) is clipped to
    each bucket, closed intervals only (reads add the open ones up to now).
    """

    calls = _counter()
    calls_in_progress = _counter()
    calls_completed = _counter()
    calls_no_answer = _counter()
    calls_busy = _counter()
    calls_failed = _counter()
    calls_dropped = _counter()
    calls_connected = _counter("Calls with duration_seconds > 0.")
    talk_seconds = _counter()
    wrap_up_seconds = _counter()
    connected_wrap_up_seconds = _counter("Wrap-up seconds of connected calls (for AHT).")
    outcome_lead = _counter()
    outcome_interested = _counter()
    outcome_not_interested = _counter()
    outcome_callback = _counter()
    outcome_wrong_number = _counter()
    outcome_voicemail = _counter()
    outcome_other = _counter()
    available_us = _counter()
    on_call_us = _counter()
    wrap_up_us = _counter()
    break_us = _counter()
    away_us = _counter()
    logged_us = _counter("Microseconds covered by login sessions.")

    class Meta:
        abstract = True


class AgentHourRollup(AgentRollupCounters):
    hour = models.DateTimeField(help_text="Start of the local hour (stored in UTC).")
    agent_id = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "agent_id"], name="calls_agenthourrollup_key")]
        indexes = [models.Index(fields=["agent_id", "hour"], name="agenthourrollup_agent_hour")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} @ {self.hour:%Y-%m-%d %H:%M}"


class AgentDayRollup(AgentRollupCounters):
    day = models.DateTimeField(help_text="Local midnight starting the day (stored in UTC).")
    agent_id = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "agent_id"], name="calls_agentdayrollup_key")]
        indexes = [models.Index(fields=["agent_id", "day"], name="agentdayrollup_agent_day")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} on {timezone.localtime(self.day):%Y-%m-%d}"


class OrgDayRollup(AgentRollupCounters):
    """The same counters for the whole organisation per local day: what an admin's month reads."""

    day = models.DateTimeField(unique=True, help_text="Local midnight starting the day (stored in UTC).")

    def __str__(self) -> str:
        return f"organisation on {timezone.localtime(self.day):%Y-%m-%d}"
