"""Property tests: every metric the API shows equals an independent recomputation from raw rows.

Hypothesis generates random histories — agent state timelines with gaps and an open current state,
login sessions (one possibly still open), calls of every status (unanswered, in progress, with
wrap-up), contacts and campaigns — around a local day D in a non-UTC zone, DST days included
(Europe/Warsaw 2026-03-29 is 23 h long, 2026-10-25 is 25 h). Timestamps cluster around midnight, the
DST change and "now", so intervals cross them and must be clipped. Rows are written straight with
the ORM (saves keep the hourly rollups right in the same transaction), "now" is frozen with
time_machine, and each example runs in a savepoint that is rolled back.

The oracle is tests/raw_metrics.py (plain Python over raw rows, written from METRICS.md). Each
property is checked twice: on the rollups kept by the writes, and after `rebuild_rollups()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from analytics.periods import period_from_params
from analytics.rollups import rebuild_rollups
from calls.models import AgentHourRollup, AgentSession, AgentStatusPeriod, CallLog
from crm.models import (
    Broadcast,
    Campaign,
    ChatHourRollup,
    Contact,
    Conversation,
    LeadStatusChange,
    Message,
    Role,
    Team,
    User,
)
from crm.rollups import Scope, total
from tests import raw_metrics as raw

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# (zone, local day D): both Warsaw DST days, an ordinary Warsaw day, a US DST day and plain UTC
ZONE_DAYS = [
    ("Europe/Warsaw", date(2026, 3, 29)),
    ("Europe/Warsaw", date(2026, 10, 25)),
    ("Europe/Warsaw", date(2026, 3, 29)),
    ("Europe/Warsaw", date(2026, 10, 25)),
    ("Europe/Warsaw", date(2026, 6, 15)),
    ("America/New_York", date(2026, 11, 1)),
    ("UTC", date(2026, 10, 25)),
]
STATUSES = ("available", "on_call", "wrap_up", "break", "away", "offline")
CALL_STATUSES = ("in_progress", "completed", "completed", "no_answer", "busy", "failed", "dropped")
OUTCOMES = ("", "", "lead", "lead", "interested", "not_interested", "callback", "wrong_number", "voicemail", "other")
REASONS = ("", "rescheduled", "rescheduled", "interested", "no_budget")
LEAD_IN = timedelta(hours=3)  # the history starts this long before D
AGENTS = 2  # agent 0 is the one asked about; agent 1's rows must never leak into its numbers


# --- histories -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSpec:
    agent: int
    start: int  # seconds after the history's origin
    status: str
    answer_after: int | None
    talk: int
    wrap: int
    outcome: str


@dataclass(frozen=True)
class IntervalSpec:
    agent: int
    status: str  # "" for a login session
    start: int
    end: int | None  # None: still open ("now")


@dataclass(frozen=True)
class MessageSpec:
    author: str  # customer, bot, agent, system
    after: int  # seconds after the conversation was created (an agent's: after the bot hand-off)
    status: str


@dataclass(frozen=True)
class ConversationSpec:
    agent: int | None
    contact: int  # index into a small pool: later conversations of a contact are "returning"
    created: int
    priority: str
    bot_first: bool
    escalate_after: int | None
    messages: tuple[MessageSpec, ...]
    resolve_after: int | None  # None: open or pending
    pending: bool
    reopened: int
    csat: int | None
    campaign: int | None = None  # index into the chat campaigns (histories with teams)


@dataclass(frozen=True)
class LeadSpec:
    agent: int | None
    campaign: int | None
    created: int
    changes: tuple[tuple[str, int], ...]  # (to_status, seconds after the previous change or creation)


@dataclass(frozen=True)
class BroadcastSpec:
    campaign: int | None
    messages: tuple[tuple[int, str], ...]  # (created offset, status)


@dataclass(frozen=True)
class History:
    zone: str
    day: date
    origin: datetime  # UTC; D 00:00 local − LEAD_IN
    now_offset: int
    calls: tuple[CallSpec, ...]
    periods: tuple[IntervalSpec, ...]
    sessions: tuple[IntervalSpec, ...]
    contacts: tuple[tuple[int | None, str], ...]  # (agent, business_reason)
    campaigns: tuple[tuple[bool, tuple[int, ...]], ...]  # (is_active, members)
    windows: tuple[tuple[int, int], ...] = field(default=())  # extra [a, b) offsets to total()
    conversations: tuple[ConversationSpec, ...] = field(default=())
    leads: tuple[LeadSpec, ...] = field(default=())
    broadcasts: tuple[BroadcastSpec, ...] = field(default=())
    agent_count: int = AGENTS
    teams: bool = False  # team A (agent 0, campaign 0), team B (agent 1, campaign 1), campaign 2 teamless

    @property
    def now(self) -> datetime:
        return self.at(self.now_offset)

    def at(self, offset: int) -> datetime:
        return self.origin + timedelta(seconds=offset)


def local_day(zone: str, day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    return (
        datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC),
        datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz).astimezone(UTC),
    )


def special_offsets(zone: str, origin: datetime, span: int) -> list[int]:
    """Offsets of local midnights and DST changes inside [origin, origin + span]."""
    tz = ZoneInfo(zone)
    points = []
    for hour in range(span // 3600 + 1):
        moment = origin + timedelta(hours=hour)
        local = moment.astimezone(tz)
        if (local.hour, local.minute) == (0, 0):
            points.append(hour * 3600)
        if hour and moment.astimezone(tz).utcoffset() != (moment - timedelta(hours=1)).astimezone(tz).utcoffset():
            points.append(hour * 3600)
    return points


def moments(points: list[int], upper: int) -> st.SearchStrategy[int]:
    """An offset in [0, upper], half the time close to an interesting point."""
    near = st.builds(
        lambda p, j: min(max(p + j, 0), upper),
        st.sampled_from([*points, upper]),
        st.sampled_from([0, -1, 1]) | st.integers(-1800, 1800),
    )
    return st.integers(0, upper) | near


def durations(longest: int) -> st.SearchStrategy[int]:
    return st.sampled_from([0, 1, 59, 60, 3599, 3600]) | st.integers(1, longest)


def timeline(
    draw: st.DrawFn, agent: int, status: st.SearchStrategy[str], points: list[int], now: int, count: int
) -> list[IntervalSpec]:
    """Consecutive intervals (gap-free or with gaps) ending by now; the last one may stay open."""
    out: list[IntervalSpec] = []
    cursor = draw(moments(points, now))
    for _ in range(draw(st.integers(0, count))):
        if cursor >= now:
            break
        length = draw(durations(5 * 3600))
        end = min(cursor + max(length, 1), now)
        out.append(IntervalSpec(agent, draw(status), cursor, end))
        cursor = end + draw(st.sampled_from([0, 0, 1]) | durations(3600))
    still_open: bool = draw(st.booleans())
    if out and still_open:
        last = out[-1]
        out[-1] = IntervalSpec(last.agent, last.status, last.start, None)
    return out


OUT_STATUSES = ("queued", "sent", "delivered", "read", "read", "failed", "undelivered", "accepted", "canceled")


def message_specs() -> st.SearchStrategy[MessageSpec]:
    return st.builds(
        MessageSpec,
        author=st.sampled_from(("customer", "customer", "bot", "agent", "agent", "system")),
        after=durations(2 * 3600),
        status=st.sampled_from(OUT_STATUSES),
    )


def conversation_specs(
    points: list[int], now: int, agents: tuple[int | None, ...] = (0, 0, 1, None), campaigns: int = 0
) -> st.SearchStrategy[ConversationSpec]:
    return st.builds(
        ConversationSpec,
        agent=st.sampled_from(agents),
        campaign=st.none() | st.integers(0, campaigns - 1) if campaigns else st.none(),
        contact=st.integers(0, 2),
        created=moments(points, now),
        priority=st.sampled_from(("low", "normal", "high", "urgent")),
        bot_first=st.booleans(),
        escalate_after=st.none() | durations(3600),
        messages=st.lists(message_specs(), max_size=5).map(tuple),
        resolve_after=st.none() | durations(6 * 3600),
        pending=st.booleans(),
        reopened=st.sampled_from([0, 0, 1, 2]),
        csat=st.none() | st.integers(1, 5),
    )


@st.composite
def histories(draw: st.DrawFn) -> History:
    zone, day = draw(st.sampled_from(ZONE_DAYS))
    lo, hi = local_day(zone, day)
    # half the histories are shifted by a fraction of a second: clipped durations are then not whole
    # seconds, and the API's seconds are the exact microsecond sums rounded down
    base = lo - LEAD_IN
    origin = base + timedelta(microseconds=draw(st.sampled_from([0]) | st.integers(1, 999_999)))
    day_end = int((hi - base).total_seconds())
    # "now" inside D (D is today, open intervals run to now) or after it (D is past)
    now_offset = draw(st.integers(int(LEAD_IN.total_seconds()) + 1, day_end + 6 * 3600))
    points = [*special_offsets(zone, base, day_end + 6 * 3600), now_offset]
    periods: list[IntervalSpec] = []
    sessions: list[IntervalSpec] = []
    for agent in range(AGENTS):
        periods += timeline(draw, agent, st.sampled_from(STATUSES), points, now_offset, 7)
        sessions += timeline(draw, agent, st.just(""), points, now_offset, 3)
    calls = []
    for _ in range(draw(st.integers(0, 10))):
        calls.append(
            CallSpec(
                agent=draw(st.sampled_from([0, 0, 1])),
                start=draw(moments(points, now_offset)),
                status=draw(st.sampled_from(CALL_STATUSES)),
                answer_after=draw(st.none() | st.integers(0, 90)),
                talk=draw(st.sampled_from([0, 0, 1]) | st.integers(1, 4000)),
                wrap=draw(st.sampled_from([0, 0]) | st.integers(1, 900)),
                outcome=draw(st.sampled_from(OUTCOMES)),
            )
        )
    contacts = draw(st.lists(st.tuples(st.sampled_from([0, 0, 1, None]), st.sampled_from(REASONS)), max_size=5))
    campaigns = draw(
        st.lists(st.tuples(st.booleans(), st.lists(st.sampled_from([0, 1]), unique=True).map(tuple)), max_size=3)
    )
    windows = draw(
        st.lists(
            st.tuples(moments(points, day_end + 6 * 3600), moments(points, day_end + 6 * 3600)).map(sorted).map(tuple),
            max_size=3,
        )
    )
    conversations = draw(st.lists(conversation_specs(points, now_offset), max_size=6))
    return History(
        zone,
        day,
        origin,
        now_offset,
        tuple(calls),
        tuple(periods),
        tuple(sessions),
        tuple(contacts),
        tuple(campaigns),
        tuple(windows),  # type: ignore[arg-type]
        tuple(conversations),
    )


def write(history: History) -> list[User]:
    """The history's rows, written with the ORM at exact times (run with "now" frozen)."""
    agents = [
        User.objects.create(username=f"prop_agent{i}", role=Role.AGENT, password="!")
        for i in range(history.agent_count)
    ]
    now = history.now
    for spec in history.calls:
        started = history.at(spec.start)
        answered = None if spec.answer_after is None else started + timedelta(seconds=spec.answer_after)
        if answered is not None and answered > now:
            answered = None
        status, ended, talk, wrap = spec.status, None, 0, 0
        if status != "in_progress":
            ended = (answered or started) + timedelta(seconds=spec.talk)
            if ended > now:  # not over yet
                status, ended = "in_progress", None
            else:
                talk = spec.talk if answered is not None else 0
                wrap = spec.wrap
        CallLog.objects.create(
            agent=agents[spec.agent],
            phone_number="+48600000001",
            status=status,
            outcome=spec.outcome if status != "in_progress" else "",
            started_at=started,
            answered_at=answered,
            ended_at=ended,
            duration_seconds=talk,
            wrap_up_seconds=wrap,
        )
    for period in history.periods:
        AgentStatusPeriod.objects.create(
            agent=agents[period.agent],
            status=period.status,
            started_at=history.at(period.start),
            ended_at=None if period.end is None else history.at(period.end),
        )
    for session in history.sessions:
        AgentSession.objects.create(
            agent=agents[session.agent],
            started_at=history.at(session.start),
            ended_at=None if session.end is None else history.at(session.end),
        )
    for n, (agent, reason) in enumerate(history.contacts):
        Contact.objects.create(
            phone=f"+4860010{n:04d}",
            assigned_agent=None if agent is None else agents[agent],
            business_reason=reason,
        )
    for n, (active, members) in enumerate(history.campaigns):
        campaign = Campaign.objects.create(name=f"prop campaign {n}", is_active=active)
        campaign.members.add(*(agents[m] for m in members))
    chat_campaigns = write_teams(agents) if history.teams else []
    write_conversations(history, agents, chat_campaigns)
    write_leads_and_broadcasts(history, agents, chat_campaigns)
    return agents


