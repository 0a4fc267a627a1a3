"""Broadcasts: who receives one, how fast it goes out, and how well it did (docs/api.md "Broadcasts").

The writes (start, completion) are `do_*` functions in crm/actions.py; this module holds the reads and
the paced sending loop that the `crm.tasks.send_broadcast` task wraps.

Rate limit: WHATSAPP_BROADCAST_RATE_PER_MINUTE messages per minute per broadcast, i.e. one message
every 60 / rate seconds. The loop below paces the hand-over to the sender with a real (injectable)
sleep rather than scheduling each send with a Celery countdown, because the embedded setup runs tasks
eagerly and eager tasks ignore countdowns: a countdown schedule would send everything at once there.
The price of the loop is that one worker (or, embedded, the request that started the broadcast)
is busy for the whole broadcast: recipients × 60 / rate seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypedDict

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet

from crm.actions import do_refresh_broadcast_status
from crm.models import Broadcast, BroadcastStatus, Contact, Message, MessageStatus

logger = logging.getLogger(__name__)

# Statuses of a message Twilio has not yet reported as sent (ours or Twilio's queue).
PENDING_STATUSES = (MessageStatus.QUEUED, MessageStatus.ACCEPTED, MessageStatus.SENDING)
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)
DELIVERED_STATUSES = (MessageStatus.DELIVERED, MessageStatus.READ)
FAILED_STATUSES = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


def broadcast_recipients(broadcast: Broadcast) -> QuerySet[Contact]:
    """The campaign's contacts who have not opted out of WhatsApp, in a stable order."""
    if broadcast.campaign_id is None:
        return Contact.objects.none()
    return Contact.objects.filter(campaign_id=broadcast.campaign_id, whatsapp_opted_out_at__isnull=True).order_by("pk")


def send_interval_seconds(rate_per_minute: int | None = None) -> float:
    return 60 / (rate_per_minute or settings.WHATSAPP_BROADCAST_RATE_PER_MINUTE)


class BroadcastStats(TypedDict):
    recipients: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int
    canceled: int
    success_rate: float | None
    delivery_rate: float | None


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def broadcast_stats(broadcast: Broadcast) -> BroadcastStats:
    """The broadcast's funnel in one aggregate query. The counts are cumulative as in METRICS.md's
    message funnel: `sent` includes delivered and read, `delivered` includes read.

    - success_rate = delivered / recipients × 100: the share of the audience the message reached.
    - delivery_rate = delivered / (sent + failed) × 100: METRICS.md's delivery rate, over the messages
      whose fate is known (still queued ones are left out).
    Both are None while their denominator is 0.
    """
    counts = Message.objects.filter(broadcast=broadcast).aggregate(
        recipients=Count("pk"),
        queued=Count("pk", filter=Q(status__in=PENDING_STATUSES)),
        sent=Count("pk", filter=Q(status__in=SENT_STATUSES)),
        delivered=Count("pk", filter=Q(status__in=DELIVERED_STATUSES)),
        read=Count("pk", filter=Q(status=MessageStatus.READ)),
        failed=Count("pk", filter=Q(status__in=FAILED_STATUSES)),
        canceled=Count("pk", filter=Q(status=MessageStatus.CANCELED)),
    )
    return BroadcastStats(
        recipients=counts["recipients"],
        queued=counts["queued"],
        sent=counts["sent"],
        delivered=counts["delivered"],
        read=counts["read"],
        failed=counts["failed"],
        canceled=counts["canceled"],
        success_rate=_percent(counts["delivered"], counts["recipients"]),
        delivery_rate=_percent(counts["delivered"], counts["sent"] + counts["failed"]),
    )


def send_message(message_id: int) -> None:
    """Hand one queued message to the outbound sender (crm.tasks.send_whatsapp_message)."""
    from crm.tasks import send_whatsapp_message

    send_whatsapp_message.delay(message_id)


def send_broadcast_messages(
    broadcast_id: int,
    *,
    send: Callable[[int], object] | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> int:
    """Send the broadcast's still-waiting messages, one every `send_interval_seconds()`; returns how
    many were handed over. Safe to run again (after a crash or a retry): only messages still waiting
    (queued, no Twilio SID) are sent, and a second concurrent run of the same broadcast does nothing."""
    send = send or send_message
    interval = send_interval_seconds()
    waiting = Message.objects.filter(broadcast_id=broadcast_id, status=MessageStatus.QUEUED, twilio_sid__isnull=True)
    ids = list(waiting.order_by("pk").values_list("pk", flat=True))
    lock = f"broadcast-sending:{broadcast_id}"
    if not cache.add(lock, 1, timeout=int(len(ids) * interval) + 600):
        logger.info("Broadcast %s is already being sent by another worker", broadcast_id)
        return 0
    handed = 0
    try:
        for index, message_id in enumerate(ids):
            if index:
                sleep(interval)
            # Checked before every message so that cancelling a broadcast stops it within one interval.
            if not Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.SENDING).exists():
                break
            send(message_id)
            handed += 1
    finally:
        cache.delete(lock)
    broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
    if broadcast is not None:
        do_refresh_broadcast_status(broadcast)
    return handed
