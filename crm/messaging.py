"""WhatsApp through Twilio: sending outbound messages, the order of message statuses, sender bookkeeping.

The writes themselves are actions (crm/actions.py, "Messages"); this module holds the rules they share
and the one call to Twilio. The HTTP boundary is twilio's own `HttpClient`: tests build a real
`twilio.rest.Client` around a fake one (tests/twilio_messaging_fakes.py) and monkeypatch `twilio_client`.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from crm import actions
from crm.models import Conversation, Direction, Message, MessageStatus, WhatsAppSender
from crm.twilio_account import NOT_CONFIGURED, twilio_configured, twilio_rest_client

logger = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = "/webhooks/twilio/messaging/status"
MAX_BODY_LENGTH = 4096  # WhatsApp's limit for a text message

# --- Status ordering --------------------------------------------------------------------------------------

# Outbound statuses only move forward along this ranking; an equal or lower rank changes nothing.
STATUS_RANK: dict[str, int] = {
    MessageStatus.ACCEPTED: 0,
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}
# Final failures: they apply only while the message has not been delivered, and nothing follows them.
FAILURE_STATUSES = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
FINAL_STATUSES = (*FAILURE_STATUSES, MessageStatus.CANCELED)
# Waiting in Twilio's (or our) queue: the sender's queue depth.
QUEUED_STATUSES = (MessageStatus.QUEUED, MessageStatus.ACCEPTED, MessageStatus.SENDING)

# A sender whose last N outcomes (delivered/read/failed/undelivered) are all failures is DEGRADED; the
# next delivered or read message makes it ACTIVE again. DISCONNECTED is set by people only.
SENDER_DEGRADED_AFTER_FAILURES = 5

# --- Twilio error codes -----------------------------------------------------------------------------------

TWILIO_ERROR_REASONS: dict[int, str] = {
    21211: "Invalid 'To' phone number",
    21408: "Twilio may not send to this region (geo permissions)",
    21610: "The recipient has unsubscribed (replied STOP)",
    21614: "The 'To' number is not a valid mobile number",
    30003: "Unreachable destination",
    30004: "Message blocked by the recipient or the carrier",
    30005: "Unknown destination: the number does not exist or is not on WhatsApp",
    30006: "Landline or unreachable carrier",
    30007: "Filtered as spam by the carrier or WhatsApp",
    30008: "Unknown error",
    63003: "The recipient is not on WhatsApp or the number is invalid",
    63007: "Our WhatsApp sender is not set up (no channel found for the 'From' number)",
    63016: "Outside the 24-hour WhatsApp window: use a template",
    63018: "WhatsApp rate limit for this sender exceeded",
    63024: "The recipient cannot receive this message (invalid recipient or template)",
    63032: "The recipient's WhatsApp has restricted messages from businesses",
}


def error_reason(code: int | None, twilio_message: str = "") -> str:
    """A sentence a supervisor understands for a Twilio error code."""
    if code is not None and code in TWILIO_ERROR_REASONS:
        return TWILIO_ERROR_REASONS[code]
    if twilio_message:
        return twilio_message if code is None else f"Twilio error {code}: {twilio_message}"
    return "Twilio reported a failure without an error code" if code is None else f"Twilio error {code}"


def parse_error_code(raw: object) -> int | None:
    try:
        return int(str(raw).strip()) if raw not in (None, "") else None
    except ValueError:
        return None


def parse_price(raw: object) -> Decimal | None:
    """Twilio reports a cost as a negative string ("-0.00500"); we store it positive."""
    if raw in (None, ""):
        return None
    try:
        return abs(Decimal(str(raw)))
    except InvalidOperation:
        return None


def whatsapp_address(phone: str) -> str:
    return phone if phone.startswith("whatsapp:") else f"whatsapp:{phone}"


def bare_phone(address: str) -> str:
    """'whatsapp:+48600100200' → '+48600100200'."""
    return address.strip().removeprefix("whatsapp:")


# --- Senders ----------------------------------------------------------------------------------------------


def sender_for_conversation(conversation: Conversation | None) -> WhatsAppSender | None:
    """The conversation's own number (`our_number`) if it is one of our senders, else the default."""
    if conversation is not None and conversation.our_number:
        sender = WhatsAppSender.objects.filter(phone=conversation.our_number).first()
        if sender is not None:
            return sender
    return WhatsAppSender.objects.filter(is_default=True).first()


