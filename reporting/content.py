"""What a daily or weekly report says: its figures, built from the metrics registry and the dashboard's
section builders (analytics/registry.py, analytics/sections.py), so a report shows the numbers the
dashboards show for the same period and scope.

- `report_period(report_type, day)`: the dates a report sent on local date `day` covers.
- `build_report(...)`: the report's data, JSON-serialisable (stored on ReportDelivery.data, rendered to
  PDF by reporting.rendering, summarised in the e-mail body and on Slack).

Numbers are stored raw (seconds, percentages, counts) beside their metric's key, label and unit; only the
`summary` carries display strings, for messages that have no template. docs/reports-content.md lists
every key.

Dates are local dates in the report's time zone (default settings.TIME_ZONE): the period is built like
the dashboards' `startDate..endDate` (analytics.periods.custom_period) with that zone active, so a day
is [D 00:00, D+1 00:00) there; the rollups keep the organisation's hours, and a zone whose hours differ
is read with the raw rows at the edges (crm/rollups.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import dateformat
from django.utils import timezone as dj_timezone

from analytics import call_metrics, chat_metrics, sections
from analytics.access import AnalyticsScope, agent_scope, team_scope
from analytics.agent_views import agent_kpi_rows
from analytics.pdf_views import duration, fmt, fmt_change
from analytics.periods import MAX_CUSTOM_DAYS, PeriodError, custom_period, with_trend
from analytics.registry import Context, get, ratio, value
from calls.models import AgentHourRollup, CallOutcome
from crm.models import ChatHourRollup, LeadStatus, Team, User
from crm.rollups import EVERYONE
from reporting.models import ReportType

# The KPI strip of the dashboard (analytics.sections.build_kpi): its field → the metric it shows.
KPI_STRIP = {
    "callsMade": "calls_made",
    "callSuccessRate": "success_rate",
    "averageHandleTime": "aht",
    "activeConversations": "active_conversations",
    "avgResponseTime": "first_response_time_avg",
    "messagesToday": "chat_messages",
    "whatsappDeliveryRate": "whatsapp_delivery_rate",
    "openTickets": "open_tickets",
}
# Weekly: the figures compared with the previous week besides the KPI strip.
WEEKLY_EXTRA = (
    "successful_calls",
    "total_talk_time",
    "occupancy",
    "conversations",
    "sla_compliance",
    "resolution_rate",
    "leads_new",
    "leads_converted",
    "lead_conversion_rate",
)
# Which way a metric should move: "up" (more is better), "down" (less is better); others are neutral.
BETTER = {
    "calls_made": "up",
    "successful_calls": "up",
    "failed_calls": "down",
    "success_rate": "up",
    "occupancy": "up",
    "first_response_time_avg": "down",
    "whatsapp_delivery_rate": "up",
    "open_tickets": "down",
    "sla_compliance": "up",
    "resolution_rate": "up",
    "resolution_time_avg": "down",
    "leads_new": "up",
    "leads_contacted": "up",
    "leads_qualified": "up",
    "leads_converted": "up",
    "leads_lost": "down",
    "lead_conversion_rate": "up",
}
CALL_FIGURES = ("calls_made", "successful_calls", "failed_calls", "success_rate", "total_talk_time", "aht")
# The call outcome breakdown: outcome → its metric (a `lead` outcome is the agents' "Leads" stat).
OUTCOME_METRICS = {
    outcome: "leads_today" if outcome == CallOutcome.LEAD else f"calls_outcome_{outcome}"
    for outcome in CallOutcome.values
}
LEAD_FUNNEL = ("leads_new", "leads_contacted", "leads_qualified", "leads_converted")
LEAD_STATUS_METRICS = {
    LeadStatus.NEW: "leads_new",
    LeadStatus.CONTACTED: "leads_contacted",
    LeadStatus.QUALIFIED: "leads_qualified",
    LeadStatus.CONVERTED: "leads_converted",
    LeadStatus.LOST: "leads_lost",
}
# The staff table: call KPIs (the team table, analytics.agent_views.agent_kpi_rows), the agent's leads,
# and chat figures (the agent productivity section): metric key → where the row's value comes from.
STAFF_COLUMNS = (
    "calls_made",
    "successful_calls",
    "success_rate",
    "total_talk_time",
    "aht",
    "occupancy",
    "leads_today",
    "conversations",
    "resolution_rate",
)
STAFF_COMPARISON_COLUMNS = ("calls_made", "success_rate", "total_talk_time", "aht", "conversations", "resolution_rate")
# agent productivity's row fields, by the metric each shows
PRODUCTIVITY_FIELDS = {"conversations": "chatsHandled", "resolution_rate": "resolutionRate"}
SHORT_LABELS = {
    "calls_made": "Calls",
    "successful_calls": "Successful",
    "success_rate": "Success rate",
    "total_talk_time": "Talk time",
    "aht": "AHT",
    "occupancy": "Occupancy",
    "leads_today": "Leads",
    "conversations": "Chats",
    "resolution_rate": "Resolution",
}
SUMMARY = {
    ReportType.DAILY: (
        "calls_made",
        "success_rate",
        "total_talk_time",
        "aht",
        "conversations",
        "first_response_time_avg",
        "leads_new",
        "leads_converted",
    ),
    ReportType.WEEKLY: (
        "calls_made",
        "success_rate",
        "aht",
        "conversations",
        "first_response_time_avg",
        "sla_compliance",
        "leads_new",
        "lead_conversion_rate",
    ),
}


class ReportError(ValueError):
    """A report that cannot be built as asked (unknown team, bad dates...), with a sentence saying why."""


# --- periods ---------------------------------------------------------------------------------------------


def report_period(report_type: str, day: date) -> tuple[date, date]:
    """The inclusive local dates a report sent on local date `day` covers: daily → the day before;
    weekly → the last complete Monday–Sunday week before the week of `day`."""
    if report_type == ReportType.DAILY:
        yesterday = day - timedelta(days=1)
        return yesterday, yesterday
    if report_type == ReportType.WEEKLY:
        monday = day - timedelta(days=day.weekday()) - timedelta(days=7)
        return monday, monday + timedelta(days=6)
    raise ReportError(f"A report is daily or weekly, not {report_type!r}.")


def report_zone(name: str | None) -> ZoneInfo:
    """The report's time zone (empty: the organisation's, settings.TIME_ZONE)."""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(f"{name!r} is not a known IANA time zone (e.g. Europe/Warsaw).") from None


@contextmanager
def in_zone(name: str | None) -> Iterator[ZoneInfo]:
    """Local dates and hours of the report's time zone for everything inside (periods, hours of day)."""
    zone = report_zone(name)
    with dj_timezone.override(zone):
        yield zone


