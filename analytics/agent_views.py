"""The agent's 12 daily stats, the update-after-call repair, and per-agent call KPIs (API.md "Agent
dashboard"; METRICS.md "Calls (voice)"). Every number comes from the registry (analytics/call_metrics.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import call_metrics
from analytics.access import agent_scope, scope_for
from analytics.cache import cached
from analytics.periods import day_period, period_from_params
from analytics.registry import Context, get
from calls.access import agent_for, call_for, current_user
from calls.models import AgentHourRollup
from calls.serializers import LocalDateField
from crm.models import Role, User
from crm.periods import local_date

# Today's stats include running sessions and breaks that grow without any write, so a cached value
# of a day that is not over yet lives briefly; a finished day only changes through writes, which
# bump the cache's data version.
OPEN_DAY_CACHE_SECONDS = 30


def agent_stats(agent: User, day: date, *, fresh: bool = False) -> dict[str, Any]:
    """The 12 stats of `agent` for local day `day` (cached per agent and day; `fresh` reads through)."""
    period = day_period(day)

    def compute() -> dict[str, Any]:
        context = Context(period, agent_scope(agent))
        stats: dict[str, Any] = {}
        for key in call_metrics.AGENT_STATS:
            definition = get(key)
            stats[key] = definition.apply(context.calls) if definition.from_counters else definition.value(context)
        return stats

    key = f"agent-stats:{agent.pk}:{day.isoformat()}"
    if fresh:
        stats = compute()
    elif period.end > timezone.now():
        stats = cached(key, compute, timeout=OPEN_DAY_CACHE_SECONDS)
    else:
        stats = cached(key, compute)
    return {**stats, "timestamp": timezone.now().isoformat(), "date": day.isoformat()}


def kpis_of(counters: Mapping[str, int]) -> dict[str, int | float]:
    return {key: get(key).apply(counters) for key in call_metrics.AGENT_KPIS}


def _name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


# --- schema pieces ----------------------------------------------------------------------------------


def _int_fields(keys: tuple[str, ...]) -> dict[str, serializers.Field]:
    fields: dict[str, serializers.Field] = {}
    for key in keys:
        definition = get(key)
        integer = definition.unit == "count" or key.startswith("total_")
        field = serializers.IntegerField if integer else serializers.FloatField
        fields[key] = field(help_text=f"{definition.label} ({definition.unit}): {definition.formula}")
    return fields


AgentStatsSchema = inline_serializer(
    "AgentDailyStats",
    {
        **_int_fields(call_metrics.AGENT_STATS),
        "timestamp": serializers.DateTimeField(help_text="When the numbers were read."),
        "date": serializers.DateField(help_text="The local day the stats cover."),
    },
)
KpisSchema = inline_serializer("AgentCallKpis", _int_fields(call_metrics.AGENT_KPIS))
PeriodSchema = inline_serializer(
    "KpiPeriod",
    {"start": serializers.DateTimeField(), "end": serializers.DateTimeField(), "label": serializers.CharField()},
)
PERIOD_PARAMETERS = [
    OpenApiParameter("dateRange", str, enum=["today", "week", "month"], description="Default today."),
    OpenApiParameter("startDate", str, description="First local day (YYYY-MM-DD), with endDate."),
    OpenApiParameter("endDate", str, description="Last local day (YYYY-MM-DD, inclusive), with startDate."),
]


# --- the 12 daily stats -----------------------------------------------------------------------------


class StatsQuerySerializer(serializers.Serializer):
    date = LocalDateField(required=False, help_text="Local day (YYYY-MM-DD); default today.")
    agent_id = serializers.IntegerField(required=False, help_text="Supervisors (own teams) and admins.")


class AgentStatsView(APIView):
    @extend_schema(
        operation_id="agent_daily_stats",
        parameters=[StatsQuerySerializer],
        responses={
            200: inline_serializer(
                "AgentStatsResponse", {"success": serializers.BooleanField(), "stats": AgentStatsSchema}
            )
        },
    )
    def get(self, request: Request) -> Response:
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        user = current_user(request)
        agent_id = query.validated_data.get("agent_id")
        agent = user if agent_id is None or agent_id == user.pk else agent_for(user, agent_id)
        day = query.validated_data.get("date") or local_date(timezone.now())
        return Response({"success": True, "stats": agent_stats(agent, day)})


class UpdateAfterCallSerializer(serializers.Serializer):
    call_id = serializers.IntegerField()


class UpdateAfterCallView(APIView):
    @extend_schema(
        operation_id="agent_stats_update_after_call",
        request=UpdateAfterCallSerializer,
        responses={
            200: inline_serializer(
                "UpdateAfterCallResponse",
                {
                    "success": serializers.BooleanField(),
                    "message": serializers.CharField(),
                    "corrected": serializers.DictField(
                        child=serializers.IntegerField(),
                        help_text="Counters of the call's agent × hour cell that were wrong, with the correction.",
                    ),
                    "stats": AgentStatsSchema,
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        body = UpdateAfterCallSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        call = call_for(current_user(request), body.validated_data["call_id"])
        corrected = call_metrics.recount_call(call)
        hour = timezone.localtime(call.started_at).strftime("%Y-%m-%d %H:00")
        message = (
            f"Recounted call {call.pk}: the {hour} counters of {call.agent.username} were already right."
            if not corrected
            else f"Recounted call {call.pk}: corrected {len(corrected)} counters of {call.agent.username} at {hour}."
        )
        # read through the cache: the correction's cache bump happens after the commit
        stats = agent_stats(call.agent, local_date(call.started_at), fresh=True)
        return Response({"success": True, "message": message, "corrected": corrected, "stats": stats})


# --- per-agent call KPIs ----------------------------------------------------------------------------


class AgentKpisView(APIView):
    @extend_schema(
        operation_id="agent_call_kpis",
        parameters=[*PERIOD_PARAMETERS, OpenApiParameter("agent_id", int, OpenApiParameter.PATH)],
        responses={
            200: inline_serializer(
                "AgentKpisResponse",
                {
                    "agent_id": serializers.IntegerField(),
                    "agent_name": serializers.CharField(),
                    "period": PeriodSchema,
                    "kpis": KpisSchema,
                },
            )
        },
    )
    def get(self, request: Request, agent_id: int) -> Response:
        agent = agent_for(current_user(request), agent_id)
        period = period_from_params(request.query_params)
        counters = Context(period, agent_scope(agent)).calls
        return Response(
            {
                "agent_id": agent.pk,
                "agent_name": _name(agent.first_name, agent.last_name, agent.username),
                "period": period.as_dict(),
                "kpis": kpis_of(counters),
            }
        )


class TeamKpisView(APIView):
    @extend_schema(
        operation_id="agent_call_kpis_table",
        parameters=[
            *PERIOD_PARAMETERS,
            OpenApiParameter("team_id", int, description="One team (admins: any; supervisors: their own)."),
        ],
        responses={
            200: inline_serializer(
                "TeamKpisResponse",
                {
                    "period": PeriodSchema,
                    "results": inline_serializer(
                        "TeamKpisRow",
                        {
                            "agent_id": serializers.IntegerField(),
                            "agent_name": serializers.CharField(),
                            "username": serializers.CharField(),
                            "teams": inline_serializer(
                                "TeamRef",
                                {"id": serializers.IntegerField(), "name": serializers.CharField()},
                                many=True,
                            ),
                            "kpis": KpisSchema,
                        },
                        many=True,
                    ),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        scope = scope_for(current_user(request), team_id=request.query_params.get("team_id") or None)
        period = period_from_params(request.query_params)
        return Response({"period": period.as_dict(), "results": agent_kpi_rows(Context(period, scope))})


def agent_kpi_rows(ctx: Context) -> list[dict[str, Any]]:
    """The per-agent call KPI table of a period and scope (the team table; reports' staff tables): every
    agent of the scope, plus anyone else in it who has counters (a supervisor taking calls), by name."""
    scope = ctx.scope
    grouped = ctx.grouped(AgentHourRollup, ("agent_id",))
    counters = {key[0]: counts for key, counts in grouped.items() if any(counts.values())}
    users = User.objects.all()
    if scope.agent_ids is not None:
        users = users.filter(pk__in=scope.agent_ids)
    users = users.filter(role=Role.AGENT) | users.filter(pk__in=list(counters))
    rows: dict[int, dict[str, Any]] = {}
    for user in users.order_by("pk").values("pk", "username", "first_name", "last_name", "teams__id", "teams__name"):
        row = rows.get(user["pk"])
        if row is None:
            row = rows[user["pk"]] = {
                "agent_id": user["pk"],
                "agent_name": _name(user["first_name"], user["last_name"], user["username"]),
                "username": user["username"],
                "teams": [],
                "kpis": kpis_of(counters.get(user["pk"], {})),
            }
        if user["teams__id"] is not None:
            row["teams"].append({"id": user["teams__id"], "name": user["teams__name"]})
    results = sorted(rows.values(), key=lambda r: (r["agent_name"].lower(), r["agent_id"]))
    for row in results:
        row["teams"].sort(key=lambda t: t["name"])
    return results
