"""Celery tasks of calls/: one-line wrappers over domain functions."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from calls.twilio import TwilioSyncError, sync_twilio_day


@shared_task(
    name="calls.tasks.sync_twilio_calls",
    autoretry_for=(TwilioSyncError,),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=4,
    acks_late=True,
)
def sync_twilio_calls(day_iso: str, requested_by_id: int | None = None, sync_run_id: int | None = None) -> int:
    """Returns the TwilioSyncRun id; retries reuse that run (sync_run_id is the idempotency key)."""
    return sync_twilio_day(date.fromisoformat(day_iso), requested_by_id=requested_by_id, sync_run_id=sync_run_id).pk
