"""Django admin for analytics: reconciliation results, snapshots and the audit log — all read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from analytics.models import AnalyticsSnapshot, AuditLog, RollupCheck
from crm.admin import ReadOnlyAdmin


class DriftListFilter(admin.SimpleListFilter):
    title = "result"
    parameter_name = "drift"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Drift found"), ("no", "No drift")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(drift_count__gt=0)
        if self.value() == "no":
            return queryset.filter(drift_count=0)
        return queryset


@admin.register(RollupCheck)
class RollupCheckAdmin(ReadOnlyAdmin):
    """Hourly comparisons of the counters with the raw rows; drift means a write bypassed the counters
    (`manage.py rebuild_rollups --since` repairs it)."""

    list_display = ("checked_at", "window_start", "window_end", "drift_count")
    list_filter = (DriftListFilter, ("checked_at", admin.DateFieldListFilter))
    search_fields = ("details",)
    date_hierarchy = "checked_at"
    list_per_page = 100


@admin.register(AnalyticsSnapshot)
class AnalyticsSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("period_start", "period_end", "snapshot_type", "updated_at")
    list_filter = ("snapshot_type", ("period_start", admin.DateFieldListFilter))
    search_fields = ("snapshot_type",)
    date_hierarchy = "period_start"
    list_per_page = 100


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "user", "action", "resource")
    list_filter = ("action", ("at", admin.DateFieldListFilter), ("user", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("resource", "user__username", "user__first_name", "user__last_name")
    date_hierarchy = "at"
    list_per_page = 100
