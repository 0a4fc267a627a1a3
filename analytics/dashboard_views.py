"""The CRM effectiveness dashboard API (API.md "CRM effectiveness dashboard"):
`GET /api/dashboard/<section>` for the seven sections, and `GET /api/dashboard/metrics`, the catalogue
of every metric ("how is this computed").

Views are thin: authorise → period and scope from the query string → cached section build
(analytics/sections.py). Viewing the business impact is written to the audit log, cached or not.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import sections
from analytics.access import scope_for
from analytics.audit import record_audit
from analytics.cache import cached
from analytics.models import AuditAction
from analytics.periods import RANGES, period_from_params
from analytics.registry import METRICS, Context
from crm.access import current_user

PERIOD_PARAMETERS = [
    OpenApiParameter("dateRange", str, enum=list(RANGES), description="today (default), week or month, up to now."),
    OpenApiParameter("startDate", OpenApiTypes.DATE, description="First local day of a custom range (with endDate)."),
    OpenApiParameter("endDate", OpenApiTypes.DATE, description="Last local day of a custom range, inclusive."),
    OpenApiParameter("team_id", int, description="Only this team (supervisors: a team they supervise)."),
]
ERRORS = {
    400: OpenApiResponse(description="Bad dateRange, startDate or endDate (the error names the field)."),
    403: OpenApiResponse(description="A team the user does not supervise."),
    404: OpenApiResponse(description="Unknown team."),
}


def cache_seconds() -> int:
    return int(getattr(settings, "DASHBOARD_CACHE_SECONDS", 30))


def section_context(request: Request) -> tuple[Context, str | None]:
    """The period and scope of the request (a bad period is a 400 naming its field), and the team filter."""
    now = timezone.now()
    period = period_from_params(request.query_params, now)
    team_id = request.query_params.get("team_id") or None
    return Context(period, scope_for(current_user(request), team_id=team_id), now), team_id


def _cache_key(section: str, ctx: Context) -> str:
    period = ctx.period
    # A range up to now is cached under its name and start, so it is reused for the cache lifetime
    # (writes that change counters bump the data version at once); a custom range by its bounds.
    end = period.label if period.label in RANGES else period.end.isoformat()
    return f"dashboard:{section}:{ctx.scope.cache_key}:{period.start.isoformat()}:{end}"


def section_data(section: str, ctx: Context) -> dict[str, Any]:
    """One section's figures for `ctx`, through the metric cache (the API and realtime pushes share it)."""
    build = sections.SECTIONS[section]
    return cached(_cache_key(section, ctx), lambda: build(ctx), timeout=cache_seconds())


class DashboardSectionView(APIView):
    section = ""

    def respond(self, request: Request) -> Response:
        ctx, team_id = section_context(request)
        data = section_data(self.section, ctx)
        if self.section == "business-impact":
            record_audit(
                current_user(request),
                AuditAction.VIEW_BUSINESS_IMPACT,
                "business-impact",
                {"period": ctx.period.as_dict(), "team": int(team_id) if team_id else None},
            )
        return Response({**data, "period": ctx.period.as_dict()})


# --- response shapes (OpenAPI) -------------------------------------------------------------------------

Spec = dict[str, Any]


def _shape(name: str, spec: Spec, **kwargs: Any) -> serializers.Serializer:
    """A nested spec ({field: serializer field | spec | [spec]}) as inline serializers for the schema."""
    fields: dict[str, serializers.Field] = {}
    for key, kind in spec.items():
        child = f"{name}{key[0].upper()}{key[1:]}"
        if isinstance(kind, dict):
            fields[key] = _shape(child, kind)
        elif isinstance(kind, list):
            fields[key] = _shape(child, kind[0], many=True)
        else:
            fields[key] = kind
    return inline_serializer(name, fields, **kwargs)


def _int() -> serializers.IntegerField:
    return serializers.IntegerField()


