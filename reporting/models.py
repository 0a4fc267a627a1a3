"""Scheduled reports (API.md "Reporting"): templates, subscriptions and their deliveries.

- ``ReportTemplate``: the HTML of a report's PDF, in Django's template language, checked when saved
  (a syntax error is refused with its line).
- ``ReportSubscription``: who receives which report, how and when. Saving one creates or updates its
  django-celery-beat schedule (reporting.schedules); deactivating or deleting it disables it.
- ``ReportDelivery``: one report for one period: its data, its PDF and how sending it went. It is
  unique per subscription and period, which is the idempotency key of a delivery.
"""

from __future__ import annotations

import calendar
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.template import Engine, TemplateSyntaxError
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

WEEKDAYS = list(calendar.day_name)  # "Monday" … "Sunday", the API's spelling (English, whatever the locale)


class ReportType(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")


class DeliveryMethod(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SLACK = "slack", _("Slack")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


def _choices_check(field: str, choices: type[models.TextChoices]) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": list(choices.values)}), name=f"%(app_label)s_%(class)s_{field}_valid"
    )


def template_syntax_error(html: str) -> str | None:
    """A sentence naming the first syntax error of `html` and its line, or None when it compiles."""
    engine = Engine(debug=True, libraries=_template_libraries())  # debug: errors carry their line
    try:
        engine.from_string(html)
    except TemplateSyntaxError as exc:
        info = getattr(exc, "template_debug", None)
        where = f"Line {info['line']}: " if info else ""
        return f"{where}{exc}"
    return None


def _template_libraries() -> dict[str, str]:
    from django.template import engines

    return dict(engines["django"].engine.libraries)  # type: ignore[attr-defined]


class ReportTemplate(models.Model):
    """The HTML of a report's PDF. Empty `html` is never stored: the built-in template is a file."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    html = models.TextField(
        help_text=_(
            "Django template language. The report's data is the context (see docs/reports.md); a syntax "
            "error is refused with its line."
        )
    )
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.clean()  # validated on every save, not only in forms
        super().save(*args, **kwargs)

    def clean(self) -> None:
        error = template_syntax_error(self.html)
        if error:
            raise ValidationError({"html": error})


class ReportSubscription(models.Model):
    """A report sent on a schedule. Scope: the whole organisation, one team or one agent."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="report_subscriptions",
        help_text=_("Told by e-mail when a delivery fails for good."),
    )
    team = models.ForeignKey("crm.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    report_type = models.CharField(max_length=16, choices=ReportType.choices, default=ReportType.DAILY)
    delivery_method = models.CharField(max_length=16, choices=DeliveryMethod.choices, default=DeliveryMethod.EMAIL)
    recipients = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "E-mail addresses; for Slack, incoming-webhook URLs (hosts allowed by REPORT_SLACK_WEBHOOK_HOSTS)."
        ),
    )
    delivery_time = models.TimeField(default="08:00", help_text=_("Local time in the subscription's time zone."))
    delivery_days = models.JSONField(
        default=list,
        blank=True,
        help_text=_('Weekday names, e.g. ["Monday"]; empty = every day (daily) or Monday (weekly).'),
    )
    timezone = models.CharField(max_length=64, blank=True, help_text=_("IANA time zone; empty = TIME_ZONE."))
    template = models.ForeignKey(
        ReportTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    is_active = models.BooleanField(default=True)
    skip_if_empty = models.BooleanField(default=False, help_text=_("Send nothing for a period without data."))
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, editable=False, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            _choices_check("report_type", ReportType),
            _choices_check("delivery_method", DeliveryMethod),
            models.CheckConstraint(
                condition=Q(team__isnull=True) | Q(agent__isnull=True), name="reporting_subscription_one_scope"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        return "agent" if self.agent_id else "team" if self.team_id else "organisation"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone or settings.TIME_ZONE)

    @property
    def days(self) -> list[str]:
        """The weekdays it is sent on, defaults applied, in week order."""
        if self.delivery_days:
            return [d for d in WEEKDAYS if d in self.delivery_days]
        return list(WEEKDAYS) if self.report_type == ReportType.DAILY else ["Monday"]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.team_id and self.agent_id:
            errors["agent"] = "Choose a team or an agent, not both."
        if self.timezone:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                errors["timezone"] = f"{self.timezone!r} is not a known IANA time zone (e.g. Europe/Warsaw)."
        if not isinstance(self.delivery_days, list) or any(d not in WEEKDAYS for d in self.delivery_days):
            errors["delivery_days"] = f"Delivery days must be weekday names: {', '.join(WEEKDAYS)}."
        if not isinstance(self.recipients, list) or not all(isinstance(r, str) for r in self.recipients):
            errors["recipients"] = "Recipients must be a list of strings."
        if errors:
            raise ValidationError(errors)


class ReportDelivery(models.Model):
    """One report for one period. (subscription, period) is unique: the idempotency key of a send."""

    subscription = models.ForeignKey(
        ReportSubscription, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    # What was built, copied from the subscription (ad-hoc reports from `generate` have none).
    report_type = models.CharField(max_length=16, choices=ReportType.choices)
    team = models.ForeignKey("crm.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    delivery_method = models.CharField(max_length=16, choices=DeliveryMethod.choices, default=DeliveryMethod.EMAIL)
    recipients = models.JSONField(default=list, blank=True)
    period_start = models.DateField()
    period_end = models.DateField(help_text=_("Inclusive."))
    timezone = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    data = models.JSONField(null=True, blank=True, help_text=_("The report's figures, as built."))
    pdf = models.FileField(upload_to="reports/%Y/%m/", blank=True)
    delivered_to = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Slack webhooks that took this report (a retry posts only to the others)."),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text=_("When a worker took it (status sending)."))
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "-pk"]
        verbose_name_plural = "report deliveries"
        constraints = [
            _choices_check("report_type", ReportType),
            _choices_check("delivery_method", DeliveryMethod),
            _choices_check("status", DeliveryStatus),
            models.UniqueConstraint(
                fields=["subscription", "period_start", "period_end"],
                condition=Q(subscription__isnull=False),
                name="reporting_delivery_once_per_period",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="reporting_delivery_period_order"
            ),
        ]

    def __str__(self) -> str:
        label = self.subscription.name if self.subscription else "ad-hoc"
        return f"{label}: {self.period_start}–{self.period_end} ({self.status})"

    @property
    def scope(self) -> str:
        return "agent" if self.agent_id else "team" if self.team_id else "organisation"
