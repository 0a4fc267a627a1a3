"""Celery tasks of crm/: one-line wrappers over domain functions."""

from __future__ import annotations

from celery import shared_task

from crm import messaging


@shared_task(
    bind=True,
    name="crm.tasks.send_whatsapp_message",
    autoretry_for=(messaging.TransientSendError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
    acks_late=True,
)
def send_whatsapp_message(self, message_id: int) -> None:
    """Idempotent (the message's queued → sending claim): re-delivery never sends twice. The last retry
    fails the message with the reason instead of leaving it queued."""
    messaging.send_message(message_id, final_attempt=self.request.retries >= self.max_retries)


@shared_task(name="crm.tasks.send_broadcast", acks_late=True)
def send_broadcast(broadcast_id: int) -> int:
    """Paced (WHATSAPP_BROADCAST_RATE_PER_MINUTE) and safe to re-run: only still-waiting messages are sent."""
    from crm.broadcasts import send_broadcast_messages

    return send_broadcast_messages(broadcast_id)
