"""crm/'s rollup sources: how conversations, messages, contacts and lead status changes add to
ChatHourRollup (METRICS.md "Conversations and messages", "Leads").

Keys: the conversation's assigned agent and campaign (0 when none). A message is keyed by its
conversation's (a broadcast message by its broadcast's campaign), a lead status change by its
contact's — so reassigning a conversation or a contact moves their counters along (`dependents`).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_delete

from crm.models import (
    ChatAgentDayRollup,
    ChatDayRollup,
    ChatHourRollup,
    ChatOrgDayRollup,
    ChatOrgHourRollup,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    LeadStatus,
    LeadStatusChange,
    Message,
    MessageStatus,
    Priority,
)
from crm.rollups import (
    Contribution,
    Row,
    Source,
    Window,
    hour_start,
    in_window,
    microseconds,
    register,
    register_day_table,
    subtract_deleted,
)

FUNNEL_SENT = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)
FUNNEL_FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


def _key(row: Row, time_field: str, agent: str, campaign: str) -> tuple[object, int, int]:
    return (hour_start(row[time_field]), row[agent] or 0, row[campaign] or 0)


def first_response_seconds(row: Row) -> float | None:
    """FRT: first human response − later of (created, bot hand-off). None without a response."""
    if row["first_response_at"] is None:
        return None
    since = max(row["created_at"], row["escalated_at"] or row["created_at"])
    return microseconds(row["first_response_at"] - since) / 1_000_000


def conversation_contribution(row: Row, window: Window | None = None) -> Contribution:
    resolved = row["status"] == ConversationStatus.RESOLVED and row["resolved_at"] is not None
    found: Contribution = {}
    if resolved and in_window(window, row["resolved_at"]):
        key = _key(row, "resolved_at", "assigned_agent_id", "campaign_id")
        found[key] = {"resolutions": 1, f"resolutions_{row['priority']}": 1}
    if not in_window(window, row["created_at"]):
        return found
    human = row["first_response_at"] is not None
    counts = {
        "conversations": 1,
        "returning": int(row["is_returning"]),
        "bot_first": int(row["handled_by_bot_first"]),
        "bot_first_escalated": int(row["handled_by_bot_first"] and row["escalated_to_human"]),
        "with_human": int(human),
        "resolved": int(resolved),
        f"resolved_{row['priority']}": int(resolved),
        "resolved_by_bot": int(resolved and not human),
    }
    if human:
        since = max(row["created_at"], row["escalated_at"] or row["created_at"])
        frt = microseconds(row["first_response_at"] - since)
        counts |= {
            "frt_count": 1,
            "frt_us": frt,
            "frt_within_sla": int(frt <= settings.SLA_FIRST_RESPONSE_SECONDS * 1_000_000),
        }
    if resolved:
        counts["resolution_us"] = microseconds(row["resolved_at"] - row["created_at"])
    if row["csat_score"] is not None:
        counts |= {"csat_count": 1, "csat_sum": row["csat_score"]}
    key = _key(row, "created_at", "assigned_agent_id", "campaign_id")
    for name, amount in found.pop(key, {}).items():
        counts[name] = counts.get(name, 0) + amount
    return {key: counts, **found}


def message_contribution(row: Row, window: Window | None = None) -> Contribution:
    if not in_window(window, row["created_at"]):
        return {}
    status = row["status"]
    if row["direction"] == Direction.INBOUND:
        counts = {"messages_inbound": 1}
    else:
        author = {"agent": "messages_agent", "bot": "messages_bot"}.get(row["author_type"], "messages_system")
        counts = {author: 1, f"out_{status}": 1}
        if row["broadcast_id"] is not None:
            counts |= {
                "broadcast_messages": 1,
                "broadcast_ok": int(status in FUNNEL_SENT),
                "broadcast_failed": int(status in FUNNEL_FAILED),
            }
    if row["conversation_id"] is not None:
        key = (
            hour_start(row["created_at"]),
            row["conversation__assigned_agent_id"] or 0,
            row["conversation__campaign_id"] or 0,
        )
    else:
        key = (hour_start(row["created_at"]), 0, row["broadcast__campaign_id"] or 0)
    return {key: counts}


def contact_contribution(row: Row, window: Window | None = None) -> Contribution:
    if not in_window(window, row["created_at"]):
        return {}
    return {_key(row, "created_at", "assigned_agent_id", "campaign_id"): {"contacts_created": 1}}


def lead_change_contribution(row: Row, window: Window | None = None) -> Contribution:
    if not in_window(window, row["changed_at"]):
        return {}
    key = (hour_start(row["changed_at"]), row["contact__assigned_agent_id"] or 0, row["contact__campaign_id"] or 0)
    return {key: {f"leads_to_{row['to_status']}": 1}}


register_day_table(
    ChatHourRollup,
    ChatDayRollup,
    ChatOrgDayRollup,
    org_hour_table=ChatOrgHourRollup,
    agent_day_table=ChatAgentDayRollup,
)
CONVERSATIONS = register(
    Source(
        name="conversations",
        model=Conversation,
        table=ChatHourRollup,
        keys=("agent_id", "campaign_id"),
        columns=(
            "assigned_agent_id",
            "campaign_id",
            "created_at",
            "status",
            "priority",
            "resolved_at",
            "first_response_at",
            "escalated_at",
            "handled_by_bot_first",
            "escalated_to_human",
            "is_returning",
            "csat_score",
        ),
        contribute=conversation_contribution,
        produces=(
            "conversations",
            "returning",
            "bot_first",
            "with_human",
            "resolved",
            "resolutions",
            "frt_",
            "resolution_us",
            "csat_",
        ),
        time_field="created_at",
        other_time_fields=("resolved_at",),
        raw_keys={"agent_id": "assigned_agent", "campaign_id": "campaign"},
        dependents=(("messages", "conversation", ("assigned_agent_id", "campaign_id")),),
    )
)
MESSAGES = register(
    Source(
        name="messages",
        model=Message,
        table=ChatHourRollup,
        keys=("agent_id", "campaign_id"),
        columns=(
            "created_at",
            "direction",
            "author_type",
            "status",
            "conversation_id",
            "broadcast_id",
            "conversation__assigned_agent_id",
            "conversation__campaign_id",
            "broadcast__campaign_id",
        ),
        contribute=message_contribution,
        produces=("messages_", "out_", "broadcast_"),
        time_field="created_at",
        raw_keys={
            "agent_id": "conversation__assigned_agent",
            "campaign_id": "conversation__campaign|broadcast__campaign",
        },
    )
)
CONTACTS = register(
    Source(
        name="contacts",
        model=Contact,
        table=ChatHourRollup,
        keys=("agent_id", "campaign_id"),
        columns=("assigned_agent_id", "campaign_id", "created_at"),
        contribute=contact_contribution,
        produces=("contacts_created",),
        time_field="created_at",
        raw_keys={"agent_id": "assigned_agent", "campaign_id": "campaign"},
        dependents=(("lead_changes", "contact", ("assigned_agent_id", "campaign_id")),),
    )
)
LEAD_CHANGES = register(
    Source(
        name="lead_changes",
        model=LeadStatusChange,
        table=ChatHourRollup,
        keys=("agent_id", "campaign_id"),
        columns=("changed_at", "to_status", "contact__assigned_agent_id", "contact__campaign_id"),
        contribute=lead_change_contribution,
        produces=("leads_to_",),
        time_field="changed_at",
        raw_keys={"agent_id": "contact__assigned_agent", "campaign_id": "contact__campaign"},
    )
)

for _model in (Conversation, Message, Contact, LeadStatusChange):
    post_delete.connect(lambda sender, instance, **kw: subtract_deleted(instance), sender=_model, weak=False)

_missing = (
    {f"out_{s}" for s in MessageStatus.values if s != MessageStatus.RECEIVED}
    | {f"leads_to_{s}" for s in LeadStatus.values}
    | {f"{kind}_{p}" for kind in ("resolved", "resolutions") for p in Priority.values}
) - set(MESSAGES.counters)
if _missing:  # a new message or lead status needs its counter column
    raise ImproperlyConfigured(f"ChatHourRollup lacks counters {sorted(_missing)}")
