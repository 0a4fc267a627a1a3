"""Incoming WhatsApp messages through Twilio: signed webhook, contact/conversation matching, reopen
window, re-delivery, the bot and the hand-off to people, assignment, CSAT (docs/api.md "WhatsApp")."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from twilio.request_validator import RequestValidator

from crm import actions, bot
from crm.models import (
    AuthorType,
    AutoReplyRule,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    LeadStatusChange,
    Message,
    MessageStatus,
    Priority,
    WhatsAppSender,
)
from tests.factories import CampaignFactory, ContactFactory, ConversationFactory, UserFactory
from tests.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN

PUBLIC = "https://callboard.example.com"
PATH = "/webhooks/twilio/messaging/inbound"
CUSTOMER = "+48600100200"
OURS = "+48221234567"


@pytest.fixture(autouse=True)
def _twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.WHATSAPP_REOPEN_WINDOW_HOURS = 24
    settings.WHATSAPP_CSAT_ON_RESOLVE = True


_sids = iter(range(1, 10_000))


def params(body: str = "Hello", *, sid: str | None = None, frm: str = CUSTOMER, media: int = 0, **extra) -> dict:
    p = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": sid or f"SM{next(_sids):032d}",
        "From": f"whatsapp:{frm}",
        "To": f"whatsapp:{OURS}",
        "Body": body,
        "NumMedia": str(media),
        "ProfileName": "Anna Nowak",
    }
    p.update(extra)
    return p


def inbound(client, p: dict, *, signature: str | None = None):
    signature = signature if signature is not None else RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + PATH, p)
    return client.post(
        PATH, data=urlencode(p), content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=signature
    )


def receive(body: str = "Hello", **kwargs) -> Message:
    p = params(body, **kwargs)
    message, _ = actions.do_receive_inbound_message(
        message_sid=p["MessageSid"],
        from_number=p["From"],
        to_number=p["To"],
        body=body,
        num_media=int(p["NumMedia"]),
        profile_name=p["ProfileName"],
    )
    return message


def counts() -> tuple[int, ...]:
    return (
        Contact.objects.count(),
        Conversation.objects.count(),
        Message.objects.count(),
        WhatsAppSender.objects.count(),
        LeadStatusChange.objects.count(),
    )


# --- The webhook -----------------------------------------------------------------------------------


def test_first_message_creates_contact_conversation_and_message(client, db):
    campaign = CampaignFactory.create()
    response = inbound(client, params("Hi there", sid="SM" + "a" * 32))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml") and b"<Response></Response>" in response.content
    contact = Contact.objects.get(phone=CUSTOMER)
    assert contact.name == "Anna Nowak" and contact.campaign is None
    assert list(contact.status_changes.values_list("from_status", "to_status")) == [("", "new")]
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.status == ConversationStatus.OPEN and conversation.our_number == OURS
    message = Message.objects.get(twilio_sid="SM" + "a" * 32)
    assert (message.direction, message.author_type, message.status) == ("inbound", "customer", "received")
    assert message.body == "Hi there" and message.conversation == conversation and message.media_count == 0
    sender = WhatsAppSender.objects.get(phone=OURS)
    assert message.sender == sender and sender.last_seen_at is not None
    assert conversation.last_message_at == message.created_at
    assert campaign.conversations.count() == 0


def test_known_contact_keeps_name_and_new_conversation_takes_its_campaign(client, db):
    campaign = CampaignFactory.create()
    contact = ContactFactory.create(phone=CUSTOMER, name="Known Name", campaign=campaign)
    assert inbound(client, params()).status_code == 200
    contact.refresh_from_db()
    assert contact.name == "Known Name" and not contact.status_changes.exists()
    assert Conversation.objects.get(contact=contact).campaign == campaign


def test_next_message_continues_the_open_conversation_and_pending_becomes_open(client, db):
    inbound(client, params("one"))
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.PENDING)
    inbound(client, params("two"))
    conversation.refresh_from_db()
    assert Conversation.objects.count() == 1 and conversation.status == ConversationStatus.OPEN
    assert list(conversation.messages.values_list("body", flat=True)) == ["one", "two"]


def resolved_conversation(hours_ago: float, **kwargs) -> Conversation:
    contact = Contact.objects.filter(phone=CUSTOMER).first() or ContactFactory.create(phone=CUSTOMER)
    resolved_at = timezone.now() - timedelta(hours=hours_ago)
    return ConversationFactory.create(
        contact=contact,
        status=ConversationStatus.RESOLVED,
        created_at=resolved_at - timedelta(hours=1),
        resolved_at=resolved_at,
        our_number="+48221111111",
        **kwargs,
    )


def test_message_within_the_window_reopens_the_last_resolved_conversation(client, agent_a1):
    old = resolved_conversation(30)
    recent = resolved_conversation(2, assigned_agent=agent_a1, resolved_by=agent_a1)
    inbound(client, params("It broke again"))
    recent.refresh_from_db()
    assert Conversation.objects.count() == 2
    assert recent.status == ConversationStatus.OPEN and recent.resolved_at is None and recent.resolved_by is None
    assert recent.reopened_count == 1 and recent.our_number == "+48221111111"
    assert recent.assigned_agent == agent_a1
    assert recent.messages.get().body == "It broke again"
    old.refresh_from_db()
    assert old.status == ConversationStatus.RESOLVED


def test_message_after_the_window_opens_a_new_conversation(client, db):
    old = resolved_conversation(25)
    inbound(client, params("Hello again"))
    old.refresh_from_db()
    assert old.status == ConversationStatus.RESOLVED and old.reopened_count == 0
    new = Conversation.objects.exclude(pk=old.pk).get()
    assert new.status == ConversationStatus.OPEN and new.our_number == OURS and new.messages.count() == 1


def test_redelivered_message_changes_nothing(client, db):
    p = params("Hello", sid="SM" + "b" * 32)
    assert inbound(client, p).status_code == 200
    conversation = Conversation.objects.get()
    before = (counts(), conversation.last_message_at, WhatsAppSender.objects.get().last_seen_at)
    assert inbound(client, p).status_code == 200
    conversation.refresh_from_db()
    assert (counts(), conversation.last_message_at, WhatsAppSender.objects.get().last_seen_at) == before


def test_a_race_on_the_same_sid_is_caught_by_the_unique_constraint(db, monkeypatch):
    first = receive("Hello", sid="SM" + "c" * 32)
    # The second delivery passed the "already stored?" check before the first one committed.
    real_filter = Message.objects.filter
    misses = [Message.objects.none()]

    def filter_missing_once(*args, **kwargs):
        return misses.pop() if misses else real_filter(*args, **kwargs)

    monkeypatch.setattr(Message.objects, "filter", filter_missing_once)
    message, created = actions.do_receive_inbound_message(
        message_sid="SM" + "c" * 32, from_number=f"whatsapp:{CUSTOMER}", to_number=f"whatsapp:{OURS}", body="Hello"
    )
    assert not created and message.pk == first.pk
    assert not misses  # the early check was bypassed: the unique constraint caught it
    assert Message.objects.count() == 1 and Conversation.objects.count() == 1


@pytest.mark.parametrize("how", ["forged", "missing", "other_url"])
def test_unsigned_requests_are_refused_and_store_nothing(client, db, how):
    p = params()
    if how == "forged":
        response = inbound(client, p, signature=RequestValidator("wrong").compute_signature(PUBLIC + PATH, p))
    elif how == "missing":
        response = client.post(PATH, data=urlencode(p), content_type="application/x-www-form-urlencoded")
    else:
        response = inbound(client, p, signature=RequestValidator(AUTH_TOKEN).compute_signature("http://x" + PATH, p))
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature" and response.json()["success"] is False
    assert counts() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("field", ["From", "To"])
def test_malformed_number_is_400_and_stores_nothing(client, db, field):
    p = params()
    p[field] = "whatsapp:not-a-number"
    response = inbound(client, p)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_phone" and field in body["fields"] and body["detail"].endswith(".")
    assert counts() == (0, 0, 0, 0, 0)


def test_empty_message_is_400(client, db):
    response = inbound(client, params("   "))
    assert response.status_code == 400 and response.json()["error"] == "empty_message"
    assert "empty" in response.json()["detail"]
    assert counts() == (0, 0, 0, 0, 0)


def test_media_only_message_is_stored_with_its_media_count(client, db):
    assert inbound(client, params("", media=2, MediaUrl0="https://api.twilio.com/x")).status_code == 200
    message = Message.objects.get()
    assert message.body == "" and message.media_count == 2


def test_bad_num_media_is_400(client, db):
    response = inbound(client, params(NumMedia="lots"))
    assert response.status_code == 400 and "NumMedia" in response.json()["fields"]


# --- The bot and the hand-off ----------------------------------------------------------------------


@pytest.fixture
def rules(db):
    return {
        "hours": AutoReplyRule.objects.create(
            intent="opening hours", keywords="opening hours, open, hours", reply="We are open 8-20."
        ),
        "price": AutoReplyRule.objects.create(intent="price", keywords="price, cost", reply="From 99 PLN."),
        "human": AutoReplyRule.objects.create(
            intent="human", keywords="agent, person, real human", hands_off=True, priority=10
        ),
    }


def test_keyword_gets_the_bot_reply_and_frt_fields_stay_untouched(db, rules):
    message = receive("When are you OPEN on Sunday?")
    conversation = message.conversation
    assert conversation is not None
    conversation.refresh_from_db()
    reply = conversation.messages.get(direction=Direction.OUTBOUND)
    assert (reply.author_type, reply.status, reply.body) == (AuthorType.BOT, MessageStatus.QUEUED, "We are open 8-20.")
    assert reply.agent is None and reply.sender == message.sender
    assert conversation.handled_by_bot_first and not conversation.escalated_to_human
    assert conversation.escalated_at is None and conversation.assigned_agent is None
    assert conversation.first_response_at is None and conversation.first_response_by is None


def test_keywords_match_whole_words_and_phrases_case_insensitively(db, rules):
    assert bot.match_rule("What are your Opening Hours?", campaign_id=None) == rules["hours"]
    assert bot.match_rule("Can I talk to a real   human, please", campaign_id=None) == rules["human"]
    assert bot.match_rule("reopening soon?", campaign_id=None) is None  # "open" is not a word there
    assert bot.match_rule("the COST!", campaign_id=None) == rules["price"]


def test_rules_by_priority_and_campaign_specific_ones_only_for_their_campaign(db, rules):
    campaign = CampaignFactory.create()
    special = AutoReplyRule.objects.create(campaign=campaign, keywords="price", reply="Special price.", priority=50)
    AutoReplyRule.objects.create(keywords="price", reply="inactive", priority=1, is_active=False)
    assert bot.match_rule("price?", campaign_id=campaign.pk) == special
    assert bot.match_rule("price?", campaign_id=None) == rules["price"]
    assert bot.match_rule("price?", campaign_id=CampaignFactory.create().pk) == rules["price"]
    # A hand-off rule with a lower priority number wins over a reply rule in the same message.
    assert bot.match_rule("price? I want a person", campaign_id=None) == rules["human"]


@pytest.fixture
def team_campaign(team_a, agent_b1):
    return CampaignFactory.create(team=team_a)


def test_hand_off_after_the_bot_answered_escalates_and_assigns(db, rules, team_campaign, agent_a1, agent_a2):
    ContactFactory.create(phone=CUSTOMER, campaign=team_campaign)
    first = receive("price?")
    conversation = first.conversation
    assert conversation is not None
    receive("I want to talk to a person")
    conversation.refresh_from_db()
    assert conversation.handled_by_bot_first and conversation.escalated_to_human
    assert conversation.escalated_at is not None and conversation.escalated_at >= conversation.created_at
    assert conversation.assigned_agent == agent_a1  # both idle: ties by username
    assert conversation.messages.filter(author_type=AuthorType.BOT).count() == 1
    assert conversation.first_response_at is None
    # From now on the bot stays quiet, and the escalation time does not move.
    escalated_at = conversation.escalated_at
    receive("price?")
    conversation.refresh_from_db()
    assert conversation.messages.filter(author_type=AuthorType.BOT).count() == 1
    assert conversation.escalated_at == escalated_at


def test_no_match_after_the_bot_answered_also_escalates(db, rules, team_campaign):
    ContactFactory.create(phone=CUSTOMER, campaign=team_campaign)
    receive("opening hours?")
    conversation = receive("My order 123 never arrived").conversation
    assert conversation is not None
    conversation.refresh_from_db()
    assert conversation.escalated_to_human and conversation.escalated_at is not None


@pytest.mark.parametrize("first_message", ["My order never arrived", "agent please"])
def test_first_message_the_bot_cannot_answer_goes_straight_to_a_person(db, rules, team_campaign, first_message):
    ContactFactory.create(phone=CUSTOMER, campaign=team_campaign)
    conversation = receive(first_message).conversation
    assert conversation is not None
    conversation.refresh_from_db()
    assert not conversation.handled_by_bot_first and not conversation.escalated_to_human
    assert conversation.escalated_at is None and conversation.assigned_agent is not None
    # The bot never answers a conversation that people own, even on a keyword.
    receive("price?")
    assert not conversation.messages.filter(author_type=AuthorType.BOT).exists()


def test_bot_stops_once_a_human_replied(db, rules, agent_a1):
    conversation = receive("price?").conversation
    assert conversation is not None
    Conversation.objects.filter(pk=conversation.pk).update(first_response_at=timezone.now(), assigned_agent=agent_a1)
    receive("and the price for two?")
    assert conversation.messages.filter(author_type=AuthorType.BOT).count() == 1


def test_least_busy_agent_of_the_campaign_team_gets_the_conversation(db, team_campaign, agent_a1, agent_a2):
    for _ in range(2):
        ConversationFactory.create(assigned_agent=agent_a1)
    ConversationFactory.create(assigned_agent=agent_a2)
    ConversationFactory.create(assigned_agent=agent_a2, status=ConversationStatus.RESOLVED, resolved_at=timezone.now())
    ContactFactory.create(phone=CUSTOMER, campaign=team_campaign)
    conversation = receive("help").conversation
    assert conversation is not None
    conversation.refresh_from_db()
    assert conversation.assigned_agent == agent_a2


def test_an_available_agent_is_preferred_over_a_less_busy_one_who_is_away(db, team_campaign, agent_a1, agent_a2):
    """Presence comes from calls/ (agent status periods) through crm.bot.presence_providers."""
    from calls.actions import do_change_agent_status

    ConversationFactory.create(assigned_agent=agent_a2)  # agent_a2 is busier but at work
    do_change_agent_status(agent_a1, "break", reason="lunch")
    do_change_agent_status(agent_a2, "available")
    ContactFactory.create(phone=CUSTOMER, campaign=team_campaign)
    conversation = receive("help").conversation
    assert conversation is not None
    conversation.refresh_from_db()
    assert conversation.assigned_agent == agent_a2


def test_the_contacts_own_agent_is_preferred_when_in_the_team(db, team_campaign, agent_a1, agent_a2, agent_b1):
    ConversationFactory.create(assigned_agent=agent_a2)
    ContactFactory.create(phone=CUSTOMER, campaign=team_campaign, assigned_agent=agent_a2)
    assert bot.pick_agent(receive("help").conversation) == agent_a2  # type: ignore[arg-type]


def test_the_contacts_own_agent_outside_the_team_is_not_used(db, team_campaign, agent_a1, agent_b1):
    ContactFactory.create(phone=CUSTOMER, campaign=team_campaign, assigned_agent=agent_b1)
    conversation = receive("help").conversation
    assert conversation is not None
    conversation.refresh_from_db()
    assert conversation.assigned_agent == agent_a1


def test_without_a_team_the_campaign_members_then_all_agents_are_candidates(db, agent_a1, agent_b1, admin):
    inactive = UserFactory.create(username="aaa_inactive", is_active=False)
    campaign = CampaignFactory.create(members=[agent_b1])
    conversation = ConversationFactory.create(campaign=campaign)
    assert bot.pick_agent(conversation) == agent_b1
    conversation = ConversationFactory.create()
    assert bot.pick_agent(conversation) == agent_a1  # agents only: not the admin, not inactive users
    assert inactive != agent_a1


def test_existing_assignment_is_kept(db, rules, agent_b1, team_campaign):
    receive("opening hours")
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(assigned_agent=agent_b1)
    receive("agent!")
    conversation.refresh_from_db()
    assert conversation.escalated_to_human and conversation.assigned_agent == agent_b1


# --- Resolve and CSAT ------------------------------------------------------------------------------


def open_conversation(agent) -> Conversation:
    conversation = receive("My order never arrived").conversation
    assert conversation is not None
    Conversation.objects.filter(pk=conversation.pk).update(assigned_agent=agent, priority=Priority.HIGH)
    conversation.refresh_from_db()
    return conversation


def test_resolve_asks_for_a_rating_and_a_digit_is_recorded_without_reopening(db, agent_a1):
    conversation = actions.do_resolve_conversation(open_conversation(agent_a1), by=agent_a1)
    assert conversation.status == ConversationStatus.RESOLVED and conversation.resolved_by == agent_a1
    prompt = conversation.messages.get(author_type=AuthorType.SYSTEM)
    assert prompt.status == MessageStatus.QUEUED and "1 to 5" in prompt.body and "rate" in prompt.body
    assert prompt.sender == WhatsAppSender.objects.get(phone=OURS)
    assert conversation.csat_requested_at == conversation.resolved_at
    message = receive(" 4 \n")
    conversation.refresh_from_db()
    assert message.conversation == conversation
    assert conversation.status == ConversationStatus.RESOLVED and conversation.reopened_count == 0
    assert conversation.csat_score == 4 and conversation.csat_received_at == message.created_at
    # Any later message within the window reopens as usual, and a digit is then just a message.
    receive("Actually one more thing")
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN and conversation.reopened_count == 1
    assert conversation.csat_score == 4


@pytest.mark.parametrize("reply", ["6", "4 stars", "45", "0"])
def test_anything_but_a_single_digit_reopens(db, agent_a1, reply):
    actions.do_resolve_conversation(open_conversation(agent_a1), by=agent_a1)
    receive(reply)
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.OPEN and conversation.csat_score is None


def test_a_rating_after_the_window_is_a_new_conversation(db, agent_a1):
    conversation = open_conversation(agent_a1)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=timezone.now() - timedelta(hours=26))
    actions.do_resolve_conversation(conversation, by=agent_a1, at=timezone.now() - timedelta(hours=25))
    receive("5")
    conversation.refresh_from_db()
    assert conversation.csat_score is None and Conversation.objects.count() == 2


def test_no_prompt_when_csat_is_off_or_the_contact_opted_out(db, settings, agent_a1):
    settings.WHATSAPP_CSAT_ON_RESOLVE = False
    conversation = actions.do_resolve_conversation(open_conversation(agent_a1), by=agent_a1)
    assert conversation.csat_requested_at is None
    assert not conversation.messages.filter(author_type=AuthorType.SYSTEM).exists()
    receive("5")  # no rating was asked for: an ordinary message that reopens
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN and conversation.csat_score is None


def test_bot_reply_and_csat_prompt_are_handed_to_the_sender_after_commit(
    db, rules, agent_a1, django_capture_on_commit_callbacks, monkeypatch
):
    from crm import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.send_whatsapp_message, "delay", sent.append)
    with django_capture_on_commit_callbacks() as callbacks:
        reply_to = receive("price?").conversation
    assert not sent  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert reply_to is not None
    assert sent == [reply_to.messages.get(author_type=AuthorType.BOT).pk]
    Conversation.objects.filter(pk=reply_to.pk).update(assigned_agent=agent_a1)
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_resolve_conversation(reply_to, by=agent_a1)
    assert sent[1] == reply_to.messages.get(author_type=AuthorType.SYSTEM).pk


# --- Races (PostgreSQL: SQLite serialises every write anyway) --------------------------------------------


def _race(*jobs: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.skipif(django_settings.USES_SQLITE, reason="row locks are what is tested; SQLite has none")
@pytest.mark.django_db(transaction=True)
def test_simultaneous_redeliveries_store_one_message():
    results = _race(*[lambda: receive("Hello", sid="SM" + "d" * 32) for _ in range(4)])
    assert all(isinstance(r, Message) for r in results), results
    assert Message.objects.count() == 1 and Contact.objects.count() == 1 and Conversation.objects.count() == 1
    assert LeadStatusChange.objects.count() == 1


@pytest.mark.skipif(django_settings.USES_SQLITE, reason="row locks are what is tested; SQLite has none")
@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_messages_of_a_new_contact_share_one_conversation():
    results = _race(*[lambda n=n: receive(f"message {n}") for n in range(4)])
    assert all(isinstance(r, Message) for r in results), results
    assert Contact.objects.count() == 1 and Conversation.objects.count() == 1
    assert Message.objects.count() == 4 and WhatsAppSender.objects.count() == 1


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