CHAT_CAMPAIGNS = 3


def write_teams(agents: list[User]) -> list[Campaign]:
    """Team A (agent 0, supervised by prop_supervisor, campaign 0), team B (agent 1, campaign 1); agent 2
    and campaign 2 belong to no team."""
    supervisor = User.objects.create(username="prop_supervisor", role=Role.SUPERVISOR, password="!")
    team_a, team_b = Team.objects.create(name="prop team A"), Team.objects.create(name="prop team B")
    team_a.supervisors.add(supervisor)
    team_a.members.add(agents[0])
    team_b.members.add(agents[1])
    return [
        Campaign.objects.create(name=f"prop chat campaign {n}", team=team)
        for n, team in enumerate((team_a, team_b, None))
    ]


def write_leads_and_broadcasts(history: History, agents: list[User], campaigns: list[Campaign]) -> None:
    """Contacts created at their time with their lead status changes; broadcasts' messages (no
    conversation) to the first contacts."""
    status = "new"
    for n, lead in enumerate(history.leads):
        moment = history.at(lead.created)
        contact = Contact.objects.create(
            phone=f"+4860030{n:04d}",
            assigned_agent=None if lead.agent is None else agents[lead.agent],
            campaign=None if lead.campaign is None else campaigns[lead.campaign],
            created_at=moment,
        )
        status = "new"
        for to_status, after in lead.changes:
            if to_status == status:
                continue
            moment = min(moment + timedelta(seconds=after), history.now)
            LeadStatusChange.objects.create(contact=contact, from_status=status, to_status=to_status, changed_at=moment)
            status = to_status
    recipients = list(Contact.objects.order_by("pk")[:3])
    for n, spec in enumerate(history.broadcasts):
        broadcast = Broadcast.objects.create(
            name=f"prop broadcast {n}",
            body="Hello",
            campaign=None if spec.campaign is None else campaigns[spec.campaign],
        )
        for i, (offset, message_status) in enumerate(spec.messages):
            Message.objects.create(
                broadcast=broadcast,
                contact=recipients[i % len(recipients)],
                direction="outbound",
                author_type="system",
                status=message_status,
                created_at=history.at(offset),
            )


