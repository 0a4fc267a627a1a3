"""`manage.py seed_demo`: idempotence guards, determinism, and that the data obeys METRICS.md."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from io import StringIO
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command

from calls.models import (
    AgentSession,
    AgentStatus,
    AgentStatusPeriod,
    CallLog,
    CallOutcome,
    CallStatus,
    RecordSource,
)
from config.demo import DEMO_MODELS
from crm.models import (
    OPEN_CONVERSATION_STATUSES,
    AuthorType,
    BusinessReason,
    Contact,
    Conversation,
    Direction,
    LeadStatus,
    LeadStatusChange,
    Message,
    MessageStatus,
    Role,
    User,
)
from crm.phones import to_e164

SMALL = ("--days", "3", "--agents", "4")


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(settings.TIME_ZONE))


def row_counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in DEMO_MODELS}


@pytest.fixture(autouse=True)
def _default_password(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    monkeypatch.delenv("DEMO_PASSWORD_FILE", raising=False)


@pytest.fixture
def live_now(db):
    """A Tuesday at 11:00 local: the day agents' shifts are in progress."""
    now = local(2026, 3, 10, 11, 0)
    with time_machine.travel(now, tick=False):
        yield now


# --- The command ---------------------------------------------------------------------------------


def test_seeds_an_empty_database_and_prints_the_logins(live_now, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "s3cret-demo")
    output = seed(*SMALL, "--if-empty")

    usernames = ["admin", "supervisor1", "supervisor2", "agent1", "agent2", "agent3", "agent4"]
    assert sorted(User.objects.values_list("username", flat=True)) == sorted(usernames)
    for name in usernames:
        assert name in output
    assert "Password for all of them: s3cret-demo" in output
    assert output.count("s3cret-demo") == 1
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.role == Role.ADMIN
    assert User.objects.get(username="supervisor2").is_staff
    assert User.objects.get(username="agent3").check_password("s3cret-demo")
    assert all(count > 0 for count in row_counts().values())


def test_if_empty_leaves_a_database_with_data_alone(live_now):
    seed(*SMALL)
    before = row_counts()

    output = seed(*SMALL, "--if-empty", "--seed", "7")

    assert "already has data" in output
    assert len(output.strip().splitlines()) == 1
    assert row_counts() == before


def test_refuses_to_seed_a_database_with_data(live_now):
    seed(*SMALL)
    before = row_counts()

    with pytest.raises(CommandError, match="only seeds an empty database"):
        seed(*SMALL, "--seed", "7")

    assert row_counts() == before


def test_refuses_even_when_only_some_other_user_exists(db):
    User.objects.create_user("someone", password="x")
    with pytest.raises(CommandError):
        seed(*SMALL)
    assert Contact.objects.count() == 0


@pytest.mark.parametrize("args", [("--days", "0"), ("--agents", "0")])
def test_rejects_nonsense_sizes(db, args):
    with pytest.raises(CommandError):
        seed(*args)


# --- Determinism -----------------------------------------------------------------------------------


def canonical_dump() -> dict[str, list[tuple]]:
    """Every demo row by its natural keys (no primary keys, no auto timestamps)."""

    def rows(model, *fields: str) -> list[tuple]:
        return sorted(model._default_manager.values_list(*fields), key=repr)

    return {
        "users": rows(User, "username", "first_name", "last_name", "role", "is_staff", "date_joined"),
        "contacts": rows(
            Contact,
            "phone", "name", "email", "company", "assigned_agent__username", "campaign__name", "lead_status",
            "lead_status_changed_at", "business_reason", "callback_at", "created_at", "whatsapp_opted_out_at",
        ),
        "lead_changes": rows(
            LeadStatusChange,
            "contact__phone", "from_status", "to_status", "changed_at", "changed_by__username",
        ),
        "calls": rows(
            CallLog,
            "agent__username", "contact__phone", "campaign__name", "direction", "status", "outcome",
            "started_at", "answered_at", "ended_at", "duration_seconds", "wrap_up_seconds", "disposition_at",
            "business_reason", "callback_at", "twilio_call_sid",
        ),
        "periods": rows(AgentStatusPeriod, "agent__username", "status", "reason", "started_at", "ended_at"),
        "sessions": rows(AgentSession, "agent__username", "started_at", "ended_at", "end_reason"),
        "conversations": rows(
            Conversation,
            "contact__phone", "created_at", "status", "priority", "assigned_agent__username",
            "handled_by_bot_first", "escalated_at", "first_response_at", "first_response_by__username",
            "resolved_at", "reopened_count", "csat_score", "csat_received_at", "last_message_at",
        ),
        "messages": rows(
            Message,
            "twilio_sid", "conversation__created_at", "broadcast__name", "contact__phone", "author_type",
            "agent__username", "body", "media_count", "status", "error_code", "created_at", "sent_at",
            "delivered_at", "read_at", "failed_at",
        ),
    }  # fmt: skip


