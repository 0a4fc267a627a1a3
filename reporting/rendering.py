"""A report's data (reporting.content.build_report) as HTML and as a PDF (WeasyPrint).

The built-in template is templates/reporting/report.html; a ReportTemplate's HTML is rendered with the
same context (docs/reports-content.md lists its keys): the report's data, every figure carrying its
display strings (durations h:mm:ss, percentages with 1 decimal, the change against the previous period
with its arrow), the charts as SVG data URIs drawn now from the data, and the "how is this computed"
notes from the metrics registry's formulas.
"""

from __future__ import annotations

import copy
import gc
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.template import engines
from django.template.loader import render_to_string
from django.utils import dateformat
from django.utils.dateparse import parse_datetime

from analytics.pdf_views import fmt_change
from reporting import charts
from reporting.content import BETTER, display

TEMPLATE = "reporting/report.html"
# A formula up to this long is a footnote under the first section showing its metric; longer ones are
# gathered at the end of the report.
SHORT_FORMULA = 230
TONES = {("up", "up"): "good", ("up", "down"): "bad", ("down", "down"): "good", ("down", "up"): "bad"}
OUTCOME_COLOURS = {
    "lead": charts.GREEN,
    "interested": charts.BLUE,
    "callback": charts.VIOLET,
    "other": charts.AMBER,
    "voicemail": "#4fb3e8",
    "not_interested": charts.RED,
    "wrong_number": "#e58a8a",
    "": charts.GREY,
}
LEAD_COLOURS = {
    "new": charts.LIGHT_BLUE,
    "contacted": "#6f8fe6",
    "qualified": charts.BLUE,
    "converted": charts.GREEN,
    "lost": charts.RED,
}


def tone(figure: dict[str, Any]) -> str:
    """good / bad / neutral: whether the figure moved the way it should (BETTER in reporting.content)."""
    return TONES.get((figure.get("better", ""), figure.get("trend", "")), "neutral")


def _decorate(node: Any) -> None:
    """Add display strings to every figure ({unit, value, ...}) of the data, in place."""
    if isinstance(node, list):
        for item in node:
            _decorate(item)
        return
    if not isinstance(node, dict):
        return
    for item in node.values():
        _decorate(item)
    if "unit" in node and "value" in node:
        node["display"] = display(node["unit"], node["value"])
        if "previous" in node:
            node["previous_display"] = display(node["unit"], node["previous"])
        if "trend" in node:
            node["change_display"] = fmt_change(node["trend"], node["change"])
            node["tone"] = tone(node)


def _table_cells(table: dict[str, Any]) -> None:
    """Each row of a staff table gets `cells`, in the order of the table's columns, with display strings."""
    for row in table["rows"]:
        cells = []
        for column in table["columns"]:
            cell = row["values"][column["key"]]
            if isinstance(cell, dict):  # a comparison: {value, previous, trend, change}
                cells.append(
                    {
                        "display": display(column["unit"], cell["value"]),
                        "previous_display": display(column["unit"], cell["previous"]),
                        "change_display": fmt_change(cell["trend"], cell["change"]),
                        "trend": cell["trend"],
                        "tone": "neutral",
                    }
                )
            else:
                cells.append({"display": display(column["unit"], cell)})
        row["cells"] = cells


def _charts(data: dict[str, Any]) -> dict[str, str]:
    """The report's charts as SVG data URIs (none for an empty period: it says so instead)."""
    if data["is_empty"]:
        return {}
    drawn: dict[str, str] = {}
    if "time_of_day" in data:
        drawn["time_of_day"] = charts.time_of_day(data["time_of_day"]["hours"])
    if "outcomes" in data:
        outcomes = data["outcomes"]
        rows = [{**row, "colour": OUTCOME_COLOURS.get(row["outcome"])} for row in outcomes["rows"]]
        drawn["outcomes"] = charts.donut(rows, centre=f"{outcomes['calls']:,}", centre_label="calls")
    if "leads" in data:
        rows = [{**row, "colour": LEAD_COLOURS.get(row["status"])} for row in data["leads"]["by_status"]]
        drawn["leads"] = charts.horizontal_bars(rows)
    if "by_day" in data:
        days = data["by_day"]
        labels = [row["label"].split(" ")[0] for row in days] if len(days) == 7 else [row["label"] for row in days]
        period = ("This week", "Previous week") if len(days) == 7 else ("This period", "Previous period")
        drawn["calls_by_day"] = charts.compared_bars(
            labels, [r["calls"] for r in days], [r["previous_calls"] for r in days], labels=period
        )
        drawn["conversations_by_day"] = charts.compared_bars(
            labels,
            [r["conversations"] for r in days],
            [r["previous_conversations"] for r in days],
            labels=period,
            colours=(charts.TEAL, charts.LIGHT_TEAL),
        )
    if "funnel" in data:
        stages = [{"label": s["label"], "value": s["value"]} for s in data["funnel"]["stages"]]
        drawn["funnel"] = charts.funnel(stages)
    if "whatsapp" in data:
        stages = [{"label": s["label"], "value": s["value"]} for s in data["whatsapp"]["funnel"][:3]]
        drawn["whatsapp"] = charts.funnel(stages, colour=charts.TEAL)
    if "staff_comparison" in data:
        top = [row for row in data["staff_comparison"]["rows"] if row["values"]["calls_made"]["value"]][:10]
        if top:
            drawn["staff_comparison"] = charts.compared_bars(
                [row["name"] for row in top],
                [row["values"]["calls_made"]["value"] for row in top],
                [row["values"]["calls_made"]["previous"] for row in top],
                labels=("Calls this week", "Calls the week before"),
                width=charts.WIDTH,
                height=0.2 * len(top) + 0.6,
                horizontal=True,
            )
    return {name: charts.data_uri(svg) for name, svg in drawn.items()}


