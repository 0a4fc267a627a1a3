"""Writes to contacts: the only code that changes a contact's lead status (and records the change)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from crm import bot, messaging, rollups
from crm.errors import ActionError
from crm.models import (
    AuthorType,
    Broadcast,
    BroadcastStatus,
    Contact,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Direction,
    LeadStatus,
    LeadStatusChange,
    Message,
    MessageStatus,
    SenderStatus,
    TwilioMessageEvent,
    User,
    WhatsAppSender,
)
from crm.phones import to_e164

# Lead statuses only move forward along the funnel; `converted` and `lost` are final outcomes,
# except that a lost lead may be won back by an explicit change (admin) — not by a call disposition.
FUNNEL_ORDER = {
    LeadStatus.NEW: 0,
    LeadStatus.CONTACTED: 1,
    LeadStatus.QUALIFIED: 2,
    LeadStatus.CONVERTED: 3,
    LeadStatus.LOST: 3,
}


def do_change_lead_status(
    contact: Contact,
    to_status: str,
    *,
    at: datetime | None = None,
    by: User | None = None,
    note: str = "",
    forward_only: bool = False,
) -> bool:
    """Set the contact's lead status and record the change; returns whether anything changed.

    With `forward_only` (used by call dispositions) a change that would move the lead back along the
    funnel, or out of a final status, is ignored.
    """
    at = at or timezone.now()
    with transaction.atomic():
        current = Contact.objects.select_for_update().only("lead_status").get(pk=contact.pk).lead_status
        if current == to_status:
            return False
        if forward_only and (
            current in (LeadStatus.CONVERTED, LeadStatus.LOST)
            or FUNNEL_ORDER[LeadStatus(to_status)] <= FUNNEL_ORDER[LeadStatus(current)]
        ):
            return False
        LeadStatusChange.objects.create(
            contact=contact, from_status=current, to_status=to_status, changed_at=at, changed_by=by, note=note
        )
        Contact.objects.filter(pk=contact.pk).update(lead_status=to_status, lead_status_changed_at=at)
        contact.lead_status, contact.lead_status_changed_at = to_status, at
    return True


def do_record_contact_created(contact: Contact, *, by: User | None = None, note: str = "") -> LeadStatusChange:
    """The first row of a contact's lead history: '' → its status, at its creation time."""
    return LeadStatusChange.objects.create(
        contact=contact,
        from_status="",
        to_status=contact.lead_status,
        changed_at=contact.created_at,
        changed_by=by,
        note=note,
    )


# --- Conversations (WhatsApp inbound, bot and hand-off, assignment, resolve/reopen, CSAT) ----------------
# The rules are described in docs/api.md "WhatsApp".


def do_receive_inbound_message(
    *,
    message_sid: str,
    from_number: str,
    to_number: str,
    body: str,
    num_media: int = 0,
    profile_name: str = "",
    at: datetime | None = None,
) -> tuple[Message, bool]:
    """Store a customer's WhatsApp message in its conversation; returns (message, created).

    A re-delivered MessageSid returns the stored message with created=False and changes nothing.
    """
    at = at or timezone.now()
    if not message_sid:
        raise ActionError("invalid", "The message has no MessageSid.", field="MessageSid")
    existing = Message.objects.filter(twilio_sid=message_sid).first()
    if existing is not None:
        return existing, False
    try:
        customer = to_e164(from_number)
    except ValidationError as exc:
        raise ActionError("invalid_phone", f"The sender: {exc.messages[0]}", field="From") from None
    try:
        ours = to_e164(to_number)
    except ValidationError as exc:
        raise ActionError("invalid_phone", f"Our number: {exc.messages[0]}", field="To") from None
    if not body.strip() and num_media <= 0:
        raise ActionError("empty_message", "The message is empty: it has neither text nor media.", field="Body")
    try:
        with transaction.atomic():
            return _receive(message_sid, customer, ours, body, num_media, profile_name, at), True
    except IntegrityError:
        # Twilio re-delivered the message while the first delivery was being stored: the unique
        # twilio_sid lets exactly one of them in; the other one is the duplicate.
        existing = Message.objects.filter(twilio_sid=message_sid).first()
        if existing is None:
            raise
        return existing, False


