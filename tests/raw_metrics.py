"""Metrics recomputed from raw rows, written straight from METRICS.md — the oracle of
tests/test_metric_properties.py.

Deliberately independent of the engine: nothing here imports analytics/, crm.rollups, crm.counters,
calls.counters or crm.periods. Every number is plain Python over CallLog, AgentStatusPeriod,
AgentSession, Contact, Campaign, Conversation and Message rows, with local days computed from
zoneinfo. Durations are exact integer microseconds (UTC arithmetic); an API number in seconds is
the microsecond total // 1_000_000 (the project's documented convention).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from calls.models import AgentSession, AgentStatusPeriod, CallLog
from crm.models import Campaign, Contact, Conversation, LeadStatusChange, Message, Role, Team, User

US = 1_000_000
WORK = ("available", "on_call", "wrap_up")
FAILED = ("failed", "dropped", "busy", "no_answer")


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[D 00:00, D+1 00:00) in the organisation's zone, as UTC instants (23 or 25 h on DST days)."""
    tz = zone()
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end


def us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def overlap_us(intervals: Iterable[tuple[datetime, datetime | None]], lo: datetime, hi: datetime, now: datetime) -> int:
    """Microseconds of [lo, hi) covered by the intervals; an open one (end None) runs until now."""
    total = 0
    for start, end in intervals:
        stop = min(end if end is not None else now, hi, now)
        begin = max(start, lo)
        if stop > begin:
            total += us(stop - begin)
    return total


def one_decimal(numerator: float, denominator: float, factor: float = 1) -> float:
    return round(numerator / denominator * factor, 1) if denominator else 0.0


def calls_of(agent_id: int, lo: datetime, hi: datetime) -> list[CallLog]:
    """A call belongs to the period in which it STARTED."""
    return [c for c in CallLog.objects.filter(agent_id=agent_id) if lo <= c.started_at < hi]


def state_us(agent_id: int, statuses: tuple[str, ...], lo: datetime, hi: datetime, now: datetime) -> int:
    periods = AgentStatusPeriod.objects.filter(agent_id=agent_id, status__in=statuses)
    return overlap_us(((p.started_at, p.ended_at) for p in periods), lo, hi, now)


def logged_us(agent_id: int, lo: datetime, hi: datetime, now: datetime) -> int:
    sessions = AgentSession.objects.filter(agent_id=agent_id)
    return overlap_us(((s.started_at, s.ended_at) for s in sessions), lo, hi, now)


def agent_day_stats(agent_id: int, day: date, now: datetime) -> dict[str, int | float]:
    """METRICS.md "The agent's 12 daily stats" for agent A and local day D."""
    lo, hi = day_bounds(day)
    calls = calls_of(agent_id, lo, hi)
    connected = [c for c in calls if c.duration_seconds > 0]
    talk = sum(c.duration_seconds for c in calls)
    return {
        "leads_today": sum(c.outcome == "lead" for c in calls),
        "calls_connected_today": len(connected),
        "calls_total_today": len(calls),
        "calls_missed_today": sum(c.status == "no_answer" for c in calls),
        "total_call_time_today": talk,
        "average_call_time_today": one_decimal(talk, len(connected)),
        "total_work_time_today": state_us(agent_id, WORK, lo, hi, now) // US,
        "total_logged_time_today": logged_us(agent_id, lo, hi, now) // US,
        "total_break_time_today": state_us(agent_id, ("break",), lo, hi, now) // US,
        "total_contacts": Contact.objects.filter(assigned_agent_id=agent_id).count(),
        "total_rescheduled": Contact.objects.filter(assigned_agent_id=agent_id, business_reason="rescheduled").count(),
        "active_campaigns": Campaign.objects.filter(is_active=True, members__id=agent_id).distinct().count(),
    }


