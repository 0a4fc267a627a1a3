"""Snapshots: the organisation's metrics for each closed local hour, day and ISO week, stored once per
(type, period start) so history ranges and reports read one row instead of recomputing.

A snapshot holds, for every registered metric computed from counters, its value over the period
(organisation-wide scope), plus the summed counters themselves, so a metric added later can still be
computed from old snapshots. Building is idempotent: rebuilding a period replaces its row (late data,
e.g. an import, is picked up by building again).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from analytics.access import AnalyticsScope
from analytics.models import AnalyticsSnapshot, SnapshotType
from analytics.periods import Period
from crm.periods import local_date, local_midnight
from crm.rollups import EVERYONE, HOUR, hour_start

ORGANISATION = AnalyticsScope(EVERYONE, None)


def period_bounds(snapshot_type: str, moment: datetime) -> tuple[datetime, datetime]:
    """The hour, local day or ISO week (Monday 00:00 local) containing `moment`."""
    if snapshot_type == SnapshotType.HOURLY:
        start = hour_start(moment)
        return start, start + HOUR  # an absolute hour, right across DST changes
    day = local_date(moment)
    if snapshot_type == SnapshotType.DAILY:
        return local_midnight(day), local_midnight(day + timedelta(days=1))
    if snapshot_type == SnapshotType.WEEKLY:
        monday = day - timedelta(days=day.weekday())
        return local_midnight(monday), local_midnight(monday + timedelta(days=7))
    raise ValueError(f"snapshot type must be one of {', '.join(SnapshotType.values)}, not {snapshot_type!r}.")


def last_closed_period(snapshot_type: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last period that has ended: the previous local hour, yesterday, last ISO week."""
    now = now or timezone.now()
    current_start, _ = period_bounds(snapshot_type, now)
    return period_bounds(snapshot_type, current_start - timedelta(microseconds=1))


def snapshot_metrics(start: datetime, end: datetime, now: datetime | None = None) -> dict[str, Any]:
    """{"metrics": {key: value}, "counters": {name: sum}} of the organisation over [start, end)."""
    from analytics import call_metrics, chat_metrics  # noqa: F401 - importing them registers the metrics
    from analytics.registry import METRICS, Context

    context = Context(Period(start, end, "snapshot"), ORGANISATION, now=now)
    counters = context.counters
    metrics = {key: metric.apply(counters) for key, metric in sorted(METRICS.items()) if metric.from_counters}
    return {"metrics": metrics, "counters": dict(sorted(counters.items()))}


def build_snapshot(snapshot_type: str, period_start: datetime, *, now: datetime | None = None) -> AnalyticsSnapshot:
    """Compute and store (or replace) the snapshot of the period of `snapshot_type` containing `period_start`."""
    start, end = period_bounds(snapshot_type, period_start)
    now = now or timezone.now()
    values = {"period_end": end, "metrics": snapshot_metrics(start, end, now), "updated_at": now}
    snapshot, _ = AnalyticsSnapshot.objects.update_or_create(
        snapshot_type=snapshot_type,
        period_start=start,
        defaults=values,
        create_defaults={**values, "created_at": now},
    )
    return snapshot


def build_last_snapshot(snapshot_type: str, now: datetime | None = None) -> AnalyticsSnapshot:
    """The snapshot of the last closed period (what the scheduled task and the cron endpoint build)."""
    start, _ = last_closed_period(snapshot_type, now)
    return build_snapshot(snapshot_type, start, now=now)


def history(snapshot_type: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Stored snapshots whose period starts in [start, end), oldest first:
    [{"start", "end", "metrics", "counters"}]. Periods never built are absent (not zero)."""
    if snapshot_type not in SnapshotType.values:
        raise ValueError(f"snapshot type must be one of {', '.join(SnapshotType.values)}, not {snapshot_type!r}.")
    rows = AnalyticsSnapshot.objects.filter(
        snapshot_type=snapshot_type, period_start__gte=start, period_start__lt=end
    ).order_by("period_start")
    return [
        {
            "start": row.period_start,
            "end": row.period_end,
            "metrics": row.metrics.get("metrics", {}),
            "counters": row.metrics.get("counters", {}),
        }
        for row in rows
    ]
