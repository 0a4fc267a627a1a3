"""The CRM effectiveness dashboard (API.md "CRM effectiveness dashboard", METRICS.md): the seven sections
against a hand-built history of today and yesterday, who sees what (agents their own conversations,
supervisors their teams', admins all; team filter 403/404), bad periods, trends, query counts and the
business-impact audit trail.

The history (today, local time; "now" is noon):
  c1  agent_a1  09:00, first response 09:02 (120 s), resolved 10:00, high
  c2  agent_a1  10:00, first response 10:10 (600 s), open, urgent
  c3  agent_a2  11:00, bot first, handed off 11:05, first response 11:06 (60 s), open, low
  c4  agent_b1  08:00, no response, open, normal — its contact wrote yesterday (returning)
  c5  (campaign A, unassigned) 09:00 bot answers "opening hours", resolved 09:30 by nobody human
  c6  (campaign A, unassigned) 10:45 bot answers, then silence (dropped)
  c7  (campaign A → agent_a2) 10:30 bot answers, 10:40 the customer asks for a person (escalated)
and yesterday: y1 agent_b1 09:00, response 100 s, resolved 11:00; y2 agent_a1 10:00, resolved today 09:15.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import AuditAction, AuditLog
from analytics.periods import named_period
from analytics.registry import METRICS
from calls.models import AgentStatus, CallStatus
from crm import actions
from crm.models import (
    AuthorType,
    AutoReplyRule,
    Campaign,
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    LeadStatus,
    MessageStatus,
    Priority,
    SenderStatus,
    Team,
    User,
    WhatsAppSender,
)
from crm.periods import local_midnight
from tests.factories import (
    AgentSessionFactory,
    AgentStatusPeriodFactory,
    BroadcastFactory,
    CallLogFactory,
    CampaignFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
)

SECTIONS = (
    "kpi",
    "conversation-effectiveness",
    "whatsapp-performance",
    "customer-load",
    "agent-productivity",
    "automation-impact",
    "business-impact",
)
OUR_NUMBER = "+48600900100"


def today_at(hour: int, minute: int = 0, *, days_ago: int = 0) -> datetime:
    return local_midnight(timezone.localdate() - timedelta(days=days_ago)) + timedelta(hours=hour, minutes=minute)


def get(user: User, section: str, **params: Any):
    client = APIClient()
    client.force_authenticate(user)
    return client.get(f"/api/dashboard/{section}", params)


def ok(user: User, section: str, **params: Any) -> dict[str, Any]:
    response = get(user, section, **params)
    assert response.status_code == 200, response.content
    return response.json()


def conversation(agent: User | None, created: datetime, **fields: Any) -> Conversation:
    contact = fields.pop("contact", None) or ContactFactory.create()
    return ConversationFactory.create(contact=contact, assigned_agent=agent, created_at=created, **fields)


def inbound(convo: Conversation, at: datetime) -> None:
    MessageFactory.create(conversation=convo, contact=convo.contact, created_at=at)


def agent_reply(convo: Conversation, agent: User, at: datetime, status: str, **fields: Any) -> None:
    MessageFactory.create(
        conversation=convo,
        contact=convo.contact,
        direction=Direction.OUTBOUND,
        author_type=AuthorType.AGENT,
        agent=agent,
        status=status,
        created_at=at,
        **fields,
    )


def customer_writes(contact: Contact, body: str, at: datetime, sid: str) -> Conversation:
    message, _ = actions.do_receive_inbound_message(
        message_sid=sid, from_number=f"whatsapp:{contact.phone}", to_number=f"whatsapp:{OUR_NUMBER}", body=body, at=at
    )
    assert message.conversation is not None
    return message.conversation


@pytest.fixture
def campaign_a(team_a: Team) -> Campaign:
    return CampaignFactory.create(name="Spring offer", team=team_a, channel=Channel.WHATSAPP)


@pytest.fixture
def history(midday, settings, admin, team_a, team_b, campaign_a, agent_a1, agent_a2, agent_b1) -> dict[str, Any]:
    settings.WHATSAPP_CSAT_ON_RESOLVE = False
    now = timezone.now()
    # yesterday
    k4 = ContactFactory.create(created_at=today_at(8, days_ago=1))
    k6 = ContactFactory.create(created_at=today_at(8, days_ago=1))
    y1 = conversation(
        agent_b1,
        today_at(9, days_ago=1),
        contact=k4,
        first_response_at=today_at(9, days_ago=1) + timedelta(seconds=100),
        status=ConversationStatus.RESOLVED,
        resolved_at=today_at(11, days_ago=1),
    )
    inbound(y1, today_at(9, days_ago=1))
    agent_reply(y1, agent_b1, today_at(9, days_ago=1) + timedelta(seconds=100), MessageStatus.DELIVERED)
    conversation(
        agent_a1,
        today_at(10, days_ago=1),
        contact=k6,
        status=ConversationStatus.RESOLVED,
        resolved_at=today_at(9, 15),
    )
    # today, people
    c1 = conversation(
        agent_a1,
        today_at(9),
        first_response_at=today_at(9, 2),
        status=ConversationStatus.RESOLVED,
        resolved_at=today_at(10),
        priority=Priority.HIGH,
    )
    c2 = conversation(agent_a1, today_at(10), first_response_at=today_at(10, 10), priority=Priority.URGENT)
    c3 = conversation(
        agent_a2,
        today_at(11),
        handled_by_bot_first=True,
        escalated_to_human=True,
        escalated_at=today_at(11, 5),
        first_response_at=today_at(11, 6),
        priority=Priority.LOW,
    )
    c4 = conversation(agent_b1, today_at(8), contact=k4)
    for convo in (c1, c2, c3, c4):
        inbound(convo, convo.created_at)
    agent_reply(c1, agent_a1, today_at(9, 2), MessageStatus.READ)
    agent_reply(c2, agent_a1, today_at(10, 10), MessageStatus.DELIVERED)
    agent_reply(c3, agent_a2, today_at(11, 6), MessageStatus.FAILED, error_message="The number is not on WhatsApp.")
    # today, the bot (campaign A's contacts)
    AutoReplyRule.objects.create(intent="opening hours", keywords="hours", reply="We are open 8-20.")
    AutoReplyRule.objects.create(intent="human", keywords="person", hands_off=True, priority=10)
    p5, p6, p7 = (ContactFactory.create(campaign=campaign_a) for _ in range(3))
    c5 = customer_writes(p5, "Your hours?", today_at(9), "SMc5")
    actions.do_resolve_conversation(c5, at=today_at(9, 30))
    c6 = customer_writes(p6, "hours please", today_at(10, 45), "SMc6")
    c7 = customer_writes(p7, "hours?", today_at(10, 30), "SMc7")
    customer_writes(p7, "I want a person", today_at(10, 40), "SMc7b")
    actions.do_assign_conversation(c7, agent_a2)
    actions.do_change_lead_status(p5, LeadStatus.CONVERTED, at=today_at(9, 40))
    # a broadcast of campaign A at 07:00
    broadcast = BroadcastFactory.create(campaign=campaign_a)
    for contact, status, extra in (
        (p5, MessageStatus.SENT, {"sent_at": now - timedelta(minutes=5)}),
        (p6, MessageStatus.DELIVERED, {}),
        (p7, MessageStatus.UNDELIVERED, {"error_code": 63016}),
    ):
        MessageFactory.create(
            conversation=None,
            broadcast=broadcast,
            contact=contact,
            direction=Direction.OUTBOUND,
            author_type=AuthorType.SYSTEM,
            status=status,
            created_at=today_at(7),
            **extra,
        )
    WhatsAppSender.objects.create(phone="+48600900101", status=SenderStatus.DEGRADED)
    WhatsAppSender.objects.create(phone="+48600900102", status=SenderStatus.DISCONNECTED)
    # agent time and one call
    AgentStatusPeriodFactory.create(
        agent=agent_a1, status=AgentStatus.ON_CALL, started_at=today_at(10), ended_at=today_at(10, 30)
    )
    AgentStatusPeriodFactory.create(
        agent=agent_a1, status=AgentStatus.WRAP_UP, started_at=today_at(10, 30), ended_at=today_at(10, 35)
    )
    AgentStatusPeriodFactory.create(
        agent=agent_a1, status=AgentStatus.AVAILABLE, started_at=today_at(10, 35), ended_at=None
    )
    AgentStatusPeriodFactory.create(
        agent=agent_a2, status=AgentStatus.BREAK, started_at=today_at(11, 30), ended_at=None
    )
    AgentSessionFactory.create(agent=agent_a1, started_at=today_at(8), ended_at=today_at(12))
    CallLogFactory.create(agent=agent_a1, contact=None, phone_number="+48600000001", started_at=today_at(10))
    return {"c": [None, c1, c2, c3, c4, c5, c6, c7], "sender": WhatsAppSender.objects.get(phone=OUR_NUMBER)}


# --- the sections, for an admin (everything) ------------------------------------------------------------


def test_kpi(history, admin):
    data = ok(admin, "kpi")
    # open at some moment today: y2 (open at midnight) + c1..c7; yesterday to noon: y1, y2
    assert data["activeConversations"] == {"value": 8, "trend": "up", "change": 300.0}
    # FRT (120 + 600 + 60) / 3 = 260 s ≤ 300 s; yesterday 100 s
    assert data["avgResponseTime"] == {"value": 260.0, "trend": "up", "change": 160.0, "slaStatus": "good"}
    # delivered 3 / (sent 4 + failed 2); yesterday 1 / 1
    assert data["whatsappDeliveryRate"] == {"value": 50.0, "trend": "down", "change": -50.0}
    # open now: c2 urgent, c3 low, c4 normal, c6 and c7 normal; at noon yesterday only y2 was open
    assert data["openTickets"] == {
        "value": 5,
        "trend": "up",
        "change": 400.0,
        "byPriority": {"high": 1, "medium": 3, "low": 1},
    }
    # 4 inbound + 3 agent + 3 broadcast + c5 (2) + c6 (2) + c7 (3); yesterday 2
    assert data["messagesToday"] == {"value": 17, "trend": "up", "change": 750.0}
    assert data["period"]["label"] == "today"


def test_conversation_effectiveness(history, admin, agent_a1, agent_a2, agent_b1):
    data = ok(admin, "conversation-effectiveness")
    per_agent = {row["agentId"]: row for row in data["conversationsPerAgent"]}
    assert {k: (v["count"], v["avgResponseTime"]) for k, v in per_agent.items()} == {
        agent_a1.pk: (2, 360.0),
        agent_a2.pk: (2, 60.0),
        agent_b1.pk: (1, 0.0),
    }
    assert per_agent[agent_a1.pk]["agentName"] == agent_a1.get_full_name()
    assert [row["count"] for row in data["conversationsPerAgent"]] == [2, 2, 1]
    assert [(row["timestamp"], row["avgSeconds"]) for row in data["avgResponseTimeOverTime"]] == [
        (timezone.localtime(today_at(9)).isoformat(), 120.0),
        (timezone.localtime(today_at(10)).isoformat(), 600.0),
        (timezone.localtime(today_at(11)).isoformat(), 60.0),
    ]
    assert data["slaCompliance"] == {"percentage": 66.7, "compliant": 2, "nonCompliant": 1}
    assert data["resolvedVsOpen"] == {"resolved": 2, "open": 5, "percentage": 28.6}


def test_whatsapp_performance(history, admin):
    data = ok(admin, "whatsapp-performance")
    assert data["messageFunnel"] == {"sent": 4, "delivered": 3, "read": 1, "failed": 2}
    assert data["broadcastSuccessRate"] == {"total": 3, "successful": 2, "failed": 1, "percentage": 66.7}
    failed = data["failedMessages"]
    assert [(m["recipient"], m["error"]) for m in failed] == [
        (history["c"][3].contact.phone, "The number is not on WhatsApp."),
        (history["c"][7].contact.phone, "Twilio error 63016"),
    ]
    assert failed[0]["timestamp"] == timezone.localtime(today_at(11, 6)).isoformat()
    sessions = {s["phoneNumber"]: s for s in data["activeSessions"]}
    assert {phone: s["status"] for phone, s in sessions.items()} == {
        OUR_NUMBER: "connected",
        "+48600900101": "reconnecting",
        "+48600900102": "disconnected",
    }
    assert sessions[OUR_NUMBER]["sessionId"] == str(history["sender"].pk)
    assert sessions[OUR_NUMBER]["lastSeen"] == timezone.localtime(history["sender"].last_seen_at).isoformat()
    # three bot replies wait in the queue; one message was sent in the last 15 minutes
    assert data["queueMetrics"] == {"depth": 3, "processingRate": 0.1}


def test_customer_load(history, admin):
    data = ok(admin, "customer-load")
    per_hour = {row["hour"]: row["count"] for row in data["incomingChatsPerHour"]}
    assert len(per_hour) == 24
    assert {h: n for h, n in per_hour.items() if n} == {8: 1, 9: 2, 10: 3, 11: 1}
    assert data["peakHour"] == {"hour": 10, "count": 3}
    assert data["newVsReturning"] == {"new": 6, "returning": 1}
    # the peak hour's answered conversation (c2, 600 s) against the rest (c1 120 s, c3 60 s)
    assert data["avgWaitTime"] == {"peak": 600.0, "offPeak": 90.0}
    weekday = (timezone.localdate().weekday() + 1) % 7  # 0 = Sunday
    cells = {(c["dayOfWeek"], c["hour"]): c["count"] for c in data["heatmap"]}
    assert len(cells) == 7 * 24
    assert {k: n for k, n in cells.items() if n} == {
        (weekday, 8): 1,
        (weekday, 9): 2,
        (weekday, 10): 3,
        (weekday, 11): 1,
    }


def test_agent_productivity(history, admin, agent_a1, agent_a2, agent_b1):
    data = ok(admin, "agent-productivity")
    rows = {row["agentId"]: row for row in data["agentMetrics"]}
    assert set(rows) == {agent_a1.pk, agent_a2.pk, agent_b1.pk}
    a1, a2, b1 = rows[agent_a1.pk], rows[agent_a2.pk], rows[agent_b1.pk]
    assert (a1["chatsHandled"], a1["resolutionRate"], a1["avgHandlingTime"]) == (2, 50.0, 3600.0)
    assert a1["activeTime"] == 35 * 60  # on call 30 min + wrap-up 5 min
    since_available = int((timezone.now() - today_at(10, 35)).total_seconds())
    assert since_available - 5 <= a1["idleTime"] <= since_available
    assert a1["status"] == "online"
    assert since_available - 5 <= a1["statusDuration"] <= since_available
    assert (a2["chatsHandled"], a2["resolutionRate"], a2["status"], a2["idleTime"], a2["activeTime"]) == (
        2,
        0.0,
        "away",
        0,
        0,
    )
    assert (b1["chatsHandled"], b1["status"], b1["statusDuration"]) == (1, "offline", 0)
    # mean 5/3 chats: agent_b1's one chat is more than 25 % below it
    assert data["workloadDistribution"] == {"balanced": 2, "overloaded": 0, "underutilized": 1}


def test_automation_impact(history, admin):
    data = ok(admin, "automation-impact")
    assert data["chatbotVsHuman"] == {"chatbot": 1, "human": 6, "percentage": 14.3}
    assert data["autoReplySuccess"] == {"total": 4, "successful": 2, "percentage": 50.0}
    assert data["dropOffRate"] == {"total": 4, "dropped": 1, "percentage": 25.0}
    assert data["topIntents"] == [{"intent": "opening hours", "count": 3, "successRate": 66.7}]
    assert data["timeSaved"] == {"hours": 0.08, "estimatedCost": 1.67, "currency": "USD"}
    assert data["escalationRate"] == {"total": 4, "escalated": 2, "percentage": 50.0}


def test_business_impact(history, admin, campaign_a):
    data = ok(admin, "business-impact")
    # six contacts created today, two yesterday
    assert data["leadsGenerated"] == {"total": 6, "trend": "up", "change": 200.0}
    yesterday = today_at(0, days_ago=1)
    in_week = yesterday >= named_period("week").start
    in_month = yesterday >= named_period("month").start
    # resolved today: c1, c5 and y2; y1 yesterday
    assert data["ticketsResolved"] == {"today": 3, "week": 3 + in_week, "month": 3 + in_month}
    assert data["campaignConversion"] == [
        {
            "campaignId": campaign_a.pk,
            "campaignName": "Spring offer",
            "sent": 2,
            "responded": 3,
            "converted": 1,
            "conversionRate": 50.0,
        }
    ]
    # 1 returning of 7 today; none of 2 yesterday: 0 → 100.0
    assert data["repeatCustomerRate"] == {"rate": 14.3, "trend": "up", "change": 100.0}
    # 4 logged hours × 20 / (7 conversations + 1 call); the bot saved 5 minutes
    assert data["costPerConversation"] == {"amount": 10.0, "savings": 1.67, "currency": "USD"}


def test_business_impact_settings(history, admin, settings):
    settings.DASHBOARD_AGENT_HOURLY_COST = 30
    settings.DASHBOARD_MINUTES_SAVED_PER_BOT_CONVERSATION = 12
    settings.DASHBOARD_CURRENCY = "PLN"
    data = ok(admin, "business-impact")
    assert data["costPerConversation"] == {"amount": 15.0, "savings": 6.0, "currency": "PLN"}


# --- who sees what ---------------------------------------------------------------------------------------


def test_agent_sees_only_own_conversations(history, agent_a1):
    kpi = ok(agent_a1, "kpi")
    assert kpi["activeConversations"]["value"] == 3  # y2 (open at midnight), c1, c2
    assert kpi["openTickets"]["byPriority"] == {"high": 1, "medium": 0, "low": 0}
    assert kpi["messagesToday"]["value"] == 4
    assert kpi["avgResponseTime"]["value"] == 360.0
    effectiveness = ok(agent_a1, "conversation-effectiveness")
    assert [row["agentId"] for row in effectiveness["conversationsPerAgent"]] == [agent_a1.pk]
    productivity = ok(agent_a1, "agent-productivity")
    assert [row["agentId"] for row in productivity["agentMetrics"]] == [agent_a1.pk]
    whatsapp = ok(agent_a1, "whatsapp-performance")
    assert whatsapp["failedMessages"] == []
    assert whatsapp["broadcastSuccessRate"]["total"] == 0
    assert whatsapp["queueMetrics"]["depth"] == 0
    automation = ok(agent_a1, "automation-impact")
    assert automation["topIntents"] == []
    business = ok(agent_a1, "business-impact")
    assert business["campaignConversion"] == []
    assert business["ticketsResolved"]["today"] == 2  # c1 and y2 (yesterday's, resolved this morning)


def test_supervisor_sees_team_and_its_campaigns(history, supervisor_a, agent_a1, agent_a2):
    kpi = ok(supervisor_a, "kpi")
    # y2 (open at midnight), c1, c2 (a1), c3, c7 (a2), c5, c6 (campaign A, unassigned when they opened)
    assert kpi["activeConversations"]["value"] == 7
    assert kpi["openTickets"]["byPriority"] == {"high": 1, "medium": 2, "low": 1}
    productivity = ok(supervisor_a, "agent-productivity")
    assert {row["agentId"] for row in productivity["agentMetrics"]} == {agent_a1.pk, agent_a2.pk}
    automation = ok(supervisor_a, "automation-impact")
    assert automation["topIntents"] == [{"intent": "opening hours", "count": 3, "successRate": 66.7}]
    assert ok(supervisor_a, "whatsapp-performance")["broadcastSuccessRate"]["total"] == 3


def test_team_filter(history, admin, supervisor_a, agent_a1, team_a, team_b, agent_b1):
    data = ok(admin, "kpi", team_id=team_b.pk)
    assert data["activeConversations"]["value"] == 1
    assert data["openTickets"]["byPriority"] == {"high": 0, "medium": 1, "low": 0}
    assert ok(supervisor_a, "kpi", team_id=team_a.pk)["activeConversations"]["value"] == 7
    for user, team_id, status in (
        (supervisor_a, team_b.pk, 403),
        (agent_a1, team_a.pk, 403),
        (supervisor_a, 987654, 404),
        (admin, "nope", 400),  # not a number: bad input, not an unknown team
    ):
        for section in SECTIONS:
            response = get(user, section, team_id=team_id)
            assert response.status_code == status, (user, team_id, section)
            assert response.json()["success"] is False
    assert not AuditLog.objects.exists()  # refused requests are not views


def test_anonymous_is_401(db):
    for section in (*SECTIONS, "metrics"):
        assert APIClient().get(f"/api/dashboard/{section}").status_code == 401


# --- periods and trends ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"dateRange": "year"}, "dateRange"),
        ({"startDate": "2025-01-01"}, "endDate"),
        ({"endDate": "2025-01-01"}, "startDate"),
        ({"startDate": "yesterday", "endDate": "2025-01-01"}, "startDate"),
        ({"startDate": "2025-02-01", "endDate": "2025-01-01"}, "endDate"),
        ({"startDate": "2020-01-01", "endDate": "2025-01-01"}, "endDate"),
    ],
)
def test_bad_period_is_400_naming_the_field(admin, params, field):
    for section in SECTIONS:
        response = get(admin, section, **params)
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["success"] is False
        assert body["error"] == "invalid"
        assert list(body["fields"]) == [field]
        assert body["detail"].startswith("The request is not valid.")
        assert body["detail"].endswith(".")


def test_custom_range_and_its_previous_period(history, admin):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    data = ok(admin, "kpi", startDate=yesterday, endDate=yesterday)
    assert data["period"]["start"] == today_at(0, days_ago=1).isoformat()
    assert data["period"]["end"] == today_at(0).isoformat()
    # yesterday: y1 (100 s); the day before: nothing → 0 → 100.0
    assert data["avgResponseTime"] == {"value": 100.0, "trend": "up", "change": 100.0, "slaStatus": "good"}
    assert data["activeConversations"] == {"value": 2, "trend": "up", "change": 100.0}  # y1, y2
    # y2 was open at the end of yesterday; nothing was open the day before
    assert data["openTickets"]["value"] == 1
    assert data["openTickets"]["change"] == 100.0
    both = ok(admin, "kpi", startDate=yesterday, endDate=timezone.localdate().isoformat())
    assert both["activeConversations"]["value"] == 9  # y1, y2, c1..c7


def test_week_and_month_include_today(history, admin):
    for name in ("week", "month"):
        data = ok(admin, "kpi", dateRange=name)
        assert data["period"]["label"] == name
        assert data["activeConversations"]["value"] >= 7


def test_nothing_at_all_gives_zeros_not_errors(midday, admin):
    for section in SECTIONS:
        ok(admin, section)
    kpi = ok(admin, "kpi")
    assert kpi["activeConversations"] == {"value": 0, "trend": "stable", "change": 0.0}
    assert kpi["avgResponseTime"]["slaStatus"] == "good"
    load = ok(admin, "customer-load")
    assert load["peakHour"] == {"hour": None, "count": 0}


def test_sla_status_thresholds(settings):
    from analytics.chat_metrics import sla_status

    settings.SLA_FIRST_RESPONSE_SECONDS = 100
    assert [sla_status(s) for s in (0, 100, 100.1, 200, 200.1)] == ["good", "good", "warning", "warning", "critical"]


# --- cost of a read ------------------------------------------------------------------------------------


def _queries(user: User, section: str) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        ok(user, section)
    return len(captured)


def _more_history(agents: list[User], campaign: Campaign) -> None:
    for i in range(12):
        agent = agents[i % len(agents)]
        convo = conversation(
            agent, today_at(8 + i % 4, 10 + i), first_response_at=today_at(8 + i % 4, 12 + i), priority=Priority.HIGH
        )
        inbound(convo, convo.created_at)
        agent_reply(convo, agent, today_at(8 + i % 4, 12 + i), MessageStatus.FAILED, error_message="No.")
        MessageFactory.create(
            conversation=convo,
            contact=convo.contact,
            direction=Direction.OUTBOUND,
            author_type=AuthorType.BOT,
            status=MessageStatus.QUEUED,
            intent=f"intent {i % 3}",
            created_at=convo.created_at,
        )
    AgentStatusPeriodFactory.create(agent=agents[-1], status=AgentStatus.AWAY, started_at=today_at(11), ended_at=None)
    CallLogFactory.create(agent=agents[0], contact=None, phone_number="+48600000002", started_at=today_at(9))
    CallLogFactory.create(
        agent=agents[-1], contact=None, phone_number="+48600000003", started_at=today_at(9), status=CallStatus.BUSY
    )


@pytest.mark.parametrize("persona", ["admin", "supervisor_a", "agent_a1"])
def test_query_count_does_not_grow_with_history(request, history, persona, campaign_a, agent_a1, agent_a2, agent_b1):
    user: User = request.getfixturevalue(persona)
    small = {section: _queries(user, section) for section in SECTIONS}
    _more_history([agent_a1, agent_a2, agent_b1], campaign_a)
    large = {section: _queries(user, section) for section in SECTIONS}
    assert large == small
    assert max(small.values()) <= 40, small


def test_cached_read_is_cheap(history, admin):
    ok(admin, "kpi")
    with CaptureQueriesContext(connection) as captured:
        ok(admin, "kpi")
    assert len(captured) <= 3, [q["sql"] for q in captured]


# --- audit and catalogue ---------------------------------------------------------------------------------


def test_business_impact_views_are_audited(history, supervisor_a, team_a):
    ok(supervisor_a, "business-impact")
    ok(supervisor_a, "business-impact", team_id=team_a.pk)  # the second is served from the cache
    ok(supervisor_a, "kpi")
    entries = list(AuditLog.objects.order_by("at", "pk"))
    assert [(e.user, e.action, e.resource) for e in entries] == [
        (supervisor_a, AuditAction.VIEW_BUSINESS_IMPACT, "business-impact")
    ] * 2
    today = named_period("today")
    assert entries[0].detail["period"]["start"] == today.start.isoformat()
    assert entries[0].detail["period"]["label"] == "today"
    assert entries[0].detail["team"] is None
    assert entries[1].detail["team"] == team_a.pk


def test_metric_catalogue(admin, agent_a1):
    client = APIClient()
    client.force_authenticate(agent_a1)
    response = client.get("/api/dashboard/metrics")
    assert response.status_code == 200
    catalogue = response.json()
    assert [m["key"] for m in catalogue] == sorted(METRICS)
    by_key = {m["key"]: m for m in catalogue}
    for key in ("first_response_time_avg", "whatsapp_delivery_rate", "open_tickets", "escalation_rate", "top_intents"):
        assert set(by_key[key]) == {"key", "label", "unit", "formula", "drill_down"}
        assert by_key[key]["formula"]
    assert by_key["open_tickets"]["drill_down"] == "/api/conversations?status=open"


def test_every_section_is_registered_metrics_only(history, admin):
    """Each section's numbers come from registered metrics: a Context evaluated directly gives the same."""
    from analytics.access import scope_for
    from analytics.periods import period_from_params
    from analytics.registry import Context
    from analytics.sections import SECTIONS as BUILDERS

    ctx = Context(period_from_params({}), scope_for(admin))
    data = BUILDERS["kpi"](ctx)
    assert data["activeConversations"]["value"] == METRICS["active_conversations"].value(ctx)
    assert data["messagesToday"]["value"] == METRICS["chat_messages"].value(ctx)


# --- the bot reply's intent (crm.actions) ------------------------------------------------------------


def test_bot_reply_records_the_rule_intent(history):
    c5: Conversation = history["c"][5]
    reply = c5.messages.get(author_type=AuthorType.BOT)
    assert reply.intent == "opening hours"