def agent_call_kpis(agent_id: int, lo: datetime, hi: datetime, now: datetime) -> dict[str, int | float]:
    """METRICS.md "Per-agent call KPIs" over [lo, hi)."""
    calls = calls_of(agent_id, lo, hi)
    made = len(calls)
    successful = sum(c.status == "completed" for c in calls)
    ended = sum(c.status != "in_progress" for c in calls)
    connected = [c for c in calls if c.duration_seconds > 0]
    talk = sum(c.duration_seconds for c in calls)
    wrap = sum(c.wrap_up_seconds for c in calls)
    work_us = state_us(agent_id, WORK, lo, hi, now)
    return {
        "calls_made": made,
        "successful_calls": successful,
        "failed_calls": sum(c.status in FAILED for c in calls),
        "total_talk_time": talk,
        "success_rate": one_decimal(successful, ended, 100),
        "aht": one_decimal(sum(c.duration_seconds + c.wrap_up_seconds for c in connected), len(connected)),
        # exact work time (not rounded to whole seconds first); 0.0 without work time
        "occupancy": one_decimal((talk + wrap) * US, work_us, 100),
        "total_wrap_up_time": wrap,
        "work_time": work_us // US,
    }


# --- conversations ---------------------------------------------------------------------------------


def frt_us(conversation: Conversation) -> int | None:
    """First human response − the later of (created_at, escalated_at); None without a response."""
    if conversation.first_response_at is None:
        return None
    since = max(conversation.created_at, conversation.escalated_at or conversation.created_at)
    return us(conversation.first_response_at - since)


def conversation_metrics(
    lo: datetime, hi: datetime, agent_ids: frozenset[int] | None = None
) -> dict[str, int | float | dict[str, int]]:
    """METRICS.md "Conversations and messages" over conversations CREATED in [lo, hi) (messages
    created in [lo, hi)), for the given assigned agents (None: all)."""
    everything = list(Conversation.objects.all())
    visible = [c for c in everything if agent_ids is None or c.assigned_agent_id in agent_ids]
    created = [c for c in visible if lo <= c.created_at < hi]
    frts = [f for f in (frt_us(c) for c in created) if f is not None]
    target_us = settings.SLA_FIRST_RESPONSE_SECONDS * US
    resolved = [c for c in created if c.status == "resolved" and c.resolved_at is not None]
    human = {c.pk for c in created if c.first_response_at is not None}
    bot_first = [c for c in created if c.handled_by_bot_first]
    messages = [
        m
        for m in Message.objects.select_related("conversation").filter(direction="outbound")
        if lo <= m.created_at < hi
        and (agent_ids is None or (m.conversation is not None and m.conversation.assigned_agent_id in agent_ids))
    ]
    sent = sum(m.status in ("sent", "delivered", "read") for m in messages)
    delivered = sum(m.status in ("delivered", "read") for m in messages)
    failed = sum(m.status in ("failed", "undelivered") for m in messages)
    # open at the end of the period: created before it ends, not resolved by then (current status
    # open/pending, or resolved only after the end)
    open_at_end = [c for c in visible if c.created_at < hi and (c.resolved_at is None or c.resolved_at >= hi)]
    by_priority: dict[str, int] = {}
    for c in open_at_end:
        by_priority[c.priority] = by_priority.get(c.priority, 0) + 1
    return {
        "conversations": len(created),
        "frt_count": len(frts),
        "frt_us": sum(frts),
        "avg_frt_seconds": one_decimal(sum(frts) / US, len(frts)),
        "sla_within": sum(f <= target_us for f in frts),
        "sla_rate": one_decimal(sum(f <= target_us for f in frts), len(frts), 100),
        "resolved": len(resolved),
        "resolution_us": sum(us(c.resolved_at - c.created_at) for c in resolved if c.resolved_at),
        "resolved_by_bot": sum(c.pk not in human for c in resolved),
        "with_human": len(human),
        "returning": sum(c.is_returning for c in created),
        "new": sum(not c.is_returning for c in created),
        "bot_first": len(bot_first),
        "bot_first_escalated": sum(c.escalated_to_human for c in bot_first),
        "escalation_rate": one_decimal(sum(c.escalated_to_human for c in bot_first), len(bot_first), 100),
        "sent": sent,
        "delivered": delivered,
        "read": sum(m.status == "read" for m in messages),
        "failed": failed,
        "delivery_rate": one_decimal(delivered, sent + failed, 100),
        "open_tickets": len(open_at_end),
        "open_by_priority": by_priority,
    }


def earlier_conversation_exists(conversation: Conversation) -> bool:
    """ "Returning": the contact had an earlier conversation."""
    return Conversation.objects.filter(
        contact_id=conversation.contact_id, created_at__lt=conversation.created_at
    ).exists()