def write_conversations(history: History, agents: list[User], campaigns: list[Campaign] | None = None) -> None:
    """Conversations in the order they were created (is_returning is set on creation), with their
    messages; first_response_at is the first human agent message, as the app records it."""
    now = history.now
    pool = [Contact.objects.create(phone=f"+4860020{n:04d}", name=f"chat {n}") for n in range(3)]
    has_open: set[int] = set()
    for spec in sorted(history.conversations, key=lambda c: c.created):
        created = history.at(spec.created)
        escalated_at = None
        if spec.escalate_after is not None and created + timedelta(seconds=spec.escalate_after) <= now:
            escalated_at = created + timedelta(seconds=spec.escalate_after)
        times = []
        for message in spec.messages:
            since = max(created, escalated_at or created) if message.author == "agent" else created
            times.append(min(since + timedelta(seconds=message.after), now))
        human = [t for m, t in zip(spec.messages, times, strict=True) if m.author == "agent"]
        resolved_at = None
        if spec.resolve_after is not None or spec.contact in has_open:  # one open conversation per contact
            resolved_at = min(created + timedelta(seconds=spec.resolve_after or 0), now)
        else:
            has_open.add(spec.contact)
        conversation = Conversation.objects.create(
            contact=pool[spec.contact],
            campaign=campaigns[spec.campaign] if campaigns and spec.campaign is not None else None,
            assigned_agent=None if spec.agent is None else agents[spec.agent],
            status="resolved" if resolved_at else ("pending" if spec.pending else "open"),
            priority=spec.priority,
            created_at=created,
            handled_by_bot_first=spec.bot_first,
            escalated_to_human=escalated_at is not None,
            escalated_at=escalated_at,
            first_response_at=min(human, default=None),
            first_response_by=agents[spec.agent or 0] if human else None,
            resolved_at=resolved_at,
            reopened_count=spec.reopened,
            csat_score=spec.csat if resolved_at else None,
        )
        for message, moment in zip(spec.messages, times, strict=True):
            Message.objects.create(
                conversation=conversation,
                contact=conversation.contact,
                direction="inbound" if message.author == "customer" else "outbound",
                author_type=message.author,
                agent=agents[spec.agent or 0] if message.author == "agent" else None,
                status="received" if message.author == "customer" else message.status,
                created_at=moment,
            )


