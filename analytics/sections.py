"""The seven sections of the CRM effectiveness dashboard (API.md "CRM effectiveness dashboard"), each a
pure function of a Context (period × scope) returning the section's JSON (camelCase, the seed design's
shapes). The dashboard API, exports, snapshots, PDF reports and WebSocket pushes all call these; every
number comes from a registered metric (analytics/chat_metrics.py, analytics/call_metrics.py).

Trends compare with the same metric over `period.previous()` (METRICS.md "Trends").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from analytics import chat_metrics  # also registers the metrics read below
from analytics.periods import with_trend
from analytics.registry import Context, get, ratio, value
from calls.models import AgentHourRollup
from crm.models import Campaign, ChatHourRollup, Role, User

Section = Callable[[Context], dict[str, Any]]
# Above this many local days, charts over time have one point per day instead of per hour.
HOURLY_CHART_MAX_DAYS = 2
# JavaScript's Date.getDay(): 0 = Sunday … 6 = Saturday (Python's weekday() is 0 = Monday).
JS_WEEKDAY = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 0}


def _trend(key: str, ctx: Context, before: Context) -> dict[str, Any]:
    return with_trend(value(key, ctx), value(key, before))


def _chat_groups(ctx: Context, *group_by: str, fields: tuple[str, ...] | None = None) -> dict[Any, dict[str, int]]:
    return ctx.grouped(ChatHourRollup, tuple(group_by), fields)


def _local(moment: datetime) -> datetime:
    return timezone.localtime(moment)


# --- kpi ------------------------------------------------------------------------------------------------


def build_kpi(ctx: Context) -> dict[str, Any]:
    before = ctx.previous
    response = _trend("first_response_time_avg", ctx, before)
    opened, opened_before = value("open_tickets", ctx), value("open_tickets", before)
    return {
        "activeConversations": _trend("active_conversations", ctx, before),
        "avgResponseTime": {**response, "slaStatus": chat_metrics.sla_status(float(response["value"]))},
        "whatsappDeliveryRate": _trend("whatsapp_delivery_rate", ctx, before),
        "openTickets": {**with_trend(sum(opened.values()), sum(opened_before.values())), "byPriority": opened},
        "messagesToday": _trend("chat_messages", ctx, before),
        # voice beside chat (added to the seed's strip: a contact centre's supervisor watches both)
        "callsMade": _trend("calls_made", ctx, before),
        "callSuccessRate": _trend("success_rate", ctx, before),
        "averageHandleTime": _trend("aht", ctx, before),
    }


# --- conversation effectiveness ----------------------------------------------------------------------


def _agent_names(ids: set[int]) -> dict[int, str]:
    rows = User.objects.filter(pk__in=ids).values("pk", "username", "first_name", "last_name")
    return {row["pk"]: f"{row['first_name']} {row['last_name']}".strip() or row["username"] for row in rows}


def _response_time_over_time(ctx: Context) -> list[dict[str, Any]]:
    frt = get("first_response_time_avg")
    buckets: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    daily = (ctx.period.last_day - ctx.period.first_day).days + 1 > HOURLY_CHART_MAX_DAYS
    # daily points read the day rollups (a month is ~30 rows per key, not ~720)
    for (start,), counters in _chat_groups(ctx, "day" if daily else "hour", fields=("frt_us", "frt_count")).items():
        for name in ("frt_us", "frt_count"):
            buckets[start][name] += counters.get(name, 0)
    return [
        {"timestamp": _local(start).isoformat(), "avgSeconds": frt.apply(counters)}
        for start, counters in sorted(buckets.items())
        if counters["frt_count"]
    ]


def build_conversation_effectiveness(ctx: Context) -> dict[str, Any]:
    c = ctx.chat
    frt = get("first_response_time_avg")
    per_agent = {
        agent: counters
        for (agent,), counters in _chat_groups(ctx, "agent_id", fields=("conversations", "frt_us", "frt_count")).items()
        if agent and (counters.get("conversations", 0) or counters.get("frt_count", 0))
    }
    names = _agent_names(set(per_agent))
    agents = [
        {
            "agentId": agent,
            "agentName": names.get(agent, f"#{agent}"),
            "count": counters.get("conversations", 0),
            "avgResponseTime": frt.apply(counters),
        }
        for agent, counters in per_agent.items()
    ]
    agents.sort(key=lambda row: (-row["count"], row["agentName"]))
    return {
        "conversationsPerAgent": agents,
        "avgResponseTimeOverTime": _response_time_over_time(ctx),
        "slaCompliance": {
            "percentage": get("sla_compliance").apply(c),
            "compliant": get("sla_compliant").apply(c),
            "nonCompliant": get("sla_non_compliant").apply(c),
        },
        "resolvedVsOpen": {
            "resolved": get("conversations_resolved").apply(c),
            "open": get("conversations_unresolved").apply(c),
            "percentage": get("resolution_rate").apply(c),
        },
    }


# --- WhatsApp performance ----------------------------------------------------------------------------


def build_whatsapp_performance(ctx: Context) -> dict[str, Any]:
    c = ctx.chat
    return {
        "messageFunnel": {
            "sent": get("whatsapp_sent").apply(c),
            "delivered": get("whatsapp_delivered").apply(c),
            "read": get("whatsapp_read").apply(c),
            "failed": get("whatsapp_failed").apply(c),
        },
        "broadcastSuccessRate": {
            "total": get("broadcast_messages").apply(c),
            "successful": get("broadcast_successful").apply(c),
            "failed": get("broadcast_failed").apply(c),
            "percentage": get("broadcast_success_rate").apply(c),
        },
        "failedMessages": value("failed_messages", ctx),
        "activeSessions": value("whatsapp_sessions", ctx),
        "queueMetrics": {"depth": value("queue_depth", ctx), "processingRate": value("queue_processing_rate", ctx)},
    }


# --- customer load -------------------------------------------------------------------------------------


def build_customer_load(ctx: Context) -> dict[str, Any]:
    c = ctx.chat
    by_hour: dict[int, dict[str, int]] = {h: defaultdict(int) for h in range(24)}
    cells: dict[tuple[int, int], int] = defaultdict(int)
    for (hour,), counters in _chat_groups(ctx, "hour", fields=("conversations", "frt_us", "frt_count")).items():
        local = _local(hour)
        for name in ("conversations", "frt_us", "frt_count"):
            by_hour[local.hour][name] += counters.get(name, 0)
        cells[(JS_WEEKDAY[local.weekday()], local.hour)] += counters.get("conversations", 0)
    per_hour = [{"hour": h, "count": by_hour[h]["conversations"]} for h in range(24)]
    busiest = max(per_hour, key=lambda row: row["count"])  # the earliest hour on a tie
    peak_hour = busiest["hour"] if busiest["count"] else None
    frt = get("first_response_time_avg")
    peak: dict[str, int] = defaultdict(int)
    off_peak: dict[str, int] = defaultdict(int)
    for h, counters in by_hour.items():
        into = peak if h == peak_hour else off_peak
        for name in ("frt_us", "frt_count"):
            into[name] += counters[name]
    return {
        "incomingChatsPerHour": per_hour,
        "peakHour": {"hour": peak_hour, "count": busiest["count"]},
        "newVsReturning": {
            "new": get("conversations_new").apply(c),
            "returning": get("conversations_returning").apply(c),
        },
        "avgWaitTime": {"peak": frt.apply(peak), "offPeak": frt.apply(off_peak)},
        "heatmap": [{"dayOfWeek": d, "hour": h, "count": cells[(d, h)]} for d in range(7) for h in range(24)],
    }


# --- agent productivity -----------------------------------------------------------------------------


def _workload(chats: list[int]) -> dict[str, int]:
    """Agents whose chats are within ±DASHBOARD_WORKLOAD_TOLERANCE_PERCENT of the mean are balanced."""
    tolerance = float(getattr(settings, "DASHBOARD_WORKLOAD_TOLERANCE_PERCENT", 25)) / 100
    mean = sum(chats) / len(chats) if chats else 0
    counts = {"balanced": 0, "overloaded": 0, "underutilized": 0}
    for n in chats:
        if mean and n > mean * (1 + tolerance):
            counts["overloaded"] += 1
        elif mean and n < mean * (1 - tolerance):
            counts["underutilized"] += 1
        else:
            counts["balanced"] += 1
    return counts


def build_agent_productivity(ctx: Context) -> dict[str, Any]:
    chat_fields = ("conversations", "resolved", "resolution_us")
    chat = {agent: c for (agent,), c in _chat_groups(ctx, "agent_id", fields=chat_fields).items() if agent}
    call_fields = ("available_us", "on_call_us", "wrap_up_us")
    calls = {agent: c for (agent,), c in ctx.grouped(AgentHourRollup, ("agent_id",), call_fields).items() if agent}
    # every active agent in scope, plus anyone else in scope with chats or agent time in the period
    people = User.objects.filter(Q(role=Role.AGENT, is_active=True) | Q(pk__in=set(chat) | set(calls)))
    if ctx.scope.agent_ids is not None:
        people = people.filter(pk__in=ctx.scope.agent_ids)
    rows = list(people.values("pk", "username", "first_name", "last_name"))
    presence = value("agent_presence", ctx)
    metrics = {
        key: get(key) for key in ("resolution_rate", "agent_idle_time", "agent_active_time", "resolution_time_avg")
    }
    agents = []
    for row in rows:
        counters = {**calls.get(row["pk"], {}), **chat.get(row["pk"], {})}
        state = presence.get(row["pk"], {"status": "offline", "seconds": 0})
        agents.append(
            {
                "agentId": row["pk"],
                "agentName": f"{row['first_name']} {row['last_name']}".strip() or row["username"],
                "chatsHandled": counters.get("conversations", 0),
                "resolutionRate": metrics["resolution_rate"].apply(counters),
                "idleTime": metrics["agent_idle_time"].apply(counters),
                "activeTime": metrics["agent_active_time"].apply(counters),
                "avgHandlingTime": metrics["resolution_time_avg"].apply(counters),
                "status": state["status"],
                "statusDuration": state["seconds"],
            }
        )
    agents.sort(key=lambda a: (-a["chatsHandled"], a["agentName"], a["agentId"]))
    return {"agentMetrics": agents, "workloadDistribution": _workload([a["chatsHandled"] for a in agents])}


# --- automation impact --------------------------------------------------------------------------------


def build_automation_impact(ctx: Context) -> dict[str, Any]:
    c = ctx.chat
    drop_off = value("bot_drop_off", ctx)
    return {
        "chatbotVsHuman": {
            "chatbot": get("chatbot_resolved").apply(c),
            "human": get("human_handled").apply(c),
            "percentage": get("chatbot_share").apply(c),
        },
        "autoReplySuccess": {
            "total": get("bot_first").apply(c),
            "successful": get("auto_reply_successful").apply(c),
            "percentage": get("auto_reply_success_rate").apply(c),
        },
        "dropOffRate": {**drop_off, "percentage": ratio(drop_off["dropped"], drop_off["total"], percent=True)},
        "topIntents": value("top_intents", ctx),
        "timeSaved": {
            "hours": get("time_saved_hours").apply(c),
            "estimatedCost": get("time_saved_cost").apply(c),
            "currency": chat_metrics.currency(),
        },
        "escalationRate": {
            "total": get("bot_first").apply(c),
            "escalated": get("escalated").apply(c),
            "percentage": get("escalation_rate").apply(c),
        },
    }


# --- business impact ----------------------------------------------------------------------------------


def _campaign_conversion(ctx: Context) -> list[dict[str, Any]]:
    responded, converted = get("campaign_responded"), get("leads_converted")
    sent, rate = get("broadcast_successful"), get("campaign_conversion_rate")
    per_campaign = {
        campaign: {
            "sent": sent.apply(counters),
            "responded": responded.apply(counters),
            "converted": converted.apply(counters),
            "conversionRate": rate.apply(counters),
        }
        for (campaign,), counters in _chat_groups(
            ctx, "campaign_id", fields=("broadcast_ok", "conversations", "leads_to_converted")
        ).items()
        if campaign
    }
    shown = {k: v for k, v in per_campaign.items() if v["sent"] or v["responded"] or v["converted"]}
    names = dict(Campaign.objects.filter(pk__in=set(shown)).values_list("pk", "name"))
    rows = [{"campaignId": k, "campaignName": names.get(k, f"#{k}"), **v} for k, v in shown.items()]
    rows.sort(key=lambda row: (-row["sent"], -row["converted"], row["campaignName"]))
    return rows[:50]


def build_business_impact(ctx: Context) -> dict[str, Any]:
    before = ctx.previous
    tickets = value("tickets_resolved", ctx)  # first: its periods join the family's one read
    leads = _trend("leads_generated", ctx, before)
    repeat = _trend("repeat_customer_rate", ctx, before)
    counters = ctx.counters
    return {
        "leadsGenerated": {"total": leads["value"], "trend": leads["trend"], "change": leads["change"]},
        "ticketsResolved": tickets,
        "campaignConversion": _campaign_conversion(ctx),
        "repeatCustomerRate": {"rate": repeat["value"], "trend": repeat["trend"], "change": repeat["change"]},
        "costPerConversation": {
            "amount": get("cost_per_conversation").apply(counters),
            "savings": get("time_saved_cost").apply(counters),
            "currency": chat_metrics.currency(),
        },
    }


SECTIONS: dict[str, Section] = {
    "kpi": build_kpi,
    "conversation-effectiveness": build_conversation_effectiveness,
    "whatsapp-performance": build_whatsapp_performance,
    "customer-load": build_customer_load,
    "agent-productivity": build_agent_productivity,
    "automation-impact": build_automation_impact,
    "business-impact": build_business_impact,
}
