"""WhatsApp through Twilio, outbound: agent replies, the send task, signed status callbacks (monotonic,
never lost), sender bookkeeping. The real twilio library runs; only its HTTP client is fake."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from celery.exceptions import Retry
from django.utils import timezone
from rest_framework.test import APIClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from crm import actions, messaging, rollups
from crm.models import (
    AuthorType,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    SenderStatus,
    TwilioMessageEvent,
    WhatsAppSender,
)
from crm.tasks import send_whatsapp_message
from crm.twilio_account import NOT_CONFIGURED
from tests.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.twilio_messaging_fakes import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGES_URI,
    FakeHttpClient,
    message_created,
    twilio_error,
)

PUBLIC = "https://callboard.example.com"
STATUS_PATH = "/webhooks/twilio/messaging/status"
OUR_NUMBER = "+48221234567"
SID = "SM" + "a" * 32


@pytest.fixture(autouse=True)
def _twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def fake_twilio(monkeypatch):
    """`fake_twilio(*responses)` installs a scripted Twilio and returns its FakeHttpClient."""

    def install(*responses):
        http = FakeHttpClient(*responses)
        monkeypatch.setattr(messaging, "twilio_client", lambda: Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http))
        return http

    return install


@pytest.fixture
def sender(db) -> WhatsAppSender:
    return WhatsAppSender.objects.create(phone=OUR_NUMBER, name="Main", is_default=True)


@pytest.fixture
def conversation(agent_a1, team_a, sender) -> Conversation:
    return ConversationFactory.create(assigned_agent=agent_a1, our_number=OUR_NUMBER)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def reply(user, conversation, body="We can help with that."):
    return api(user).post(f"/api/conversations/{conversation.pk}/messages", {"body": body}, format="json")


def outbound(conversation, *, sid=None, status=MessageStatus.QUEUED, author=AuthorType.BOT, **kw) -> Message:
    return Message.objects.create(
        conversation=conversation,
        contact=conversation.contact,
        sender=WhatsAppSender.objects.get(phone=OUR_NUMBER),
        direction=Direction.OUTBOUND,
        author_type=author,
        status=status,
        twilio_sid=sid,
        body="Hi",
        **kw,
    )


def callback(client, params, *, signature=None):
    signature = (
        signature
        if signature is not None
        else RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + STATUS_PATH, params)
    )
    return client.post(
        STATUS_PATH,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def status_params(sid, status, **extra) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": f"whatsapp:{OUR_NUMBER}",
        "To": "whatsapp:+48600100200",
        "ApiVersion": "2010-04-01",
        "ChannelPrefix": "whatsapp",
        **extra,
    }


# --- Replies ---------------------------------------------------------------------------------------------


def test_reply_is_queued_then_sent_through_twilio(
    agent_a1, conversation, fake_twilio, django_capture_on_commit_callbacks
):
    http = fake_twilio(message_created(SID, price="-0.00500"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = reply(agent_a1, conversation)
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "queued"  # the answer is serialised before the commit
    assert len([c for c in callbacks if c is not rollups.announce_change]) == 1  # the sending task
    [request] = http.requests
    assert request.method == "POST" and request.url.endswith(MESSAGES_URI)
    assert request.data == {
        "From": f"whatsapp:{OUR_NUMBER}",
        "To": f"whatsapp:{conversation.contact.phone}",
        "Body": "We can help with that.",
        "StatusCallback": PUBLIC + STATUS_PATH,
    }
    message = Message.objects.get(pk=response.json()["message_id"])
    assert (message.twilio_sid, message.status, message.author_type, message.agent) == (
        SID,
        "queued",
        AuthorType.AGENT,
        agent_a1,
    )
    assert str(message.price) == "0.00500" and message.price_unit == "USD"
    assert message.sender is not None and message.sender.last_seen_at is not None


def test_first_response_is_set_once_by_the_first_human_reply(agent_a1, conversation, sender, fake_twilio):
    fake_twilio()
    outbound(conversation)  # a bot message is not a response
    conversation.refresh_from_db()
    assert conversation.first_response_at is None
    first = actions.do_send_agent_reply(conversation, agent_a1, "One")
    conversation.refresh_from_db()
    assert conversation.first_response_at == first.created_at and conversation.first_response_by == agent_a1
    actions.do_send_agent_reply(conversation, agent_a1, "Two")
    conversation.refresh_from_db()
    assert conversation.first_response_at == first.created_at
    assert conversation.last_message_at is not None and conversation.last_message_at > first.created_at


def test_first_response_never_precedes_a_hand_off_stamped_ahead_of_our_clock(agent_a1, conversation):
    ahead = timezone.now() + timedelta(seconds=30)
    Conversation.objects.filter(pk=conversation.pk).update(escalated_to_human=True, escalated_at=ahead)
    actions.do_send_agent_reply(conversation, agent_a1, "Hello")
    conversation.refresh_from_db()
    assert conversation.first_response_at == ahead


def test_reply_assigns_an_unassigned_conversation(admin, sender):
    conversation = ConversationFactory.create(our_number=OUR_NUMBER)
    assert reply(admin, conversation).status_code == 201
    conversation.refresh_from_db()
    assert conversation.assigned_agent == admin


def test_reply_to_an_opted_out_contact_is_refused(agent_a1, conversation):
    conversation.contact.whatsapp_opted_out_at = timezone.now()
    conversation.contact.save()
    response = reply(agent_a1, conversation)
    assert response.status_code == 409
    assert response.json()["error"] == "opted_out" and "nothing was sent" in response.json()["detail"]
    assert not Message.objects.exists()
    conversation.refresh_from_db()
    assert conversation.first_response_at is None


def test_reply_to_a_resolved_conversation_must_reopen_it_first(agent_a1, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(
        status=ConversationStatus.RESOLVED, resolved_at=timezone.now()
    )
    response = reply(agent_a1, conversation)
    assert response.status_code == 409
    assert response.json()["error"] == "conversation_resolved" and "reopen" in response.json()["detail"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", ["", "   "])
def test_empty_reply_is_400(agent_a1, conversation, body):
    response = reply(agent_a1, conversation, body)
    assert response.status_code == 400 and response.json()["fields"] == {"body": response.json()["detail"]}
    assert not Message.objects.exists()


def test_reply_permissions(agent_a1, agent_a2, agent_b1, supervisor_a, team_b, conversation):
    assert reply(agent_b1, conversation).status_code == 403
    assert reply(agent_a2, conversation).status_code == 403
    assert reply(supervisor_a, conversation).status_code == 201
    assert api(agent_a1).post("/api/conversations/999999/messages", {"body": "x"}, format="json").status_code == 404


# --- The send task ---------------------------------------------------------------------------------------


def test_task_is_idempotent(conversation, fake_twilio):
    http = fake_twilio(message_created(SID))
    message = outbound(conversation)
    send_whatsapp_message.delay(message.pk)
    send_whatsapp_message.delay(message.pk)
    assert len(http.requests) == 1
    message.refresh_from_db()
    assert message.twilio_sid == SID


def test_task_skips_messages_that_are_not_queued(conversation, fake_twilio):
    http = fake_twilio()
    for status in (MessageStatus.SENDING, MessageStatus.FAILED):
        send_whatsapp_message.delay(outbound(conversation, status=status).pk)
    send_whatsapp_message.delay(999999)
    assert http.requests == []


def test_rate_limit_is_retried(conversation, fake_twilio):
    http = fake_twilio(twilio_error(429, 20429, "Too Many Requests"), message_created(SID))
    message = outbound(conversation)
    # Eagerly, Celery raises Retry to the caller instead of scheduling the retry; run it by hand.
    with pytest.raises(Retry):
        send_whatsapp_message.delay(message.pk)
    message.refresh_from_db()
    assert (message.status, message.twilio_sid) == ("queued", None)  # released for the retry
    send_whatsapp_message.delay(message.pk)
    assert len(http.requests) == 2
    message.refresh_from_db()
    assert (message.twilio_sid, message.status) == (SID, "queued")
    options = {name: getattr(send_whatsapp_message, name) for name in ("autoretry_for", "acks_late", "retry_backoff")}
    assert options == {"autoretry_for": (messaging.TransientSendError,), "acks_late": True, "retry_backoff": 5}


def test_server_error_on_the_last_attempt_fails_the_message(conversation, fake_twilio):
    fake_twilio(twilio_error(503, 20500, "Service Unavailable"))
    message = outbound(conversation)
    messaging.send_message(message.pk, final_attempt=True)
    message.refresh_from_db()
    assert message.status == "failed" and "gave up retrying" in message.error_message


def test_server_error_releases_the_message_for_a_retry(conversation, fake_twilio):
    fake_twilio(twilio_error(500, 20500, "Internal Server Error"))
    message = outbound(conversation)
    with pytest.raises(messaging.TransientSendError):
        messaging.send_message(message.pk)
    message.refresh_from_db()
    assert (message.status, message.twilio_sid) == ("queued", None)


@pytest.mark.parametrize(
    ("code", "reason"),
    [(21211, "Invalid 'To' phone number"), (21610, "The recipient has unsubscribed (replied STOP)")],
)
def test_twilio_4xx_fails_the_message_without_retry(conversation, fake_twilio, code, reason):
    http = fake_twilio(twilio_error(400, code, "Twilio says no"))
    message = outbound(conversation)
    send_whatsapp_message.delay(message.pk)
    assert len(http.requests) == 1
    message.refresh_from_db()
    assert (message.status, message.error_code, message.error_message) == ("failed", code, reason)
    assert message.failed_at is not None


def test_without_credentials_the_message_fails(settings, conversation, fake_twilio):
    settings.TWILIO_AUTH_TOKEN = ""
    http = fake_twilio()
    message = outbound(conversation)
    send_whatsapp_message.delay(message.pk)
    message.refresh_from_db()
    assert (message.status, message.error_message) == ("failed", NOT_CONFIGURED)
    assert http.requests == []


# --- Status callbacks ------------------------------------------------------------------------------------


def test_status_progression_keeps_each_timestamp(conversation, sender):
    client = APIClient()
    message = outbound(conversation, sid=SID)
    times = []
    for status in ("sent", "delivered", "read"):
        assert callback(client, status_params(SID, status)).status_code == 204
        message.refresh_from_db()
        times.append((message.status, message.sent_at, message.delivered_at, message.read_at))
    assert [t[0] for t in times] == ["sent", "delivered", "read"]
    sent_at, delivered_at, read_at = times[-1][1:]
    assert sent_at is not None and delivered_at is not None and read_at is not None
    assert sent_at <= delivered_at <= read_at
    assert times[0][1] == sent_at and times[1][2] == delivered_at  # never rewritten
    sender.refresh_from_db()
    assert sender.last_seen_at is not None
    assert TwilioMessageEvent.objects.filter(message=message, applied_at__isnull=False).count() == 3


def test_late_sent_after_read_and_duplicates_change_nothing(conversation):
    client = APIClient()
    message = outbound(conversation, sid=SID)
    callback(client, status_params(SID, "read"))
    message.refresh_from_db()
    before = (message.status, message.sent_at, message.delivered_at, message.read_at)
    assert before[0] == "read" and before[1] == before[2] == before[3]  # skipped steps get the read time
    for status in ("sent", "delivered", "read", "failed"):
        assert callback(client, status_params(SID, status, ErrorCode="30008")).status_code == 204
    message.refresh_from_db()
    assert (message.status, message.sent_at, message.delivered_at, message.read_at) == before
    assert message.error_code is None
    assert TwilioMessageEvent.objects.filter(message_sid=SID).count() == 5


def test_failed_callback_keeps_a_readable_reason(conversation):
    message = outbound(conversation, sid=SID, status=MessageStatus.SENT)
    callback(APIClient(), status_params(SID, "failed", ErrorCode="63016", ErrorMessage="Outside window"))
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", 63016)
    assert message.error_message == "Outside the 24-hour WhatsApp window: use a template"
    assert message.failed_at is not None
    callback(APIClient(), status_params(SID, "delivered"))
    message.refresh_from_db()
    assert message.status == "failed"  # final


def test_unknown_code_falls_back_to_the_number():
    assert messaging.error_reason(12345) == "Twilio error 12345"
    assert messaging.error_reason(30003) == "Unreachable destination"


def test_callback_for_an_unknown_sid_is_kept_and_applied_after_the_send(conversation, fake_twilio):
    client = APIClient()
    assert callback(client, status_params(SID, "delivered")).status_code == 204
    event = TwilioMessageEvent.objects.get()
    assert event.applied_at is None and event.message is None
    message = outbound(conversation)
    fake_twilio(message_created(SID))
    send_whatsapp_message.delay(message.pk)
    message.refresh_from_db()
    event.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at == message.sent_at == event.received_at
    assert event.applied_at is not None and event.message == message


def test_forged_callback_is_403_and_stores_nothing(conversation):
    message = outbound(conversation, sid=SID)
    response = callback(APIClient(), status_params(SID, "delivered"), signature="forged")
    assert response.status_code == 403 and response.json()["error"] == "invalid_signature"
    assert not TwilioMessageEvent.objects.exists()
    message.refresh_from_db()
    assert message.status == "queued"


def test_callback_without_sid_is_400(db):
    params = status_params("", "sent")
    assert callback(APIClient(), params).status_code == 400
    assert not TwilioMessageEvent.objects.exists()


def test_inbound_messages_ignore_status_callbacks(conversation):
    inbound = MessageFactory.create(conversation=conversation, twilio_sid=SID)
    callback(APIClient(), status_params(SID, "read"))
    inbound.refresh_from_db()
    assert inbound.status == "received"


# --- Senders ---------------------------------------------------------------------------------------------


def test_sender_is_degraded_after_consecutive_failures_and_recovers(conversation, sender):
    client = APIClient()
    for i in range(messaging.SENDER_DEGRADED_AFTER_FAILURES):
        outbound(conversation, sid=f"SM{i:032d}", status=MessageStatus.SENT)
        callback(client, status_params(f"SM{i:032d}", "undelivered", ErrorCode="30003"))
    sender.refresh_from_db()
    assert sender.status == SenderStatus.DEGRADED
    outbound(conversation, sid=SID, status=MessageStatus.SENT)
    callback(client, status_params(SID, "delivered"))
    sender.refresh_from_db()
    assert sender.status == SenderStatus.ACTIVE


def test_queue_depth_counts_waiting_outbound_messages(conversation, sender, django_assert_num_queries):
    other = WhatsAppSender.objects.create(phone="+48221234568")
    for status in (MessageStatus.QUEUED, MessageStatus.ACCEPTED, MessageStatus.SENDING, MessageStatus.SENT):
        outbound(conversation, status=status)
    MessageFactory.create(conversation=conversation, sender=sender)  # inbound
    with django_assert_num_queries(1):
        depths = messaging.sender_queue_depths()
    assert depths == {sender.pk: 3, other.pk: 0}


def test_senders_api(admin, supervisor_a, agent_a1, conversation, sender):
    outbound(conversation)
    response = api(supervisor_a).get("/api/whatsapp/senders")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": sender.pk,
            "phone": OUR_NUMBER,
            "name": "Main",
            "status": "active",
            "is_default": True,
            "last_seen_at": None,
            "queue_depth": 1,
        }
    ]
    assert api(admin).get("/api/whatsapp/senders").status_code == 200
    assert api(agent_a1).get("/api/whatsapp/senders").status_code == 403
    assert APIClient().get("/api/whatsapp/senders").status_code in (401, 403)


def test_sender_last_seen_never_moves_back(sender):
    later = timezone.now()
    actions.do_touch_whatsapp_sender(f"whatsapp:{OUR_NUMBER}", later)
    actions.do_touch_whatsapp_sender(OUR_NUMBER, later - timedelta(minutes=5))
    sender.refresh_from_db()
    assert sender.last_seen_at == later


def test_bot_message_queued_via_queue_outbound_is_sent_and_is_not_a_response(
    conversation, fake_twilio, django_capture_on_commit_callbacks
):
    http = fake_twilio(message_created(SID))
    with django_capture_on_commit_callbacks(execute=True):
        message = outbound(conversation)
        messaging.queue_outbound(message)
    assert len(http.requests) == 1
    conversation.refresh_from_db()
    assert conversation.first_response_at is None
    assert ContactFactory._meta.model.objects.count() == 1


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