def delete_demo() -> None:
    for model in DEMO_MODELS:
        model._default_manager.all().delete()


def test_same_seed_and_instant_give_identical_rows_and_another_seed_does_not(live_now):
    seed(*SMALL, "--seed", "5")
    first = canonical_dump()
    delete_demo()
    assert row_counts() == dict.fromkeys(row_counts(), 0)

    seed(*SMALL, "--seed", "5")
    assert canonical_dump() == first

    delete_demo()
    seed(*SMALL, "--seed", "6")
    other = canonical_dump()
    assert other["calls"] != first["calls"]
    assert other["contacts"] != first["contacts"]


# --- Consistency with the metric definitions -------------------------------------------------------


def assert_timelines(now: datetime) -> dict[int, list[AgentStatusPeriod]]:
    agents = list(User.objects.filter(role=Role.AGENT))
    timeline: dict[int, list[AgentStatusPeriod]] = defaultdict(list)
    for period in AgentStatusPeriod.objects.order_by("started_at"):
        timeline[period.agent_id].append(period)
    assert set(timeline) == {a.pk for a in agents}, "only agents have timelines, and every agent has one"

    sessions: dict[int, list[AgentSession]] = defaultdict(list)
    # AgentSession.objects (and so _default_manager) is typed as a manager of AgentStatusPeriod.
    for session in AgentSession.objects.order_by("started_at"):
        sessions[session.agent_id].append(session)

    for agent in agents:
        assert agent.teams.count() == 1, f"{agent} is in exactly one team"
        periods = timeline[agent.pk]
        assert periods[0].status == AgentStatus.OFFLINE
        assert [p.ended_at for p in periods].count(None) == 1, "exactly one current state"
        assert periods[-1].ended_at is None
        for earlier, later in pairwise(periods):
            assert earlier.ended_at == later.started_at, f"gap or overlap in {agent}'s timeline"
            assert earlier.started_at < earlier.ended_at
        assert periods[-1].started_at <= now
        for period in periods:
            assert period.source == RecordSource.DEMO
            assert (period.reason != "") <= (period.status == AgentStatus.BREAK)

        # Sessions are exactly the stretches away from offline.
        stretches: list[tuple[datetime, datetime | None]] = []
        for index, period in enumerate(periods):
            previous = periods[index - 1].status if index else AgentStatus.OFFLINE
            if period.status != AgentStatus.OFFLINE and previous == AgentStatus.OFFLINE:
                stretches.append((period.started_at, None))
            if period.status == AgentStatus.OFFLINE and previous != AgentStatus.OFFLINE:
                stretches[-1] = (stretches[-1][0], period.started_at)
        assert [(s.started_at, s.ended_at) for s in sessions[agent.pk]] == stretches
        assert all((s.ended_at is None) == (s.end_reason == "") for s in sessions[agent.pk])
    return timeline


