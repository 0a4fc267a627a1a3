"""Conversation, WhatsApp, automation, customer-load and business metrics of the CRM effectiveness
dashboard (METRICS.md "Conversations and messages", "Trends"), defined once here and read by the
dashboard sections (analytics/sections.py), exports, snapshots and reports.

Counter metrics (`c`) are functions of ChatHourRollup (and, for staff cost and agent time,
AgentHourRollup) counters summed over any period and scope — crm/counters.py and calls/counters.py
say what each counter holds. Context metrics (`ctx`) read what counters cannot hold — state at a
moment (open tickets at the end of the period, the outbound queue, senders, agents' current states)
or lists of rows (failed messages, intents) — each with one bounded query in the reader's scope.

Settings read here (getattr with a default, so a deployment may tune them):
DASHBOARD_MINUTES_SAVED_PER_BOT_CONVERSATION (5), DASHBOARD_AGENT_HOURLY_COST (20.0),
DASHBOARD_CURRENCY ("USD"), DASHBOARD_DROP_OFF_MINUTES (30), DASHBOARD_QUEUE_RATE_WINDOW_MINUTES (15),
DASHBOARD_FAILED_MESSAGES_LIMIT (20), DASHBOARD_TOP_INTENTS_LIMIT (10).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from analytics.periods import named_period
from analytics.registry import Context, Counters, metric, ratio
from calls.models import AgentStatus, AgentStatusPeriod
from crm.counters import CONVERSATIONS, MESSAGES
from crm.models import (
    OPEN_CONVERSATION_STATUSES,
    AuthorType,
    ChatHourRollup,
    Conversation,
    Direction,
    LeadStatus,
    Message,
    MessageStatus,
    Priority,
    SenderStatus,
    WhatsAppSender,
)
from crm.rollups import totals_many

US_PER_SECOND = 1_000_000
US_PER_HOUR = 3_600 * US_PER_SECOND
MESSAGE_COUNTERS = ("messages_inbound", "messages_agent", "messages_bot", "messages_system")
SENT_COUNTERS = ("out_sent", "out_delivered", "out_read")
DELIVERED_COUNTERS = ("out_delivered", "out_read")
FAILED_COUNTERS = ("out_failed", "out_undelivered")
FAILED_STATUSES = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
# METRICS.md: urgent and high are "high", normal is "medium"
PRIORITY_GROUPS: dict[str, str] = {
    Priority.URGENT: "high",
    Priority.HIGH: "high",
    Priority.NORMAL: "medium",
    Priority.LOW: "low",
}
SENDER_SESSION_STATUS: dict[str, str] = {
    SenderStatus.ACTIVE: "connected",
    SenderStatus.DEGRADED: "reconnecting",
    SenderStatus.DISCONNECTED: "disconnected",
}
PRESENCE: dict[str, str] = {
    AgentStatus.AVAILABLE: "online",
    AgentStatus.ON_CALL: "online",
    AgentStatus.WRAP_UP: "online",
    AgentStatus.BREAK: "away",
    AgentStatus.AWAY: "away",
    AgentStatus.OFFLINE: "offline",
}
ACTIVE_COUNTERS = ("on_call_us", "wrap_up_us")

_CONVERSATIONS = "/api/conversations"
_OPEN = "/api/conversations?status=open"
_RESOLVED = "/api/conversations?status=resolved"
_SENDERS = "/api/whatsapp/senders"
_TIMELINE = "/api/agents/{agent}/timeline?date={date}"


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def _sum(c: Counters, names: tuple[str, ...]) -> int:
    return sum(c.get(name, 0) for name in names)


def _avg_seconds(total_us: int, count: int) -> float:
    return ratio(total_us, count * US_PER_SECOND)


def minutes_saved_per_bot_conversation() -> float:
    return float(setting("DASHBOARD_MINUTES_SAVED_PER_BOT_CONVERSATION", 5))


def agent_hourly_cost() -> float:
    return float(setting("DASHBOARD_AGENT_HOURLY_COST", 20.0))


def currency() -> str:
    return str(setting("DASHBOARD_CURRENCY", "USD"))


# --- scoped raw rows ------------------------------------------------------------------------------------


def conversations_in_scope(ctx: Context) -> QuerySet[Conversation]:
    """Conversations the reader may count: the same rule as the counters (assigned agent in scope, or
    unassigned in one of the scope's campaigns)."""
    return Conversation.objects.filter(ctx.scope.rollup.raw_q(CONVERSATIONS))


def messages_in_scope(ctx: Context) -> QuerySet[Message]:
    return Message.objects.filter(ctx.scope.rollup.raw_q(MESSAGES))


def _in_period(ctx: Context, field: str = "created_at") -> Q:
    return Q(**{f"{field}__gte": ctx.period.start, f"{field}__lt": ctx.period.end})


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment is not None else None


# --- conversations ----------------------------------------------------------------------------------------


@metric(
    "conversations",
    "Conversations",
    "count",
    """Conversations created in the period (a conversation belongs to the period in which it was
    created), of the agents in scope — plus, for a team, its campaigns' unassigned ones.""",
    drill_down=_CONVERSATIONS,
)
def conversations(c: Counters) -> int:
    return c.get("conversations", 0)


@metric(
    "active_conversations",
    "Active conversations",
    "count",
    """Conversations open at some moment of the period: those open when it began (created before
    it and not resolved by then — see open tickets) plus those created during it.""",
    drill_down=_OPEN,
)
def active_conversations(ctx: Context) -> int:
    return sum(_open_at(ctx, ctx.period.start).values()) + ctx.chat["conversations"]


@metric(
    "chat_messages",
    "Messages",
    "count",
    """Messages created in the period: inbound from customers plus outbound by agents, the bot and
    the system (broadcasts, CSAT prompts), whatever their delivery status.""",
    drill_down=_CONVERSATIONS,
)
def chat_messages(c: Counters) -> int:
    return _sum(c, MESSAGE_COUNTERS)


@metric(
    "first_response_time_avg",
    "Average first response time",
    "seconds",
    """First response time (FRT) of a conversation = its first outbound message by a human agent −
    the later of its creation and the bot hand-off (escalated_at); bot and auto-reply messages never
    count as a response. Average over conversations created in the period that have a first
    response, in seconds with 1 decimal; 0.0 when none has.""",
    drill_down=_CONVERSATIONS,
)
def first_response_time_avg(c: Counters) -> float:
    return _avg_seconds(c.get("frt_us", 0), c.get("frt_count", 0))


def sla_status(average_seconds: float) -> str:
    """METRICS.md: `good` ≤ target, `warning` ≤ 2 × target, `critical` above."""
    target = settings.SLA_FIRST_RESPONSE_SECONDS
    if average_seconds <= target:
        return "good"
    return "warning" if average_seconds <= 2 * target else "critical"


@metric(
    "sla_compliant",
    "Within the first-response SLA",
    "count",
    """Conversations created in the period whose first response time is at most
    SLA_FIRST_RESPONSE_SECONDS (default 300 s). Conversations still without a human response are not
    counted (neither compliant nor not).""",
    drill_down=_CONVERSATIONS,
)
def sla_compliant(c: Counters) -> int:
    return c.get("frt_within_sla", 0)


@metric(
    "sla_non_compliant",
    "Outside the first-response SLA",
    "count",
    """Conversations created in the period with a first response slower than
    SLA_FIRST_RESPONSE_SECONDS.""",
    drill_down=_CONVERSATIONS,
)
def sla_non_compliant(c: Counters) -> int:
    return c.get("frt_count", 0) - c.get("frt_within_sla", 0)


@metric(
    "sla_compliance",
    "SLA compliance",
    "percent",
    """Conversations within the first-response SLA / conversations with a first response (both
    created in the period) × 100, 1 decimal; 0.0 when none has a response.""",
    drill_down=_CONVERSATIONS,
)
def sla_compliance(c: Counters) -> float:
    return ratio(c.get("frt_within_sla", 0), c.get("frt_count", 0), percent=True)


@metric(
    "conversations_resolved",
    "Resolved conversations",
    "count",
    """Conversations created in the period whose status is now `resolved`.""",
    drill_down=_RESOLVED,
)
def conversations_resolved(c: Counters) -> int:
    return c.get("resolved", 0)


@metric(
    "conversations_unresolved",
    "Unresolved conversations",
    "count",
    """Conversations created in the period that are now `open` or `pending`.""",
    drill_down=_OPEN,
)
def conversations_unresolved(c: Counters) -> int:
    return c.get("conversations", 0) - c.get("resolved", 0)


@metric(
    "resolution_rate",
    "Resolution rate",
    "percent",
    """Resolved conversations / conversations, both created in the period, × 100, 1 decimal.""",
    drill_down=_RESOLVED,
)
def resolution_rate(c: Counters) -> float:
    return ratio(c.get("resolved", 0), c.get("conversations", 0), percent=True)


@metric(
    "resolution_time_avg",
    "Average handling time (chat)",
    "seconds",
    """Resolution time = resolved_at − created_at (the last resolution if reopened), averaged over
    the conversations created in the period that are now resolved, in seconds with 1 decimal. This
    is a chat's handling time on the agent productivity table.""",
    drill_down=_RESOLVED,
)
def resolution_time_avg(c: Counters) -> float:
    return _avg_seconds(c.get("resolution_us", 0), c.get("resolved", 0))


def _open_at(ctx: Context, moment: datetime) -> dict[str, int]:
    """Conversations created before `moment` and not resolved by then, by priority group: those open
    now, plus — for a past moment — those resolved since, read from the rollups (resolutions since
    the moment minus the resolved conversations created since), so the cost does not grow with history.

    Computed for every period boundary of the context's family at once (a kpi read asks for four):
    one query for the open set and one rollup read for all of them."""
    if ("open_at", moment) not in ctx.memo:
        moments = sorted(
            {moment}
            | {m for member in ctx.family for m in (member.period.start, member.period.end)}
            - {m for kind, m in ctx.memo if kind == "open_at"}
        )
        counts = {m: {"high": 0, "medium": 0, "low": 0} for m in moments}
        rows = (
            conversations_in_scope(ctx)
            .filter(status__in=OPEN_CONVERSATION_STATUSES, created_at__lt=moments[-1])
            .values("priority")
            # COUNT(created_at), not COUNT(id): an index-only scan of (status, priority, created_at)
            .annotate(**{f"n{i}": Count("created_at", filter=Q(created_at__lt=m)) for i, m in enumerate(moments)})
            .order_by()
        )
        for row in rows:
            for i, m in enumerate(moments):
                counts[m][PRIORITY_GROUPS.get(row["priority"], "medium")] += row[f"n{i}"]
        # resolved at or after the moment (a day ahead of now too: resolutions stamped by a fast clock)
        names = [f"{kind}_{p}" for kind in ("resolved", "resolutions") for p in Priority.values]
        spans = [(m, max(m, ctx.now) + timedelta(days=1)) for m in moments]
        found = totals_many(ChatHourRollup, spans, scope=ctx.scope.rollup, fields=names, now=ctx.now)
        for m, result in zip(moments, found, strict=True):
            since = result.get((), {})
            for p in Priority.values:
                counts[m][PRIORITY_GROUPS.get(p, "medium")] += since.get(f"resolutions_{p}", 0) - since.get(
                    f"resolved_{p}", 0
                )
            ctx.memo[("open_at", m)] = counts[m]
    return dict(ctx.memo[("open_at", moment)])


@metric(
    "open_tickets",
    "Open tickets",
    "count",
    """Conversations open or pending at the end of the period (created before it and not resolved
    then: resolved_at empty or later), by priority: urgent and high → high, normal → medium, low →
    low. The value is {high, medium, low}; the total is their sum. Status history is not kept: a
    conversation resolved before the end and reopened after it counts as open then (reopening clears
    resolved_at), and one resolved more than once counts by its last resolution.""",
    drill_down=_OPEN,
)
def open_tickets(ctx: Context) -> dict[str, int]:
    return _open_at(ctx, ctx.period.end)


@metric(
    "tickets_resolved",
    "Tickets resolved",
    "count",
    """Conversations whose (last) resolution, resolved_at, falls today, this week (Monday 00:00 to
    now) and this month (the 1st 00:00 to now), in the organisation's time zone, whatever the period
    chosen. The value is {today, week, month}.""",
    drill_down=_RESOLVED,
)
def tickets_resolved(ctx: Context) -> dict[str, int]:
    # members of the context's family: read with the period's own totals when asked for first
    members = {name: ctx.joined(named_period(name, ctx.now)) for name in ("today", "week", "month")}
    return {name: member.chat["resolutions"] for name, member in members.items()}


# --- customers ---------------------------------------------------------------------------------------


@metric(
    "conversations_new",
    "New customers' conversations",
    "count",
    """Conversations created in the period whose contact had no earlier conversation.""",
    drill_down=_CONVERSATIONS,
)
def conversations_new(c: Counters) -> int:
    return c.get("conversations", 0) - c.get("returning", 0)


@metric(
    "conversations_returning",
    "Returning customers' conversations",
    "count",
    """Conversations created in the period whose contact had an earlier conversation
    (Conversation.is_returning, set when the conversation is created).""",
    drill_down=_CONVERSATIONS,
)
def conversations_returning(c: Counters) -> int:
    return c.get("returning", 0)


@metric(
    "repeat_customer_rate",
    "Repeat customer rate",
    "percent",
    """Returning customers' conversations / conversations, both created in the period, × 100, 1 decimal.""",
    drill_down=_CONVERSATIONS,
)
def repeat_customer_rate(c: Counters) -> float:
    return ratio(c.get("returning", 0), c.get("conversations", 0), percent=True)


# --- WhatsApp delivery -------------------------------------------------------------------------------------


@metric(
    "whatsapp_sent",
    "Messages sent",
    "count",
    """Outbound messages created in the period whose status is sent, delivered or read.""",
    drill_down=_CONVERSATIONS,
)
def whatsapp_sent(c: Counters) -> int:
    return _sum(c, SENT_COUNTERS)


@metric(
    "whatsapp_delivered",
    "Messages delivered",
    "count",
    """Outbound messages created in the period whose status is delivered or read.""",
    drill_down=_CONVERSATIONS,
)
def whatsapp_delivered(c: Counters) -> int:
    return _sum(c, DELIVERED_COUNTERS)


@metric(
    "whatsapp_read",
    "Messages read",
    "count",
    """Outbound messages created in the period whose status is read.""",
    drill_down=_CONVERSATIONS,
)
def whatsapp_read(c: Counters) -> int:
    return c.get("out_read", 0)


@metric(
    "whatsapp_failed",
    "Messages failed",
    "count",
    """Outbound messages created in the period whose status is failed or undelivered.""",
    drill_down=_CONVERSATIONS,
)
def whatsapp_failed(c: Counters) -> int:
    return _sum(c, FAILED_COUNTERS)


@metric(
    "whatsapp_delivery_rate",
    "WhatsApp delivery rate",
    "percent",
    """Delivered / (sent + failed) × 100 over outbound messages created in the period, 1 decimal;
    messages still queued, accepted or sending are in neither. 0.0 when there are none.""",
    drill_down=_CONVERSATIONS,
)
def whatsapp_delivery_rate(c: Counters) -> float:
    return ratio(_sum(c, DELIVERED_COUNTERS), _sum(c, SENT_COUNTERS) + _sum(c, FAILED_COUNTERS), percent=True)


@metric(
    "broadcast_messages",
    "Broadcast messages",
    "count",
    """Broadcast messages (one per recipient) created in the period, whatever their status.""",
)
def broadcast_messages(c: Counters) -> int:
    return c.get("broadcast_messages", 0)


@metric(
    "broadcast_successful",
    "Broadcast messages sent",
    "count",
    """Broadcast messages created in the period whose status is sent, delivered or read.""",
)
def broadcast_successful(c: Counters) -> int:
    return c.get("broadcast_ok", 0)


@metric(
    "broadcast_failed",
    "Broadcast messages failed",
    "count",
    """Broadcast messages created in the period whose status is failed or undelivered.""",
)
def broadcast_failed(c: Counters) -> int:
    return c.get("broadcast_failed", 0)


@metric(
    "broadcast_success_rate",
    "Broadcast success rate",
    "percent",
    """Broadcast messages sent, delivered or read / all broadcast messages created in the period
    × 100, 1 decimal (messages still in the queue count as not yet successful).""",
)
def broadcast_success_rate(c: Counters) -> float:
    return ratio(c.get("broadcast_ok", 0), c.get("broadcast_messages", 0), percent=True)


@metric(
    "failed_messages",
    "Failed messages",
    "count",
    """The latest outbound messages created in the period whose status is failed or undelivered
    (at most DASHBOARD_FAILED_MESSAGES_LIMIT, default 20, newest first), with the recipient's number,
    Twilio's reason and the time of the failure. The value is that list.""",
    drill_down=_CONVERSATIONS,
)
def failed_messages(ctx: Context) -> list[dict[str, Any]]:
    limit = int(setting("DASHBOARD_FAILED_MESSAGES_LIMIT", 20))
    rows = (
        messages_in_scope(ctx)
        .filter(_in_period(ctx), direction=Direction.OUTBOUND, status__in=FAILED_STATUSES)
        .order_by("-created_at", "-pk")
        .values("pk", "contact__phone", "error_code", "error_message", "failed_at", "created_at")[:limit]
    )
    return [
        {
            "id": row["pk"],
            "recipient": row["contact__phone"],
            "error": row["error_message"]
            or (f"Twilio error {row['error_code']}" if row["error_code"] else "No reason given"),
            "timestamp": _iso(row["failed_at"] or row["created_at"]),
        }
        for row in rows
    ]


@metric(
    "whatsapp_sessions",
    "WhatsApp senders",
    "count",
    """Our WhatsApp numbers as they are now (not per period): status connected (sender active),
    reconnecting (degraded by recent delivery failures) or disconnected, and the last time traffic
    or a status callback went through the number. The value is that list (at most 100 numbers).""",
    drill_down=_SENDERS,
)
def whatsapp_sessions(ctx: Context) -> list[dict[str, Any]]:
    rows = WhatsAppSender.objects.order_by("phone").values("pk", "phone", "status", "last_seen_at")[:100]
    return [
        {
            "sessionId": str(row["pk"]),
            "phoneNumber": row["phone"],
            "status": SENDER_SESSION_STATUS.get(row["status"], "disconnected"),
            "lastSeen": _iso(row["last_seen_at"]),
        }
        for row in rows
    ]


@metric(
    "queue_depth",
    "Outbound queue depth",
    "count",
    """Outbound messages waiting to be handed to Twilio now (status queued), whatever the period.""",
    drill_down=_CONVERSATIONS,
)
def queue_depth(ctx: Context) -> int:
    return messages_in_scope(ctx).filter(direction=Direction.OUTBOUND, status=MessageStatus.QUEUED).count()


@metric(
    "queue_processing_rate",
    "Messages sent per minute",
    "count",
    """Outbound messages Twilio reported sent (sent_at) in the last DASHBOARD_QUEUE_RATE_WINDOW_MINUTES
    (default 15) minutes before now, divided by that many minutes, 1 decimal — messages per minute,
    whatever the period. Only messages created in the last two days are looked at.""",
    drill_down=_CONVERSATIONS,
)
def queue_processing_rate(ctx: Context) -> float:
    minutes = int(setting("DASHBOARD_QUEUE_RATE_WINDOW_MINUTES", 15))
    sent = (
        messages_in_scope(ctx)
        .filter(
            direction=Direction.OUTBOUND,
            created_at__gte=ctx.now - timedelta(days=2),
            sent_at__gte=ctx.now - timedelta(minutes=minutes),
            sent_at__lt=ctx.now,
        )
        .count()
    )
    return ratio(sent, minutes)


# --- automation ---------------------------------------------------------------------------------------


@metric(
    "chatbot_resolved",
    "Resolved by the chatbot",
    "count",
    """Conversations created in the period and now resolved without any message from a human agent.""",
    drill_down=_RESOLVED,
)
def chatbot_resolved(c: Counters) -> int:
    return c.get("resolved_by_bot", 0)


@metric(
    "human_handled",
    "Handled by people",
    "count",
    """Conversations created in the period that are not resolved by the chatbot: those with a human
    agent's message, and those still open.""",
    drill_down=_CONVERSATIONS,
)
def human_handled(c: Counters) -> int:
    return c.get("conversations", 0) - c.get("resolved_by_bot", 0)


@metric(
    "chatbot_share",
    "Chatbot share",
    "percent",
    """Conversations resolved by the chatbot / conversations, both created in the period, × 100, 1 decimal.""",
    drill_down=_CONVERSATIONS,
)
def chatbot_share(c: Counters) -> float:
    return ratio(c.get("resolved_by_bot", 0), c.get("conversations", 0), percent=True)


@metric(
    "bot_first",
    "Conversations the bot answered first",
    "count",
    """Conversations created in the period that the bot answered before any human (auto-reply).""",
    drill_down=_CONVERSATIONS,
)
def bot_first(c: Counters) -> int:
    return c.get("bot_first", 0)


@metric(
    "auto_reply_successful",
    "Auto-replies that sufficed",
    "count",
    """Conversations created in the period that the bot answered first and that were never handed
    off to a human.""",
    drill_down=_CONVERSATIONS,
)
def auto_reply_successful(c: Counters) -> int:
    return c.get("bot_first", 0) - c.get("bot_first_escalated", 0)


@metric(
    "auto_reply_success_rate",
    "Auto-reply success rate",
    "percent",
    """Conversations the bot answered first and never handed off / conversations the bot answered
    first, both created in the period, × 100, 1 decimal.""",
    drill_down=_CONVERSATIONS,
)
def auto_reply_success_rate(c: Counters) -> float:
    return ratio(c.get("bot_first", 0) - c.get("bot_first_escalated", 0), c.get("bot_first", 0), percent=True)


@metric(
    "escalated",
    "Escalated to a human",
    "count",
    """Conversations created in the period that the bot answered first and then handed off to a human.""",
    drill_down=_CONVERSATIONS,
)
def escalated(c: Counters) -> int:
    return c.get("bot_first_escalated", 0)


@metric(
    "escalation_rate",
    "Escalation rate",
    "percent",
    """Conversations escalated to a human / conversations the bot answered first, both created in the
    period, × 100, 1 decimal.""",
    drill_down=_CONVERSATIONS,
)
def escalation_rate(c: Counters) -> float:
    return ratio(c.get("bot_first_escalated", 0), c.get("bot_first", 0), percent=True)


@metric(
    "bot_drop_off",
    "Drop-off",
    "count",
    """Of the conversations created in the period that the bot answered first (total), those the
    customer abandoned (dropped): never handed off to a human, not resolved, and no message from the
    customer or an agent for DASHBOARD_DROP_OFF_MINUTES (default 30) before now. The value is
    {total, dropped}.""",
    drill_down=_OPEN,
)
def bot_drop_off(ctx: Context) -> dict[str, int]:
    cutoff = ctx.now - timedelta(minutes=int(setting("DASHBOARD_DROP_OFF_MINUTES", 30)))
    quiet = Q(last_message_at__lt=cutoff) | Q(last_message_at__isnull=True, created_at__lt=cutoff)
    # only still-open conversations can have dropped off: the query reads the open set, not history
    dropped = (
        conversations_in_scope(ctx)
        .filter(quiet, _in_period(ctx), status__in=OPEN_CONVERSATION_STATUSES)
        .filter(handled_by_bot_first=True, escalated_to_human=False)
        .count()
    )
    return {"total": ctx.chat["bot_first"], "dropped": dropped}


@metric(
    "top_intents",
    "Top intents",
    "count",
    """The auto-reply rules' intents that answered most often: bot replies created in the period
    grouped by the intent of the rule that wrote them (Message.intent), most frequent first (at most
    DASHBOARD_TOP_INTENTS_LIMIT, default 10). successRate = replies whose conversation was never
    handed off to a human / replies × 100, 1 decimal. The value is that list.""",
    drill_down=_CONVERSATIONS,
)
def top_intents(ctx: Context) -> list[dict[str, Any]]:
    limit = int(setting("DASHBOARD_TOP_INTENTS_LIMIT", 10))
    rows = (
        messages_in_scope(ctx)
        .filter(_in_period(ctx), author_type=AuthorType.BOT)
        .exclude(intent="")
        .values("intent")
        .annotate(n=Count("pk"), kept=Count("pk", filter=Q(conversation__escalated_to_human=False)))
        .order_by("-n", "intent")[:limit]
    )
    return [
        {"intent": row["intent"], "count": row["n"], "successRate": ratio(row["kept"], row["n"], percent=True)}
        for row in rows
    ]


@metric(
    "time_saved_hours",
    "Agent time saved",
    "hours",
    """Conversations resolved by the chatbot (created in the period) × DASHBOARD_MINUTES_SAVED_PER_BOT_CONVERSATION
    (default 5) minutes, in hours with 2 decimals.""",
    drill_down=_RESOLVED,
)
def time_saved_hours(c: Counters) -> float:
    return round(c.get("resolved_by_bot", 0) * minutes_saved_per_bot_conversation() / 60, 2)


@metric(
    "time_saved_cost",
    "Cost saved by the chatbot",
    "money",
    """Agent time saved (hours) × DASHBOARD_AGENT_HOURLY_COST (default 20.0, in DASHBOARD_CURRENCY),
    2 decimals.""",
    drill_down=_RESOLVED,
)
def time_saved_cost(c: Counters) -> float:
    hours = c.get("resolved_by_bot", 0) * minutes_saved_per_bot_conversation() / 60
    return round(hours * agent_hourly_cost(), 2)


# --- business -----------------------------------------------------------------------------------------


@metric(
    "leads_generated",
    "Leads generated",
    "count",
    """Contacts (leads) created in the period, keyed by their assigned agent and campaign.""",
)
def leads_generated(c: Counters) -> int:
    return c.get("contacts_created", 0)


@metric(
    "leads_converted",
    "Leads converted",
    "count",
    """Lead status changes to `converted` in the period (by the time of the change), keyed by the
    contact's agent and campaign.""",
)
def leads_converted(c: Counters) -> int:
    return c.get("leads_to_converted", 0)


@metric(
    "leads_new",
    "New leads",
    "count",
    """Lead status changes to `new` in the period (by the time of the change): a contact's creation
    is recorded as its change to `new`, so these are the leads that entered the funnel. Keyed by the
    contact's agent and campaign.""",
)
def leads_new(c: Counters) -> int:
    return c.get("leads_to_new", 0)


@metric(
    "leads_contacted",
    "Leads contacted",
    "count",
    """Lead status changes to `contacted` in the period (by the time of the change), keyed by the
    contact's agent and campaign.""",
)
def leads_contacted(c: Counters) -> int:
    return c.get("leads_to_contacted", 0)


@metric(
    "leads_qualified",
    "Leads qualified",
    "count",
    """Lead status changes to `qualified` in the period (by the time of the change), keyed by the
    contact's agent and campaign.""",
)
def leads_qualified(c: Counters) -> int:
    return c.get("leads_to_qualified", 0)


@metric(
    "leads_lost",
    "Leads lost",
    "count",
    """Lead status changes to `lost` in the period (by the time of the change), keyed by the
    contact's agent and campaign.""",
)
def leads_lost(c: Counters) -> int:
    return c.get("leads_to_lost", 0)


# the lead funnel's stages in order, then the way out of it
LEAD_STAGES = ("leads_new", "leads_contacted", "leads_qualified", "leads_converted", "leads_lost")


@metric(
    "lead_status_changes",
    "Lead status changes",
    "count",
    """Every lead status change in the period (to any status, creations recorded as `new`
    included), keyed by the contact's agent and campaign.""",
)
def lead_status_changes(c: Counters) -> int:
    return sum(c.get(f"leads_to_{status}", 0) for status in LeadStatus.values)


@metric(
    "lead_conversion_rate",
    "Lead conversion rate",
    "percent",
    """Leads that reached `converted` in the period (status changes to converted) / leads created
    in the period (contacts created) × 100, 1 decimal; 0.0 when no lead was created. The converted
    leads may have been created earlier, so the rate can exceed 100.""",
)
def lead_conversion_rate(c: Counters) -> float:
    return ratio(c.get("leads_to_converted", 0), c.get("contacts_created", 0), percent=True)


@metric(
    "campaign_responded",
    "Campaign conversations",
    "count",
    """Per campaign: conversations created in the period whose campaign it is (the contact's
    campaign when the conversation opened) — the customers who wrote to us.""",
    drill_down=_CONVERSATIONS,
)
def campaign_responded(c: Counters) -> int:
    return c.get("conversations", 0)


@metric(
    "campaign_conversion_rate",
    "Campaign conversion rate",
    "percent",
    """Per campaign: leads converted in the period / broadcast messages sent, delivered or read
    (created in the period) × 100, 1 decimal; 0.0 when nothing was sent.""",
)
def campaign_conversion_rate(c: Counters) -> float:
    return ratio(c.get("leads_to_converted", 0), c.get("broadcast_ok", 0), percent=True)


@metric(
    "staff_cost",
    "Staff cost",
    "money",
    """Logged-in agent time in the period (login sessions, clipped to the period; an open session
    counts until now) in hours × DASHBOARD_AGENT_HOURLY_COST, 2 decimals.""",
)
def staff_cost(c: Counters) -> float:
    return round(c.get("logged_us", 0) / US_PER_HOUR * agent_hourly_cost(), 2)


@metric(
    "cost_per_conversation",
    "Cost per conversation",
    "money",
    """Staff cost of the period / the customer conversations handled in it — WhatsApp conversations
    created plus calls started (agents' logged time serves both) — 2 decimals; 0.0 when there were
    none. Twilio's message and call prices are not included.""",
)
def cost_per_conversation(c: Counters) -> float:
    cost = c.get("logged_us", 0) / US_PER_HOUR * agent_hourly_cost()
    return ratio(cost, c.get("conversations", 0) + c.get("calls", 0), places=2)


# --- agents -------------------------------------------------------------------------------------------


@metric(
    "agent_idle_time",
    "Idle time",
    "seconds",
    """Seconds in the period the agent spent in status `available` (ready, not on a call nor in
    wrap-up), clipped to the period; the current state counts until now.""",
    drill_down=_TIMELINE,
)
def agent_idle_time(c: Counters) -> int:
    return c.get("available_us", 0) // US_PER_SECOND


@metric(
    "agent_active_time",
    "Active time",
    "seconds",
    """Seconds in the period the agent spent in status `on_call` or `wrap_up`, clipped to the
    period; the current state counts until now. Breaks, away and offline time are neither idle nor
    active.""",
    drill_down=_TIMELINE,
)
def agent_active_time(c: Counters) -> int:
    return _sum(c, ACTIVE_COUNTERS) // US_PER_SECOND


@metric(
    "agent_presence",
    "Agent status",
    "seconds",
    """Each agent's current state (the open status period, whatever the period chosen): online when
    available, on a call or in wrap-up; away on a break or away; offline when offline or never
    logged in. The value maps agent id → {status, since, seconds}: seconds in that state until now.""",
    drill_down=_TIMELINE,
)
def agent_presence(ctx: Context) -> dict[int, dict[str, Any]]:
    periods = AgentStatusPeriod.objects.filter(ended_at__isnull=True)
    if ctx.scope.agent_ids is not None:
        periods = periods.filter(agent_id__in=ctx.scope.agent_ids)
    return {
        row["agent_id"]: {
            "status": PRESENCE.get(row["status"], "offline"),
            "since": _iso(row["started_at"]),
            "seconds": max(0, int((ctx.now - row["started_at"]).total_seconds())),
        }
        for row in periods.values("agent_id", "status", "started_at")
    }