def chat_counters(lo: datetime, hi: datetime, agent_ids: frozenset[int] | None = None) -> dict[str, int]:
    """What the conversation and message counters over [lo, hi) must sum to, from raw rows: a
    conversation counts in the period it was CREATED, a message in the period of its created_at.
    FRT and "handled by a human" come from the messages themselves, "returning" from the contact's
    earlier conversations (not from the stored flags)."""
    messages = list(Message.objects.select_related("conversation"))
    agent_messages: dict[int, list[datetime]] = {}
    for m in messages:
        if m.author_type == "agent" and m.conversation_id is not None:
            agent_messages.setdefault(m.conversation_id, []).append(m.created_at)
    counters: dict[str, int] = {}

    def add(name: str, amount: int = 1) -> None:
        counters[name] = counters.get(name, 0) + amount

    target_us = settings.SLA_FIRST_RESPONSE_SECONDS * US
    for c in Conversation.objects.all():
        if not (lo <= c.created_at < hi) or (agent_ids is not None and c.assigned_agent_id not in agent_ids):
            continue
        add("conversations")
        add("returning", int(earlier_conversation_exists(c)))
        add("bot_first", int(c.handled_by_bot_first))
        add("bot_first_escalated", int(c.handled_by_bot_first and c.escalated_to_human))
        human = agent_messages.get(c.pk, [])
        add("with_human", int(bool(human)))
        if human:
            frt = us(min(human) - max(c.created_at, c.escalated_at or c.created_at))
            add("frt_count")
            add("frt_us", frt)
            add("frt_within_sla", int(frt <= target_us))
        if c.status == "resolved" and c.resolved_at is not None:
            add("resolved")
            add("resolved_by_bot", int(not human))
            add("resolution_us", us(c.resolved_at - c.created_at))
        if c.csat_score is not None:
            add("csat_count")
            add("csat_sum", c.csat_score)
    for m in messages:
        if not (lo <= m.created_at < hi):
            continue
        owner = m.conversation.assigned_agent_id if m.conversation is not None else None
        if agent_ids is not None and owner not in agent_ids:
            continue
        if m.direction == "inbound":
            add("messages_inbound")
        else:
            add({"agent": "messages_agent", "bot": "messages_bot"}.get(m.author_type, "messages_system"))
            add(f"out_{m.status}")
    return counters


def conversations_of(agent_id: int, lo: datetime, hi: datetime) -> list[Conversation]:
    return [c for c in Conversation.objects.filter(assigned_agent_id=agent_id) if lo <= c.created_at < hi]


# --- periods and trends (METRICS.md "Time", "Trends"; docs/metrics.md "Periods and trends") ---------


def local_at(day: date, clock: time) -> datetime:
    """A local wall-clock moment as a UTC instant (fold=0: the first of a repeated hour; a time in the
    spring-forward gap reads with the offset before the change, as zoneinfo does)."""
    return datetime.combine(day, clock.replace(tzinfo=None, fold=0), tzinfo=zone()).astimezone(UTC)