# Which metrics each part of the report shows, for its footnotes (in the order the parts appear).
def _section_keys(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    parts: list[tuple[str, list[str]]] = [("performance", [f["key"] for f in data["performance"]])]
    if "calls" in data:
        parts.append(("calls", [f["key"] for f in data["calls"]["figures"]]))
    if "leads" in data:
        leads = data["leads"]
        parts.append(("leads", [f["key"] for f in leads["by_status"]] + [f["key"] for f in leads["figures"]]))
    if "outcomes" in data:
        parts.append(("outcomes", [row["key"] for row in data["outcomes"]["rows"]]))
    if "time_of_day" in data:
        parts.append(("time_of_day", ["calls_made", "successful_calls", "conversations"]))
    if "staff" in data:
        parts.append(("staff", [c["key"] for c in data["staff"]["columns"]]))
    if "by_day" in data:
        parts.append(("by_day", ["calls_made", "conversations"]))
    if "funnel" in data:
        funnel = data["funnel"]
        keys = [s["key"] for s in funnel["stages"]] + [funnel[k]["key"] for k in ("lost", "created", "conversion_rate")]
        parts.append(("funnel", keys))
    if "staff_comparison" in data:
        parts.append(("staff_comparison", [c["key"] for c in data["staff_comparison"]["columns"]]))
    if "conversations" in data:
        conversations = data["conversations"]
        parts.append(("conversations", [f["key"] for f in conversations["figures"]] + conversations["keys"]))
    if "whatsapp" in data:
        whatsapp = data["whatsapp"]
        keys = [f["key"] for f in whatsapp["funnel"]] + [
            whatsapp["delivery_rate"]["key"],
            *whatsapp["broadcasts"]["keys"],
        ]
        parts.append(("whatsapp", keys))
    return parts


def _notes(data: dict[str, Any]) -> tuple[dict[str, list[dict[str, str]]], list[dict[str, str]]]:
    """Footnotes per part (short formulas, each metric once, where it first appears) and the long
    definitions for the end of the report, as {label, text}."""
    definitions = {d["key"]: d for d in data.get("definitions", [])}
    seen: set[str] = set()
    notes: dict[str, list[dict[str, str]]] = {}
    long: list[dict[str, str]] = []
    for part, keys in _section_keys(data):
        short = []
        for key in _unique(keys):
            if key in seen or key not in definitions:
                continue
            seen.add(key)
            definition = definitions[key]
            if len(definition["formula"]) <= SHORT_FORMULA:
                short.append(definition)
            else:
                long.append({"label": definition["label"], "text": _plain(definition["formula"])})
        if short:
            notes[part] = _merged(short)
    return notes, long


CODE = re.compile(r"`([^`]*)`")


def _plain(formula: str) -> str:
    """A registry formula for print: `status` code marks dropped."""
    return CODE.sub(r"\1", formula)


def _merged(definitions: list[dict[str, str]]) -> list[dict[str, str]]:
    """Notes whose formulas differ only in the value they name (changes to `contacted`, to `qualified`...)
    as one: "Leads contacted, Leads qualified: Lead status changes to contacted / qualified in ..."."""
    groups: dict[str, list[dict[str, str]]] = {}
    for definition in definitions:
        groups.setdefault(CODE.sub("`…`", definition["formula"]), []).append(definition)
    merged = []
    for pattern, members in groups.items():
        if len(members) == 1 or len(CODE.findall(pattern)) != 1:
            merged += [{"label": d["label"], "text": _plain(d["formula"])} for d in members]
            continue
        named = " / ".join(CODE.search(d["formula"]).group(1) for d in members)  # type: ignore[union-attr]
        merged.append({"label": ", ".join(d["label"] for d in members), "text": pattern.replace("`…`", named)})
    return merged


def _unique(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keys))


def _hour_label(hour: int | None) -> str:
    return "" if hour is None else f"{hour:02d}:00–{hour:02d}:59"