@contextmanager
def played(history: History) -> Iterator[list[User]]:
    """The history written in its zone with "now" frozen, rolled back afterwards."""
    with (
        override_settings(TIME_ZONE=history.zone),
        time_machine.travel(history.now, tick=False),
        transaction.atomic(),
    ):
        cache.clear()
        try:
            yield write(history)
        finally:
            transaction.set_rollback(True)
            cache.clear()


def both_paths(check: Callable[[], None]) -> None:
    """`check` on the rollups kept by the writes, then on rebuilt ones (a fresh cache each time)."""
    check()
    rebuild_rollups()
    cache.clear()
    check()


def get_json(user: User, path: str, params: dict[str, Any]) -> Any:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


# --- the engine: total() over any window equals the raw recomputation ------------------------------

AGENT_COUNTERS = (
    "calls",
    "calls_connected",
    "talk_seconds",
    "wrap_up_seconds",
    "connected_wrap_up_seconds",
    "outcome_lead",
    *(f"calls_{s}" for s in ("in_progress", "completed", "no_answer", "busy", "failed", "dropped")),
    *(f"{s}_us" for s in ("available", "on_call", "wrap_up", "break", "away")),
    "logged_us",
)


def raw_agent_counters(agent_id: int, lo: datetime, hi: datetime, now: datetime) -> dict[str, int]:
    calls = raw.calls_of(agent_id, lo, hi)
    connected = [c for c in calls if c.duration_seconds > 0]
    counters = {
        "calls": len(calls),
        "calls_connected": len(connected),
        "talk_seconds": sum(c.duration_seconds for c in calls),
        "wrap_up_seconds": sum(c.wrap_up_seconds for c in calls),
        "connected_wrap_up_seconds": sum(c.wrap_up_seconds for c in connected),
        "outcome_lead": sum(c.outcome == "lead" for c in calls),
        "logged_us": raw.logged_us(agent_id, lo, hi, now),
    }
    for status in ("in_progress", "completed", "no_answer", "busy", "failed", "dropped"):
        counters[f"calls_{status}"] = sum(c.status == status for c in calls)
    for state in ("available", "on_call", "wrap_up", "break", "away"):
        counters[f"{state}_us"] = raw.state_us(agent_id, (state,), lo, hi, now)
    return counters


CHAT_COUNTERS = (
    "conversations",
    "returning",
    "bot_first",
    "bot_first_escalated",
    "with_human",
    "resolved",
    "resolved_by_bot",
    "frt_count",
    "frt_us",
    "frt_within_sla",
    "resolution_us",
    "csat_count",
    "csat_sum",
    "messages_inbound",
    "messages_agent",
    "messages_bot",
    "messages_system",
    *(f"out_{s}" for s in ("queued", "accepted", "sent", "delivered", "read", "failed", "undelivered", "canceled")),
)


@PROPERTY
@given(history=histories())
def test_rollup_totals_equal_raw_rows(history: History) -> None:
    """The engine: crm.rollups.total() over the day and over arbitrary windows (partial hours, across
    midnight and the DST change) equals the raw recomputation, per agent and (chat) for everyone."""
    with played(history) as agents:
        lo, hi = raw.day_bounds(history.day)
        windows = [(lo, hi), *((history.at(a), history.at(b)) for a, b in history.windows)]
        scopes = [(Scope(frozenset({a.pk})), frozenset({a.pk})) for a in agents] + [(Scope(), None)]

        def check() -> None:
            for start, end in windows:
                for agent in agents:
                    found = total(AgentHourRollup, start, end, scope=Scope(frozenset({agent.pk})), now=history.now)
                    expected = raw_agent_counters(agent.pk, start, end, history.now)
                    assert {c: found[c] for c in AGENT_COUNTERS} == expected, (agent.username, start, end)
                for scope, agent_ids in scopes:
                    found = total(ChatHourRollup, start, end, scope=scope, now=history.now)
                    want = raw.chat_counters(start, end, agent_ids)
                    assert {c: found[c] for c in CHAT_COUNTERS} == {c: want.get(c, 0) for c in CHAT_COUNTERS}, (
                        agent_ids,
                        start,
                        end,
                    )

        both_paths(check)