def previous_month_day(day: date) -> date | None:
    """The same day of the month one month back; None when that month is shorter."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    try:
        return day.replace(year=year, month=month)
    except ValueError:
        return None


def period_bounds(
    kind: str, now: datetime, first: date | None = None, last: date | None = None
) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """([lo, hi), [previous lo, previous hi)) for dateRange=today|week|month at `now`, or the custom
    inclusive local days first..last. The previous period of a range up to now: the same local
    wall-clock span one day / one week / one month back (a month whose day does not exist in the
    previous month: up to that month's end); of N custom days: the N days before."""
    if kind == "custom":
        assert first is not None and last is not None
        n = (last - first).days + 1
        lo, hi = day_bounds(first)[0], day_bounds(last)[1]
        return (lo, hi), (day_bounds(first - timedelta(days=n))[0], lo)
    local = now.astimezone(zone())
    today, clock = local.date(), local.time()
    if kind == "today":
        start, back, back_day = today, today - timedelta(days=1), today - timedelta(days=1)
    elif kind == "week":
        start = today - timedelta(days=today.weekday())
        back, back_day = start - timedelta(days=7), today - timedelta(days=7)
    else:
        start = today.replace(day=1)
        back, same = (start - timedelta(days=1)).replace(day=1), previous_month_day(today)
        back_day = same if same is not None else start
    lo = day_bounds(start)[0]
    previous_end = local_at(back_day, clock) if not (kind == "month" and back_day == start) else lo
    return (lo, now), (day_bounds(back)[0], min(previous_end, lo))


def change(value: float, previous: float) -> float:
    """METRICS.md "Trends"."""
    if previous == 0:
        return 0.0 if value == 0 else 100.0
    return round((value - previous) / previous * 100, 1)


def trend_of(value: float, previous: float) -> dict[str, float | str]:
    delta = change(value, previous)
    direction = "up" if delta >= 1.0 else "down" if delta <= -1.0 else "stable"
    return {"value": value, "trend": direction, "change": delta}


# --- visibility (docs/metrics.md "Attribution and visibility") --------------------------------------


@dataclass(frozen=True)
class Visibility:
    """Whose rows a reader counts: agents (None: everyone) plus the unassigned rows of campaigns."""

    agents: frozenset[int] | None
    campaigns: frozenset[int] = frozenset()

    def sees(self, agent_id: int | None, campaign_id: int | None) -> bool:
        if self.agents is None or agent_id in self.agents:
            return True
        return agent_id is None and campaign_id is not None and campaign_id in self.campaigns

    def sees_agent(self, agent_id: int) -> bool:
        return self.agents is None or agent_id in self.agents


def visibility(user: User, team: Team | None = None) -> Visibility:
    """Agents: their own rows; supervisors: their teams' agents plus the unassigned rows (conversations,
    broadcast messages, contacts and their lead changes without an agent) of their teams' campaigns;
    admins: everyone; a team filter: that team's agents and campaigns. (The engine also counts a
    supervisor's own rows; the histories give supervisors none, and the docs do not mention them.)"""
    if team is not None:
        teams = [team]
    elif user.role == Role.ADMIN or user.is_superuser:
        return Visibility(None)
    elif user.role == Role.SUPERVISOR:
        teams = list(Team.objects.filter(supervisors=user))
    else:
        return Visibility(frozenset({user.pk}))
    agents = {m.pk for t in teams for m in t.members.all()}
    campaigns = {c.pk for c in Campaign.objects.all() if c.team_id in {t.pk for t in teams}}
    return Visibility(frozenset(agents), frozenset(campaigns))


def message_key(m: Message) -> tuple[int | None, int | None]:
    """A conversation's message follows the conversation; a broadcast message is its campaign's, no agent."""
    if m.conversation is not None:
        return m.conversation.assigned_agent_id, m.conversation.campaign_id
    return None, m.broadcast.campaign_id if m.broadcast is not None else None


# --- the dashboard sections, from raw rows ---------------------------------------------------------


def avg_seconds(total_us: int, n: int) -> float:
    return round(total_us / (n * US), 1) if n else 0.0


def ratio_percent(numerator: int, denominator: int) -> float:
    return round(numerator / denominator * 100, 1) if denominator else 0.0


def period_numbers(lo: datetime, hi: datetime, now: datetime, vis: Visibility) -> dict[str, Any]:
    """Every counter-like number of the dashboard over [lo, hi) for the reader, from raw rows."""
    conversations = [c for c in Conversation.objects.all() if vis.sees(c.assigned_agent_id, c.campaign_id)]
    messages = [
        m for m in Message.objects.select_related("conversation", "broadcast", "contact") if vis.sees(*message_key(m))
    ]
    agent_messages: dict[int, list[datetime]] = {}
    for m in Message.objects.filter(author_type="agent", conversation__isnull=False):
        agent_messages.setdefault(m.conversation_id, []).append(m.created_at)  # type: ignore[arg-type]
    created = [c for c in conversations if lo <= c.created_at < hi]
    frts = []
    for c in created:
        if c.pk in agent_messages:
            frts.append(us(min(agent_messages[c.pk]) - max(c.created_at, c.escalated_at or c.created_at)))
    resolved = [c for c in created if c.status == "resolved"]
    by_bot = [c for c in resolved if c.pk not in agent_messages]
    bot_first = [c for c in created if c.handled_by_bot_first]
    in_period = [m for m in messages if lo <= m.created_at < hi]
    outbound = [m for m in in_period if m.direction == "outbound"]
    broadcast = [m for m in outbound if m.broadcast_id is not None]
    ok, bad = ("sent", "delivered", "read"), ("failed", "undelivered")
    target_us = settings.SLA_FIRST_RESPONSE_SECONDS * US
    open_by = {"high": 0, "medium": 0, "low": 0}
    group = {"urgent": "high", "high": "high", "normal": "medium", "low": "low"}
    for c in conversations:
        if c.created_at < hi and (c.resolved_at is None or c.resolved_at >= hi):
            open_by[group[c.priority]] += 1
    contacts = [x for x in Contact.objects.all() if vis.sees(x.assigned_agent_id, x.campaign_id)]
    conversions = [
        ch
        for ch in LeadStatusChange.objects.select_related("contact").filter(to_status="converted")
        if lo <= ch.changed_at < hi and vis.sees(ch.contact.assigned_agent_id, ch.contact.campaign_id)
    ]
    agent_ids = [u.pk for u in User.objects.all() if vis.sees_agent(u.pk)]
    logged = sum(logged_us(a, lo, hi, now) for a in agent_ids)
    call_rows = [c for a in agent_ids for c in calls_of(a, lo, hi)]
    calls = len(call_rows)
    campaigns: dict[int, dict[str, int]] = {}

    def campaign(pk: int | None) -> dict[str, int]:
        return campaigns.setdefault(pk or 0, {"sent": 0, "responded": 0, "converted": 0})

    for m in broadcast:
        campaign(message_key(m)[1])["sent"] += m.status in ok
    for c in created:
        campaign(c.campaign_id)["responded"] += 1
    for ch in conversions:
        campaign(ch.contact.campaign_id)["converted"] += 1
    failed_list = sorted((m for m in outbound if m.status in bad), key=lambda m: (m.created_at, m.pk), reverse=True)
    returning = sum(earlier_conversation_exists(c) for c in created)
    return {
        "conversations": len(created),
        "returning": returning,
        "resolved": len(resolved),
        "resolution_us": sum(us(c.resolved_at - c.created_at) for c in resolved if c.resolved_at),
        "resolved_by_bot": len(by_bot),
        "frt_count": len(frts),
        "frt_avg": avg_seconds(sum(frts), len(frts)),
        "sla_within": sum(f <= target_us for f in frts),
        "bot_first": len(bot_first),
        "escalated": sum(c.escalated_to_human for c in bot_first),
        "messages": len(in_period),
        # open at some moment of the period: open when it began, or created during it
        "active_conversations": sum(
            1 for c in conversations if c.created_at < lo and (c.resolved_at is None or c.resolved_at >= lo)
        )
        + len(created),
        "sent": sum(m.status in ok for m in outbound),
        "delivered": sum(m.status in ("delivered", "read") for m in outbound),
        "read": sum(m.status == "read" for m in outbound),
        "failed": sum(m.status in bad for m in outbound),
        "broadcast": len(broadcast),
        "broadcast_ok": sum(m.status in ok for m in broadcast),
        "broadcast_failed": sum(m.status in bad for m in broadcast),
        "failed_messages": [
            {
                "id": m.pk,
                "recipient": m.contact.phone,
                "error": m.error_message or (f"Twilio error {m.error_code}" if m.error_code else "No reason given"),
                "timestamp": (m.failed_at or m.created_at).astimezone(zone()).isoformat(),
            }
            for m in failed_list[:20]
        ],
        "open_by_priority": open_by,
        "leads_generated": sum(lo <= x.created_at < hi for x in contacts),
        "logged_us": logged,
        "calls": calls,
        "call_rows": call_rows,
        "campaigns": campaigns,
    }


def scope_call_kpis(calls: list[CallLog]) -> dict[str, float]:
    """The KPI strip's call figures (METRICS.md "Per-agent call KPIs", over everyone in scope)."""
    successful = sum(c.status == "completed" for c in calls)
    ended = sum(c.status != "in_progress" for c in calls)
    connected = [c for c in calls if c.duration_seconds > 0]
    return {
        "calls_made": len(calls),
        "success_rate": one_decimal(successful, ended, 100),
        "aht": one_decimal(sum(c.duration_seconds + c.wrap_up_seconds for c in connected), len(connected)),
    }


def expected_kpi(now: datetime, period: tuple[datetime, datetime], before: tuple[datetime, datetime], vis: Visibility):
    cur, prev = period_numbers(*period, now, vis), period_numbers(*before, now, vis)

    def rate(n: dict[str, Any]) -> float:
        return ratio_percent(n["delivered"], n["sent"] + n["failed"])

    target = settings.SLA_FIRST_RESPONSE_SECONDS
    frt = cur["frt_avg"]
    return {
        "activeConversations": trend_of(cur["active_conversations"], prev["active_conversations"]),
        "avgResponseTime": {
            **trend_of(frt, prev["frt_avg"]),
            "slaStatus": "good" if frt <= target else "warning" if frt <= 2 * target else "critical",
        },
        "whatsappDeliveryRate": trend_of(rate(cur), rate(prev)),
        "openTickets": {
            **trend_of(sum(cur["open_by_priority"].values()), sum(prev["open_by_priority"].values())),
            "byPriority": cur["open_by_priority"],
        },
        "messagesToday": trend_of(cur["messages"], prev["messages"]),
        **{
            name: trend_of(scope_call_kpis(cur["call_rows"])[key], scope_call_kpis(prev["call_rows"])[key])
            for name, key in (
                ("callsMade", "calls_made"),
                ("callSuccessRate", "success_rate"),
                ("averageHandleTime", "aht"),
            )
        },
    }


def hourly_cost() -> float:
    return float(getattr(settings, "DASHBOARD_AGENT_HOURLY_COST", 20.0))


def saved_cost(resolved_by_bot: int) -> float:
    """Agent time saved (conversations resolved by the bot × minutes saved, in hours — not the
    2-decimal display of that number) × the hourly cost, 2 decimals."""
    minutes = float(getattr(settings, "DASHBOARD_MINUTES_SAVED_PER_BOT_CONVERSATION", 5))
    return round(resolved_by_bot * minutes / 60 * hourly_cost(), 2)


def tickets_resolved(now: datetime, vis: Visibility) -> dict[str, int]:
    local = now.astimezone(zone()).date()
    starts = {
        "today": day_bounds(local)[0],
        "week": day_bounds(local - timedelta(days=local.weekday()))[0],
        "month": day_bounds(local.replace(day=1))[0],
    }
    resolved = [
        c.resolved_at
        for c in Conversation.objects.filter(status="resolved")
        if vis.sees(c.assigned_agent_id, c.campaign_id) and c.resolved_at is not None and c.resolved_at < now
    ]
    return {name: sum(1 for moment in resolved if moment >= start) for name, start in starts.items()}


def expected_business_impact(
    now: datetime, period: tuple[datetime, datetime], before: tuple[datetime, datetime], vis: Visibility
) -> dict[str, Any]:
    cur, prev = period_numbers(*period, now, vis), period_numbers(*before, now, vis)
    leads = trend_of(cur["leads_generated"], prev["leads_generated"])
    repeat = trend_of(
        ratio_percent(cur["returning"], cur["conversations"]), ratio_percent(prev["returning"], prev["conversations"])
    )
    names = dict(Campaign.objects.values_list("pk", "name"))
    rows = [
        {
            "campaignId": pk,
            "campaignName": names[pk],
            **n,
            "conversionRate": ratio_percent(n["converted"], n["sent"]),
        }
        for pk, n in cur["campaigns"].items()
        if pk and (n["sent"] or n["responded"] or n["converted"])
    ]
    rows.sort(key=lambda r: (-r["sent"], -r["converted"], r["campaignName"]))
    handled = cur["conversations"] + cur["calls"]
    staff_cost = cur["logged_us"] / (3600 * US) * hourly_cost()
    return {
        "leadsGenerated": {"total": leads["value"], "trend": leads["trend"], "change": leads["change"]},
        "ticketsResolved": tickets_resolved(now, vis),
        "campaignConversion": rows[:50],
        "repeatCustomerRate": {"rate": repeat["value"], "trend": repeat["trend"], "change": repeat["change"]},
        "costPerConversation": {
            "amount": round(staff_cost / handled, 2) if handled else 0.0,
            "savings": saved_cost(cur["resolved_by_bot"]),
            "currency": str(getattr(settings, "DASHBOARD_CURRENCY", "USD")),
        },
    }


def expected_sections(now: datetime, period: tuple[datetime, datetime], vis: Visibility) -> dict[str, Any]:
    """whatsapp-performance (funnel, broadcasts, failed messages) and automation-impact counters."""
    n = period_numbers(*period, now, vis)
    minutes = float(getattr(settings, "DASHBOARD_MINUTES_SAVED_PER_BOT_CONVERSATION", 5))
    return {
        "messageFunnel": {k: n[k] for k in ("sent", "delivered", "read", "failed")},
        "broadcastSuccessRate": {
            "total": n["broadcast"],
            "successful": n["broadcast_ok"],
            "failed": n["broadcast_failed"],
            "percentage": ratio_percent(n["broadcast_ok"], n["broadcast"]),
        },
        "failedMessages": n["failed_messages"],
        "chatbotVsHuman": {
            "chatbot": n["resolved_by_bot"],
            "human": n["conversations"] - n["resolved_by_bot"],
            "percentage": ratio_percent(n["resolved_by_bot"], n["conversations"]),
        },
        "autoReplySuccess": {
            "total": n["bot_first"],
            "successful": n["bot_first"] - n["escalated"],
            "percentage": ratio_percent(n["bot_first"] - n["escalated"], n["bot_first"]),
        },
        "escalationRate": {
            "total": n["bot_first"],
            "escalated": n["escalated"],
            "percentage": ratio_percent(n["escalated"], n["bot_first"]),
        },
        "timeSaved": {
            "hours": round(n["resolved_by_bot"] * minutes / 60, 2),
            "estimatedCost": saved_cost(n["resolved_by_bot"]),
        },
    }


PRESENCE = {"available": "online", "on_call": "online", "wrap_up": "online", "break": "away", "away": "away"}


def expected_agent_productivity(now: datetime, period: tuple[datetime, datetime], vis: Visibility) -> dict[str, Any]:
    """Every active agent the reader sees (and anyone seen with chats or agent time in the period)."""
    lo, hi = period
    rows = []
    for user in User.objects.all():
        if not vis.sees_agent(user.pk):
            continue
        chats = conversations_of(user.pk, lo, hi)
        has_time = any(
            state_us(user.pk, (s,), lo, hi, now) for s in ("available", "on_call", "wrap_up", "break", "away")
        )
        if not ((user.role == Role.AGENT and user.is_active) or chats or calls_of(user.pk, lo, hi) or has_time):
            continue
        resolved = [c for c in chats if c.status == "resolved" and c.resolved_at is not None]
        handling_us = [us(c.resolved_at - c.created_at) for c in resolved if c.resolved_at is not None]
        current = AgentStatusPeriod.objects.filter(agent=user, ended_at__isnull=True).first()
        rows.append(
            {
                "agentId": user.pk,
                "agentName": f"{user.first_name} {user.last_name}".strip() or user.username,
                "chatsHandled": len(chats),
                "resolutionRate": ratio_percent(len(resolved), len(chats)),
                "idleTime": state_us(user.pk, ("available",), lo, hi, now) // US,
                "activeTime": state_us(user.pk, ("on_call", "wrap_up"), lo, hi, now) // US,
                "avgHandlingTime": avg_seconds(sum(handling_us), len(handling_us)),
                "status": PRESENCE.get(current.status, "offline") if current else "offline",
                "statusDuration": us(now - current.started_at) // US if current else 0,
            }
        )
    rows.sort(key=lambda r: (-r["chatsHandled"], r["agentName"], r["agentId"]))
    counts = {"balanced": 0, "overloaded": 0, "underutilized": 0}
    chats_all = [r["chatsHandled"] for r in rows]
    tolerance = int(getattr(settings, "DASHBOARD_WORKLOAD_TOLERANCE_PERCENT", 25))
    k, total_chats = len(chats_all), sum(chats_all)
    for n in chats_all:
        # within ±tolerance % of the mean, in exact integer arithmetic: 100·n·k against total·(100 ± t)
        if total_chats and 100 * n * k > (100 + tolerance) * total_chats:
            counts["overloaded"] += 1
        elif total_chats and 100 * n * k < (100 - tolerance) * total_chats:
            counts["underutilized"] += 1
        else:
            counts["balanced"] += 1
    return {"agentMetrics": rows, "workloadDistribution": counts}
