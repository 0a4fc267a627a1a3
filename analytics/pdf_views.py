"""`GET /api/dashboard/export.pdf`: the supervisor dashboard as it is on screen — the KPI strip and every
section's figures — as a PDF of plain tables (WeasyPrint), for the same period and team parameters and
with the same access rules as the section APIs. Written to the audit log like every export.

The tables hold the numbers the section APIs return for the same query (one `section_data` read per
section, through the same cache), formatted by each metric's unit; the last page repeats how each
metric is computed, from the metrics registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request

from analytics import exports, sections
from analytics.audit import record_audit
from analytics.dashboard_views import PERIOD_PARAMETERS, section_context, section_data
from analytics.export_views import ExportView
from analytics.models import AuditAction
from analytics.registry import get
from crm.access import current_user
from crm.models import Team, User

PDF_MEDIA_TYPE = "application/pdf"
# JavaScript's Date.getDay() numbering, as the customer-load heatmap uses it (0 = Sunday).
WEEKDAYS = (
    gettext_noop("Sun"),
    gettext_noop("Mon"),
    gettext_noop("Tue"),
    gettext_noop("Wed"),
    gettext_noop("Thu"),
    gettext_noop("Fri"),
    gettext_noop("Sat"),
)


# --- formatting (by the metric's unit, as the screen does) ---------------------------------------------


def duration(seconds: Any) -> str:
    """h:mm:ss, as Callboard.fmt.duration shows it on screen."""
    total = max(0, int(float(seconds or 0)))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def fmt(value: Any, unit: str, currency: str = "") -> str:
    if value is None:
        return "–"
    if unit == "seconds":
        return duration(value)
    if unit == "percent":
        return f"{number_format(value, 1, use_l10n=True)} %"
    if unit == "hours":
        return f"{number_format(value, 1, use_l10n=True)} h"
    if unit == "money":
        return f"{number_format(value, 2, use_l10n=True, force_grouping=True)} {currency}".strip()
    if isinstance(value, float) and not value.is_integer():
        return number_format(value, 1, use_l10n=True, force_grouping=True)
    return number_format(int(value), 0, use_l10n=True, force_grouping=True)


def fmt_change(trend: str, change: float) -> str:
    arrow = {"up": "▲", "down": "▼"}.get(trend, "▶")
    sign = "+" if change > 0 else ""
    return f"{arrow} {sign}{number_format(change, 1, use_l10n=True)} %"


def trend_label(trend: str) -> str:
    return {"up": _("up"), "down": _("down"), "stable": _("stable")}.get(trend, trend)


def local_time(iso: str | None, *, with_date: bool = True) -> str:
    moment: datetime | None = parse_datetime(iso) if iso else None
    if moment is None:
        return "–"
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


# --- the document -------------------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    empty: str = ""


@dataclass
class Part:
    title: str
    tables: list[Table]


class Document:
    """Collects the tables and the metrics they use (for the definitions at the end)."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def label(self, key: str) -> str:
        if key not in self.used:
            self.used.append(key)
        return str(get(key).label)

    def metric_rows(self, items: Iterable[tuple[str, str, Any]], currency: str = "") -> list[list[str]]:
        """Rows (label, value) of (metric key, label suffix, value), formatted by the metric's unit."""
        rows = []
        for key, suffix, value in items:
            label = self.label(key) + (f" — {suffix}" if suffix else "")
            rows.append([label, fmt(value, get(key).unit, currency)])
        return rows

    def definitions(self) -> list[list[str]]:
        return [[str(get(key).label), str(get(key).formula)] for key in self.used]


def kpi_part(doc: Document, kpi: dict[str, Any]) -> Part:
    items = (
        ("activeConversations", "active_conversations"),
        ("avgResponseTime", "first_response_time_avg"),
        ("whatsappDeliveryRate", "whatsapp_delivery_rate"),
        ("openTickets", "open_tickets"),
        ("messagesToday", "chat_messages"),
    )
    rows = []
    for name, key in items:
        figure = kpi[name]
        note = ""
        if "slaStatus" in figure:
            note = _("SLA: %(status)s") % {"status": figure["slaStatus"]}
        if "byPriority" in figure:
            note = ", ".join(f"{level}: {fmt(count, 'count')}" for level, count in figure["byPriority"].items())
        rows.append(
            [
                doc.label(key),
                fmt(figure["value"], get(key).unit),
                f"{trend_label(figure['trend'])} {fmt_change(figure['trend'], figure['change'])}",
                note,
            ]
        )
    columns = [_("Metric"), _("Value"), _("Trend vs previous period"), _("Detail")]
    return Part(_("Key figures"), [Table(_("KPI strip"), columns, rows)])


