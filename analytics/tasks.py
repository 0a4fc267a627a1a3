"""Celery tasks of analytics/: one-line wrappers over domain functions (scheduled in
settings.CELERY_BEAT_SCHEDULE). Both are idempotent, so a redelivered task (acks_late) does no harm."""

from __future__ import annotations

from celery import shared_task

from analytics.rollups import reconcile_rollups
from analytics.snapshots import build_last_snapshot


@shared_task(name="analytics.tasks.build_snapshot", acks_late=True)
def build_snapshot_task(snapshot_type: str) -> int:
    """Build (or rebuild) the snapshot of the last closed hour / day / week; returns its id."""
    return build_last_snapshot(snapshot_type).pk


@shared_task(name="analytics.tasks.reconcile_rollups", acks_late=True)
def reconcile_rollups_task() -> int:
    """Compare the last two days of rollups with the raw rows; returns the number of drifted cells."""
    return reconcile_rollups(days=2).drift_count