def assert_calls(now: datetime, timeline: dict[int, list[AgentStatusPeriod]]) -> None:
    index = {(p.agent_id, p.started_at): (n, ps) for ps in timeline.values() for n, p in enumerate(ps)}
    calls = list(CallLog.objects.select_related("contact"))
    assert calls
    for call in calls:
        assert call.contact is not None
        assert call.contact.assigned_agent_id == call.agent_id
        assert call.phone_number == call.contact.phone
        assert call.campaign_id == call.contact.campaign_id
        assert call.status in CallStatus.values
        assert call.outcome in [*CallOutcome.values, ""]
        assert call.source == RecordSource.DEMO
        assert (call.ended_at is None) == (call.status == CallStatus.IN_PROGRESS)
        if call.answered_at is not None and call.ended_at is not None:
            assert call.duration_seconds == int((call.ended_at - call.answered_at).total_seconds())
            assert 5 <= (call.answered_at - call.started_at).total_seconds() <= 30
        else:
            assert call.duration_seconds == 0
        if call.status in (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED):
            assert call.answered_at is None
            assert call.outcome in ("", CallOutcome.VOICEMAIL, CallOutcome.OTHER)
        if call.status == CallStatus.COMPLETED:
            assert call.answered_at is not None
            assert call.outcome != "" or call.disposition_at is None  # blank only while still in wrap-up
            assert 30 <= call.duration_seconds <= 1200
        for moment in (call.started_at, call.answered_at, call.ended_at, call.disposition_at):
            assert moment is None or moment <= now
        assert (call.outcome == CallOutcome.CALLBACK) == (call.business_reason == BusinessReason.RESCHEDULED)
        assert (call.callback_at is not None) == (call.outcome == CallOutcome.CALLBACK)

        # Inside an on_call period of its agent, followed by a wrap_up as long as wrap_up_seconds.
        n, periods = index[(call.agent_id, call.started_at)]
        on_call = periods[n]
        assert on_call.status == AgentStatus.ON_CALL
        assert on_call.ended_at == call.ended_at
        if call.disposition_at is not None and call.ended_at is not None:
            wrap_up = periods[n + 1]
            assert wrap_up.status == AgentStatus.WRAP_UP
            assert (wrap_up.started_at, wrap_up.ended_at) == (call.ended_at, call.disposition_at)
            assert call.wrap_up_seconds == (call.disposition_at - call.ended_at).total_seconds() > 0
        else:
            assert call.wrap_up_seconds == 0 and call.outcome == ""
            assert call.status == CallStatus.IN_PROGRESS or periods[n + 1].ended_at is None
    on_call_periods = sum(p.status == AgentStatus.ON_CALL for ps in timeline.values() for p in ps)
    assert on_call_periods == len(calls)


def assert_contacts(now: datetime) -> None:
    contacts = list(Contact.objects.all())
    history: dict[int, list[LeadStatusChange]] = defaultdict(list)
    for change in LeadStatusChange.objects.order_by("changed_at"):
        history[change.contact_id].append(change)
    for contact in contacts:
        assert to_e164(contact.phone) == contact.phone
        assert contact.phone.startswith("+48")
        assert contact.assigned_agent_id is not None and contact.campaign_id is not None
        assert contact.lead_status in LeadStatus.values
        assert contact.created_at <= now
        assert (contact.business_reason == BusinessReason.RESCHEDULED) == (contact.callback_at is not None)
        changes = history[contact.pk]
        assert (changes[0].from_status, changes[0].to_status) == ("", LeadStatus.NEW)
        assert changes[0].changed_at == contact.created_at
        for earlier, later in pairwise(changes):
            assert later.from_status == earlier.to_status
            assert later.from_status != later.to_status
            assert earlier.changed_at < later.changed_at
        assert changes[-1].to_status == contact.lead_status
        assert changes[-1].changed_at == contact.lead_status_changed_at <= now
    assert len({c.phone for c in contacts}) == len(contacts) == 250 * User.objects.filter(role=Role.AGENT).count()


