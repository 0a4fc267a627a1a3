"""Broadcasts: starting one (recipients, refusals), the paced sending, completion, stats, the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import rollups
from crm.actions import do_refresh_broadcast_status, do_start_broadcast
from crm.broadcasts import broadcast_stats, send_broadcast_messages
from crm.errors import ActionError
from crm.models import (
    AuthorType,
    Broadcast,
    BroadcastStatus,
    Campaign,
    Direction,
    Message,
    MessageStatus,
    WhatsAppSender,
)
from tests.factories import BroadcastFactory, CampaignFactory, ContactFactory


@pytest.fixture
def sender(db) -> WhatsAppSender:
    return WhatsAppSender.objects.create(phone="+48222900100", name="Care", is_default=True)


@pytest.fixture
def campaign(db) -> Campaign:
    campaign = CampaignFactory.create()
    ContactFactory.create_batch(3, campaign=campaign)
    ContactFactory.create(campaign=campaign, whatsapp_opted_out_at=timezone.now() - timedelta(days=1))
    ContactFactory.create()  # another campaign's
    return campaign


@pytest.fixture
def sent_ids(monkeypatch) -> list[int]:
    """Replaces the hand-over to Twilio: records the ids and marks the message sent."""
    handed: list[int] = []

    def fake_send(message_id: int) -> None:
        handed.append(message_id)
        Message.objects.filter(pk=message_id).update(
            status=MessageStatus.SENT, twilio_sid=f"SM{message_id:032d}", sent_at=timezone.now()
        )

    monkeypatch.setattr("crm.broadcasts.send_message", fake_send)
    monkeypatch.setattr("crm.broadcasts.time.sleep", lambda seconds: None)
    return handed


def test_start_creates_one_queued_message_per_contact_not_opted_out(
    campaign, sender, admin, sent_ids, django_capture_on_commit_callbacks
):
    broadcast = BroadcastFactory.create(campaign=campaign, status=BroadcastStatus.SCHEDULED)
    with django_capture_on_commit_callbacks() as callbacks:
        assert do_start_broadcast(broadcast, admin) == 3
    messages = list(Message.objects.filter(broadcast=broadcast))
    assert len(messages) == 3
    assert {m.contact_id for m in messages} == set(
        campaign.contacts.filter(whatsapp_opted_out_at=None).values_list("pk", flat=True)
    )
    for m in messages:
        assert (m.direction, m.author_type, m.status, m.conversation_id, m.sender_id, m.body) == (
            Direction.OUTBOUND,
            AuthorType.SYSTEM,
            MessageStatus.QUEUED,
            None,
            sender.pk,
            broadcast.body,
        )
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SENDING and broadcast.started_at is not None
    assert broadcast.sender == sender
    callbacks = [c for c in callbacks if c is not rollups.announce_change]
    assert len(callbacks) == 1 and sent_ids == []  # nothing is sent before the commit

    callbacks[0]()  # the eager send_broadcast task
    assert sorted(sent_ids) == sorted(m.pk for m in messages)
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED
    assert broadcast.completed_at is not None and broadcast.completed_at >= broadcast.started_at


@pytest.mark.parametrize("status", [BroadcastStatus.SENDING, BroadcastStatus.COMPLETED, BroadcastStatus.CANCELLED])
def test_start_is_refused_unless_draft_or_scheduled(campaign, sender, admin, status):
    now = timezone.now()
    broadcast = BroadcastFactory.create(
        campaign=campaign,
        status=status,
        started_at=now if status != BroadcastStatus.CANCELLED else None,
        completed_at=now if status == BroadcastStatus.COMPLETED else None,
    )
    with pytest.raises(ActionError) as error:
        do_start_broadcast(broadcast, admin)
    assert error.value.code == "broadcast_not_startable" and error.value.status == 409
    assert not Message.objects.filter(broadcast=broadcast).exists()


def test_start_needs_a_campaign_and_a_sender(campaign, admin):
    with pytest.raises(ActionError, match="campaign"):
        do_start_broadcast(BroadcastFactory.create(), admin)
    with pytest.raises(ActionError) as error:
        do_start_broadcast(BroadcastFactory.create(campaign=campaign), admin)
    assert error.value.code == "no_sender"
    assert not Message.objects.exists()


def test_a_broadcast_without_recipients_completes_at_once(sender, admin):
    broadcast = BroadcastFactory.create(campaign=CampaignFactory.create())
    assert do_start_broadcast(broadcast, admin) == 0
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED and broadcast.completed_at == broadcast.started_at


def test_sending_is_paced_by_the_rate_limit(campaign, sender, admin, settings, django_capture_on_commit_callbacks):
    settings.WHATSAPP_BROADCAST_RATE_PER_MINUTE = 60
    broadcast = BroadcastFactory.create(campaign=campaign)
    with django_capture_on_commit_callbacks():
        do_start_broadcast(broadcast, admin)
    events: list[tuple[str, float | int]] = []
    handed = send_broadcast_messages(
        broadcast.pk, send=lambda pk: events.append(("send", pk)), sleep=lambda s: events.append(("sleep", s))
    )
    assert handed == 3
    assert [kind for kind, _ in events] == ["send", "sleep", "send", "sleep", "send"]
    assert [value for kind, value in events if kind == "sleep"] == [1.0, 1.0]

    settings.WHATSAPP_BROADCAST_RATE_PER_MINUTE = 20
    Message.objects.filter(broadcast=broadcast).update(status=MessageStatus.QUEUED)
    pauses: list[float] = []
    send_broadcast_messages(broadcast.pk, send=lambda pk: None, sleep=pauses.append)
    assert pauses == [3.0, 3.0]


def test_sending_stops_when_the_broadcast_is_cancelled(campaign, sender, admin, django_capture_on_commit_callbacks):
    broadcast = BroadcastFactory.create(campaign=campaign)
    with django_capture_on_commit_callbacks():
        do_start_broadcast(broadcast, admin)
    sent: list[int] = []

    def send(pk: int) -> None:
        sent.append(pk)
        Broadcast.objects.filter(pk=broadcast.pk).update(status=BroadcastStatus.CANCELLED)

    assert send_broadcast_messages(broadcast.pk, send=send, sleep=lambda s: None) == 1
    assert len(sent) == 1


def test_completed_only_when_nothing_waits_and_stats(campaign, sender, admin, django_capture_on_commit_callbacks):
    broadcast = BroadcastFactory.create(campaign=campaign)
    with django_capture_on_commit_callbacks():
        do_start_broadcast(broadcast, admin)
    first, second, third = Message.objects.filter(broadcast=broadcast).order_by("pk")
    assert not do_refresh_broadcast_status(broadcast)
    assert broadcast_stats(broadcast) == {
        "recipients": 3,
        "queued": 3,
        "sent": 0,
        "delivered": 0,
        "read": 0,
        "failed": 0,
        "canceled": 0,
        "success_rate": 0.0,
        "delivery_rate": None,
    }
    Message.objects.filter(pk=first.pk).update(status=MessageStatus.READ, twilio_sid="SM1")
    Message.objects.filter(pk=second.pk).update(status=MessageStatus.UNDELIVERED, twilio_sid="SM2")
    assert not do_refresh_broadcast_status(broadcast)
    # Handed to Twilio (it has a SID) but not yet reported sent: no longer waiting on us.
    Message.objects.filter(pk=third.pk).update(status=MessageStatus.QUEUED, twilio_sid="SM3")
    assert do_refresh_broadcast_status(broadcast)
    assert broadcast.status == BroadcastStatus.COMPLETED
    assert not do_refresh_broadcast_status(broadcast)  # once

    stats = broadcast_stats(broadcast)
    assert (stats["recipients"], stats["queued"], stats["sent"], stats["delivered"], stats["read"]) == (3, 1, 1, 1, 1)
    assert stats["failed"] == 1
    assert stats["success_rate"] == 33.3  # delivered / recipients
    assert stats["delivery_rate"] == 50.0  # delivered / (sent + failed), METRICS.md


def test_admin_start_action_and_stats_panel(campaign, sender, admin, sent_ids, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(admin)
    broadcast = BroadcastFactory.create(campaign=campaign)
    done = BroadcastFactory.create(
        campaign=campaign, status=BroadcastStatus.COMPLETED, started_at=timezone.now(), completed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:crm_broadcast_changelist"),
            {"action": "start_broadcasts", "_selected_action": [broadcast.pk, done.pk]},
            follow=True,
        )
    shown = [str(m) for m in response.context["messages"]]
    assert f"{broadcast}: started, 3 message(s) queued." in shown
    assert any(str(done) in text and "completed" in text for text in shown)
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED  # eager task, fake Twilio
    assert len(sent_ids) == 3

    page = client.get(reverse("admin:crm_broadcast_change", args=[broadcast.pk])).content.decode()
    assert "Success rate: delivered / recipients" in page
    assert f"?broadcast__id__exact={broadcast.pk}" in page
    listed = client.get(reverse("admin:crm_message_changelist"), {"broadcast__id__exact": broadcast.pk})
    assert listed.context["cl"].result_count == 3


def test_sender_list_shows_queue_depth(sender, campaign, admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        do_start_broadcast(BroadcastFactory.create(campaign=campaign), admin)
    other = WhatsAppSender.objects.create(phone="+48222900200")
    client = Client()
    client.force_login(admin)
    rows = client.get(reverse("admin:crm_whatsappsender_changelist")).context["cl"].result_list
    assert {s.pk: s.queue_depth for s in rows} == {sender.pk: 3, other.pk: 0}


def test_broadcast_inline_shows_at_most_50_messages(sender, admin, django_capture_on_commit_callbacks):
    campaign = CampaignFactory.create()
    ContactFactory.create_batch(55, campaign=campaign)
    broadcast = BroadcastFactory.create(campaign=campaign)
    with django_capture_on_commit_callbacks():
        do_start_broadcast(broadcast, admin)
    client = Client()
    client.force_login(admin)
    response = client.get(reverse("admin:crm_broadcast_change", args=[broadcast.pk]))
    inline = response.context["inline_admin_formsets"][0]
    assert len(inline.formset.forms) == 50
    assert "All 55 messages of this broadcast" in response.content.decode()


def test_the_last_message_handed_to_twilio_completes_the_broadcast(
    campaign, sender, admin, django_capture_on_commit_callbacks
):
    """With separate workers every message has its own send task; whichever leaves the queue last
    (sent or failed) completes the broadcast."""
    from crm.actions import do_fail_message, do_record_message_sent

    broadcast = BroadcastFactory.create(campaign=campaign)
    with django_capture_on_commit_callbacks():  # the sending loop does not run here
        do_start_broadcast(broadcast, admin)
    first, second, third = Message.objects.filter(broadcast=broadcast).order_by("pk")
    do_record_message_sent(first, sid="SM" + "1" * 32, status=MessageStatus.QUEUED, sender=sender)
    do_fail_message(second, error_code=21211, error_message="Invalid 'To' phone number")
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SENDING
    do_record_message_sent(third, sid="SM" + "3" * 32, status=MessageStatus.SENT, sender=sender)
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED and broadcast.completed_at is not None


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
