"""Exports and metric drill-down (API.md "CRM effectiveness dashboard"; analytics/exports.py says what a
file holds).

- `GET /api/dashboard/<section>/export?format=csv|xlsx` and `GET /api/analytics/agents/kpis/export`: the
  screen's data for the same period and team parameters, with the same access rules, as a download.
  Every export is written to the audit log.
- `GET /api/dashboard/metrics/<key>`: a metric's definition and its drill-down link filled in for the
  request's period and scope.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import exports, sections
from analytics.access import AnalyticsScope, agent_scope, scope_for
from analytics.agent_views import TeamKpisView
from analytics.audit import record_audit
from analytics.cache import cached
from analytics.dashboard_views import _cache_key, cache_seconds, section_context
from analytics.models import AuditAction
from analytics.periods import Period, period_from_params
from analytics.registry import METRICS
from calls.access import agent_for
from crm.access import current_user
from crm.models import User


class JSONOnly(BaseContentNegotiation):
    """Errors are the contract's JSON. `?format=` names the file format here, so DRF's own use of it
    (pick a renderer by name, 404 when none matches) must not apply."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type

    def select_parser(self, request, parsers):
        return None


def period_and_scope(request: Request, user: User) -> tuple[Period, AnalyticsScope]:
    """The period and scope exactly as the dashboard sections read them from the query string."""
    period = period_from_params(request.query_params)
    return period, scope_for(user, team_id=request.query_params.get("team_id"))


def _export_format(request: Request) -> str:
    try:
        return exports.check_format(request.query_params.get("format"))
    except exports.ExportFormatError as error:
        raise ValidationError({"format": [str(error)]}) from None


def export_response(
    request: Request, user: User, resource: str, data: dict[str, Any], period: Period, fmt: str
) -> HttpResponse:
    """The download of `data` (flattened), recorded in the audit log."""
    content = exports.render(exports.flatten(data), fmt)
    team_id = request.query_params.get("team_id") or None
    record_audit(
        user,
        AuditAction.EXPORT,
        resource=resource,
        detail={"format": fmt, "period": period.as_dict(), "team_id": int(team_id) if team_id else None},
    )
    response = HttpResponse(content, content_type=exports.FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(resource, period, fmt)}"'
    response["Cache-Control"] = "private, no-store"
    return response


_PERIOD_PARAMETERS = [
    OpenApiParameter("dateRange", str, enum=["today", "week", "month"], description="Default today."),
    OpenApiParameter("startDate", OpenApiTypes.DATE, description="First local day (with endDate)."),
    OpenApiParameter("endDate", OpenApiTypes.DATE, description="Last local day, inclusive."),
    OpenApiParameter("team_id", int, description="Only this team (supervisors: a team they supervise)."),
]
_FORMAT_PARAMETER = OpenApiParameter("format", str, enum=list(exports.FORMATS), description="Default csv.")
_DOWNLOAD = {
    (200, "text/csv"): OpenApiTypes.BINARY,
    (200, exports.FORMATS["xlsx"]): OpenApiTypes.BINARY,
    400: OpenApiResponse(description="Unknown format or bad period."),
    403: OpenApiResponse(description="A team the user does not supervise."),
    404: OpenApiResponse(description="Unknown section or team."),
}


class ExportView(APIView):
    content_negotiation_class = JSONOnly


class SectionExportView(ExportView):
    @extend_schema(
        operation_id="dashboard_section_export",
        parameters=[
            OpenApiParameter("section", str, OpenApiParameter.PATH, enum=list(sections.SECTIONS)),
            _FORMAT_PARAMETER,
            *_PERIOD_PARAMETERS,
        ],
        responses=_DOWNLOAD,
    )
    def get(self, request: Request, section: str) -> HttpResponse:
        if section not in sections.SECTIONS:
            raise NotFound(f"There is no dashboard section {section!r}.")
        user = current_user(request)
        fmt = _export_format(request)
        # the section view's own reading of the request and its cache entry: the file holds the
        # numbers the screen shows for the same parameters
        ctx, _ = section_context(request)
        build = sections.SECTIONS[section]
        data = cached(_cache_key(section, ctx), lambda: build(ctx), timeout=cache_seconds())
        data = {**data, "period": ctx.period.as_dict()}
        return export_response(request, user, section, data, ctx.period, fmt)