def _receive(
    message_sid: str, customer: str, ours: str, body: str, num_media: int, profile_name: str, at: datetime
) -> Message:
    contact, created = Contact.objects.get_or_create(phone=customer, defaults={"name": profile_name[:200]})
    if created:
        do_record_contact_created(contact, note="First WhatsApp message")
    sender, _ = WhatsAppSender.objects.get_or_create(phone=ours)
    WhatsAppSender.objects.filter(pk=sender.pk).update(last_seen_at=at)
    # One decision at a time per contact: two messages arriving together must not open two conversations.
    contact = Contact.objects.select_for_update().get(pk=contact.pk)

    conversation = Conversation.objects.open().filter(contact=contact, channel=ConversationChannel.WHATSAPP).first()
    new_conversation = False
    if conversation is None:
        last = (
            Conversation.objects.filter(
                contact=contact, channel=ConversationChannel.WHATSAPP, status=ConversationStatus.RESOLVED
            )
            .order_by("-resolved_at", "-pk")
            .first()
        )
        in_window = (
            last is not None
            and last.resolved_at is not None
            and at - last.resolved_at <= timedelta(hours=settings.WHATSAPP_REOPEN_WINDOW_HOURS)
        )
        if last is not None and in_window and num_media == 0 and bot.awaits_csat(last) and bot.csat_score(body):
            return _record_csat(last, contact, sender, message_sid, body, at)
        if last is not None and in_window:
            conversation = last
            _reopen(conversation)
        else:
            conversation = Conversation.objects.create(
                contact=contact,
                channel=ConversationChannel.WHATSAPP,
                campaign=contact.campaign,
                our_number=ours,
                created_at=at,
            )
            new_conversation = True
    elif conversation.status == ConversationStatus.PENDING:
        conversation.status = ConversationStatus.OPEN

    message = Message.objects.create(
        conversation=conversation,
        contact=contact,
        sender=sender,
        direction=Direction.INBOUND,
        author_type=AuthorType.CUSTOMER,
        status=MessageStatus.RECEIVED,
        body=body,
        media_count=num_media,
        twilio_sid=message_sid,
        created_at=at,
    )
    conversation.last_message_at = at
    _answer_or_hand_off(conversation, message, sender, new_conversation=new_conversation, at=at)
    conversation.save()
    return message


def _record_csat(
    conversation: Conversation, contact: Contact, sender: WhatsAppSender, message_sid: str, body: str, at: datetime
) -> Message:
    message = Message.objects.create(
        conversation=conversation,
        contact=contact,
        sender=sender,
        direction=Direction.INBOUND,
        author_type=AuthorType.CUSTOMER,
        status=MessageStatus.RECEIVED,
        body=body,
        twilio_sid=message_sid,
        created_at=at,
    )
    with rollups.tracking(Conversation, [conversation.pk]):
        Conversation.objects.filter(pk=conversation.pk).update(
            csat_score=bot.csat_score(body), csat_received_at=at, last_message_at=at, updated_at=at
        )
    return message


def _reopen(conversation: Conversation) -> None:
    conversation.status = ConversationStatus.OPEN
    conversation.resolved_at = None
    conversation.resolved_by = None
    conversation.reopened_count += 1


def _answer_or_hand_off(
    conversation: Conversation, message: Message, sender: WhatsAppSender, *, new_conversation: bool, at: datetime
) -> None:
    """The bot answers while the conversation is its own; otherwise a human gets it (unsaved changes)."""
    if bot.bot_may_answer(conversation, new_conversation=new_conversation):
        rule = bot.match_rule(message.body, campaign_id=conversation.campaign_id)
        if rule is not None and not rule.hands_off:
            reply = Message.objects.create(
                conversation=conversation,
                contact=conversation.contact,
                sender=sender,
                direction=Direction.OUTBOUND,
                author_type=AuthorType.BOT,
                status=MessageStatus.QUEUED,
                body=rule.reply,
                intent=rule.intent,
                created_at=at,
            )
            conversation.handled_by_bot_first = True
            messaging.queue_outbound(reply)
            return
        if conversation.handled_by_bot_first:
            conversation.escalated_to_human = True
            conversation.escalated_at = max(at, conversation.created_at)
    if conversation.assigned_agent_id is None:
        conversation.assigned_agent = bot.pick_agent(conversation)


def do_assign_conversation(conversation: Conversation, agent: User, *, by: User | None = None) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.assigned_agent_id != agent.pk:
            conversation.assigned_agent = agent
            conversation.save(update_fields=["assigned_agent", "updated_at"])
    return conversation