def day_label(day: date) -> str:
    return dateformat.format(day, "l j F Y")


def dates_label(start: date, end: date) -> str:
    """ "Tuesday 5 May 2026", or "27 April – 3 May 2026" for several days."""
    if start == end:
        return day_label(start)
    if start.year != end.year:
        return f"{dateformat.format(start, 'j F Y')} – {dateformat.format(end, 'j F Y')}"
    if start.month != end.month:
        return f"{dateformat.format(start, 'j F')} – {dateformat.format(end, 'j F Y')}"
    return f"{start.day}–{dateformat.format(end, 'j F Y')}"


def _long(day: date) -> str:
    return dateformat.format(day, "j F Y")


def _is_week(start: date, end: date) -> bool:
    return start.weekday() == 0 and end == start + timedelta(days=6)


# --- scope -----------------------------------------------------------------------------------------------


def _scope(team_id: int | None, agent_id: int | None) -> tuple[AnalyticsScope, dict[str, Any]]:
    if team_id is not None and agent_id is not None:
        raise ReportError("A report covers the organisation, one team or one agent: not a team and an agent.")
    if team_id is not None:
        name = Team.objects.filter(pk=team_id).values_list("name", flat=True).first()
        if name is None:
            raise ReportError(f"There is no team {team_id}.")
        return team_scope(team_id), {"kind": "team", "team_id": team_id, "agent_id": None, "label": f"Team {name}"}
    if agent_id is not None:
        agent = User.objects.filter(pk=agent_id).first()
        if agent is None:
            raise ReportError(f"There is no user {agent_id}.")
        label = agent.get_full_name() or agent.username
        return agent_scope(agent), {"kind": "agent", "team_id": None, "agent_id": agent_id, "label": label}
    return AnalyticsScope(EVERYONE, None), {
        "kind": "organisation",
        "team_id": None,
        "agent_id": None,
        "label": "Whole organisation",
    }


# --- figures ---------------------------------------------------------------------------------------------