# --- the agent's 12 daily stats ---------------------------------------------------------------------

STATS_PATH = "/api/crm/dashboard/stats"


# --- per-agent call KPIs ----------------------------------------------------------------------------

KPI_KEYS = ("calls_made", "successful_calls", "failed_calls", "aht", "total_talk_time", "success_rate", "occupancy")


def kpis_of(body: Any) -> dict[str, Any]:
    """The KPI numbers of an agent KPI response (flat, or under "kpis"; a KPI object's "value")."""
    found = body.get("kpis", body) if isinstance(body, dict) else body
    return {k: (found[k]["value"] if isinstance(found[k], dict) else found[k]) for k in KPI_KEYS}


@PROPERTY
@given(history=histories(), whole_day=st.booleans())
def test_agent_stats_and_kpis_equal_raw_rows(history: History, whole_day: bool) -> None:
    """GET /api/crm/dashboard/stats (the 12 stats of day D), /api/analytics/agents/{id}/kpis (D, or
    today up to now) and the team table /api/analytics/agents/kpis (D, every agent's row)."""
    with played(history) as agents:
        agent = agents[0]
        admin = User.objects.create(username="prop_admin", role=Role.ADMIN, password="!")
        lo, hi = raw.day_bounds(history.day)
        day = {"startDate": history.day.isoformat(), "endDate": history.day.isoformat()}
        params, kpi_end = day, hi
        if not whole_day and lo <= history.now < hi:  # D is today: the period runs from midnight to now
            params, kpi_end = {"dateRange": "today"}, history.now

        def check() -> None:
            body = get_json(agent, STATS_PATH, {"date": history.day.isoformat()})
            assert body["success"] is True
            assert body["stats"]["date"] == history.day.isoformat()
            expected_stats = raw.agent_day_stats(agent.pk, history.day, history.now)
            assert {k: body["stats"][k] for k in expected_stats} == expected_stats

            body = get_json(agent, f"/api/analytics/agents/{agent.pk}/kpis", params)
            expected = raw.agent_call_kpis(agent.pk, lo, kpi_end, history.now)
            assert kpis_of(body) == {k: expected[k] for k in KPI_KEYS}

            rows = {row["agent_id"]: row for row in get_json(admin, "/api/analytics/agents/kpis", day)["results"]}
            for someone in agents:
                expected = raw.agent_call_kpis(someone.pk, lo, hi, history.now)
                assert kpis_of(rows[someone.pk]) == {k: expected[k] for k in KPI_KEYS}, someone.username

        both_paths(check)


# --- the CRM effectiveness dashboard (conversations and messages) -----------------------------------

PRIORITY_GROUP = {"urgent": "high", "high": "high", "normal": "medium", "low": "low"}


def dashboard_numbers(user: User, params: dict[str, str]) -> dict[str, Any]:
    """The dashboard's conversation numbers, flattened to the oracle's names."""

    def section(name: str) -> Any:
        return get_json(user, f"/api/dashboard/{name}", params)

    kpi, effectiveness = section("kpi"), section("conversation-effectiveness")
    funnel = section("whatsapp-performance")["messageFunnel"]
    load, automation = section("customer-load"), section("automation-impact")
    return {
        "avg_frt_seconds": kpi["avgResponseTime"]["value"],
        "delivery_rate": kpi["whatsappDeliveryRate"]["value"],
        "open_tickets": kpi["openTickets"]["value"],
        "open_by_priority": kpi["openTickets"]["byPriority"],
        "sla_rate": effectiveness["slaCompliance"]["percentage"],
        "sla_within": effectiveness["slaCompliance"]["compliant"],
        "sla_outside": effectiveness["slaCompliance"]["nonCompliant"],
        "resolved": effectiveness["resolvedVsOpen"]["resolved"],
        "unresolved": effectiveness["resolvedVsOpen"]["open"],
        "per_agent": {row["agentId"]: row["count"] for row in effectiveness["conversationsPerAgent"]},
        **{k: funnel[k] for k in ("sent", "delivered", "read", "failed")},
        "new": load["newVsReturning"]["new"],
        "returning": load["newVsReturning"]["returning"],
        "resolved_by_bot": automation["chatbotVsHuman"]["chatbot"],
        "human": automation["chatbotVsHuman"]["human"],
        "bot_first": automation["escalationRate"]["total"],
        "bot_first_escalated": automation["escalationRate"]["escalated"],
        "escalation_rate": automation["escalationRate"]["percentage"],
    }


