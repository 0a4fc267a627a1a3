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
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from calls.models import AgentSession, AgentStatusPeriod, CallLog
from crm.models import Campaign, Contact, Conversation, Message

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
