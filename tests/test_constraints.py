"""The database itself rejects rows that break the data's rules (whatever code path wrote them)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from calls.models import (
    AgentSession,
    AgentStatus,
    AgentStatusPeriod,
    ApiKey,
    CallLog,
    CallStatus,
    hash_api_key,
)
from crm.models import (
    AuthorType,
    Campaign,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    LeadStatusChange,
    Message,
    MessageStatus,
    User,
)
from crm.phones import to_e164
from tests.factories import (
    AgentSessionFactory,
    AgentStatusPeriodFactory,
    CallLogFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def rejects(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_call_statuses_and_outcomes_must_be_known():
    rejects(lambda: CallLogFactory.create(status="answered"))
    rejects(lambda: CallLogFactory.create(outcome="sale"))
    rejects(lambda: CallLogFactory.create(direction="sideways"))


def test_call_cannot_end_before_it_starts():
    rejects(
        lambda: CallLogFactory.create(
            started_at=NOW, answered_at=None, duration_seconds=0, ended_at=NOW - timedelta(seconds=1)
        )
    )


def test_call_answer_lies_between_start_and_end():
    rejects(
        lambda: CallLogFactory.create(
            started_at=NOW, answered_at=NOW - timedelta(seconds=1), ended_at=NOW + timedelta(minutes=1)
        )
    )
    rejects(
        lambda: CallLogFactory.create(
            started_at=NOW, answered_at=NOW + timedelta(minutes=2), ended_at=NOW + timedelta(minutes=1)
        )
    )


def test_call_has_an_end_exactly_when_its_status_is_final():
    rejects(lambda: CallLogFactory.create(status=CallStatus.COMPLETED, ended_at=None))
    rejects(lambda: CallLogFactory.create(status=CallStatus.IN_PROGRESS))  # factory sets ended_at
    call = CallLogFactory.create(status=CallStatus.IN_PROGRESS, answered_at=None, ended_at=None, duration_seconds=0)
    assert call.pk


def test_call_durations_are_never_negative_and_unanswered_calls_have_no_talk_time():
    rejects(lambda: CallLogFactory.create(wrap_up_seconds=-1))
    rejects(lambda: CallLogFactory.create(duration_seconds=-5))
    rejects(lambda: CallLogFactory.create(status=CallStatus.NO_ANSWER, answered_at=None, duration_seconds=30))


def test_twilio_call_sids_are_unique_but_optional():
    CallLogFactory.create(twilio_call_sid="CA" + "1" * 32)
    rejects(lambda: CallLogFactory.create(twilio_call_sid="CA" + "1" * 32))
    CallLogFactory.create(twilio_call_sid=None)
    CallLogFactory.create(twilio_call_sid=None)
    assert CallLog.objects.filter(twilio_call_sid__isnull=True).count() == 2


def test_an_agent_has_only_one_open_status_period():
    agent = UserFactory.create()
    AgentStatusPeriodFactory.create(agent=agent, status=AgentStatus.AVAILABLE, ended_at=None)
    rejects(lambda: AgentStatusPeriodFactory.create(agent=agent, status=AgentStatus.BREAK, ended_at=None))
    AgentStatusPeriodFactory.create(agent=UserFactory.create(), ended_at=None)  # another agent may have theirs
    assert AgentStatusPeriod.objects.open().count() == 2


def test_status_periods_and_sessions_end_after_they_start():
    rejects(lambda: AgentStatusPeriodFactory.create(started_at=NOW, ended_at=NOW - timedelta(seconds=1)))
    rejects(lambda: AgentStatusPeriodFactory.create(status="lunch"))
    rejects(lambda: AgentSessionFactory.create(started_at=NOW, ended_at=NOW - timedelta(seconds=1)))


def test_an_agent_has_only_one_open_login_session():
    agent = UserFactory.create()
    AgentSessionFactory.create(agent=agent, ended_at=None)
    rejects(lambda: AgentSessionFactory.create(agent=agent, ended_at=None))
    assert AgentSession.objects.count() == 1


def test_message_sids_are_unique():
    MessageFactory.create(twilio_sid="SM" + "a" * 32)
    rejects(lambda: MessageFactory.create(twilio_sid="SM" + "a" * 32))


def test_message_author_matches_direction_and_belongs_somewhere():
    conversation = ConversationFactory.create()
    contact = conversation.contact
    rejects(
        lambda: Message.objects.create(
            contact=contact,
            conversation=conversation,
            direction=Direction.INBOUND,
            author_type=AuthorType.BOT,
            status=MessageStatus.RECEIVED,
        )
    )
    rejects(
        lambda: Message.objects.create(
            contact=contact,
            conversation=conversation,
            direction=Direction.OUTBOUND,
            author_type=AuthorType.CUSTOMER,
            status=MessageStatus.SENT,
        )
    )
    rejects(
        lambda: Message.objects.create(
            contact=contact,
            conversation=conversation,
            direction=Direction.OUTBOUND,
            author_type=AuthorType.AGENT,
            status=MessageStatus.SENT,
        )
    )
    rejects(
        lambda: Message.objects.create(
            contact=contact,
            direction=Direction.OUTBOUND,
            author_type=AuthorType.BOT,
            status=MessageStatus.SENT,
        )
    )
    rejects(
        lambda: Message.objects.create(
            contact=contact,
            conversation=conversation,
            direction=Direction.INBOUND,
            author_type=AuthorType.CUSTOMER,
            status="seen",
        )
    )


def test_one_open_conversation_per_contact_and_channel():
    contact = ContactFactory.create()
    ConversationFactory.create(contact=contact, status=ConversationStatus.OPEN)
    rejects(lambda: ConversationFactory.create(contact=contact, status=ConversationStatus.PENDING))
    # Resolved ones do not count: history may hold many.
    ConversationFactory.create(contact=contact, status=ConversationStatus.RESOLVED, resolved_at=NOW)
    ConversationFactory.create(contact=contact, status=ConversationStatus.RESOLVED, resolved_at=NOW)
    assert Conversation.objects.filter(contact=contact).count() == 3


def test_conversation_times_and_csat():
    rejects(lambda: ConversationFactory.create(status=ConversationStatus.RESOLVED, resolved_at=None))
    rejects(lambda: ConversationFactory.create(status=ConversationStatus.OPEN, resolved_at=NOW))
    rejects(lambda: ConversationFactory.create(created_at=NOW, first_response_at=NOW - timedelta(seconds=1)))
    rejects(
        lambda: ConversationFactory.create(
            created_at=NOW, status=ConversationStatus.RESOLVED, resolved_at=NOW - timedelta(seconds=1)
        )
    )
    rejects(lambda: ConversationFactory.create(escalated_to_human=True, escalated_at=None))
    rejects(lambda: ConversationFactory.create(csat_score=0))
    rejects(lambda: ConversationFactory.create(csat_score=6))
    assert ConversationFactory.create(csat_score=5, status=ConversationStatus.RESOLVED, resolved_at=timezone.now()).pk


def test_lead_status_values_and_changes():
    rejects(lambda: ContactFactory.create(lead_status="hot"))
    rejects(lambda: ContactFactory.create(business_reason="bored"))
    contact = ContactFactory.create()
    rejects(lambda: LeadStatusChange.objects.create(contact=contact, from_status="new", to_status="new"))
    rejects(lambda: LeadStatusChange.objects.create(contact=contact, from_status="new", to_status="won"))


def test_contact_phones_are_unique():
    ContactFactory.create(phone="+48600100200")
    rejects(lambda: ContactFactory.create(phone="+48600100200"))


def test_campaign_cannot_end_before_it_starts():
    today = NOW.date()
    rejects(lambda: Campaign.objects.create(name="Backwards", start_date=today, end_date=today - timedelta(days=1)))
    rejects(lambda: Campaign.objects.create(name="Odd", channel="fax"))


def test_roles_are_known():
    rejects(lambda: User.objects.create(username="x", role="boss"))


def test_api_key_hashes_are_unique_and_raw_keys_are_not_stored():
    user = UserFactory.create()
    key, raw = ApiKey.objects.create_key(user, "softphone")
    assert raw.startswith("cb_") and len(raw) > 40
    assert key.key_hash == hash_api_key(raw)
    assert raw not in {key.prefix, key.key_hash, key.name}
    assert ApiKey.objects.for_key(raw) == key
    assert ApiKey.objects.for_key(raw + "x") is None
    rejects(lambda: ApiKey.objects.create(user=user, name="copy", prefix=key.prefix, key_hash=key.key_hash))
    key.revoke()
    assert ApiKey.objects.for_key(raw) is None


def test_phone_numbers_are_normalised_to_e164_and_bad_ones_explained():
    assert to_e164("600 100 200") == "+48600100200"
    assert to_e164("whatsapp:+34 612 345 678") == "+34612345678"
    with pytest.raises(ValidationError, match="not a phone number"):
        to_e164("call me maybe")
    with pytest.raises(ValidationError, match="not a valid phone number"):
        to_e164("+48 12")
    with pytest.raises(ValidationError, match="required"):
        to_e164("  ")
    contact = Contact(phone="+48 600 100 200")
    contact.full_clean()
    assert contact.phone == "+48600100200"