def do_set_conversation_priority(conversation: Conversation, priority: str) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.priority != priority:
            conversation.priority = priority
            conversation.save(update_fields=["priority", "updated_at"])
    return conversation


def do_resolve_conversation(
    conversation: Conversation, *, by: User | None = None, at: datetime | None = None
) -> Conversation:
    """Resolve; with WHATSAPP_CSAT_ON_RESOLVE the customer is asked for a 1–5 rating."""
    at = at or timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().select_related("contact").get(pk=conversation.pk)
        if conversation.status == ConversationStatus.RESOLVED:
            raise ActionError("already_resolved", "This conversation is already resolved.", status=409)
        conversation.status = ConversationStatus.RESOLVED
        conversation.resolved_at = max(at, conversation.created_at)
        conversation.resolved_by = by
        if (
            settings.WHATSAPP_CSAT_ON_RESOLVE
            and conversation.channel == ConversationChannel.WHATSAPP
            and conversation.contact.whatsapp_opted_out_at is None
        ):
            prompt = Message.objects.create(
                conversation=conversation,
                contact=conversation.contact,
                sender=messaging.sender_for_conversation(conversation),
                direction=Direction.OUTBOUND,
                author_type=AuthorType.SYSTEM,
                status=MessageStatus.QUEUED,
                body=bot.CSAT_PROMPT,
                created_at=conversation.resolved_at,
            )
            conversation.csat_requested_at = conversation.resolved_at
            conversation.last_message_at = conversation.resolved_at
            messaging.queue_outbound(prompt)
        conversation.save()
    return conversation


def do_reopen_conversation(conversation: Conversation, *, by: User | None = None) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.status != ConversationStatus.RESOLVED:
            raise ActionError("not_resolved", "Only a resolved conversation can be reopened.", status=409)
        other = (
            Conversation.objects.open()
            .filter(contact_id=conversation.contact_id, channel=conversation.channel)
            .exclude(pk=conversation.pk)
            .first()
        )
        if other is not None:
            raise ActionError(
                "conversation_open",
                f"The contact already has an open conversation (#{other.pk}); continue that one instead.",
                status=409,
            )
        _reopen(conversation)
        conversation.save()
    return conversation


# --- Messages (outbound WhatsApp: agent replies, sending, Twilio status callbacks, senders) ---------------
# The rules are described in docs/api.md "WhatsApp messages"; the ordering and error texts live in
# crm/messaging.py.


def do_touch_whatsapp_sender(phone: str, at: datetime | None = None) -> None:
    """Move our sender's last_seen_at forward (traffic or a status callback through that number)."""
    phone = messaging.bare_phone(phone)
    if not phone:
        return
    at = at or timezone.now()
    # A conditional update: concurrent callbacks never move it backwards, and no lock is needed.
    WhatsAppSender.objects.filter(phone=phone).filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=at)).update(
        last_seen_at=at
    )


def do_send_agent_reply(conversation: Conversation, agent: User, body: str) -> Message:
    """An agent's WhatsApp reply: stored `queued` and sent by the Celery task after the commit.

    Refused (nothing stored) when the body is empty or too long, the contact opted out, the
    conversation is resolved (reopen it first) or not a WhatsApp one, or no sender is configured.
    """
    body = body.strip()
    if not body:
        raise ActionError("empty_body", "The message is empty; write something to send.", field="body")
    if len(body) > messaging.MAX_BODY_LENGTH:
        raise ActionError(
            "body_too_long",
            f"WhatsApp messages are at most {messaging.MAX_BODY_LENGTH} characters; this one has {len(body)}.",
            field="body",
        )
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        contact = Contact.objects.get(pk=conversation.contact_id)
        if contact.whatsapp_opted_out_at is not None:
            raise ActionError(
                "opted_out",
                f"{contact.name or contact.phone} asked not to receive WhatsApp messages "
                f"(on {timezone.localtime(contact.whatsapp_opted_out_at):%Y-%m-%d}); nothing was sent.",
                status=409,
            )
        if conversation.status == ConversationStatus.RESOLVED:
            raise ActionError(
                "conversation_resolved", "This conversation is resolved; reopen it first to reply.", status=409
            )
        if conversation.channel != ConversationChannel.WHATSAPP:
            raise ActionError(
                "unsupported_channel", "Only WhatsApp conversations can be answered from here.", status=409
            )
        sender = messaging.sender_for_conversation(conversation)
        if sender is None:
            raise ActionError("no_sender", "No WhatsApp sender is configured: an admin must add one first.", status=409)
        message = Message.objects.create(
            conversation=conversation,
            contact=contact,
            sender=sender,
            direction=Direction.OUTBOUND,
            author_type=AuthorType.AGENT,
            agent=agent,
            body=body,
            status=MessageStatus.QUEUED,
            created_at=now,
        )
        fields = ["last_message_at", "updated_at"]
        if conversation.first_response_at is None:
            # FRT starts at the later of creation and the bot hand-off; a hand-off stamped by a clock
            # slightly ahead of ours must not make the response precede it (or break the constraint).
            conversation.first_response_at = max(now, conversation.created_at, conversation.escalated_at or now)
            conversation.first_response_by = agent
            fields += ["first_response_at", "first_response_by"]
        if conversation.assigned_agent_id is None:
            conversation.assigned_agent = agent
            fields.append("assigned_agent")
        conversation.last_message_at = max(now, conversation.last_message_at or now)
        conversation.save(update_fields=fields)
        messaging.queue_outbound(message)
    return message