def _num(help_text: str = "") -> serializers.FloatField:
    return serializers.FloatField(help_text=help_text)


def _text(help_text: str = "") -> serializers.CharField:
    return serializers.CharField(help_text=help_text)


def _trend_spec(value: serializers.Field | None = None) -> Spec:
    return {
        "value": value or _int(),
        "trend": _text("up, down or stable"),
        "change": _num("% against the previous period"),
    }


PERIOD_SPEC: Spec = {"start": serializers.DateTimeField(), "end": serializers.DateTimeField(), "label": _text()}

SHAPES: dict[str, Spec] = {
    "kpi": {
        "activeConversations": _trend_spec(),
        "avgResponseTime": {**_trend_spec(_num("seconds")), "slaStatus": _text("good, warning or critical")},
        "whatsappDeliveryRate": _trend_spec(_num("%")),
        "openTickets": {**_trend_spec(), "byPriority": {"high": _int(), "medium": _int(), "low": _int()}},
        "messagesToday": _trend_spec(),
        "callsMade": _trend_spec(),
        "callSuccessRate": _trend_spec(_num("% of ended calls that completed")),
        "averageHandleTime": _trend_spec(_num("seconds (talk + wrap-up per connected call)")),
    },
    "conversation-effectiveness": {
        "conversationsPerAgent": [
            {"agentId": _int(), "agentName": _text(), "count": _int(), "avgResponseTime": _num("seconds")}
        ],
        "avgResponseTimeOverTime": [{"timestamp": serializers.DateTimeField(), "avgSeconds": _num()}],
        "slaCompliance": {"percentage": _num(), "compliant": _int(), "nonCompliant": _int()},
        "resolvedVsOpen": {"resolved": _int(), "open": _int(), "percentage": _num()},
    },
    "whatsapp-performance": {
        "messageFunnel": {"sent": _int(), "delivered": _int(), "read": _int(), "failed": _int()},
        "broadcastSuccessRate": {"total": _int(), "successful": _int(), "failed": _int(), "percentage": _num()},
        "failedMessages": [
            {"id": _int(), "recipient": _text(), "error": _text(), "timestamp": serializers.DateTimeField()}
        ],
        "activeSessions": [
            {
                "sessionId": _text(),
                "phoneNumber": _text(),
                "status": _text("connected, disconnected or reconnecting"),
                "lastSeen": serializers.DateTimeField(allow_null=True),
            }
        ],
        "queueMetrics": {"depth": _int(), "processingRate": _num("messages per minute")},
    },
    "customer-load": {
        "incomingChatsPerHour": [{"hour": _int(), "count": _int()}],
        "peakHour": {"hour": serializers.IntegerField(allow_null=True), "count": _int()},
        "newVsReturning": {"new": _int(), "returning": _int()},
        "avgWaitTime": {"peak": _num("seconds"), "offPeak": _num("seconds")},
        "heatmap": [{"dayOfWeek": _int(), "hour": _int(), "count": _int()}],
    },
    "agent-productivity": {
        "agentMetrics": [
            {
                "agentId": _int(),
                "agentName": _text(),
                "chatsHandled": _int(),
                "resolutionRate": _num(),
                "idleTime": _int(),
                "activeTime": _int(),
                "avgHandlingTime": _num("seconds"),
                "status": _text("online, away or offline"),
                "statusDuration": _int(),
            }
        ],
        "workloadDistribution": {"balanced": _int(), "overloaded": _int(), "underutilized": _int()},
    },
    "automation-impact": {
        "chatbotVsHuman": {"chatbot": _int(), "human": _int(), "percentage": _num()},
        "autoReplySuccess": {"total": _int(), "successful": _int(), "percentage": _num()},
        "dropOffRate": {"total": _int(), "dropped": _int(), "percentage": _num()},
        "topIntents": [{"intent": _text(), "count": _int(), "successRate": _num()}],
        "timeSaved": {"hours": _num(), "estimatedCost": _num(), "currency": _text()},
        "escalationRate": {"total": _int(), "escalated": _int(), "percentage": _num()},
    },
    "business-impact": {
        "leadsGenerated": {"total": _int(), "trend": _text(), "change": _num()},
        "ticketsResolved": {"today": _int(), "week": _int(), "month": _int()},
        "campaignConversion": [
            {
                "campaignId": _int(),
                "campaignName": _text(),
                "sent": _int(),
                "responded": _int(),
                "converted": _int(),
                "conversionRate": _num(),
            }
        ],
        "repeatCustomerRate": {"rate": _num(), "trend": _text(), "change": _num()},
        "costPerConversation": {"amount": _num(), "savings": _num(), "currency": _text()},
    },
}