def sender_queue_depths() -> dict[int, int]:
    """{sender id: outbound messages still queued/accepted/sending} for every sender (one query)."""
    rows = WhatsAppSender.objects.annotate(
        queue_depth=Count(
            "messages",
            filter=Q(messages__direction=Direction.OUTBOUND, messages__status__in=QUEUED_STATUSES),
        )
    ).values_list("pk", "queue_depth")
    return dict(rows)


# --- Sending ----------------------------------------------------------------------------------------------


class TransientSendError(Exception):
    """Twilio could not take the message for a reason that may pass (429, 5xx, network): retry later."""


def twilio_client() -> Client:
    """The REST client for the configured account (the seam tests replace)."""
    return twilio_rest_client()


def status_callback_url() -> str:
    return settings.PUBLIC_BASE_URL + STATUS_CALLBACK_PATH


def queue_outbound(message: Message) -> None:
    """Send `message` (an outbound row in status `queued`) through Twilio once the current transaction
    commits; bot, system and agent messages all go out this way."""
    message_id = message.pk

    def enqueue() -> None:
        # crm.tasks imports this module; importing it here keeps the import graph acyclic.
        from crm.tasks import send_whatsapp_message

        send_whatsapp_message.delay(message_id)

    transaction.on_commit(enqueue)


def _http_status(exc: Exception) -> int | None:
    if isinstance(exc, TwilioRestException):
        return int(exc.status)
    return None


def send_message(message_id: int, *, final_attempt: bool = False) -> Message | None:
    """Hand one queued outbound message to Twilio; safe to call any number of times.

    Returns the message, or None when there was nothing to do (unknown id, already sent, not queued).
    A Twilio 4xx fails the message (no retry); 429/5xx/network raise TransientSendError for the task to
    retry, except on the `final_attempt`, which fails the message with the reason instead.
    """
    message = actions.claim_message_for_sending(message_id)
    if message is None:
        return None
    if not twilio_configured():
        return actions.do_fail_message(message, error_code=None, error_message=NOT_CONFIGURED)
    sender = message.sender or sender_for_conversation(message.conversation)
    if sender is None:
        return actions.do_fail_message(
            message, error_code=None, error_message="No WhatsApp sender is configured: add one in the admin."
        )
    try:
        created = twilio_client().messages.create(
            from_=whatsapp_address(sender.phone),
            to=whatsapp_address(message.contact.phone),
            body=message.body,
            status_callback=status_callback_url(),
        )
    except (TwilioException, requests.RequestException) as exc:
        status = _http_status(exc)
        if isinstance(exc, TwilioRestException) and status is not None and 400 <= status < 500 and status != 429:
            code = int(exc.code) if exc.code is not None else None
            return actions.do_fail_message(message, error_code=code, error_message=error_reason(code, exc.msg))
        reason = f"Twilio could not take the message now ({type(exc).__name__}, HTTP {status or 'none'})"
        if final_attempt:
            return actions.do_fail_message(message, error_code=None, error_message=reason + "; gave up retrying")
        actions.release_message_claim(message)
        logger.info("Message %s: %s; the task will retry", message.pk, reason)
        raise TransientSendError(reason) from exc
    return actions.do_record_message_sent(
        message,
        sid=created.sid,
        status=created.status or MessageStatus.QUEUED,
        sender=sender,
        price=parse_price(created.price),
        price_unit=created.price_unit or "",
    )