class Figures:
    """Makes figure dicts and remembers which metrics the report used (for its definitions)."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def use(self, key: str) -> str:
        if key not in self.used:
            self.used.append(key)
        return key

    def figure(self, key: str, amount: Any) -> dict[str, Any]:
        metric = get(self.use(key))
        return {"key": key, "label": metric.label, "unit": metric.unit, "value": amount}

    def trend(self, key: str, amount: float, previous: float, shown: dict[str, Any] | None = None) -> dict[str, Any]:
        """A figure with its previous value, change % and trend (METRICS.md "Trends"); `shown` is the
        dashboard's own {value, trend, change} for it when the dashboard has one."""
        compared = shown if shown is not None else with_trend(amount, previous)
        return {
            **self.figure(key, compared["value"]),
            "previous": previous,
            "change": compared["change"],
            "trend": compared["trend"],
            "better": BETTER.get(key, ""),
        }

    def definitions(self) -> list[dict[str, str]]:
        return [
            {"key": key, "label": get(key).label, "unit": get(key).unit, "formula": get(key).formula}
            for key in self.used
        ]


def _local_hour(moment: datetime) -> datetime:
    return dj_timezone.localtime(moment)


def _kpi_strip(ctx: Context, figures: Figures) -> list[dict[str, Any]]:
    """The dashboard's KPI strip for the period, each figure against the previous period."""
    kpi = sections.build_kpi(ctx)
    before = ctx.previous
    strip = []
    for name, key in KPI_STRIP.items():
        previous = value(key, before)
        if isinstance(previous, dict):  # open tickets: by priority
            previous = sum(previous.values())
        item = figures.trend(key, 0, previous, kpi[name])
        if "slaStatus" in kpi[name]:
            item["sla_status"] = kpi[name]["slaStatus"]
        if "byPriority" in kpi[name]:
            item["by_priority"] = kpi[name]["byPriority"]
        strip.append(item)
    return strip


def _compared(ctx: Context, keys: Iterable[str], figures: Figures) -> list[dict[str, Any]]:
    before = ctx.previous
    return [figures.trend(key, value(key, ctx), value(key, before)) for key in keys]


def _calls(ctx: Context, figures: Figures) -> dict[str, Any]:
    counters = ctx.calls
    statuses = [
        {"status": status, "label": label, "value": counters.get(f"calls_{status}", 0)}
        for status, label in (
            ("completed", "Completed"),
            ("no_answer", "No answer"),
            ("busy", "Busy"),
            ("failed", "Failed"),
            ("dropped", "Dropped"),
            ("in_progress", "In progress"),
        )
    ]
    return {
        "figures": [figures.figure(key, value(key, ctx)) for key in CALL_FIGURES],
        # the calls behind successful / failed: completed is successful, the next four failed
        "by_status": statuses,
    }


def _outcomes(ctx: Context, figures: Figures) -> dict[str, Any]:
    total = value("calls_made", ctx)
    rows = []
    for outcome, key in OUTCOME_METRICS.items():
        count = value(figures.use(key), ctx)
        rows.append(
            {
                "outcome": outcome,
                "key": key,
                "label": str(CallOutcome(outcome).label),
                "value": count,
                "share": ratio(count, total, percent=True),
            }
        )
    without = value(figures.use("calls_without_outcome"), ctx)
    rows.append(
        {
            "outcome": "",
            "key": "calls_without_outcome",
            "label": get("calls_without_outcome").label,
            "value": without,
            "share": ratio(without, total, percent=True),
        }
    )
    return {"calls": total, "rows": rows}


def _leads(ctx: Context, figures: Figures) -> dict[str, Any]:
    before = ctx.previous
    by_status = [
        {"status": status, "label": str(LeadStatus(status).label), **figures.figure(key, value(key, ctx))}
        for status, key in LEAD_STATUS_METRICS.items()
    ]
    return {
        "by_status": by_status,
        "figures": [
            figures.trend(key, value(key, ctx), value(key, before))
            for key in ("leads_generated", "lead_status_changes", "lead_conversion_rate")
        ],
    }