def conversation_part(doc: Document, data: dict[str, Any]) -> Part:
    sla, resolved = data["slaCompliance"], data["resolvedVsOpen"]
    summary = doc.metric_rows(
        [
            ("sla_compliance", "", sla["percentage"]),
            ("sla_compliant", "", sla["compliant"]),
            ("sla_non_compliant", "", sla["nonCompliant"]),
            ("conversations_resolved", "", resolved["resolved"]),
            ("conversations_unresolved", "", resolved["open"]),
            ("resolution_rate", "", resolved["percentage"]),
        ]
    )
    per_agent = [
        [row["agentName"], fmt(row["count"], "count"), duration(row["avgResponseTime"])]
        for row in data["conversationsPerAgent"]
    ]
    over_time = [[local_time(row["timestamp"]), duration(row["avgSeconds"])] for row in data["avgResponseTimeOverTime"]]
    frt = doc.label("first_response_time_avg")
    return Part(
        _("Conversation effectiveness"),
        [
            Table(_("Summary"), [_("Metric"), _("Value")], summary),
            Table(
                _("Conversations per agent"),
                [_("Agent"), doc.label("conversations"), frt],
                per_agent,
                _("No conversations in this period."),
            ),
            Table(
                _("Average first response time over time"),
                [_("From"), frt],
                over_time,
                _("No first responses in this period."),
            ),
        ],
    )


def whatsapp_part(doc: Document, data: dict[str, Any]) -> Part:
    funnel, broadcasts, queue = data["messageFunnel"], data["broadcastSuccessRate"], data["queueMetrics"]
    summary = doc.metric_rows(
        [
            ("whatsapp_sent", "", funnel["sent"]),
            ("whatsapp_delivered", "", funnel["delivered"]),
            ("whatsapp_read", "", funnel["read"]),
            ("whatsapp_failed", "", funnel["failed"]),
            ("broadcast_messages", "", broadcasts["total"]),
            ("broadcast_successful", "", broadcasts["successful"]),
            ("broadcast_failed", "", broadcasts["failed"]),
            ("broadcast_success_rate", "", broadcasts["percentage"]),
            ("queue_depth", "", queue["depth"]),
            ("queue_processing_rate", "", queue["processingRate"]),
        ]
    )
    doc.label("failed_messages")
    doc.label("whatsapp_sessions")
    failed = [[row["recipient"], row["error"], local_time(row["timestamp"])] for row in data["failedMessages"]]
    senders = [[row["phoneNumber"], row["status"], local_time(row["lastSeen"])] for row in data["activeSessions"]]
    return Part(
        _("WhatsApp performance"),
        [
            Table(_("Summary"), [_("Metric"), _("Value")], summary),
            Table(
                _("Failed messages"),
                [_("Recipient"), _("Error"), _("Time")],
                failed,
                _("No failed messages in this period."),
            ),
            Table(
                _("WhatsApp senders"),
                [_("Number"), _("Status"), _("Last seen")],
                senders,
                _("No WhatsApp sender is configured."),
            ),
        ],
    )