class AgentKpisExportView(ExportView):
    @extend_schema(
        operation_id="agent_kpis_export",
        parameters=[_FORMAT_PARAMETER, *_PERIOD_PARAMETERS],
        responses=_DOWNLOAD,
    )
    def get(self, request: Request) -> HttpResponse:
        user = current_user(request)
        fmt = _export_format(request)
        period = period_from_params(request.query_params)
        # the table exactly as the screen gets it (same parameters, same access checks)
        table = TeamKpisView().get(request).data
        data = {"period": table["period"], "results": [_kpi_row(row) for row in table["results"]]}
        return export_response(request, user, "agent-kpis", data, period, fmt)


def _kpi_row(row: dict[str, Any]) -> dict[str, Any]:
    """One agent per row: names, the teams as one cell, then every KPI as a column."""
    teams = ", ".join(team["name"] for team in row["teams"])
    identity = {key: value for key, value in row.items() if key not in ("teams", "kpis")}
    return {**identity, "teams": teams, **row["kpis"]}


# --- drill-down ------------------------------------------------------------------------------------


def drill_down_url(template: str, period: Period, agent_id: int | None) -> str:
    """`template` with its placeholders filled in: {start_date} / {start} the period's first local day,
    {end_date} / {end} its last, {date} the day (for a longer period: the first day, or the last in an
    `end_date` parameter, so a daily link covers the whole period), {agent} the one agent of the
    scope. A query parameter whose placeholder has no value (no single agent, an unknown name) is
    dropped, so the link shows everything the reader may see instead of nothing; a path that needs
    one gives no link ("")."""
    if not template:
        return ""
    first, last = period.first_day.isoformat(), period.last_day.isoformat()
    values = {"start_date": first, "start": first, "end_date": last, "end": last}
    if agent_id is not None:
        values["agent"] = str(agent_id)

    def fill(text: str, name: str = "") -> str | None:
        found = {**values, "date": last if name == "end_date" else first}
        try:
            return text.format_map(found)
        except (KeyError, IndexError, ValueError):
            return None

    parts = urlsplit(template)
    path = fill(parts.path)
    if path is None:  # e.g. /api/agents/{agent}/timeline without a single agent: no link
        return ""
    query = [(key, fill(value, key)) for key, value in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [(key, value) for key, value in query if value is not None]
    return urlunsplit(parts._replace(path=path, query=urlencode(kept)))


def _single_agent(scope: AnalyticsScope) -> int | None:
    agents = scope.agent_ids
    return next(iter(agents)) if agents is not None and len(agents) == 1 else None


class MetricDrillDownView(APIView):
    @extend_schema(
        operation_id="dashboard_metric",
        parameters=[
            OpenApiParameter(
                "key", str, OpenApiParameter.PATH, description="A metric key (see /api/dashboard/metrics)."
            ),
            *_PERIOD_PARAMETERS,
            OpenApiParameter("agent_id", int, description="One agent (supervisors: their teams'; admins: any)."),
        ],
        responses={
            200: inline_serializer(
                "MetricDrillDown",
                {
                    "key": serializers.CharField(),
                    "label": serializers.CharField(),
                    "unit": serializers.CharField(),
                    "formula": serializers.CharField(),
                    "drill_down": serializers.CharField(help_text="The template, with placeholders."),
                    "drill_down_url": serializers.CharField(help_text="Filled in for this period and scope."),
                    "period": inline_serializer(
                        "MetricPeriod",
                        {
                            "start": serializers.DateTimeField(),
                            "end": serializers.DateTimeField(),
                            "label": serializers.CharField(),
                        },
                    ),
                    "agent_id": serializers.IntegerField(allow_null=True),
                    "team_id": serializers.IntegerField(allow_null=True),
                },
            ),
            400: OpenApiResponse(description="Bad period."),
            403: OpenApiResponse(description="An agent or team the user may not see."),
            404: OpenApiResponse(description="Unknown metric, agent or team."),
        },
    )
    def get(self, request: Request, key: str) -> Response:
        _load_registry()
        metric = METRICS.get(key)
        if metric is None:
            raise NotFound(f"There is no metric {key!r}.")
        user = current_user(request)
        period, scope = period_and_scope(request, user)
        agent_id = request.query_params.get("agent_id")
        if agent_id:
            scope = agent_scope(agent_for(user, agent_id))
        agent = _single_agent(scope)
        return Response(
            {
                **metric.describe(),
                "drill_down_url": drill_down_url(metric.drill_down, period, agent),
                "period": period.as_dict(),
                "agent_id": agent,
                "team_id": scope.team_id,
            }
        )


def _load_registry() -> None:
    """Metrics register themselves when their module is imported."""
    from analytics import call_metrics, chat_metrics  # noqa: F401