def _time_of_day(ctx: Context, figures: Figures) -> dict[str, Any]:
    """Calls (and successful calls) and incoming conversations per local hour of the day."""
    made, successful = get(figures.use("calls_made")), get(figures.use("successful_calls"))
    figures.use("conversations")
    per_hour: dict[int, dict[str, int]] = {hour: defaultdict(int) for hour in range(24)}
    for (hour,), counters in ctx.grouped(AgentHourRollup, ("hour",), ("calls", "calls_completed")).items():
        for name, amount in counters.items():
            per_hour[_local_hour(hour).hour][name] += amount
    load = sections.build_customer_load(ctx)  # the dashboard's incoming chats per hour of the day
    chats = {row["hour"]: row["count"] for row in load["incomingChatsPerHour"]}
    hours = [
        {
            "hour": hour,
            "calls": made.apply(per_hour[hour]),
            "successful": successful.apply(per_hour[hour]),
            "conversations": chats.get(hour, 0),
        }
        for hour in range(24)
    ]
    busiest = max(hours, key=lambda row: row["calls"])
    return {
        "hours": hours,
        "peak_calls_hour": busiest["hour"] if busiest["calls"] else None,
        "peak_conversations_hour": load["peakHour"]["hour"],
    }


def _by_day(ctx: Context, figures: Figures) -> list[dict[str, Any]]:
    """Calls and conversations per local day of the period and of the previous one (weekly: Monday …
    Sunday of this week beside the same weekday of the week before)."""
    made, chats = get(figures.use("calls_made")), get(figures.use("conversations"))

    def daily(context: Context) -> list[dict[str, Any]]:
        first = context.period.first_day
        days = (context.period.last_day - first).days + 1
        calls: dict[int, dict[str, int]] = {n: defaultdict(int) for n in range(days)}
        convs: dict[int, dict[str, int]] = {n: defaultdict(int) for n in range(days)}
        for into, table, field in ((calls, AgentHourRollup, "calls"), (convs, ChatHourRollup, "conversations")):
            for (hour,), counters in context.grouped(table, ("hour",), (field,)).items():
                n = (_local_hour(hour).date() - first).days
                if n in into:
                    into[n][field] += counters.get(field, 0)
        return [{"calls": made.apply(calls[n]), "conversations": chats.apply(convs[n])} for n in range(days)]

    now, before = daily(ctx), daily(ctx.previous)
    first, previous_first = ctx.period.first_day, ctx.previous.period.first_day
    return [
        {
            "date": (first + timedelta(days=n)).isoformat(),
            "label": dateformat.format(first + timedelta(days=n), "D j M"),
            "previous_date": (previous_first + timedelta(days=n)).isoformat(),
            "calls": row["calls"],
            "previous_calls": before[n]["calls"] if n < len(before) else 0,
            "conversations": row["conversations"],
            "previous_conversations": before[n]["conversations"] if n < len(before) else 0,
        }
        for n, row in enumerate(now)
    ]


def _staff_values(ctx: Context) -> dict[int, dict[str, Any]]:
    """Each agent's name and STAFF_COLUMNS values: call KPIs as the team table computes them, chat
    figures as the agent productivity section does."""
    agents: dict[int, dict[str, Any]] = {}
    counters = {key[0]: c for key, c in ctx.grouped(AgentHourRollup, ("agent_id",)).items()}
    leads = get("leads_today")
    for row in agent_kpi_rows(ctx):
        agents[row["agent_id"]] = {
            "agent_id": row["agent_id"],
            "name": row["agent_name"],
            "values": {**row["kpis"], "leads_today": leads.apply(counters.get(row["agent_id"], {}))},
        }
    for row in sections.build_agent_productivity(ctx)["agentMetrics"]:
        agent = agents.setdefault(
            row["agentId"],
            {
                "agent_id": row["agentId"],
                "name": row["agentName"],
                "values": {
                    **_no_calls(),
                    "leads_today": leads.apply(counters.get(row["agentId"], {})),
                },
            },
        )
        for key, field in PRODUCTIVITY_FIELDS.items():
            agent["values"][key] = row[field]
    for agent in agents.values():
        for key in PRODUCTIVITY_FIELDS:
            agent["values"].setdefault(key, get(key).apply({}))
    return agents


def _no_calls() -> dict[str, Any]:
    """The call KPIs of an agent without calls (as the team table shows them)."""
    return {key: get(key).apply({}) for key in call_metrics.AGENT_KPIS}


def _columns(keys: Iterable[str], figures: Figures) -> list[dict[str, str]]:
    return [
        {
            "key": figures.use(key),
            "label": get(key).label,
            "short": SHORT_LABELS.get(key, get(key).label),
            "unit": get(key).unit,
        }
        for key in keys
    ]