def customer_part(doc: Document, data: dict[str, Any]) -> Part:
    peak, wait, kinds = data["peakHour"], data["avgWaitTime"], data["newVsReturning"]
    peak_text = f"{peak['hour']:02d}:00–{peak['hour']:02d}:59" if peak["hour"] is not None else "–"
    summary = [
        [_("Peak hour"), peak_text],
        *doc.metric_rows(
            [
                ("conversations", _("in the peak hour"), peak["count"]),
                ("conversations_new", "", kinds["new"]),
                ("conversations_returning", "", kinds["returning"]),
                ("first_response_time_avg", _("peak hour"), wait["peak"]),
                ("first_response_time_avg", _("other hours"), wait["offPeak"]),
            ]
        ),
    ]
    per_hour = [[f"{row['hour']:02d}:00", fmt(row["count"], "count")] for row in data["incomingChatsPerHour"]]
    cells: dict[tuple[int, int], int] = {(c["dayOfWeek"], c["hour"]): c["count"] for c in data["heatmap"]}
    # Monday first, as people read a week
    heatmap = [[_(WEEKDAYS[d]), *(str(cells.get((d, h), 0)) for h in range(24))] for d in (1, 2, 3, 4, 5, 6, 0)]
    return Part(
        _("Customer load"),
        [
            Table(_("Summary"), [_("Metric"), _("Value")], summary),
            Table(_("Incoming chats per hour of day"), [_("Hour"), doc.label("conversations")], per_hour),
            Table(_("Incoming chats by weekday and hour"), [_("Day"), *(f"{h:02d}" for h in range(24))], heatmap),
        ],
    )


def productivity_part(doc: Document, data: dict[str, Any]) -> Part:
    columns = [
        _("Agent"),
        doc.label("conversations"),
        doc.label("resolution_rate"),
        doc.label("agent_active_time"),
        doc.label("agent_idle_time"),
        doc.label("resolution_time_avg"),
        doc.label("agent_presence"),
        _("In status for"),
    ]
    rows = [
        [
            row["agentName"],
            fmt(row["chatsHandled"], "count"),
            fmt(row["resolutionRate"], "percent"),
            duration(row["activeTime"]),
            duration(row["idleTime"]),
            duration(row["avgHandlingTime"]),
            row["status"],
            duration(row["statusDuration"]),
        ]
        for row in data["agentMetrics"]
    ]
    load = data["workloadDistribution"]
    workload = [
        [_("Balanced"), fmt(load["balanced"], "count")],
        [_("Overloaded"), fmt(load["overloaded"], "count")],
        [_("Underutilized"), fmt(load["underutilized"], "count")],
    ]
    return Part(
        _("Agent productivity"),
        [
            Table(_("Agents"), columns, rows, _("No agents in this scope.")),
            Table(
                _("Workload distribution (agents by chats handled against the mean)"),
                [_("Load"), _("Agents")],
                workload,
            ),
        ],
    )


def automation_part(doc: Document, data: dict[str, Any], currency: str) -> Part:
    bot, auto, drop = data["chatbotVsHuman"], data["autoReplySuccess"], data["dropOffRate"]
    saved, escalation = data["timeSaved"], data["escalationRate"]
    summary = doc.metric_rows(
        [
            ("chatbot_resolved", "", bot["chatbot"]),
            ("human_handled", "", bot["human"]),
            ("chatbot_share", "", bot["percentage"]),
            ("bot_first", "", auto["total"]),
            ("auto_reply_successful", "", auto["successful"]),
            ("auto_reply_success_rate", "", auto["percentage"]),
            ("bot_drop_off", _("dropped"), drop["dropped"]),
            ("escalated", "", escalation["escalated"]),
            ("escalation_rate", "", escalation["percentage"]),
            ("time_saved_hours", "", saved["hours"]),
            ("time_saved_cost", "", saved["estimatedCost"]),
        ],
        currency=saved.get("currency") or currency,
    )
    # the drop-off metric counts conversations; its rate is dropped / total
    summary.insert(7, [f"{doc.label('bot_drop_off')} — {_('rate')}", fmt(drop["percentage"], "percent")])
    intents = [
        [row["intent"], fmt(row["count"], "count"), fmt(row["successRate"], "percent")] for row in data["topIntents"]
    ]
    return Part(
        _("Automation impact"),
        [
            Table(_("Summary"), [_("Metric"), _("Value")], summary),
            Table(
                doc.label("top_intents"),
                [_("Intent"), _("Replies"), _("Success rate")],
                intents,
                _("The bot answered nothing in this period."),
            ),
        ],
    )


