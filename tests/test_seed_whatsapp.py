"""`seed_demo` WhatsApp data obeys the same rules as live traffic (docs/api.md "WhatsApp", METRICS.md
"Conversations and messages"): senders, one open chat per contact, bot hand-off, FRT, CSAT, delivery
timestamps, broadcasts outside conversations and never to a contact who opted out."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command

from config.demo import OUR_WHATSAPP_NUMBER
from crm.models import (
    OPEN_CONVERSATION_STATUSES,
    AuthorType,
    AutoReplyRule,
    Broadcast,
    BroadcastStatus,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    WhatsAppSender,
)

NOW = datetime(2026, 3, 10, 11, 0, tzinfo=ZoneInfo(settings.TIME_ZONE))


@pytest.fixture
def seeded(db):
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", "--days", "3", "--agents", "4", stdout=StringIO(), stderr=StringIO())
    messages = list(Message.objects.select_related("contact").order_by("created_at", "pk"))
    return list(Conversation.objects.all()), messages


@pytest.fixture
def conversations(seeded) -> list[Conversation]:
    return seeded[0]


@pytest.fixture
def messages(seeded) -> list[Message]:
    return seeded[1]


@pytest.fixture
def transcripts(conversations, messages) -> dict[int, list[Message]]:
    by_conversation: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        if message.conversation_id is not None:
            by_conversation[message.conversation_id].append(message)
    assert set(by_conversation) == {c.pk for c in conversations}
    return by_conversation


def test_senders_and_rules(seeded, messages):
    default = WhatsAppSender.objects.get(is_default=True)
    assert default.phone == OUR_WHATSAPP_NUMBER
    assert WhatsAppSender.objects.count() == 2
    for sender in WhatsAppSender.objects.all():
        through = [m for m in messages if m.sender_id == sender.pk]
        assert through, f"{sender} carries messages"
        assert sender.last_seen_at == max(
            t for m in through for t in (m.created_at, m.sent_at, m.delivered_at, m.read_at, m.failed_at) if t
        )
    assert all(m.sender_id is not None for m in messages), "every message has a sender"
    rules = list(AutoReplyRule.objects.all())
    assert {r.intent for r in rules} >= {"opening hours", "prices", "talk to a person"}
    hand_off = next(r for r in rules if r.hands_off)
    assert hand_off.reply == "" and {"person", "agent"} <= set(hand_off.keyword_list())
    assert all(r.reply for r in rules if not r.hands_off)


def test_at_most_one_open_conversation_per_contact_and_channel(conversations):
    open_ones = Counter((c.contact_id, c.channel) for c in conversations if c.status in OPEN_CONVERSATION_STATUSES)
    assert open_ones, "the live demo has open chats"
    assert max(open_ones.values()) == 1


def test_messages_belong_to_their_conversations_contact_and_number(conversations, transcripts):
    senders = dict(WhatsAppSender.objects.values_list("pk", "phone"))
    for conversation in conversations:
        for message in transcripts[conversation.pk]:
            assert message.contact_id == conversation.contact_id
            assert senders[message.sender_id] == conversation.our_number
            assert (message.direction == Direction.INBOUND) == (message.author_type == AuthorType.CUSTOMER)


def test_first_response_is_the_first_human_message_after_creation_and_hand_off(conversations, transcripts):
    for conversation in conversations:
        human = [m for m in transcripts[conversation.pk] if m.author_type == AuthorType.AGENT]
        if not human:
            assert conversation.first_response_at is None
            continue
        assert conversation.first_response_at == min(m.created_at for m in human)
        assert conversation.first_response_at >= max(
            conversation.created_at, conversation.escalated_at or conversation.created_at
        )


def test_bot_only_and_escalated_conversations(conversations, transcripts):
    bot_only = escalated = 0
    for conversation in conversations:
        lines = transcripts[conversation.pk]
        human = [m for m in lines if m.author_type == AuthorType.AGENT]
        if conversation.handled_by_bot_first and not conversation.escalated_to_human:
            bot_only += 1
            assert not human
        if conversation.escalated_to_human:
            escalated += 1
            assert conversation.escalated_at is not None and conversation.escalated_at >= conversation.created_at
            # An escalated chat may still wait in the queue for its first agent; once resolved it had one.
            after = [m for m in human if m.created_at >= conversation.escalated_at]
            if conversation.status == ConversationStatus.RESOLVED or human:
                assert after
    assert bot_only and escalated


def test_resolution_and_csat(conversations):
    for conversation in conversations:
        assert (conversation.status == ConversationStatus.RESOLVED) == (conversation.resolved_at is not None)
        if conversation.csat_score is not None:
            assert 1 <= conversation.csat_score <= 5
            assert conversation.csat_requested_at is not None and conversation.csat_received_at is not None
            assert conversation.csat_received_at >= conversation.csat_requested_at
        else:
            assert conversation.csat_received_at is None
    assert any(c.csat_score for c in conversations)


def test_message_timestamps_agree_with_status(messages):
    for message in messages:
        if message.status in (MessageStatus.DELIVERED, MessageStatus.READ):
            assert message.sent_at is not None and message.delivered_at is not None
        if message.status == MessageStatus.READ:
            assert message.read_at is not None and message.read_at >= message.delivered_at
        if message.status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
            assert message.failed_at is not None and message.error_code is not None
        assert max(t for t in (message.created_at, message.sent_at, message.read_at, message.failed_at) if t) <= NOW


def test_broadcasts_stay_outside_conversations_and_skip_opted_out_contacts(messages):
    broadcast_messages = [m for m in messages if m.broadcast_id is not None]
    assert broadcast_messages
    default = WhatsAppSender.objects.get(is_default=True)
    for message in broadcast_messages:
        assert message.conversation_id is None
        assert (message.direction, message.author_type, message.sender_id) == (
            Direction.OUTBOUND,
            AuthorType.SYSTEM,
            default.pk,
        )
        opted_out = message.contact.whatsapp_opted_out_at
        assert opted_out is None or opted_out > message.created_at
    for broadcast in Broadcast.objects.all():
        assert broadcast.status == BroadcastStatus.COMPLETED and broadcast.sender_id == default.pk
        assert broadcast.started_at is not None and broadcast.completed_at is not None
        assert broadcast.completed_at >= broadcast.started_at