def _activity(values: dict[str, Any]) -> tuple[int, int]:
    return values.get("calls_made", 0), values.get("conversations", 0)


def _staff(ctx: Context, figures: Figures) -> dict[str, Any]:
    agents = sorted(
        _staff_values(ctx).values(),
        key=lambda a: (-_activity(a["values"])[0], -_activity(a["values"])[1], a["name"].lower(), a["agent_id"]),
    )
    rows = [{**agent, "values": {key: agent["values"][key] for key in STAFF_COLUMNS}} for agent in agents]
    return {"columns": _columns(STAFF_COLUMNS, figures), "rows": rows}


def _staff_comparison(ctx: Context, figures: Figures) -> dict[str, Any]:
    now, before = _staff_values(ctx), _staff_values(ctx.previous)
    rows = []
    for agent_id, agent in now.items():
        previous = before.get(agent_id, {"values": {}})["values"]
        cells = {}
        for key in STAFF_COMPARISON_COLUMNS:
            earlier = previous.get(key, get(key).apply({}))
            cells[key] = {"previous": earlier, **with_trend(agent["values"][key], earlier)}
        rows.append({"agent_id": agent_id, "name": agent["name"], "values": cells})
    rows.sort(
        key=lambda r: (-r["values"]["calls_made"]["value"], -r["values"]["conversations"]["value"], r["name"].lower())
    )
    return {"columns": _columns(STAFF_COMPARISON_COLUMNS, figures), "rows": rows}


def _conversations(ctx: Context, figures: Figures) -> dict[str, Any]:
    effectiveness = sections.build_conversation_effectiveness(ctx)
    sla, resolved = effectiveness["slaCompliance"], effectiveness["resolvedVsOpen"]
    keys = ("conversations", "first_response_time_avg", "sla_compliance", "resolution_rate", "resolution_time_avg")
    return {
        "figures": _compared(ctx, keys, figures),
        "sla": {
            "percentage": sla["percentage"],
            "compliant": sla["compliant"],
            "non_compliant": sla["nonCompliant"],
            "target_seconds": settings.SLA_FIRST_RESPONSE_SECONDS,
        },
        "resolved": resolved["resolved"],
        "open": resolved["open"],
        "keys": [
            figures.use(key)
            for key in ("sla_compliant", "sla_non_compliant", "conversations_resolved", "conversations_unresolved")
        ],
        "response_time_by_day": [
            {"date": row["timestamp"][:10], "seconds": row["avgSeconds"]}
            for row in effectiveness["avgResponseTimeOverTime"]
        ],
    }


def _whatsapp(ctx: Context, figures: Figures) -> dict[str, Any]:
    performance = sections.build_whatsapp_performance(ctx)
    funnel, broadcasts = performance["messageFunnel"], performance["broadcastSuccessRate"]
    keys = {
        "sent": "whatsapp_sent",
        "delivered": "whatsapp_delivered",
        "read": "whatsapp_read",
        "failed": "whatsapp_failed",
    }
    return {
        "funnel": [{"stage": stage, **figures.figure(key, funnel[stage])} for stage, key in keys.items()],
        "delivery_rate": _compared(ctx, ["whatsapp_delivery_rate"], figures)[0],
        "broadcasts": {
            "total": broadcasts["total"],
            "successful": broadcasts["successful"],
            "failed": broadcasts["failed"],
            "percentage": broadcasts["percentage"],
            "keys": [
                figures.use(k)
                for k in ("broadcast_messages", "broadcast_successful", "broadcast_failed", "broadcast_success_rate")
            ],
        },
    }


def _funnel(ctx: Context, figures: Figures) -> dict[str, Any]:
    before = ctx.previous
    return {
        "stages": [
            {"stage": key.removeprefix("leads_"), **figures.trend(key, value(key, ctx), value(key, before))}
            for key in LEAD_FUNNEL
        ],
        "lost": figures.trend("leads_lost", value("leads_lost", ctx), value("leads_lost", before)),
        "conversion_rate": figures.trend(
            "lead_conversion_rate", value("lead_conversion_rate", ctx), value("lead_conversion_rate", before)
        ),
        "created": figures.trend("leads_generated", value("leads_generated", ctx), value("leads_generated", before)),
    }