def expected_dashboard(lo: datetime, hi: datetime, agent_ids: frozenset[int] | None, agents: list[User]) -> dict:
    m = raw.conversation_metrics(lo, hi, agent_ids)
    c = raw.chat_counters(lo, hi, agent_ids)
    by_priority = {"high": 0, "medium": 0, "low": 0}
    for priority, n in m["open_by_priority"].items():  # type: ignore[union-attr]
        by_priority[PRIORITY_GROUP[priority]] += n
    frt_count = c.get("frt_count", 0)
    per_agent = {
        a.pk: len(raw.conversations_of(a.pk, lo, hi)) for a in agents if agent_ids is None or a.pk in agent_ids
    }
    return {
        "avg_frt_seconds": m["avg_frt_seconds"],
        "delivery_rate": m["delivery_rate"],
        "open_tickets": m["open_tickets"],
        "open_by_priority": by_priority,
        "sla_rate": m["sla_rate"],
        "sla_within": m["sla_within"],
        "sla_outside": frt_count - m["sla_within"],  # type: ignore[operator]
        "resolved": m["resolved"],
        "unresolved": m["conversations"] - m["resolved"],  # type: ignore[operator]
        "per_agent": {pk: n for pk, n in per_agent.items() if n},
        **{k: m[k] for k in ("sent", "delivered", "read", "failed")},
        "new": m["new"],
        "returning": c.get("returning", 0),
        "resolved_by_bot": m["resolved_by_bot"],
        "human": m["conversations"] - m["resolved_by_bot"],  # type: ignore[operator]
        "bot_first": m["bot_first"],
        "bot_first_escalated": m["bot_first_escalated"],
        "escalation_rate": m["escalation_rate"],
    }


@settings(PROPERTY, max_examples=12)
@given(history=histories())
def test_dashboard_conversation_metrics_equal_raw_rows(history: History) -> None:
    with played(history) as agents:
        admin = User.objects.create(username="prop_admin", role=Role.ADMIN, password="!")
        lo, hi = raw.day_bounds(history.day)
        params = {"startDate": history.day.isoformat(), "endDate": history.day.isoformat()}

        def check() -> None:
            for user, agent_ids in ((admin, None), (agents[0], frozenset({agents[0].pk}))):
                assert dashboard_numbers(user, params) == expected_dashboard(lo, hi, agent_ids, agents)

        both_paths(check)


# --- every dashboard section in every scope, over ranges and custom periods, with trends -----------

# (zone, local day "now" falls on): the Warsaw DST weeks (2026-03-29 and 2026-10-25 are Sundays), the
# day after them (a week of one day whose previous week holds the change), the 31st (the previous
# month has no 31st), 1 November (New York's change; a month of one day) and a plain UTC day
ANCHORS = [
    ("Europe/Warsaw", date(2026, 3, 29)),
    ("Europe/Warsaw", date(2026, 3, 29)),
    ("Europe/Warsaw", date(2026, 3, 30)),
    ("Europe/Warsaw", date(2026, 3, 31)),
    ("Europe/Warsaw", date(2026, 10, 25)),
    ("Europe/Warsaw", date(2026, 10, 25)),
    ("Europe/Warsaw", date(2026, 10, 27)),
    ("America/New_York", date(2026, 11, 1)),
    ("UTC", date(2026, 6, 10)),
]
# today / week / month up to now, one custom day, four custom days around the anchor
KINDS = ("today", "week", "month", "day", "days")
# who asks: (user, team filter); the supervisor supervises team A only
VIEWERS = ("admin", "admin team B", "supervisor", "supervisor team A", "agent 0")


@dataclass(frozen=True)
class Scenario:
    history: History
    kind: str
    first: date  # the custom days (kinds day and days)
    last: date
    viewers: tuple[str, ...]

    @property
    def params(self) -> dict[str, str]:
        if self.kind in RANGES:
            return {"dateRange": self.kind}
        return {"startDate": self.first.isoformat(), "endDate": self.last.isoformat()}

    def bounds(self) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
        kind = self.kind if self.kind in RANGES else "custom"
        return raw.period_bounds(kind, self.history.now, self.first, self.last)


