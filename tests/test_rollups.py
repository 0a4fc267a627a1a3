"""The hourly counters (crm/rollups.py, calls/counters.py, crm/counters.py): every write path keeps them
equal to a recomputation from the raw rows; drift made around them is found by the reconciliation and
repaired by `manage.py rebuild_rollups`; reads over any interval equal a direct computation, on DST
days too; concurrent writers lose nothing (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test import override_settings
from django.utils import timezone

from analytics.models import RollupCheck
from analytics.rollups import ROLLUP_TABLES, reconcile_rollups
from calls import actions as call_actions
from calls.models import AgentHourRollup, AgentSession, AgentStatus, AgentStatusPeriod, CallLog, CallStatus
from crm import actions as crm_actions
from crm.models import (
    AuthorType,
    ChatAgentDayRollup,
    ChatDayRollup,
    ChatHourRollup,
    ChatOrgHourRollup,
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    WhatsAppSender,
)
from crm.periods import local_midnight
from crm.rollups import HOUR, compare, day_start, hour_start, levels, microseconds, total, totals, totals_many
from tests.factories import (
    AgentSessionFactory,
    AgentStatusPeriodFactory,
    BroadcastFactory,
    CallLogFactory,
    CampaignFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
    UserFactory,
)

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
OUR_NUMBER = "+48221234567"


def drift() -> list[str]:
    """Every difference between the stored counters and a recomputation, all hours up to tomorrow."""
    end = timezone.now() + timedelta(days=2)
    return [str(d) for table in ROLLUP_TABLES for d in compare(table, EPOCH, end)]


def agent_totals(agent_id: int, start: datetime, end: datetime) -> dict[str, int]:
    return total(AgentHourRollup, start, end, scope=_scope(agent_id))


def _scope(agent_id: int):
    from crm.rollups import Scope

    return Scope(frozenset({agent_id}))


@pytest.fixture
def sender(db) -> WhatsAppSender:
    return WhatsAppSender.objects.create(phone=OUR_NUMBER, name="Main", is_default=True)


# --- every write path keeps the counters exact ------------------------------------------------------------


def test_call_start_answer_end_disposition(midday, agent_a1):
    contact = ContactFactory.create(assigned_agent=agent_a1, campaign=CampaignFactory.create())
    start = timezone.now() - timedelta(minutes=30)
    call = call_actions.do_start_call(agent_a1, phone_number=contact.phone, contact=contact, started_at=start)
    assert drift() == []
    call_actions.do_mark_answered(call, answered_at=start + timedelta(seconds=10))
    assert drift() == []
    call_actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=start + timedelta(minutes=3, seconds=10))
    assert drift() == []
    call_actions.do_set_disposition(call, outcome="lead", at=start + timedelta(minutes=4))
    assert drift() == []

    day = agent_totals(agent_a1.pk, local_midnight(timezone.localdate()), timezone.now())
    assert (day["calls"], day["calls_completed"], day["calls_connected"], day["outcome_lead"]) == (1, 1, 1, 1)
    assert (day["talk_seconds"], day["wrap_up_seconds"], day["connected_wrap_up_seconds"]) == (180, 50, 50)
    # on_call from start to end, wrap-up from end to the disposition
    assert day["on_call_us"] == 190 * 1_000_000
    assert day["wrap_up_us"] == 50 * 1_000_000
    chat = total(ChatHourRollup, EPOCH, timezone.now())
    assert chat["leads_to_qualified"] == 1


def test_unanswered_and_failed_calls(midday, agent_a1):
    start = timezone.now() - timedelta(minutes=20)
    for status in (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED):
        call = call_actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=start)
        call_actions.do_end_call(call, status=status, ended_at=start + timedelta(seconds=20))
        start += timedelta(minutes=1)
    in_progress = call_actions.do_start_call(agent_a1, phone_number="+48600100200", started_at=start)
    assert drift() == []
    day = agent_totals(agent_a1.pk, local_midnight(timezone.localdate()), timezone.now())
    assert (day["calls"], day["calls_no_answer"], day["calls_busy"], day["calls_failed"]) == (4, 1, 1, 1)
    assert (day["calls_in_progress"], day["calls_connected"], day["talk_seconds"]) == (1, 0, 0)
    call_actions.do_end_call(in_progress, status=CallStatus.DROPPED)
    assert drift() == []
    day = agent_totals(agent_a1.pk, local_midnight(timezone.localdate()), timezone.now())
    assert (day["calls_in_progress"], day["calls_dropped"]) == (0, 1)


def test_break_across_midnight_is_split_between_the_days(agent_a1):
    yesterday = timezone.localdate() - timedelta(days=2)
    midnight = local_midnight(yesterday + timedelta(days=1))
    call_actions.do_change_agent_status(agent_a1, AgentStatus.AVAILABLE, at=midnight - timedelta(hours=1))
    call_actions.do_change_agent_status(
        agent_a1, AgentStatus.BREAK, reason="lunch", at=midnight - timedelta(minutes=10)
    )
    call_actions.do_change_agent_status(agent_a1, AgentStatus.AVAILABLE, at=midnight + timedelta(minutes=20))
    call_actions.do_agent_logout(agent_a1, at=midnight + timedelta(hours=1))
    assert drift() == []

    first = agent_totals(agent_a1.pk, local_midnight(yesterday), midnight)
    second = agent_totals(agent_a1.pk, midnight, midnight + timedelta(days=1))
    assert first["break_us"] == 10 * 60 * 1_000_000
    assert second["break_us"] == 20 * 60 * 1_000_000
    assert first["available_us"] == 50 * 60 * 1_000_000
    assert second["available_us"] == 40 * 60 * 1_000_000
    # the login session: 23:00 → 01:00
    assert (first["logged_us"], second["logged_us"]) == (3600 * 1_000_000, 3600 * 1_000_000)


def test_sessions_login_logout_and_open_intervals(midday, agent_a1):
    login = timezone.now() - timedelta(hours=2, minutes=15)
    call_actions.do_agent_login(agent_a1, at=login)
    assert drift() == []
    now = timezone.now()
    # the open session and the open `available` period count up to "now" at read time only
    day = total(AgentHourRollup, local_midnight(timezone.localdate()), now, scope=_scope(agent_a1.pk), now=now)
    assert day["logged_us"] == microseconds(now - login)
    assert day["available_us"] == microseconds(now - login)
    assert AgentHourRollup.objects.filter(logged_us__gt=0).count() == 0  # nothing stored while open
    logout = timezone.now() - timedelta(minutes=1)
    call_actions.do_agent_logout(agent_a1, at=logout)
    assert drift() == []
    day = agent_totals(agent_a1.pk, local_midnight(timezone.localdate()), timezone.now())
    assert day["logged_us"] == microseconds(logout - login)
    assert AgentSession.objects.get().end_reason == "logout"


def test_inbound_conversation_assign_reassign_moves_its_messages(midday, agent_a1, agent_a2, sender):
    at = timezone.now() - timedelta(hours=3)
    message, _ = crm_actions.do_receive_inbound_message(
        message_sid="SM" + "1" * 32, from_number="+48600100200", to_number=OUR_NUMBER, body="Hello", at=at
    )
    conversation = message.conversation
    assert conversation is not None
    crm_actions.do_receive_inbound_message(
        message_sid="SM" + "2" * 32,
        from_number="+48600100200",
        to_number=OUR_NUMBER,
        body="Anyone?",
        at=at + timedelta(minutes=1),
    )
    assert drift() == []

    crm_actions.do_assign_conversation(conversation, agent_a1)
    assert drift() == []
    assert ChatHourRollup.objects.filter(agent_id=agent_a1.pk, messages_inbound=2, conversations=1).exists()

    crm_actions.do_assign_conversation(conversation, agent_a2)
    assert drift() == []
    moved = total(ChatHourRollup, EPOCH, timezone.now(), scope=_scope(agent_a2.pk))
    left = total(ChatHourRollup, EPOCH, timezone.now(), scope=_scope(agent_a1.pk))
    assert (moved["conversations"], moved["messages_inbound"]) == (1, 2)
    assert (left["conversations"], left["messages_inbound"]) == (0, 0)


def test_first_response_resolve_reopen_and_status_callbacks(midday, agent_a1, sender):
    conversation = ConversationFactory.create(
        assigned_agent=agent_a1, our_number=OUR_NUMBER, created_at=timezone.now() - timedelta(minutes=10)
    )
    MessageFactory.create(conversation=conversation, created_at=conversation.created_at)
    reply = crm_actions.do_send_agent_reply(conversation, agent_a1, "How can we help?")
    assert drift() == []
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None

    sid = "SM" + "3" * 32
    crm_actions.do_record_message_sent(reply, sid=sid, status="queued", sender=sender)
    assert drift() == []
    for status in ("sent", "delivered", "read", "delivered"):  # a late "delivered" changes nothing
        crm_actions.do_record_message_status_event({"MessageSid": sid, "MessageStatus": status})
        assert drift() == []
    assert Message.objects.get(pk=reply.pk).status == MessageStatus.READ

    crm_actions.do_resolve_conversation(conversation, by=agent_a1)
    assert drift() == []
    crm_actions.do_reopen_conversation(conversation, by=agent_a1)
    assert drift() == []
    crm_actions.do_resolve_conversation(conversation, by=agent_a1)
    assert drift() == []

    chat = total(ChatHourRollup, EPOCH, timezone.now())
    assert (chat["conversations"], chat["with_human"], chat["frt_count"], chat["resolved"]) == (1, 1, 1, 1)
    assert chat["out_read"] == 1 and chat["out_sent"] == 0
    assert chat["messages_agent"] == 1
    assert chat["messages_system"] == 2  # the two CSAT prompts


def test_failed_message_callback(midday, agent_a1, sender):
    conversation = ConversationFactory.create(assigned_agent=agent_a1, our_number=OUR_NUMBER)
    reply = crm_actions.do_send_agent_reply(conversation, agent_a1, "Hi")
    sid = "SM" + "4" * 32
    crm_actions.do_record_message_sent(reply, sid=sid, status="sent", sender=sender)
    crm_actions.do_record_message_status_event(
        {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "63016"}
    )
    assert drift() == []
    assert total(ChatHourRollup, EPOCH, timezone.now())["out_undelivered"] == 1


def test_broadcast_bulk_messages(midday, admin, sender):
    campaign = CampaignFactory.create()
    ContactFactory.create_batch(3, campaign=campaign)
    broadcast = BroadcastFactory.create(campaign=campaign)
    assert crm_actions.do_start_broadcast(broadcast, admin) == 3
    assert drift() == []
    chat = total(ChatHourRollup, EPOCH, timezone.now())
    assert (chat["broadcast_messages"], chat["out_queued"], chat["messages_system"]) == (3, 3, 3)
    # a message of the broadcast fails: the funnel moves
    message = Message.objects.filter(broadcast=broadcast).first()
    assert message is not None
    crm_actions.do_fail_message(message, error_code=63016, error_message="outside the window")
    assert drift() == []
    assert total(ChatHourRollup, EPOCH, timezone.now())["broadcast_failed"] == 1


def test_call_import_bulk_create_and_bulk_update(agent_a1, agent_a2):
    rows = [
        {
            "agent": agent_a1.username,
            "phone_number": "+48600100300",
            "started_at": "2026-02-01T08:30:00+00:00",
            "answered_at": "2026-02-01T08:30:05+00:00",
            "ended_at": "2026-02-01T08:33:05+00:00",
            "status": "completed",
            "external_id": "ext-1",
        },
        {
            "agent": agent_a2.username,
            "phone_number": "+48600100301",
            "started_at": "2026-02-01T09:00:00+00:00",
            "ended_at": "2026-02-01T09:00:20+00:00",
            "status": "busy",
            "wrap_up_seconds": 5,
            "external_id": "ext-2",
        },
    ]
    result = call_actions.do_import_calls(rows)
    assert (result.created, result.errors) == (2, [])
    assert drift() == []
    # re-import with the first call moved to another agent and hour, and a longer talk time
    rows[0] |= {"agent": agent_a2.username, "started_at": "2026-02-01T10:30:00+00:00"}
    rows[0] |= {"answered_at": "2026-02-01T10:30:05+00:00", "ended_at": "2026-02-01T10:40:05+00:00"}
    result = call_actions.do_import_calls(rows)
    assert (result.updated, result.errors) == (1, [])
    assert drift() == []
    day = datetime(2026, 2, 1, tzinfo=UTC)
    assert agent_totals(agent_a1.pk, day, day + timedelta(days=1))["calls"] == 0
    moved = agent_totals(agent_a2.pk, day, day + timedelta(days=1))
    assert (moved["calls"], moved["talk_seconds"], moved["wrap_up_seconds"]) == (2, 600, 5)


def test_admin_like_saves_and_deletes(midday, agent_a1, agent_a2):
    call = CallLogFactory.create(agent=agent_a1, outcome="lead", wrap_up_seconds=15)
    period = AgentStatusPeriodFactory.create(agent=agent_a1, status=AgentStatus.BREAK)
    session = AgentSessionFactory.create(agent=agent_a1, ended_at=None)
    contact = ContactFactory.create(assigned_agent=agent_a1)
    conversation = ConversationFactory.create(assigned_agent=agent_a1, contact=contact)
    MessageFactory.create(conversation=conversation)
    assert drift() == []

    # a staff correction in the admin is a plain save() of the changed fields
    call.agent, call.status, call.duration_seconds, call.outcome = agent_a2, CallStatus.NO_ANSWER, 0, ""
    call.save()
    period.started_at -= timedelta(minutes=45)
    period.status = AgentStatus.AWAY
    period.save()
    session.ended_at = session.started_at + timedelta(minutes=30)
    session.save()
    contact.assigned_agent = agent_a2
    contact.save()
    conversation.assigned_agent = agent_a2
    conversation.save()
    assert drift() == []

    # deletes: of an instance, and of a queryset
    MessageFactory.create(conversation=conversation)
    call.delete()
    AgentStatusPeriod.objects.filter(agent=agent_a1).delete()
    Message.objects.filter(conversation=conversation).delete()
    assert drift() == []
    Conversation.objects.all().delete()
    Contact.objects.all().delete()
    AgentSession.objects.all().delete()
    assert drift() == []
    # nothing left counts anything
    assert total(AgentHourRollup, EPOCH, timezone.now()) == dict.fromkeys(total(AgentHourRollup, EPOCH, EPOCH), 0)
    assert not any(total(ChatHourRollup, EPOCH, timezone.now()).values())


# --- drift is found, and repaired ---------------------------------------------------------------------------


def _some_history(agent) -> CallLog:
    call = CallLogFactory.create(agent=agent, started_at=timezone.now() - timedelta(hours=5), duration_seconds=120)
    AgentStatusPeriodFactory.create(agent=agent, started_at=timezone.now() - timedelta(hours=6))
    ConversationFactory.create(assigned_agent=agent, created_at=timezone.now() - timedelta(hours=4))
    return call


def test_reconcile_finds_a_raw_update_that_bypassed_the_counters(midday, agent_a1):
    call = _some_history(agent_a1)
    assert reconcile_rollups(days=2).drift_count == 0

    CallLog.objects.filter(pk=call.pk).update(duration_seconds=300)  # no tracking: drift
    check = reconcile_rollups(days=2)
    assert check.drift_count == 1
    assert RollupCheck.objects.count() == 2
    (detail,) = check.details
    assert "calls.AgentHourRollup" in detail
    assert hour_start(call.started_at).isoformat() in detail
    assert "talk_seconds stored 120 expected 300" in detail
    assert str(check).endswith("1 drifted cells")


def test_the_organisation_hour_table_is_kept_checked_and_rebuilt_like_the_others(midday, agent_a1, agent_a2):
    conversation = ConversationFactory.create(assigned_agent=agent_a1, created_at=timezone.now() - timedelta(hours=3))
    ConversationFactory.create(
        assigned_agent=agent_a2,
        campaign=conversation.campaign,
        created_at=conversation.created_at + timedelta(minutes=1),
    )
    campaign = conversation.campaign_id or 0  # 0: no campaign
    row = ChatOrgHourRollup.objects.get(hour=hour_start(conversation.created_at), campaign_id=campaign)
    assert row.conversations == 2  # both agents' conversations in one organisation row
    assert reconcile_rollups(days=2).drift_count == 0

    ChatOrgHourRollup.objects.filter(pk=row.pk).update(conversations=5)
    check = reconcile_rollups(days=2)
    assert check.drift_count == 1
    assert "crm.ChatOrgHourRollup" in check.details[0]
    assert "conversations stored 5 expected 2" in check.details[0]
    call_command("rebuild_rollups")
    assert (
        ChatOrgHourRollup.objects.get(pk__isnull=False, hour=row.hour, campaign_id=row.campaign_id).conversations == 2
    )
    assert drift() == []


def test_the_per_agent_day_table_is_kept_checked_and_rebuilt_like_the_others(midday, agent_a1):
    # yesterday: reconciliation compares the day tables over whole days
    first = ConversationFactory.create(assigned_agent=agent_a1, created_at=timezone.now() - timedelta(days=1, hours=3))
    ConversationFactory.create(
        assigned_agent=agent_a1, campaign=CampaignFactory.create(), created_at=first.created_at + timedelta(minutes=1)
    )
    assert ChatDayRollup.objects.filter(agent_id=agent_a1.pk).count() == 2  # one row per campaign
    row = ChatAgentDayRollup.objects.get(day=day_start(first.created_at), agent_id=agent_a1.pk)
    assert row.conversations == 2  # both campaigns in one per-agent row
    assert reconcile_rollups(days=2).drift_count == 0

    ChatAgentDayRollup.objects.filter(pk=row.pk).update(conversations=9)
    check = reconcile_rollups(days=2)
    assert check.drift_count == 1
    assert "crm.ChatAgentDayRollup" in check.details[0]
    assert "conversations stored 9 expected 2" in check.details[0]
    call_command("rebuild_rollups")
    assert ChatAgentDayRollup.objects.get(day=row.day, agent_id=agent_a1.pk).conversations == 2
    assert drift() == []


def test_reconcile_finds_an_edited_rollup_row_and_rebuild_repairs_it(midday, agent_a1, capsys):
    _some_history(agent_a1)
    ChatHourRollup.objects.filter(agent_id=agent_a1.pk).update(conversations=7)
    AgentHourRollup.objects.create(hour=hour_start(timezone.now() - timedelta(hours=1)), agent_id=999, calls=3)
    check = reconcile_rollups(days=2)
    assert check.drift_count == 2
    assert any("conversations stored 7 expected 1" in d for d in check.details)
    assert any("calls stored 3 expected 0" in d for d in check.details)

    call_command("rebuild_rollups")
    assert "Rebuilt the rollups (all history)" in capsys.readouterr().out
    assert drift() == []
    assert reconcile_rollups(days=2).drift_count == 0


def test_rebuild_since_a_date_leaves_older_hours_alone(agent_a1, capsys):
    today = timezone.localdate()
    old = CallLogFactory.create(agent=agent_a1, started_at=local_midnight(today - timedelta(days=10)) + HOUR)
    recent = CallLogFactory.create(agent=agent_a1, started_at=local_midnight(today - timedelta(days=1)) + HOUR)
    # a break from the day before `since` into it: the rebuilt hours get exactly their clipped part
    since = today - timedelta(days=1)
    AgentStatusPeriodFactory.create(
        agent=agent_a1,
        status=AgentStatus.BREAK,
        started_at=local_midnight(since) - timedelta(minutes=30),
        ended_at=local_midnight(since) + timedelta(minutes=30),
    )
    CallLog.objects.filter(pk__in=[old.pk, recent.pk]).update(duration_seconds=1)
    AgentHourRollup.objects.update(break_us=0)
    hours = [d for d in drift() if d.startswith("calls.AgentHourRollup")]
    days = [d for d in drift() if d.startswith("calls.AgentDayRollup")]
    org_days = [d for d in drift() if d.startswith("calls.OrgDayRollup")]
    assert len(hours) == 4  # two call hours, two break hours
    assert (
        len(days) == len(org_days) == 2
    )  # the calls' days (the day rows still hold the break: only hours were edited)

    call_command("rebuild_rollups", "--since", since.isoformat())
    assert f"Rebuilt the rollups (from {since.isoformat()})" in capsys.readouterr().out
    remaining = drift()
    # the old call's hour, day and organisation day, and the break's half-hour before `since`
    assert len(remaining) == 4, remaining
    assert all(d.split()[1] < local_midnight(since).isoformat() for d in remaining)

    with pytest.raises(CommandError, match="--since must be a date as YYYY-MM-DD"):
        call_command("rebuild_rollups", "--since", "yesterday")
    call_command("rebuild_rollups")
    assert drift() == []


# --- reads over any interval ---------------------------------------------------------------------------------


def test_totals_with_partial_edge_hours_and_open_intervals_equal_a_direct_computation(agent_a1, agent_a2):
    base = hour_start(timezone.now()) - timedelta(hours=10)
    calls = [
        CallLogFactory.create(agent=agent, started_at=base + timedelta(minutes=m), duration_seconds=d)
        for agent, m, d in ((agent_a1, 5, 60), (agent_a1, 70, 0), (agent_a2, 130, 30), (agent_a1, 200, 90))
    ]
    AgentStatusPeriodFactory.create(
        agent=agent_a1,
        status=AgentStatus.AVAILABLE,
        started_at=base + timedelta(minutes=20),
        ended_at=base + timedelta(minutes=170),
    )
    open_break = AgentStatusPeriodFactory.create(
        agent=agent_a1, status=AgentStatus.BREAK, started_at=base + timedelta(minutes=170), ended_at=None
    )
    now = base + timedelta(hours=4, minutes=25)
    for start, end in (
        (base + timedelta(minutes=10), base + timedelta(minutes=150)),  # two partial hours and one whole
        (base + timedelta(minutes=3), base + timedelta(minutes=50)),  # inside one hour
        (base, base + timedelta(hours=6)),  # past "now": the open break stops at now
        (base + timedelta(minutes=65), base + timedelta(minutes=65)),  # empty
    ):
        got = total(AgentHourRollup, start, end, now=now)
        expected_calls = [c for c in calls if start <= c.started_at < end]
        assert got["calls"] == len(expected_calls), (start, end)
        assert got["talk_seconds"] == sum(c.duration_seconds for c in expected_calls)
        lo, hi = max(start, base + timedelta(minutes=20)), min(end, base + timedelta(minutes=170))
        assert got["available_us"] == max(0, microseconds(hi - lo))
        lo, hi = max(start, open_break.started_at), min(end, now)
        assert got["break_us"] == max(0, microseconds(hi - lo))

    by_agent = totals(AgentHourRollup, base, base + timedelta(hours=4), group_by=("agent_id",), now=now)
    assert by_agent[(agent_a1.pk,)]["calls"] == 3
    assert by_agent[(agent_a2.pk,)]["calls"] == 1
    by_hour = totals(AgentHourRollup, base, base + timedelta(hours=4), group_by=("hour",), now=now)
    assert [by_hour[(base + HOUR * i,)]["calls"] for i in range(4)] == [1, 1, 1, 1]


def test_totals_many_equals_one_totals_per_range_at_the_cost_of_one(agent_a1, agent_a2, django_assert_max_num_queries):
    """Several ranges (overlapping, multi-day, partial hours, empty) read together give exactly what
    each gives alone, with one query per stored level and per raw source."""
    now = timezone.now()
    base = local_midnight(timezone.localdate(now) - timedelta(days=3))
    for n in range(12):
        agent = agent_a1 if n % 3 else agent_a2
        CallLogFactory.create(agent=agent, started_at=base + timedelta(hours=7 * n, minutes=13), duration_seconds=n)
        AgentStatusPeriodFactory.create(
            agent=agent,
            status=AgentStatus.AVAILABLE if n % 2 else AgentStatus.BREAK,
            started_at=base + timedelta(hours=7 * n, minutes=20),
            ended_at=base + timedelta(hours=7 * n + 2, minutes=5),
        )
    AgentStatusPeriodFactory.create(
        agent=agent_a1, status=AgentStatus.AWAY, started_at=now - timedelta(hours=5, minutes=7), ended_at=None
    )
    ranges = [
        (base + timedelta(minutes=30), now),
        (base + timedelta(hours=20, minutes=17), base + timedelta(days=2, hours=3, minutes=41)),
        (base + timedelta(hours=30), base + timedelta(hours=30, minutes=40)),
        (base, base),
        (base - timedelta(days=1), now + timedelta(days=1)),
    ]
    for group_by in ((), ("agent_id",), ("day",)):
        alone = [totals(AgentHourRollup, lo, hi, group_by=group_by, now=now) for lo, hi in ranges]
        # day level + hour level + the three raw sources (calls, status periods, sessions)
        with django_assert_max_num_queries(5):
            together = totals_many(AgentHourRollup, ranges, group_by=group_by, now=now)
        assert [{k: dict(v) for k, v in r.items()} for r in together] == [
            {k: dict(v) for k, v in r.items()} for r in alone
        ], group_by
    assert alone[0] != alone[1] != alone[2]


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
def test_dst_days_in_warsaw(agent_a1, day, hours):
    with override_settings(TIME_ZONE="Europe/Warsaw"):
        start, end = local_midnight(day).astimezone(UTC), local_midnight(day + timedelta(days=1)).astimezone(UTC)
        assert end - start == timedelta(hours=hours)
        # logged in from the previous evening to the next morning; a call in every local hour
        AgentSessionFactory.create(agent=agent_a1, started_at=start - HOUR, ended_at=end + HOUR)
        AgentStatusPeriodFactory.create(
            agent=agent_a1, status=AgentStatus.AVAILABLE, started_at=start - HOUR, ended_at=end + HOUR
        )
        moment = start
        while moment < end:
            CallLogFactory.create(agent=agent_a1, started_at=moment + timedelta(minutes=30), duration_seconds=60)
            moment += HOUR
        assert drift() == []
        got = total(AgentHourRollup, start, end)
        assert got["calls"] == hours
        assert got["logged_us"] == got["available_us"] == hours * 3600 * 1_000_000
        stored_hours = AgentHourRollup.objects.filter(hour__gte=start, hour__lt=end).count()
        assert stored_hours == hours
        by_hour = totals(AgentHourRollup, start, end, group_by=("hour",))
        assert len(by_hour) == hours
        assert all(counts["calls"] == 1 for counts in by_hour.values())


@pytest.mark.skipif(connection.vendor == "sqlite", reason="VACUUM of the rollup tables is for PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_rebuild_vacuums_and_analyses_every_rollup_table_on_postgresql(capsys):
    _some_history(UserFactory.create())
    call_command("rebuild_rollups")
    assert "Vacuumed and analysed the rollup tables" in capsys.readouterr().out
    tables = {level._meta.db_table for table in ROLLUP_TABLES for level, _ in levels(table)}
    assert len(tables) == 8
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL AND last_analyze IS NOT NULL"
        )
        done = {row[0] for row in cursor.fetchall()}
    assert tables <= done


# --- concurrency ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite serialises writers; PostgreSQL runs them at once")
@pytest.mark.django_db(transaction=True)
def test_two_writers_incrementing_the_same_cell_lose_nothing():
    agent = UserFactory.create()
    started = hour_start(timezone.now()) + timedelta(minutes=1)
    per_thread = 25
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(per_thread):
                with transaction.atomic():
                    CallLog.objects.create(
                        agent=agent,
                        phone_number="+48600100200",
                        started_at=started,
                        status=CallStatus.COMPLETED,
                        answered_at=started,
                        ended_at=started + timedelta(seconds=10),
                        duration_seconds=10,
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    row = AgentHourRollup.objects.get(agent_id=agent.pk, hour=hour_start(started))
    assert (row.calls, row.talk_seconds) == (2 * per_thread, 20 * per_thread)
    assert drift() == []


def test_outbound_message_counts_by_author(midday, agent_a1):
    conversation = ConversationFactory.create(assigned_agent=agent_a1)
    for author in (AuthorType.AGENT, AuthorType.BOT, AuthorType.SYSTEM):
        MessageFactory.create(
            conversation=conversation,
            direction=Direction.OUTBOUND,
            author_type=author,
            agent=agent_a1 if author == AuthorType.AGENT else None,
            status=MessageStatus.SENT,
        )
    assert drift() == []
    chat = total(ChatHourRollup, EPOCH, timezone.now())
    assert (chat["messages_agent"], chat["messages_bot"], chat["messages_system"], chat["out_sent"]) == (1, 1, 1, 3)


def test_every_counter_is_declared_by_the_one_source_that_writes_it():
    # reads asking for some counters skip the sources that cannot write them (Source.produces)
    from crm.rollups import SOURCES, table_counters

    for table in {source.table for source in SOURCES.values()}:
        for counter in table_counters(table):
            owners = [s.name for s in SOURCES.values() if s.table is table and counter.startswith(s.produces)]
            assert len(owners) == 1, (counter, owners)
