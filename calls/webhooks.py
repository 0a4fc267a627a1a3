"""Twilio voice HTTP endpoints: the status callback webhook (API.md "Webhooks"; Twilio signs every
request and nothing unsigned is written), the API that starts a sync (`POST /api/crm/dashboard/sync-twilio`)
and the one that reads how a sync went (`GET /api/crm/dashboard/sync-twilio/<run_id>`)."""

from __future__ import annotations

import logging
from uuid import uuid4

from celery.exceptions import Retry
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import actions
from calls.access import current_user, sync_run_for
from calls.models import TwilioSyncRun
from calls.tasks import sync_twilio_calls
from calls.twilio import TwilioSyncError, require_twilio
from crm.periods import local_date
from crm.twilio_account import twilio_webhook, webhook_error

logger = logging.getLogger(__name__)


@twilio_webhook
def voice_status(request: HttpRequest) -> HttpResponse:
    """Call status callback: store it, apply it if its call is known, answer 204 (Twilio ignores bodies)."""
    payload = {key: request.POST.get(key, "") for key in request.POST}
    if not payload.get("CallSid"):
        return webhook_error("invalid", "The callback has no CallSid.", 400)
    actions.do_record_twilio_call_event(payload)
    return HttpResponse(status=204)


class SyncTwilioRequestSerializer(serializers.Serializer):
    date = serializers.DateField(
        required=False, help_text="Local day to sync; default today (supervisors/admins only)."
    )


class SyncTwilioView(APIView):
    """Any signed-in user may sync today; another day is for supervisors and admins (a sync corrects
    every agent's calls of that day, so an agent may only refresh the day they are working)."""

    @extend_schema(
        request=SyncTwilioRequestSerializer,
        responses={
            202: inline_serializer(
                "TwilioSyncStarted", {"task_id": serializers.CharField(), "sync_run_id": serializers.IntegerField()}
            )
        },
    )
    def post(self, request: Request) -> Response:
        user = current_user(request)
        serializer = SyncTwilioRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        today = local_date(timezone.now())
        day = serializer.validated_data.get("date") or today
        if day > today:
            raise serializers.ValidationError({"date": "The date is in the future; Twilio has no calls for it yet."})
        if day != today and not (user.is_admin or user.is_supervisor):
            raise PermissionDenied("Only supervisors and admins may sync a day other than today.")
        require_twilio()
        run = actions.do_begin_twilio_sync(day, requested_by=user)
        task_id = str(uuid4())
        try:
            sync_twilio_calls.apply_async((day.isoformat(), user.pk, run.pk), task_id=task_id)
        except (TwilioSyncError, Retry):
            # Only when tasks run in-process (embedded default): the failure is already recorded on the
            # run, which the client reads like any other; with a worker the task retries on its own.
            logger.warning("Twilio sync run %s failed in-process", run.pk)
        return Response({"task_id": task_id, "sync_run_id": run.pk}, status=status.HTTP_202_ACCEPTED)


class TwilioSyncRunSerializer(serializers.ModelSerializer):
    sync_run_id = serializers.IntegerField(source="pk", read_only=True)
    requested_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    detail = serializers.SerializerMethodField(help_text="How the sync went, in one sentence.")

    class Meta:
        model = TwilioSyncRun
        fields = [
            "sync_run_id",
            "day",
            "status",
            "requested_by_id",
            "started_at",
            "finished_at",
            "fetched",
            "matched",
            "fixed",
            "missing",
            "duplicates",
            "error",
            "detail",
        ]
        read_only_fields = fields

    def get_detail(self, run: TwilioSyncRun) -> str:
        if run.status == TwilioSyncRun.Status.RUNNING:
            return f"The sync of {run.day.isoformat()} is still running."
        if run.status == TwilioSyncRun.Status.FAILED:
            return f"The sync of {run.day.isoformat()} failed: {run.error}"
        return (
            f"Twilio listed {run.fetched} calls on {run.day.isoformat()}: {run.matched} matched, "
            f"{run.fixed} corrected, {run.missing} not in the call log."
        )


class SyncTwilioRunView(APIView):
    """How one sync went (the page that started it polls this until `status` is no longer `running`)."""

    @extend_schema(
        operation_id="sync_twilio_run",
        parameters=[OpenApiParameter("run_id", int, OpenApiParameter.PATH)],
        responses={200: TwilioSyncRunSerializer},
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = sync_run_for(current_user(request), run_id)
        return Response(TwilioSyncRunSerializer(run).data)