RANGES = ("today", "week", "month")


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A history from before the previous period to "now", with events clustered around both
    periods' edges, the DST changes and now: calls, state timelines and sessions of three agents,
    conversations (assigned or not, in campaigns of teams A, B or none), leads with status changes,
    and broadcasts."""
    zone, anchor = draw(st.sampled_from(ANCHORS))
    kind = draw(st.sampled_from(KINDS))
    first, last = (anchor, anchor) if kind == "day" else (anchor - timedelta(days=2), anchor + timedelta(days=1))
    day_lo, day_hi = local_day(zone, anchor)
    day_seconds = int((day_hi - day_lo).total_seconds())
    with override_settings(TIME_ZONE=zone):
        if kind in RANGES:
            # now within the anchor day; often right after midnight, the DST change or a whole hour
            now = day_lo + timedelta(seconds=draw(st.integers(1, day_seconds - 1) | st.sampled_from([1, 3 * 3600 + 5])))
        else:
            end = local_day(zone, last)[1]
            now = end + timedelta(seconds=draw(st.integers(-36 * 3600, 6 * 3600)))
        (lo, hi), (plo, phi) = raw.period_bounds(kind if kind in RANGES else "custom", now, first, last)
    origin = plo - timedelta(hours=3, microseconds=draw(st.sampled_from([0]) | st.integers(1, 999_999)))
    now_offset = int((now - origin).total_seconds())
    origin = now - timedelta(seconds=now_offset)  # now is a whole number of seconds after the origin
    points = [
        *(int((p - origin).total_seconds()) for p in (lo, min(hi, now), plo, phi)),
        *special_offsets(zone, origin, now_offset),
        now_offset,
    ]
    periods: list[IntervalSpec] = []
    sessions: list[IntervalSpec] = []
    agents = 3
    for agent in range(agents):
        periods += timeline(draw, agent, st.sampled_from(STATUSES), points, now_offset, 4)
        sessions += timeline(draw, agent, st.just(""), points, now_offset, 2)
    calls = [
        CallSpec(
            agent=draw(st.integers(0, agents - 1)),
            start=draw(moments(points, now_offset)),
            status=draw(st.sampled_from(CALL_STATUSES)),
            answer_after=draw(st.none() | st.integers(0, 90)),
            talk=draw(st.sampled_from([0, 1]) | st.integers(1, 4000)),
            wrap=draw(st.integers(0, 900)),
            outcome="",
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    conversations = draw(
        st.lists(conversation_specs(points, now_offset, (0, 1, 2, None, None), CHAT_CAMPAIGNS), max_size=8)
    )
    leads = draw(
        st.lists(
            st.builds(
                LeadSpec,
                agent=st.sampled_from([0, 1, 2, None]),
                campaign=st.none() | st.integers(0, CHAT_CAMPAIGNS - 1),
                created=moments(points, now_offset),
                changes=st.lists(
                    st.tuples(st.sampled_from(("contacted", "qualified", "converted", "lost")), durations(3 * 86400)),
                    max_size=3,
                ).map(tuple),
            ),
            max_size=5,
        )
    )
    broadcasts = draw(
        st.lists(
            st.builds(
                BroadcastSpec,
                campaign=st.none() | st.integers(0, CHAT_CAMPAIGNS - 1),
                messages=st.lists(
                    st.tuples(moments(points, now_offset), st.sampled_from(OUT_STATUSES)), min_size=1, max_size=4
                ).map(tuple),
            ),
            max_size=2,
        )
    )
    viewers = draw(st.lists(st.sampled_from(VIEWERS), min_size=1, max_size=2, unique=True))
    history = History(
        zone,
        anchor,
        origin,
        now_offset,
        tuple(calls),
        tuple(periods),
        tuple(sessions),
        (),
        (),
        conversations=tuple(conversations),
        leads=tuple(leads),
        broadcasts=tuple(broadcasts),
        agent_count=agents,
        teams=True,
    )
    return Scenario(history, kind, first, last, tuple(viewers))


def viewer(name: str, agents: list[User]) -> tuple[User, Team | None]:
    admin = User.objects.get_or_create(username="prop_admin", defaults={"role": Role.ADMIN, "password": "!"})[0]
    user = {
        "admin": admin,
        "supervisor": User.objects.get(username="prop_supervisor"),
        "agent": agents[0],
    }[name.split()[0]]
    team = Team.objects.get(name=f"prop team {name[-1]}") if "team" in name else None
    return user, team


def section(user: User, name: str, params: dict[str, str], team: Team | None) -> Any:
    body = get_json(user, f"/api/dashboard/{name}", {**params, **({"team_id": str(team.pk)} if team else {})})
    body.pop("period")
    return body


def escalation_scenario() -> Scenario:
    """A fixed day (Warsaw, the spring DST change) that tells the escalation rate's denominator apart:
    bot-first conversations escalated and not, and conversations the bot never answered, escalated
    (a transfer) and not — assigned to agent 0 or unassigned in team A's campaign — plus a broadcast
    and a conversion in that campaign."""
    zone, day = "Europe/Warsaw", date(2026, 3, 29)
    (lo, hi), (plo, _) = local_day(zone, day), local_day(zone, day - timedelta(days=1))
    origin = plo - timedelta(hours=3)
    at = int((lo - origin).total_seconds()) + 5 * 3600  # 05:00 local, after the change

    def chat(n: int, agent: int | None, bot_first: bool, escalate: bool) -> ConversationSpec:
        reply = (MessageSpec("agent", 120, "delivered"),) if escalate else ()
        return ConversationSpec(
            agent, n % 3, at + 600 * n, "normal", bot_first, 60 if escalate else None, reply, 900, False, 0, None, 0
        )

    shapes = [(0, True, True), (0, True, False), (None, True, True), (0, False, True), (None, False, False)]
    history = History(
        zone,
        day,
        origin,
        int((hi - origin).total_seconds()) + 3600,
        (),
        (),
        (),
        (),
        (),
        conversations=tuple(chat(n, *shape) for n, shape in enumerate(shapes)),
        leads=(LeadSpec(0, 0, at, (("contacted", 60), ("converted", 60))),),
        broadcasts=(BroadcastSpec(0, ((at, "delivered"), (at + 1, "failed"), (at + 2, "queued"))),),
        agent_count=3,
        teams=True,
    )
    return Scenario(history, "day", day, day, ("admin", "supervisor team A", "agent 0"))


@settings(PROPERTY, max_examples=25)
@example(scenario=escalation_scenario())
@given(scenario=scenarios())
def test_dashboard_sections_equal_raw_rows_in_every_scope(scenario: Scenario) -> None:
    """kpi and business-impact (with their trends against the previous period), agent-productivity,
    and the counters of whatsapp-performance (broadcasts included) and automation-impact, for admins,
    supervisors (their teams' agents and their campaigns' unassigned rows), a team filter and an
    agent, over today/week/month up to now and custom days, across the DST changes."""
    history = scenario.history
    with played(history) as agents:
        period, before = scenario.bounds()
        now = history.now
        readers = [(name, *viewer(name, agents)) for name in scenario.viewers]

        def check() -> None:
            for name, user, team in readers:
                vis = raw.visibility(user, team)
                params = scenario.params
                where = (name, scenario.kind, period, before)
                assert section(user, "kpi", params, team) == raw.expected_kpi(now, period, before, vis), where
                assert section(user, "business-impact", params, team) == raw.expected_business_impact(
                    now, period, before, vis
                ), where
                assert section(user, "agent-productivity", params, team) == raw.expected_agent_productivity(
                    now, period, vis
                ), where
                expected = raw.expected_sections(now, period, vis)
                whatsapp = section(user, "whatsapp-performance", params, team)
                automation = section(user, "automation-impact", params, team)
                found = {
                    **{k: whatsapp[k] for k in ("messageFunnel", "broadcastSuccessRate", "failedMessages")},
                    **{k: automation[k] for k in ("chatbotVsHuman", "autoReplySuccess", "escalationRate")},
                    "timeSaved": {k: automation["timeSaved"][k] for k in ("hours", "estimatedCost")},
                }
                assert found == expected, where

        both_paths(check)


# --- the escalation rate's denominator --------------------------------------------------------------


def test_escalation_rate_counts_only_conversations_the_bot_answered_first(admin) -> None:
    """Escalated / bot-first, both created in the period: conversations the bot never answered are in
    neither, even when they were handed to a human (a transfer). A denominator of every conversation
    gives 20.0 here, one of the escalated ones 33.3, a numerator of every escalated one 150.0."""
    day = date(2026, 3, 29)
    lo, _ = local_day("Europe/Warsaw", day)
    contacts = [Contact.objects.create(phone=f"+4860040{n:04d}") for n in range(5)]
    shapes = [(True, True), (True, False), (False, True), (False, True), (False, False)]
    with override_settings(TIME_ZONE="Europe/Warsaw"), time_machine.travel(lo + timedelta(days=2), tick=False):
        for contact, (bot_first, escalated) in zip(contacts, shapes, strict=True):
            created = lo + timedelta(hours=5)
            Conversation.objects.create(
                contact=contact,
                created_at=created,
                handled_by_bot_first=bot_first,
                escalated_to_human=escalated,
                escalated_at=created + timedelta(minutes=3) if escalated else None,
            )
        params = {"startDate": day.isoformat(), "endDate": day.isoformat()}
        both_paths(
            lambda: assert_equal(
                get_json(admin, "/api/dashboard/automation-impact", params)["escalationRate"],
                {"total": 2, "escalated": 1, "percentage": 50.0},
            )
        )


def assert_equal(found: Any, expected: Any) -> None:
    assert found == expected


# --- previous periods: the documented examples ------------------------------------------------------


def warsaw(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Europe/Warsaw")).astimezone(UTC)


PREVIOUS_EXAMPLES = [
    # today at 14:05 on the day after the spring change: yesterday (23 h long) 00:00 to 14:05
    ("today", warsaw(2026, 3, 30, 14, 5), (warsaw(2026, 3, 29), warsaw(2026, 3, 29, 14, 5))),
    # week on Wednesday 14:05: last Monday 00:00 to last Wednesday 14:05 (the change in between)
    ("week", warsaw(2026, 4, 1, 14, 5), (warsaw(2026, 3, 23), warsaw(2026, 3, 25, 14, 5))),
    # week on the Sunday of the autumn change (25 h): the week before, to last Sunday 14:05
    ("week", warsaw(2026, 10, 25, 14, 5), (warsaw(2026, 10, 12), warsaw(2026, 10, 18, 14, 5))),
    # month on the 10th at 14:05: the previous month's 1st to its 10th 14:05
    ("month", warsaw(2026, 4, 10, 14, 5), (warsaw(2026, 3, 1), warsaw(2026, 3, 10, 14, 5))),
    # month on the 31st: February has none, so the whole of February
    ("month", warsaw(2026, 3, 31, 14, 5), (warsaw(2026, 2, 1), warsaw(2026, 3, 1))),
]


@pytest.mark.parametrize(("kind", "now", "expected"), PREVIOUS_EXAMPLES)
def test_previous_period_matches_the_documented_examples(kind: str, now: datetime, expected: tuple) -> None:
    """docs/metrics.md "Periods and trends", for the oracle and for analytics.periods."""
    with override_settings(TIME_ZONE="Europe/Warsaw"):
        assert raw.period_bounds(kind, now)[1] == expected
        before = period_from_params({"dateRange": kind}, now).previous()
        assert (before.start, before.end) == expected
    with override_settings(TIME_ZONE="Europe/Warsaw"):
        custom = period_from_params({"startDate": "2026-03-28", "endDate": "2026-03-30"}).previous()
        assert (custom.start, custom.end) == (warsaw(2026, 3, 25), warsaw(2026, 3, 28))
        assert raw.period_bounds("custom", now, date(2026, 3, 28), date(2026, 3, 30))[1] == (
            warsaw(2026, 3, 25),
            warsaw(2026, 3, 28),
        )
