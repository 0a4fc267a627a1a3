"""Analytics: reconciliation results, snapshots and the audit log."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class RollupCheck(models.Model):
    """One reconciliation of the rollups against the raw rows (analytics.rollups.reconcile_rollups)."""

    checked_at = models.DateTimeField(default=timezone.now, db_index=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    drift_count = models.PositiveIntegerField(help_text="(hour, key) cells whose counters differ from the raw rows.")
    details = models.JSONField(default=list, blank=True, help_text="The first 200 differences.")

    class Meta:
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        verdict = "no drift" if not self.drift_count else f"{self.drift_count} drifted cells"
        return f"Rollup check {self.checked_at:%Y-%m-%d %H:%M}: {verdict}"


class SnapshotType(models.TextChoices):
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class AnalyticsSnapshot(models.Model):
    """The organisation's metrics for one closed hour, local day or ISO week (JSON, keyed by metric)."""

    snapshot_type = models.CharField(max_length=8, choices=SnapshotType.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    metrics = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot_type", "period_start"], name="analytics_snapshot_once"),
            models.CheckConstraint(
                condition=models.Q(snapshot_type__in=SnapshotType.values), name="analytics_snapshot_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_snapshot_type_display()} snapshot from {self.period_start:%Y-%m-%d %H:%M}"


class AuditAction(models.TextChoices):
    VIEW_BUSINESS_IMPACT = "view_business_impact", "Viewed business impact"
    EXPORT = "export", "Exported"


class AuditLog(models.Model):
    """Who looked at sensitive figures (business impact) and who exported what."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey("crm.User", null=True, on_delete=models.SET_NULL, related_name="analytics_audit_entries")
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    resource = models.CharField(max_length=100, help_text="The section, table or report concerned.")
    detail = models.JSONField(default=dict, blank=True, help_text="Filters, period, format.")

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=AuditAction.values), name="analytics_auditlog_action_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.get_action_display()} {self.resource}"
