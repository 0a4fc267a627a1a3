"""Celery tasks of reporting/: one-line wrappers over reporting.delivery.

Retries of a delivery are not Celery retries: they are scheduled in the delivery's row
(next_attempt_at) and picked up by `dispatch_due_deliveries`, so they wait for real with eager tasks
too. Every task here is idempotent, which acks_late (a task redelivered after a worker died) needs.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from reporting import delivery


@shared_task(
    name="reporting.tasks.run_subscription",
    acks_late=True,
    # The database not answering when beat fires must not lose the day's report: the firing is retried
    # (delivery_for is get_or_create on the period, so a retry after a half-done attempt makes no second row).
    autoretry_for=(DatabaseError,),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def run_subscription(subscription_id: int) -> int | None:
    """Beat fired a subscription: its delivery for today's period is made and sent; returns its id."""
    return getattr(delivery.run_subscription(subscription_id), "pk", None)


@shared_task(
    name="reporting.tasks.send_delivery",
    acks_late=True,
    max_retries=0,  # retries live in the row (see above); the claim makes a redelivered task harmless
    # Killed before REPORT_SENDING_TIMEOUT_SECONDS, so the stuck-recovery never takes a delivery from a
    # worker that is still at it; the soft limit first turns into an ordinary failed attempt.
    soft_time_limit=settings.REPORT_SEND_TIME_LIMIT_SECONDS - 15,
    time_limit=settings.REPORT_SEND_TIME_LIMIT_SECONDS,
)
def send_delivery(delivery_id: int) -> str:
    """One attempt at a delivery (claim, build, render, send); returns its status afterwards."""
    return delivery.send_delivery(delivery_id)


@shared_task(name="reporting.tasks.dispatch_due_deliveries", acks_late=True)
def dispatch_due_deliveries() -> int:
    """Every minute: sends the deliveries whose (re)try is due, recovers stuck ones; returns how many."""
    return delivery.dispatch_due_deliveries()
