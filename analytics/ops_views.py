"""Operational endpoints of analytics/ (API.md "CRM effectiveness dashboard"): the cron trigger of the
metric snapshots, and the snapshot history."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, AuthenticationFailed, PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import SnapshotType
from analytics.periods import period_from_params
from analytics.registry import METRICS
from analytics.snapshots import build_last_snapshot, history
from crm.access import current_user
from crm.models import Role


class CronDisabled(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "cron_disabled"
    default_detail = "The cron endpoint is disabled: set CRON_SECRET on the server to enable it."


def _check_cron_secret(request: Request) -> None:
    secret = settings.CRON_SECRET
    if not secret:
        raise CronDisabled()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    # Constant-time comparison: the time taken says nothing about how much of the token matched.
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), secret.encode()):
        raise AuthenticationFailed("Send the cron secret as 'Authorization: Bearer <CRON_SECRET>'.")


class AggregateMetricsView(APIView):
    """Build (or rebuild) the snapshot of the last closed local hour, day or ISO week. For an external
    scheduler; beat builds the same snapshots on its own. Idempotent: calling it again replaces the
    period's snapshot with the same numbers (or newer ones, if late data arrived)."""

    authentication_classes: list = []  # the cron secret is the only credential; an API key does not apply
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def get_authenticate_header(self, request: Request) -> str:
        # With no authentication classes DRF would turn a refusal into 403; the secret is a bearer token.
        return 'Bearer realm="cron"'

    @extend_schema(
        operation_id="cron_aggregate_metrics",
        auth=[],
        parameters=[
            OpenApiParameter("type", str, enum=SnapshotType.values, required=True, description="Snapshot type."),
            OpenApiParameter(
                "Authorization", str, OpenApiParameter.HEADER, required=True, description="Bearer <CRON_SECRET>"
            ),
        ],
        request=None,
        responses={
            200: inline_serializer(
                "AggregateMetricsResult",
                {
                    "success": serializers.BooleanField(),
                    "type": serializers.ChoiceField(choices=SnapshotType.values),
                    "timestamp": serializers.DateTimeField(),
                    "message": serializers.CharField(),
                    "period_start": serializers.DateTimeField(),
                    "period_end": serializers.DateTimeField(),
                    "snapshot_id": serializers.IntegerField(),
                },
            ),
            400: OpenApiResponse(description="Unknown type."),
            401: OpenApiResponse(description="Missing or wrong cron secret."),
            503: OpenApiResponse(description="CRON_SECRET is not set: the endpoint is disabled."),
        },
    )
    def post(self, request: Request) -> Response:
        _check_cron_secret(request)
        snapshot_type = request.query_params.get("type", "")
        if snapshot_type not in SnapshotType.values:
            raise ValidationError(
                {"type": [f"type must be one of {', '.join(SnapshotType.values)}, not {snapshot_type!r}."]}
            )
        snapshot = build_last_snapshot(snapshot_type)
        start, end = timezone.localtime(snapshot.period_start), timezone.localtime(snapshot.period_end)
        return Response(
            {
                "success": True,
                "type": snapshot_type,
                "timestamp": timezone.now().isoformat(),
                "message": f"Stored the {snapshot_type} snapshot of {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}.",
                "period_start": snapshot.period_start.isoformat(),
                "period_end": snapshot.period_end.isoformat(),
                "snapshot_id": snapshot.pk,
            }
        )


class SnapshotHistoryView(APIView):
    """Long history from the stored snapshots: one point per closed hour, day or week, for trend
    charts over months or years without re-reading rollups. Snapshots are organisation-wide, so this
    is for admins; periods whose snapshot was never built are absent (not zero)."""

    @extend_schema(
        operation_id="dashboard_history",
        parameters=[
            OpenApiParameter("type", str, enum=SnapshotType.values, required=True),
            OpenApiParameter("startDate", str, required=True, description="First local date (YYYY-MM-DD)."),
            OpenApiParameter("endDate", str, required=True, description="Last local date, inclusive."),
            OpenApiParameter("metrics", str, description="Comma-separated metric keys (default: all)."),
        ],
        responses={
            200: inline_serializer(
                "SnapshotHistory",
                {
                    "type": serializers.CharField(),
                    "period": serializers.DictField(),
                    "series": serializers.ListField(child=serializers.DictField()),
                },
            ),
            400: OpenApiResponse(description="Bad type, dates or metric key."),
            403: OpenApiResponse(description="Not an admin."),
        },
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        if not (user.role == Role.ADMIN or user.is_superuser):
            raise PermissionDenied("Snapshots hold the whole organisation's figures: only admins may read them.")
        snapshot_type = request.query_params.get("type", "")
        if snapshot_type not in SnapshotType.values:
            raise ValidationError(
                {"type": [f"type must be one of {', '.join(SnapshotType.values)}, not {snapshot_type!r}."]}
            )
        if not (request.query_params.get("startDate") and request.query_params.get("endDate")):
            raise ValidationError({"startDate": ["Give startDate and endDate (inclusive local dates)."]})
        period = period_from_params(request.query_params)
        wanted = [key for key in request.query_params.get("metrics", "").split(",") if key.strip()]
        unknown = [key for key in wanted if key not in METRICS]
        if unknown:
            raise ValidationError({"metrics": [f"Unknown metric {', '.join(unknown)}; see /api/dashboard/metrics."]})
        series = [
            {
                "start": point["start"].isoformat(),
                "end": point["end"].isoformat(),
                "metrics": {k: v for k, v in point["metrics"].items() if not wanted or k in wanted},
            }
            for point in history(snapshot_type, period.start, period.end)
        ]
        return Response({"type": snapshot_type, "period": period.as_dict(), "series": series})