def claim_message_for_sending(message_id: int) -> Message | None:
    """Take a queued outbound message for sending (queued → sending); None if it is not sendable.

    The conditional update is the idempotency key: of two workers running the same task, exactly one
    gets the message, and a message with a SID is never sent again.
    """
    with rollups.tracking(Message, [message_id]):
        claimed = Message.objects.filter(
            pk=message_id, direction=Direction.OUTBOUND, status=MessageStatus.QUEUED, twilio_sid__isnull=True
        ).update(status=MessageStatus.SENDING, updated_at=timezone.now())
    if not claimed:
        return None
    return Message.objects.select_related("contact", "sender", "conversation").get(pk=message_id)


def release_message_claim(message: Message) -> None:
    """Put a claimed message back to `queued` (Twilio could not take it now; the task retries)."""
    with rollups.tracking(Message, [message.pk]):
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING, twilio_sid__isnull=True).update(
            status=MessageStatus.QUEUED, updated_at=timezone.now()
        )


def do_fail_message(message: Message, *, error_code: int | None, error_message: str) -> Message:
    """A message Twilio refused (or that could not be handed over): failed, with a readable reason."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.status in messaging.FINAL_STATUSES:
            return message
        message.status = MessageStatus.FAILED
        message.failed_at = timezone.now()
        message.error_code = error_code
        message.error_message = error_message[:300]
        message.save(update_fields=["status", "failed_at", "error_code", "error_message", "updated_at"])
        if message.sender_id is not None:
            _update_sender_health(message.sender_id)
        _refresh_broadcast_of(message)
    return message


def do_record_message_sent(
    message: Message,
    *,
    sid: str,
    status: str,
    sender: WhatsAppSender,
    price: Decimal | None = None,
    price_unit: str = "",
) -> Message:
    """Store the SID Twilio gave the message, then apply the callbacks that arrived before it."""
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        message.twilio_sid = sid
        message.sender = sender
        if status in messaging.STATUS_RANK or status in messaging.FINAL_STATUSES:
            message.status = status
        if (
            status in messaging.STATUS_RANK
            and messaging.STATUS_RANK[status] >= messaging.STATUS_RANK[MessageStatus.SENT]
        ):
            message.sent_at = message.sent_at or now
        if price is not None:
            message.price, message.price_unit = price, price_unit
        message.save()
        do_touch_whatsapp_sender(sender.phone, now)
        apply_pending_message_events(message)
        message.refresh_from_db()
        _refresh_broadcast_of(message)
    return message


def _refresh_broadcast_of(message: Message) -> None:
    # With separate workers each broadcast message is sent by its own task; the last one to leave the
    # queue completes the broadcast (the sending loop's own check may run before they finish).
    if message.broadcast_id is not None:
        do_refresh_broadcast_status(Broadcast(pk=message.broadcast_id))


def do_record_message_status_event(payload: dict[str, str]) -> TwilioMessageEvent:
    """Store a signature-valid status callback, then apply it if its message is known (else it waits
    for `do_record_message_sent`)."""
    sid = (payload.get("MessageSid") or payload.get("SmsSid") or "").strip()
    if not sid:
        raise ActionError("invalid", "The callback has no MessageSid.", field="MessageSid")
    status = (payload.get("MessageStatus") or payload.get("SmsStatus") or "").strip().lower()
    # Stored on its own first: a callback that cannot be applied is kept, never lost with a 500.
    event = TwilioMessageEvent.objects.create(message_sid=sid, message_status=status, payload=payload)
    do_touch_whatsapp_sender(payload.get("From", ""), event.received_at)
    message = Message.objects.filter(twilio_sid=sid).first()
    if message is not None:
        # Also applies earlier callbacks that raced with the SID being stored.
        apply_pending_message_events(message)
        event.refresh_from_db()
    return event


def apply_pending_message_events(message: Message) -> int:
    """Apply the stored, unapplied callbacks for the message's SID, in status order; returns how many."""
    if not message.twilio_sid:
        return 0
    with transaction.atomic():
        # The message row lock serialises two callbacks for the same message.
        Message.objects.select_for_update().filter(pk=message.pk).first()
        pending = list(
            TwilioMessageEvent.objects.select_for_update().filter(
                message_sid=message.twilio_sid, applied_at__isnull=True
            )
        )
        pending.sort(key=lambda e: (messaging.STATUS_RANK.get(e.message_status, 9), e.received_at, e.pk))
        for event in pending:
            do_apply_message_status(event)
    return len(pending)