def _section_schema(section: str, description: str) -> Any:
    name = "Dashboard" + "".join(part.title() for part in section.split("-"))
    return extend_schema(
        operation_id=f"dashboard_{section.replace('-', '_')}",
        description=description,
        parameters=PERIOD_PARAMETERS,
        responses={200: _shape(name, {**SHAPES[section], "period": PERIOD_SPEC}), **ERRORS},
    )


class KpiView(DashboardSectionView):
    section = "kpi"

    @_section_schema("kpi", "The KPI strip, each with its trend against the previous period.")
    def get(self, request: Request) -> Response:
        return self.respond(request)


class ConversationEffectivenessView(DashboardSectionView):
    section = "conversation-effectiveness"

    @_section_schema(section, "Conversations per agent, first response time over time, SLA, resolved vs open.")
    def get(self, request: Request) -> Response:
        return self.respond(request)


class WhatsAppPerformanceView(DashboardSectionView):
    section = "whatsapp-performance"

    @_section_schema(section, "Message funnel, broadcasts, failed messages, senders and the outbound queue.")
    def get(self, request: Request) -> Response:
        return self.respond(request)


class CustomerLoadView(DashboardSectionView):
    section = "customer-load"

    @_section_schema(section, "Incoming chats by hour of day and weekday (0 = Sunday), peak, new vs returning.")
    def get(self, request: Request) -> Response:
        return self.respond(request)


class AgentProductivityView(DashboardSectionView):
    section = "agent-productivity"

    @_section_schema(section, "Per-agent chats, resolution, idle/active time, current state; workload balance.")
    def get(self, request: Request) -> Response:
        return self.respond(request)


class AutomationImpactView(DashboardSectionView):
    section = "automation-impact"

    @_section_schema(section, "Chatbot vs human, auto-replies, drop-off, intents, time saved, escalations.")
    def get(self, request: Request) -> Response:
        return self.respond(request)


class BusinessImpactView(DashboardSectionView):
    section = "business-impact"

    @_section_schema(section, "Leads, tickets resolved, campaign conversion, repeat customers, cost. Audited.")
    def get(self, request: Request) -> Response:
        return self.respond(request)


SECTION_VIEWS: dict[str, type[DashboardSectionView]] = {
    view.section: view
    for view in (
        KpiView,
        ConversationEffectivenessView,
        WhatsAppPerformanceView,
        CustomerLoadView,
        AgentProductivityView,
        AutomationImpactView,
        BusinessImpactView,
    )
}


class MetricCatalogueView(APIView):
    @extend_schema(
        operation_id="dashboard_metric_catalogue",
        description="Every registered metric: what each dashboard number means and how it is computed.",
        responses={
            200: inline_serializer(
                "MetricDefinition",
                {
                    "key": _text(),
                    "label": _text(),
                    "unit": _text("count, seconds, percent, score, hours or money"),
                    "formula": _text(),
                    "drill_down": _text("The raw rows behind the number, with {placeholders}."),
                },
                many=True,
            )
        },
    )
    def get(self, request: Request) -> Response:
        from analytics import call_metrics  # noqa: F401 - registers the call metrics

        return Response([metric.describe() for _, metric in sorted(METRICS.items())])