def business_part(doc: Document, data: dict[str, Any], currency: str) -> Part:
    leads, repeat, cost, tickets = (
        data["leadsGenerated"],
        data["repeatCustomerRate"],
        data["costPerConversation"],
        data["ticketsResolved"],
    )
    money = cost.get("currency") or currency
    summary = [
        [doc.label("leads_generated"), fmt(leads["total"], "count"), fmt_change(leads["trend"], leads["change"])],
        [
            doc.label("repeat_customer_rate"),
            fmt(repeat["rate"], "percent"),
            fmt_change(repeat["trend"], repeat["change"]),
        ],
        [doc.label("cost_per_conversation"), fmt(cost["amount"], "money", money), ""],
        [doc.label("time_saved_cost"), fmt(cost["savings"], "money", money), ""],
        [f"{doc.label('tickets_resolved')} — {_('today')}", fmt(tickets["today"], "count"), ""],
        [f"{doc.label('tickets_resolved')} — {_('this week')}", fmt(tickets["week"], "count"), ""],
        [f"{doc.label('tickets_resolved')} — {_('this month')}", fmt(tickets["month"], "count"), ""],
    ]
    campaigns = [
        [
            row["campaignName"],
            fmt(row["sent"], "count"),
            fmt(row["responded"], "count"),
            fmt(row["converted"], "count"),
            fmt(row["conversionRate"], "percent"),
        ]
        for row in data["campaignConversion"]
    ]
    columns = [
        _("Campaign"),
        doc.label("broadcast_successful"),
        doc.label("campaign_responded"),
        doc.label("leads_converted"),
        doc.label("campaign_conversion_rate"),
    ]
    return Part(
        _("Business impact"),
        [
            Table(_("Summary"), [_("Metric"), _("Value"), _("Trend vs previous period")], summary),
            Table(_("Campaign conversion"), columns, campaigns, _("No campaign activity in this period.")),
        ],
    )


def build_parts(data: dict[str, dict[str, Any]], currency: str) -> tuple[list[Part], Document]:
    doc = Document()
    parts = [
        kpi_part(doc, data["kpi"]),
        conversation_part(doc, data["conversation-effectiveness"]),
        whatsapp_part(doc, data["whatsapp-performance"]),
        customer_part(doc, data["customer-load"]),
        productivity_part(doc, data["agent-productivity"]),
        automation_part(doc, data["automation-impact"], currency),
        business_part(doc, data["business-impact"], currency),
    ]
    return parts, doc


def scope_title(user: User, team_id: str | None) -> str:
    if team_id:
        name = Team.objects.filter(pk=int(team_id)).values_list("name", flat=True).first()
        return _("Team %(name)s") % {"name": name}
    if user.is_admin:
        return _("Whole organisation")
    return _("All teams you supervise")


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # heavy import (Pango, fonts): only when a PDF is asked for

    return bytes(HTML(string=html).write_pdf())


class DashboardPdfView(ExportView):
    @extend_schema(
        operation_id="dashboard_pdf_export",
        description="The KPI strip and every section's figures for the period and team, as PDF tables. Audited.",
        parameters=PERIOD_PARAMETERS,
        responses={
            (200, PDF_MEDIA_TYPE): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="Bad dateRange, startDate, endDate or team_id (the error names it)."),
            403: OpenApiResponse(description="A team the user does not supervise."),
            404: OpenApiResponse(description="Unknown team."),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        user = current_user(request)
        ctx, team_id = section_context(request)
        data = {name: section_data(name, ctx) for name in sections.SECTIONS}
        currency = str(data["automation-impact"]["timeSaved"].get("currency", ""))
        parts, doc = build_parts(data, currency)
        html = render_to_string(
            "analytics/dashboard_pdf.html",
            {
                "parts": parts,
                "definitions": doc.definitions(),
                "scope": scope_title(user, team_id),
                "period": ctx.period,
                "first_day": ctx.period.first_day,
                "last_day": ctx.period.last_day,
                "generated_at": timezone.localtime(ctx.now),
                "user": user,
            },
            request=request._request,
        )
        pdf = render_pdf(html)
        record_audit(
            user,
            AuditAction.EXPORT,
            resource="dashboard-pdf",
            detail={"format": "pdf", "period": ctx.period.as_dict(), "team_id": int(team_id) if team_id else None},
        )
        response = HttpResponse(pdf, content_type=PDF_MEDIA_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{exports.filename("dashboard", ctx.period, "pdf")}"'
        response["Cache-Control"] = "private, no-store"
        return response