def do_apply_message_status(event: TwilioMessageEvent) -> bool:
    """Apply one status callback to the message with its SID; returns whether the message changed.

    Statuses only move forward (queued/accepted/sending < sent < delivered < read); an equal or lower
    one changes nothing, so duplicates and late callbacks converge. failed/undelivered are final and
    apply only before delivery. A skipped step gets the later step's time (read before delivered sets
    delivered_at = read_at). An unknown SID leaves the event unapplied.
    """
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(twilio_sid=event.message_sid).first()
        if message is None:
            return False
        changed = False
        if message.direction == Direction.OUTBOUND:
            changed = _apply_status(message, event.message_status, event.payload, event.received_at)
        event.message, event.applied_at = message, timezone.now()
        event.save(update_fields=["message", "applied_at"])
    return changed


def _apply_status(message: Message, status: str, payload: dict[str, str], at: datetime) -> bool:
    current = message.status
    if current in messaging.FINAL_STATUSES:
        return False
    rank = messaging.STATUS_RANK
    if status in messaging.FAILURE_STATUSES or status == MessageStatus.CANCELED:
        if rank.get(current, 9) > rank[MessageStatus.SENT]:
            return False  # delivered or read: a late failure report changes nothing
        message.status = status
        if status != MessageStatus.CANCELED:
            code = messaging.parse_error_code(payload.get("ErrorCode"))
            message.failed_at = at
            message.error_code = code
            message.error_message = messaging.error_reason(code, payload.get("ErrorMessage", ""))[:300]
        message.save()
        if status != MessageStatus.CANCELED and message.sender_id is not None:
            _update_sender_health(message.sender_id)
        return True
    if status not in rank or rank[status] <= rank.get(current, -1):
        return False
    message.status = status
    if rank[status] >= rank[MessageStatus.SENT]:
        message.sent_at = message.sent_at or at
    if rank[status] >= rank[MessageStatus.DELIVERED]:
        message.delivered_at = message.delivered_at or at
    if status == MessageStatus.READ:
        message.read_at = message.read_at or at
    message.save()
    if status in (MessageStatus.DELIVERED, MessageStatus.READ) and message.sender_id is not None:
        _update_sender_health(message.sender_id)
    return True


def _update_sender_health(sender_id: int) -> None:
    """ACTIVE ⇄ DEGRADED by the sender's last outcomes (crm.messaging.SENDER_DEGRADED_AFTER_FAILURES)."""
    n = messaging.SENDER_DEGRADED_AFTER_FAILURES
    outcomes = list(
        Message.objects.filter(
            sender_id=sender_id,
            direction=Direction.OUTBOUND,
            status__in=[MessageStatus.DELIVERED, MessageStatus.READ, *messaging.FAILURE_STATUSES],
        )
        .order_by("-updated_at", "-pk")
        .values_list("status", flat=True)[:n]
    )
    changed = 0
    if len(outcomes) == n and all(s in messaging.FAILURE_STATUSES for s in outcomes):
        changed = WhatsAppSender.objects.filter(pk=sender_id, status=SenderStatus.ACTIVE).update(
            status=SenderStatus.DEGRADED
        )
    elif outcomes and outcomes[0] not in messaging.FAILURE_STATUSES:
        changed = WhatsAppSender.objects.filter(pk=sender_id, status=SenderStatus.DEGRADED).update(
            status=SenderStatus.ACTIVE
        )
    if changed:
        rollups.announce_change_on_commit()  # the dashboards show senders' health