def display(unit: str, amount: Any) -> str:
    """A figure as the PDF and the messages show it: durations h:mm:ss, percentages with 1 decimal."""
    if unit == "seconds":
        return duration(amount)
    return fmt(amount, unit, chat_metrics.currency())


def _summary(ctx: Context, report_type: str, figures: Figures) -> list[dict[str, str]]:
    out = []
    before = ctx.previous
    for key in SUMMARY[ReportType(report_type)]:
        item = figures.trend(key, value(key, ctx), value(key, before))
        out.append(
            {
                "key": key,
                "label": item["label"],
                "value": display(item["unit"], item["value"]),
                "change": fmt_change(item["trend"], item["change"]),
                "trend": item["trend"],
            }
        )
    return out


# --- the report ------------------------------------------------------------------------------------------


def build_report(
    report_type: str,
    start: date,
    end: date,
    *,
    team_id: int | None = None,
    agent_id: int | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """The data of a daily or weekly report of local dates `start`..`end` (inclusive) for the organisation,
    one team or one agent, in `timezone` (default settings.TIME_ZONE). Raises ReportError for a request
    that cannot be met."""
    if report_type not in ReportType.values:
        raise ReportError(f"A report is daily or weekly, not {report_type!r}.")
    if end < start:
        raise ReportError("The report's end date is before its start date.")
    if (end - start).days + 1 > MAX_CUSTOM_DAYS:
        raise ReportError(f"A report may span at most {MAX_CUSTOM_DAYS} days.")
    scope, scope_info = _scope(team_id, agent_id)
    with in_zone(timezone) as zone:
        try:
            period = custom_period(start, end)
        except PeriodError as exc:  # bounds checked above; kept for any rule the dashboards add
            raise ReportError(" ".join(str(m) for messages in exc.detail.values() for m in messages)) from None  # type: ignore[union-attr]
        ctx = Context(period, scope)
        return _build(report_type, start, end, ctx, scope_info, zone)


def _build(
    report_type: str, start: date, end: date, ctx: Context, scope_info: dict[str, Any], zone: ZoneInfo
) -> dict[str, Any]:
    figures = Figures()
    # asked for before the first read: the previous period joins the context's family, so each rollup
    # table is read for both periods at once (one query per level)
    previous = ctx.previous.period
    daily = report_type == ReportType.DAILY
    heading = "Daily report" if daily else "Weekly report"
    label = dates_label(start, end)
    if _is_week(start, end):
        label = f"Week {start.isocalendar().week}: {label}"
    data: dict[str, Any] = {
        "title": f"{heading} · {scope_info['label']} · {label}",
        "heading": heading,
        "report_type": report_type,
        "scope": scope_info,
        "period": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "label": label,
            "days": (end - start).days + 1,
            "timezone": zone.key,
            "previous_start": previous.first_day.isoformat(),
            "previous_end": previous.last_day.isoformat(),
            "previous_label": dates_label(previous.first_day, previous.last_day),
        },
        "generated_at": dj_timezone.localtime(ctx.now).isoformat(),
        "sla_target_seconds": settings.SLA_FIRST_RESPONSE_SECONDS,
        "currency": chat_metrics.currency(),
    }
    empty = not (
        value(figures.use("calls_made"), ctx)
        or value(figures.use("conversations"), ctx)
        or value(figures.use("lead_status_changes"), ctx)
    )
    data["is_empty"] = empty
    where = f"on {day_label(start)}" if start == end else f"from {_long(start)} to {_long(end)}"
    data["empty_message"] = f"No calls, conversations or lead changes were recorded {where}." if empty else ""
    data["summary"] = _summary(ctx, report_type, figures)
    data["performance"] = _kpi_strip(ctx, figures)
    if daily:
        data["calls"] = _calls(ctx, figures)
        data["leads"] = _leads(ctx, figures)
        data["outcomes"] = _outcomes(ctx, figures)
        data["time_of_day"] = _time_of_day(ctx, figures)
        data["staff"] = _staff(ctx, figures)
    else:
        data["performance"] += _compared(ctx, WEEKLY_EXTRA, figures)
        data["by_day"] = _by_day(ctx, figures)
        data["funnel"] = _funnel(ctx, figures)
        data["staff_comparison"] = _staff_comparison(ctx, figures)
        data["conversations"] = _conversations(ctx, figures)
        data["whatsapp"] = _whatsapp(ctx, figures)
    data["definitions"] = figures.definitions()
    return data