def _column_labels(report: dict[str, Any]) -> tuple[str, str]:
    """Headers of "this period" and "the previous one": the days for a one-day report, else the weeks."""
    period = report["period"]
    if period["days"] == 1:
        first, previous = date.fromisoformat(period["start"]), date.fromisoformat(period["previous_start"])
        return dateformat.format(first, "D j M"), dateformat.format(previous, "D j M")
    if period["days"] == 7:
        return "This week", "Previous week"
    return "This period", "Previous period"


def _extras(report: dict[str, Any]) -> None:
    """Display strings of the parts that are not figures (shares, hours, the SLA target...), in place."""
    for item in report["summary"]:
        item["tone"] = tone({"better": BETTER.get(item["key"], ""), "trend": item["trend"]})
    if "outcomes" in report:
        for row in report["outcomes"]["rows"]:
            row["share_display"] = display("percent", row["share"])
    if "time_of_day" in report:
        hours = report["time_of_day"]
        hours["peak_calls_label"] = _hour_label(hours["peak_calls_hour"])
        hours["peak_conversations_label"] = _hour_label(hours["peak_conversations_hour"])
    if "funnel" in report:
        funnel = report["funnel"]
        funnel["figures"] = [*funnel["stages"], funnel["lost"], funnel["created"], funnel["conversion_rate"]]
    if "conversations" in report:
        conversations = report["conversations"]
        conversations["sla"]["target_display"] = display("seconds", conversations["sla"]["target_seconds"])
        for day in conversations["response_time_by_day"]:
            day["label"] = dateformat.format(date.fromisoformat(day["date"]), "l j M")
            day["display"] = display("seconds", day["seconds"])
    if "whatsapp" in report:
        broadcasts = report["whatsapp"]["broadcasts"]
        broadcasts["percentage_display"] = display("percent", broadcasts["percentage"])


def report_context(data: dict[str, Any]) -> dict[str, Any]:
    """The template context of a report: a copy of `data` with display strings, plus `charts`, `notes`,
    `long_definitions` and `report` (the whole decorated data again, for templates that prefer one name)."""
    report = copy.deepcopy(data)
    _decorate(report)
    _extras(report)
    for name in ("staff", "staff_comparison"):
        if name in report:
            _table_cells(report[name])
    notes, long = _notes(report)
    current_label, previous_label = _column_labels(report)
    days = report["period"]["days"]
    versus = previous_label if days == 1 else previous_label.lower()
    heading = {1: "The day's performance", 7: "The week against the week before"}.get(
        days, "The period against the one before"
    )
    generated = parse_datetime(report.get("generated_at") or "")
    return {
        **report,
        "report": report,
        "charts": _charts(report),
        "notes": notes,
        "long_definitions": long,
        "is_daily": report["report_type"] == "daily",
        "is_weekly": report["report_type"] == "weekly",
        "current_label": current_label,
        "previous_label": previous_label,
        "versus_label": f"vs {versus}",
        "comparison_heading": heading,
        "generated_display": dateformat.format(generated, "j F Y, H:i") if generated else "",
    }


def render_html(data: dict[str, Any], template_html: str | None = None) -> str:
    """The report as HTML: the built-in template, or `template_html` (a ReportTemplate's) with the same context."""
    context = report_context(data)
    if template_html is None:
        return render_to_string(TEMPLATE, context)
    template = engines["django"].from_string(template_html)
    return template.render(context)


def render_pdf(data: dict[str, Any], template_html: str | None = None) -> bytes:
    """The report as an A4 PDF (WeasyPrint). Only data: URIs are loaded (the charts): a template's link
    to anything else — a web address, a local file — is left out, so rendering never reaches outside."""
    from weasyprint import HTML  # heavy import (Pango, fonts): only when a PDF is made
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=["data"])
    html = render_html(data, template_html)
    # Layout makes millions of short-lived objects and no reference cycles worth chasing mid-render; the
    # cyclic collector's passes over that growing heap were a large share of the time. One pass after.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return bytes(HTML(string=html, url_fetcher=fetcher).write_pdf())
    finally:
        if collecting:
            gc.enable()


def warm_up() -> None:
    """Load now what a process's first PDF would otherwise load on the way (WeasyPrint, Pango and
    fontconfig with the report's fonts, matplotlib's font cache): for a rendering worker's start, e.g.
    Celery's worker_process_init, so that no report pays it (docs/reports-content.md, "Bench")."""
    from weasyprint import HTML

    chart = charts.data_uri(charts.horizontal_bars([{"label": "warm-up", "value": 1}]))
    html = f'''<html><head><style>html {{ font-family: "Liberation Sans", "DejaVu Sans", sans-serif; }}</style></head>
<body><p>0:00:00 <b>1,234</b> ▲ +1.0 % ▼ ▶</p><img src="{chart}"></body></html>'''
    HTML(string=html).write_pdf()