def assert_conversations(now: datetime) -> None:
    messages: dict[int | None, list[Message]] = defaultdict(list)
    for message in Message.objects.order_by("created_at", "pk"):
        messages[message.conversation_id].append(message)
        assert re.fullmatch(r"SM[0-9a-f]{32}", message.twilio_sid or "")
        assert message.created_at <= now
        if message.direction == Direction.INBOUND:
            assert message.author_type == AuthorType.CUSTOMER
            assert message.status == MessageStatus.RECEIVED
            assert message.sent_at is message.delivered_at is message.read_at is message.failed_at is None
            assert message.body or message.media_count == 1
            continue
        assert (message.agent_id is not None) == (message.author_type == AuthorType.AGENT)
        stamps = {
            "sent_at": message.status
            in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.UNDELIVERED),
            "delivered_at": message.status in (MessageStatus.DELIVERED, MessageStatus.READ),
            "read_at": message.status == MessageStatus.READ,
            "failed_at": message.status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED),
        }
        assert message.status in {
            MessageStatus.QUEUED,
            *(s for s in MessageStatus if s != MessageStatus.RECEIVED),
        }
        for name, expected in stamps.items():
            assert (getattr(message, name) is not None) == expected, (message.status, name)
        chain = [message.created_at, message.sent_at, message.delivered_at, message.read_at]
        present = [moment for moment in chain if moment is not None]
        assert present == sorted(present) and present[-1] <= now
        assert message.failed_at is None or message.created_at <= message.failed_at <= now
        assert (message.error_code is not None) == stamps["failed_at"] == bool(message.error_message)
        if message.status == MessageStatus.FAILED:
            assert message.error_code == 63016

    for broadcast_message in messages[None]:
        assert broadcast_message.broadcast_id is not None
        assert broadcast_message.author_type == AuthorType.SYSTEM

    open_per_contact: Counter[tuple[int, str]] = Counter()
    conversations = list(Conversation.objects.all())
    assert conversations
    for conversation in conversations:
        lines = messages[conversation.pk]
        assert lines[0].direction == Direction.INBOUND and lines[0].created_at == conversation.created_at
        assert conversation.last_message_at == lines[-1].created_at <= now
        assert all(m.contact_id == conversation.contact_id for m in lines)
        human = [m for m in lines if m.author_type == AuthorType.AGENT]
        if human:
            assert conversation.first_response_at == human[0].created_at
            assert conversation.first_response_by_id == human[0].agent_id
            assert conversation.first_response_at >= (conversation.escalated_at or conversation.created_at)
        else:
            assert conversation.first_response_at is None and conversation.first_response_by_id is None
        if conversation.escalated_to_human:
            assert conversation.handled_by_bot_first
            assert conversation.created_at <= conversation.escalated_at <= now  # type: ignore[operator]
        if conversation.handled_by_bot_first and not conversation.escalated_to_human:
            assert not human, "bot-only conversations have no human message"
            assert conversation.assigned_agent_id is None
        if conversation.status == "resolved":
            assert conversation.created_at <= conversation.resolved_at <= now  # type: ignore[operator]
        else:
            open_per_contact[(conversation.contact_id, conversation.channel)] += 1
        if conversation.csat_score is not None:
            assert 1 <= conversation.csat_score <= 5
            assert conversation.csat_requested_at <= conversation.csat_received_at <= now  # type: ignore[operator]
    assert all(count == 1 for count in open_per_contact.values())
    assert Conversation.objects.filter(status__in=OPEN_CONVERSATION_STATUSES).count() == sum(open_per_contact.values())


def assert_demo_consistent(now: datetime) -> None:
    timeline = assert_timelines(now)
    assert_calls(now, timeline)
    assert_contacts(now)
    assert_conversations(now)


def test_live_demo_obeys_the_metric_definitions(live_now):
    seed(*SMALL)
    assert_demo_consistent(live_now)

    # 11:00 on a Tuesday: the three day agents are logged in, the night agent (agent4) is not.
    open_sessions = set(AgentSession.objects.filter(ended_at=None).values_list("agent__username", flat=True))
    assert open_sessions == {"agent1", "agent2", "agent3"}
    current = dict(AgentStatusPeriod.objects.filter(ended_at=None).values_list("agent__username", "status"))
    assert current["agent4"] == AgentStatus.OFFLINE
    assert all(current[name] != AgentStatus.OFFLINE for name in open_sessions)
    # Today's chats include some still waiting for an answer or for the customer.
    today_start = local(2026, 3, 10, 0, 0)
    assert Conversation.objects.filter(created_at__gte=today_start, status__in=OPEN_CONVERSATION_STATUSES).exists()