# --- Broadcasts (start, completion) ---------------------------------------------------------------------
# The rules are described in docs/api.md "Broadcasts"; the reads and the paced sending are in
# crm/broadcasts.py, the sending task is crm.tasks.send_broadcast.

STARTABLE_BROADCAST_STATUSES = (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)


def do_start_broadcast(broadcast: Broadcast, by: User | None = None, *, at: datetime | None = None) -> int:
    """Create one queued message per recipient (the campaign's contacts who have not opted out), mark
    the broadcast `sending` and, after the commit, schedule the paced sending; returns the number of
    recipients. Only a draft or scheduled broadcast can start. With no recipient at all the broadcast
    is completed at once."""
    from crm.broadcasts import broadcast_recipients  # crm.broadcasts imports this module

    at = at or timezone.now()
    with transaction.atomic():
        locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if locked.status not in STARTABLE_BROADCAST_STATUSES:
            raise ActionError(
                "broadcast_not_startable",
                f"Only a draft or scheduled broadcast can start; this one is {locked.get_status_display().lower()}.",
                status=409,
            )
        if locked.campaign_id is None:
            raise ActionError("invalid", "Choose the campaign whose contacts receive the broadcast.", field="campaign")
        sender = locked.sender or WhatsAppSender.objects.filter(is_default=True).first()
        if sender is None:
            raise ActionError("no_sender", "No WhatsApp sender is configured: add one in the admin.", field="sender")
        if sender.status == SenderStatus.DISCONNECTED:
            raise ActionError("sender_disconnected", f"The sender {sender} is disconnected.", field="sender")
        contact_ids = list(broadcast_recipients(locked).values_list("pk", flat=True))
        queued = Message.objects.bulk_create(
            [
                Message(
                    broadcast=locked,
                    conversation=None,
                    contact_id=contact_id,
                    sender=sender,
                    direction=Direction.OUTBOUND,
                    author_type=AuthorType.SYSTEM,
                    status=MessageStatus.QUEUED,
                    body=locked.body,
                    created_at=at,
                )
                for contact_id in contact_ids
            ],
            batch_size=1000,
        )
        rollups.count_created(Message, queued)
        locked.status, locked.started_at, locked.sender = BroadcastStatus.SENDING, at, sender
        locked.save(update_fields=["status", "started_at", "sender"])
        if not contact_ids:
            do_refresh_broadcast_status(locked, at=at)
        else:
            broadcast_id = locked.pk

            def schedule() -> None:
                from crm.tasks import send_broadcast  # crm.tasks imports this module

                send_broadcast.delay(broadcast_id)

            transaction.on_commit(schedule)
    broadcast.status, broadcast.sender = locked.status, sender
    broadcast.started_at, broadcast.completed_at = locked.started_at, locked.completed_at
    return len(contact_ids)


def do_refresh_broadcast_status(broadcast: Broadcast, *, at: datetime | None = None) -> bool:
    """Complete a sending broadcast once none of its messages waits to be sent (queued with no Twilio
    SID); returns whether it completed now. Called after the sending loop and after status updates."""
    with transaction.atomic():
        locked = Broadcast.objects.select_for_update().filter(pk=broadcast.pk, status=BroadcastStatus.SENDING).first()
        if locked is None:
            return False
        waiting = Message.objects.filter(broadcast=locked, status=MessageStatus.QUEUED, twilio_sid__isnull=True)
        if waiting.exists():
            return False
        completed = max(at or timezone.now(), locked.started_at or at or timezone.now())
        locked.status, locked.completed_at = BroadcastStatus.COMPLETED, completed
        locked.save(update_fields=["status", "completed_at"])
    broadcast.status, broadcast.completed_at = locked.status, locked.completed_at
    return True
