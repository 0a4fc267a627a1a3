"""The calls and agent-time API (API.md "Calls", "Agent time"). Views are thin: authorise, validate,
call one action, serialise."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import actions, events
from calls.access import agent_for, call_for, current_user
from calls.models import AgentSession, AgentStatusPeriod, CallLog
from calls.serializers import (
    AgentStatusSerializer,
    AnsweredSerializer,
    CallLogQuerySerializer,
    CallLogSerializer,
    DispositionSerializer,
    EndCallSerializer,
    StartCallSerializer,
    TimelineQuerySerializer,
)
from crm.access import team_for
from crm.models import User
from crm.periods import local_date, local_day_bounds
from crm.serializers import validated


class StartCallView(APIView):
    @extend_schema(
        request=StartCallSerializer,
        responses={
            201: inline_serializer(
                "CallStarted",
                {
                    "call_id": serializers.IntegerField(),
                    "started_at": serializers.DateTimeField(),
                    "status": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(StartCallSerializer, request.data)
        agent = current_user(request)
        if data.get("agent_id") is not None and data["agent_id"] != current_user(request).pk:
            if not current_user(request).is_admin:
                raise PermissionDenied("Only admins may start a call for another agent.")
            agent = agent_for(current_user(request), data["agent_id"])
        call = actions.do_start_call(
            agent,
            phone_number=data["phone_number"],
            contact=data.get("contact"),
            campaign=data.get("campaign"),
            direction=data["direction"],
            started_at=data.get("started_at"),
        )
        return Response(
            {"call_id": call.pk, "started_at": call.started_at, "status": call.status}, status=status.HTTP_201_CREATED
        )


class AnsweredView(APIView):
    @extend_schema(
        request=AnsweredSerializer,
        responses={
            200: inline_serializer(
                "CallAnswered",
                {
                    "call_id": serializers.IntegerField(),
                    "answered_at": serializers.DateTimeField(),
                    "status": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(AnsweredSerializer, request.data)
        call = actions.do_mark_answered(
            call_for(current_user(request), data["call_id"]), answered_at=data.get("answered_at")
        )
        return Response({"call_id": call.pk, "answered_at": call.answered_at, "status": call.status})


class EndCallView(APIView):
    @extend_schema(
        request=EndCallSerializer,
        responses={
            200: inline_serializer(
                "CallEnded",
                {
                    "call_id": serializers.IntegerField(),
                    "duration_seconds": serializers.IntegerField(),
                    "new_average": serializers.FloatField(),
                    "calls_made": serializers.IntegerField(),
                    "total_talk_time": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(EndCallSerializer, request.data)
        call = actions.do_end_call(
            call_for(current_user(request), data["call_id"]),
            status=data["status"],
            outcome=data["outcome"],
            notes=data["notes"],
            ended_at=data.get("ended_at"),
        )
        totals = actions.agent_day_totals(call.agent, call.started_at)
        return Response(
            {
                "call_id": call.pk,
                "status": call.status,
                "duration_seconds": call.duration_seconds,
                "new_average": totals.average,
                "calls_made": totals.calls_made,
                "total_talk_time": totals.total_talk_time,
            }
        )


class DispositionView(APIView):
    @extend_schema(request=DispositionSerializer, responses={200: CallLogSerializer})
    def post(self, request: Request, call_id: int) -> Response:
        call = call_for(current_user(request), call_id)
        data = validated(DispositionSerializer, request.data)
        call = actions.do_set_disposition(call, by=current_user(request), **data)
        return Response(CallLogSerializer(call).data)


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # only errors reach here
        return str(data).encode()


# Free text typed by people; a cell starting with one of these would run as a formula in a spreadsheet.
_FREE_TEXT_FIELDS = {"notes", "agent", "external_id"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(field: str, value: object) -> object:
    if value is None:
        return ""
    if field in _FREE_TEXT_FIELDS and isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


class CallLogView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        # An error is the contract's JSON body even when CSV was asked for.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        parameters=[CallLogQuerySerializer],
        responses={
            (200, "application/json"): inline_serializer(
                "CallLogPage", {"count": serializers.IntegerField(), "results": CallLogSerializer(many=True)}
            ),
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request) -> Response | StreamingHttpResponse:
        query = validated(CallLogQuerySerializer, request.query_params)
        calls = CallLog.objects.for_user(current_user(request)).select_related("agent")
        if "user_id" in query:
            calls = calls.filter(agent=agent_for(current_user(request), query["user_id"]))
        if "team_id" in query:
            calls = calls.filter(agent__teams=team_for(current_user(request), query["team_id"]))
        if "start_date" in query:
            calls = calls.filter(started_at__gte=local_day_bounds(query["start_date"])[0])
        if "end_date" in query:
            calls = calls.filter(started_at__lt=local_day_bounds(query["end_date"])[1])
        if "status" in query:
            calls = calls.filter(status=query["status"])
        rows = calls.order_by("-started_at", "-pk")[: query["limit"]]
        if request.accepted_renderer.format == "csv":
            filters = {key: str(value) for key, value in query.items()}
            events.exported.send(
                sender=CallLog, user=current_user(request), resource="call-log", format="csv", filters=filters
            )
            return self._csv(rows)
        results = CallLogSerializer(rows, many=True).data
        return Response({"count": len(results), "results": results})

    def _csv(self, rows) -> StreamingHttpResponse:
        fields = CallLogSerializer.Meta.fields
        writer = csv.DictWriter(_Echo(), fieldnames=fields)

        def lines() -> Iterator[str]:
            yield writer.writeheader() or ",".join(fields) + "\r\n"
            for call in rows.iterator(chunk_size=500):
                row = CallLogSerializer(call).data
                yield writer.writerow({k: _csv_cell(k, v) for k, v in row.items()})

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="calls.csv"'
        return response


class MyStatusView(APIView):
    @extend_schema(
        request=AgentStatusSerializer,
        responses={
            200: inline_serializer(
                "AgentStatusNow",
                {
                    "status": serializers.CharField(),
                    "reason": serializers.CharField(),
                    "since": serializers.DateTimeField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(AgentStatusSerializer, request.data)
        period = actions.do_change_agent_status(current_user(request), data["status"], reason=data["reason"])
        return Response({"status": period.status, "reason": period.reason, "since": period.started_at})


def _clipped_seconds(start, end, day_start, day_end, now) -> int:
    # In UTC: the day bounds share one local tzinfo, and Python subtracts those by wall clock (a DST
    # day would count 24 h instead of 23 or 25).
    end = end or now
    clipped_end, clipped_start = min(end, day_end).astimezone(UTC), max(start, day_start).astimezone(UTC)
    return max(0, int((clipped_end - clipped_start).total_seconds()))


class TimelineView(APIView):
    @extend_schema(
        parameters=[TimelineQuerySerializer, OpenApiParameter("agent_id", int, OpenApiParameter.PATH)],
        responses={
            200: inline_serializer(
                "AgentTimeline",
                {
                    "agent_id": serializers.IntegerField(),
                    "date": serializers.DateField(),
                    "periods": inline_serializer(
                        "AgentTimelinePeriod",
                        {
                            "status": serializers.CharField(),
                            "reason": serializers.CharField(),
                            "started_at": serializers.DateTimeField(),
                            "ended_at": serializers.DateTimeField(allow_null=True),
                            "seconds_in_day": serializers.IntegerField(),
                        },
                        many=True,
                    ),
                    "sessions": inline_serializer(
                        "AgentTimelineSession",
                        {
                            "started_at": serializers.DateTimeField(),
                            "ended_at": serializers.DateTimeField(allow_null=True),
                            "end_reason": serializers.CharField(),
                            "seconds_in_day": serializers.IntegerField(),
                        },
                        many=True,
                    ),
                    "calls": CallLogSerializer(many=True),
                },
            )
        },
    )
    def get(self, request: Request, agent_id: int) -> Response:
        agent: User = agent_for(current_user(request), agent_id)
        query = validated(TimelineQuerySerializer, request.query_params)
        now = timezone.now()
        day = query.get("date") or local_date(now)
        day_start, day_end = local_day_bounds(day)
        periods = AgentStatusPeriod.objects.filter(agent=agent).overlapping(day_start, day_end).order_by("started_at")
        sessions = AgentSession.objects.filter(agent=agent).overlapping(day_start, day_end).order_by("started_at")
        calls = (
            CallLog.objects.filter(agent=agent)
            .in_period(day_start, day_end)
            .select_related("agent")
            .order_by("started_at")
        )
        return Response(
            {
                "agent_id": agent.pk,
                "date": day,
                "periods": [
                    {
                        "status": p.status,
                        "reason": p.reason,
                        "started_at": p.started_at,
                        "ended_at": p.ended_at,
                        "seconds_in_day": _clipped_seconds(p.started_at, p.ended_at, day_start, day_end, now),
                    }
                    for p in periods
                ],
                "sessions": [
                    {
                        "started_at": s.started_at,
                        "ended_at": s.ended_at,
                        "end_reason": s.end_reason,
                        "seconds_in_day": _clipped_seconds(s.started_at, s.ended_at, day_start, day_end, now),
                    }
                    for s in sessions
                ],
                "calls": CallLogSerializer(calls, many=True).data,
            }
        )