def test_default_size_volumes_are_realistic(db):
    """One larger run: the status mix, the answer-rate shape and every message status show up."""
    now = local(2026, 3, 10, 17, 30)
    with time_machine.travel(now, tick=False):
        seed("--days", "7", "--agents", "6")
    calls = CallLog.objects.exclude(status=CallStatus.IN_PROGRESS)
    shares = Counter(calls.values_list("status", flat=True))
    total = sum(shares.values())
    assert 0.45 <= shares[CallStatus.COMPLETED] / total <= 0.58
    assert 0.18 <= shares[CallStatus.NO_ANSWER] / total <= 0.32
    assert all(shares[s] for s in (CallStatus.BUSY, CallStatus.FAILED, CallStatus.DROPPED))
    assert CallLog.objects.filter(direction="inbound").exists()
    statuses = set(Message.objects.filter(direction=Direction.OUTBOUND).values_list("status", flat=True))
    assert statuses >= {"queued", "sent", "delivered", "read", "failed", "undelivered"}
    assert Conversation.objects.filter(reopened_count__gt=0).exists()
    assert Conversation.objects.filter(csat_score__isnull=False).exists()
    assert Conversation.objects.filter(escalated_to_human=True).exists()
    assert Message.objects.filter(media_count=1, body="").exists()
    assert Contact.objects.filter(business_reason=BusinessReason.RESCHEDULED).exists()
    assert set(Contact.objects.values_list("lead_status", flat=True)) == set(LeadStatus.values)
    assert set(AgentStatusPeriod.objects.values_list("status", flat=True)) == set(AgentStatus.values)
    assert_demo_consistent(now)


def test_local_days_are_right_across_a_dst_change(db, settings):
    """Warsaw springs forward on Sunday 2026-03-29 (02:00 → 03:00): that local day has 23 hours."""
    settings.TIME_ZONE = "Europe/Warsaw"
    tz = ZoneInfo("Europe/Warsaw")
    now = datetime(2026, 3, 31, 11, 0, tzinfo=tz)
    with time_machine.travel(now, tick=False):
        seed("--days", "4", "--agents", "4")
    assert_demo_consistent(now)

    # The timeline starts at local midnight of the first day (UTC+1 then), not at UTC midnight.
    first = AgentStatusPeriod.objects.order_by("started_at").first()
    assert first is not None
    assert first.started_at == datetime(2026, 3, 28, tzinfo=tz) == datetime(2026, 3, 27, 23, 0, tzinfo=UTC)

    night_agent = User.objects.get(username="agent4")
    for session in AgentSession.objects.select_related("agent"):
        start = session.started_at.astimezone(tz)
        assert start.date() in {datetime(2026, 3, d, tzinfo=tz).date() for d in (28, 29, 30, 31)}
        if session.agent == night_agent:
            assert (20, 0) <= (start.hour, start.minute) <= (20, 30)
        else:
            assert (8, 0) <= (start.hour, start.minute) <= (9, 30), start
        if session.ended_at is not None:
            # Shift lengths are real (UTC) hours: a night shift over the DST change is not an hour short.
            hours = (session.ended_at - session.started_at).total_seconds() / 3600
            assert 7.5 <= hours <= 9, (session, hours)

    # With this seed the night agent works Saturday night, straight through the clock change.
    spring_forward = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    over_change = AgentSession.objects.filter(started_at__lt=spring_forward, ended_at__gt=spring_forward)
    assert [s.agent_id for s in over_change] == [night_agent.pk]

    # The night agent's lunch starts shortly before local midnight, so a break crosses into the next day.
    crossing = [
        p
        for p in AgentStatusPeriod.objects.filter(agent=night_agent, status=AgentStatus.BREAK, reason="lunch")
        if p.ended_at is not None and p.started_at.astimezone(tz).date() != p.ended_at.astimezone(tz).date()
    ]
    assert crossing
    # Sunday 29th counts 23 local hours: the weekend day shows only about half the agents.
    day_start, day_end = datetime(2026, 3, 29, tzinfo=tz), datetime(2026, 3, 30, tzinfo=tz)
    assert day_end.astimezone(UTC) - day_start.astimezone(UTC) == timedelta(hours=23)
    sunday = AgentSession.objects.filter(started_at__gte=day_start, started_at__lt=day_end)
    assert 1 <= sunday.count() <= 3
