"""The reporting API (API.md "Reporting"), under /api/analytics/reporting/.

Views are thin: authorise (reporting/access.py) → validate (reporting/serializers.py) → one domain call
(a save, which syncs the beat schedule; reporting.delivery's generate / request_send) → serialise.
Templates: everyone signed in reads them, admins write them. Subscriptions, deliveries, generate and
send: supervisors for their teams and their teams' agents, admins for everything, agents not at all.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import FileResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.audit import record_audit
from analytics.export_views import JSONOnly
from analytics.models import AuditAction
from crm.access import current_user
from crm.errors import ActionError
from crm.models import User
from crm.serializers import validated
from reporting import access
from reporting import delivery as reports
from reporting.links import pdf_filename
from reporting.models import ReportSubscription, ReportTemplate
from reporting.serializers import (
    DeliveryQuerySerializer,
    GenerateSerializer,
    ReportDeliverySerializer,
    ReportSubscriptionSerializer,
    ReportTemplateSerializer,
    SendSerializer,
    SubscriptionQuerySerializer,
)

PDF_MEDIA_TYPE = "application/pdf"
WITH_DATA = {"with_data": True}
TAGS = ["reporting"]


def _page(name: str, item: serializers.Serializer) -> Any:
    return inline_serializer(name, {"count": serializers.IntegerField(), "results": item.__class__(many=True)})


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    text = {
        400: "Bad input; the error names each field and what is wrong with it.",
        403: "Agents; a supervisor asking about a team or agent they do not supervise, or an organisation-wide report.",
        404: "Unknown id.",
        409: "The delivery cannot be sent now (already sent, being sent, or no recipients).",
    }
    return {code: OpenApiResponse(description=text[code]) for code in codes}


def _require_admin(user: User, what: str) -> None:
    if not user.is_admin:
        raise PermissionDenied(f"Only admins may {what}.")


def _id_path(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, int, OpenApiParameter.PATH)


# --- templates --------------------------------------------------------------------------------------------


def _template(template_id: int) -> ReportTemplate:
    try:
        return ReportTemplate.objects.get(pk=template_id)
    except ReportTemplate.DoesNotExist:
        raise NotFound(f"There is no report template with id {template_id}.") from None


class TemplateListView(APIView):
    @extend_schema(
        operation_id="reporting_templates_list",
        tags=TAGS,
        responses=_page("ReportTemplatePage", ReportTemplateSerializer()),
    )
    def get(self, request: Request) -> Response:
        current_user(request)
        results = ReportTemplateSerializer(ReportTemplate.objects.order_by("name"), many=True).data
        return Response({"count": len(results), "results": results})

    @extend_schema(
        operation_id="reporting_templates_create",
        tags=TAGS,
        request=ReportTemplateSerializer,
        responses={201: ReportTemplateSerializer, **_errors(400, 403)},
    )
    def post(self, request: Request) -> Response:
        _require_admin(current_user(request), "create report templates")
        serializer = ReportTemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class TemplateDetailView(APIView):
    @extend_schema(
        operation_id="reporting_templates_retrieve",
        tags=TAGS,
        parameters=[_id_path("template_id")],
        responses={200: ReportTemplateSerializer, **_errors(404)},
    )
    def get(self, request: Request, template_id: int) -> Response:
        current_user(request)
        return Response(ReportTemplateSerializer(_template(template_id)).data)

    @extend_schema(
        operation_id="reporting_templates_update",
        tags=TAGS,
        parameters=[_id_path("template_id")],
        request=ReportTemplateSerializer,
        responses={200: ReportTemplateSerializer, **_errors(400, 403, 404)},
    )
    def put(self, request: Request, template_id: int) -> Response:
        return self._update(request, template_id, partial=False)

    @extend_schema(
        operation_id="reporting_templates_partial_update",
        tags=TAGS,
        parameters=[_id_path("template_id")],
        request=ReportTemplateSerializer(partial=True),
        responses={200: ReportTemplateSerializer, **_errors(400, 403, 404)},
    )
    def patch(self, request: Request, template_id: int) -> Response:
        return self._update(request, template_id, partial=True)

    def _update(self, request: Request, template_id: int, *, partial: bool) -> Response:
        template = _template(template_id)
        _require_admin(current_user(request), "change report templates")
        serializer = ReportTemplateSerializer(template, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)

    @extend_schema(
        operation_id="reporting_templates_destroy",
        tags=TAGS,
        parameters=[_id_path("template_id")],
        responses={204: None, **_errors(403, 404)},
    )
    def delete(self, request: Request, template_id: int) -> Response:
        template = _template(template_id)
        _require_admin(current_user(request), "delete report templates")
        template.delete()  # its subscriptions fall back to the built-in template
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- subscriptions ----------------------------------------------------------------------------------------


def _save_subscription(serializer: ReportSubscriptionSerializer, user: User, **extra: Any) -> ReportSubscription:
    """Check the subscription's scope as it will be after the change, then save it; the save syncs its
    beat task in the same transaction (reporting/signals.py)."""
    data = serializer.validated_data
    current = serializer.instance
    team = data["team"] if "team" in data else getattr(current, "team", None)
    agent = data["agent"] if "agent" in data else getattr(current, "agent", None)
    access.check_scope(user, team, agent)
    with transaction.atomic():
        return serializer.save(**extra)


class SubscriptionListView(APIView):
    @extend_schema(
        operation_id="reporting_subscriptions_list",
        tags=TAGS,
        parameters=[SubscriptionQuerySerializer],
        responses={200: _page("ReportSubscriptionPage", ReportSubscriptionSerializer()), **_errors(400, 403)},
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        access.require_report_manager(user)
        query = validated(SubscriptionQuerySerializer, request.query_params)
        rows = access.subscriptions_for(user).select_related("periodic_task__crontab")
        if query["is_active"] is not None:
            rows = rows.filter(is_active=query["is_active"])
        results = ReportSubscriptionSerializer(rows.order_by("name", "pk")[: query["limit"]], many=True).data
        return Response({"count": len(results), "results": results})

    @extend_schema(
        operation_id="reporting_subscriptions_create",
        tags=TAGS,
        request=ReportSubscriptionSerializer,
        responses={201: ReportSubscriptionSerializer, **_errors(400, 403)},
    )
    def post(self, request: Request) -> Response:
        user = current_user(request)
        access.require_report_manager(user)
        serializer = ReportSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = _save_subscription(serializer, user, owner=user)
        return Response(ReportSubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)


class SubscriptionDetailView(APIView):
    @extend_schema(
        operation_id="reporting_subscriptions_retrieve",
        tags=TAGS,
        parameters=[_id_path("subscription_id")],
        responses={200: ReportSubscriptionSerializer, **_errors(403, 404)},
    )
    def get(self, request: Request, subscription_id: int) -> Response:
        subscription = access.subscription_for(current_user(request), subscription_id)
        return Response(ReportSubscriptionSerializer(subscription).data)

    @extend_schema(
        operation_id="reporting_subscriptions_update",
        tags=TAGS,
        parameters=[_id_path("subscription_id")],
        request=ReportSubscriptionSerializer,
        responses={200: ReportSubscriptionSerializer, **_errors(400, 403, 404)},
    )
    def put(self, request: Request, subscription_id: int) -> Response:
        return self._update(request, subscription_id, partial=False)

    @extend_schema(
        operation_id="reporting_subscriptions_partial_update",
        tags=TAGS,
        parameters=[_id_path("subscription_id")],
        request=ReportSubscriptionSerializer(partial=True),
        responses={200: ReportSubscriptionSerializer, **_errors(400, 403, 404)},
    )
    def patch(self, request: Request, subscription_id: int) -> Response:
        return self._update(request, subscription_id, partial=True)

    def _update(self, request: Request, subscription_id: int, *, partial: bool) -> Response:
        user = current_user(request)
        subscription = access.subscription_for(user, subscription_id)
        serializer = ReportSubscriptionSerializer(subscription, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        subscription = _save_subscription(serializer, user)
        return Response(ReportSubscriptionSerializer(subscription).data)

    @extend_schema(
        operation_id="reporting_subscriptions_destroy",
        tags=TAGS,
        parameters=[_id_path("subscription_id")],
        responses={204: None, **_errors(403, 404)},
    )
    def delete(self, request: Request, subscription_id: int) -> Response:
        subscription = access.subscription_for(current_user(request), subscription_id)
        with transaction.atomic():
            subscription.delete()  # its beat task goes with it (reporting/signals.py)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- generate and send ------------------------------------------------------------------------------------


def _delivery_error(exc: Exception) -> ActionError:
    """reporting.delivery's refusal (a sentence) as the API's 409."""
    code = getattr(exc, "code", None) or "cannot_send"
    return ActionError(str(code), str(exc), status=status.HTTP_409_CONFLICT)


class GenerateView(APIView):
    @extend_schema(
        operation_id="reporting_generate",
        tags=TAGS,
        description=(
            "Build a report now: its data and PDF are stored as a new delivery (status pending). With "
            "`recipients`, it is also sent. Without a period: the last complete day (daily) or week (weekly)."
        ),
        request=GenerateSerializer,
        responses={201: ReportDeliverySerializer, **_errors(400, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        user = current_user(request)
        access.require_report_manager(user)
        data = validated(GenerateSerializer, request.data)
        access.check_scope(user, data.get("team"), data.get("agent"))
        team, agent, template = data.get("team"), data.get("agent"), data.get("template")
        recipients = data.get("recipients")
        try:
            item = reports.generate(
                report_type=data["report_type"],
                start=data["start"],
                end=data["end"],
                team_id=team.pk if team else None,
                agent_id=agent.pk if agent else None,
                timezone=data.get("timezone") or None,
                template=template,
                recipients=recipients,
                delivery_method=data["delivery_method"],
                requested_by=user,
            )
        except reports.DeliveryError as exc:  # input the serializer let through but the builder refuses
            raise ActionError("invalid", str(exc)) from exc
        if recipients:
            try:
                item = reports.request_send(item)
            except reports.DeliveryError as exc:
                raise _delivery_error(exc) from exc
        item.refresh_from_db()
        return Response(ReportDeliverySerializer(item, context=WITH_DATA).data, status=status.HTTP_201_CREATED)


class SendView(APIView):
    @extend_schema(
        operation_id="reporting_send",
        tags=TAGS,
        description="Send an existing delivery to its recipients (a failed one is tried again).",
        request=SendSerializer,
        responses={202: ReportDeliverySerializer, **_errors(400, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        user = current_user(request)
        access.require_report_manager(user)
        data = validated(SendSerializer, request.data)
        item = access.delivery_for_user(user, data["delivery_id"])
        try:
            item = reports.request_send(item)
        except reports.DeliveryError as exc:
            raise _delivery_error(exc) from exc
        item.refresh_from_db()
        return Response(ReportDeliverySerializer(item).data, status=status.HTTP_202_ACCEPTED)


# --- deliveries -------------------------------------------------------------------------------------------


class DeliveryListView(APIView):
    @extend_schema(
        operation_id="reporting_deliveries_list",
        tags=TAGS,
        parameters=[DeliveryQuerySerializer],
        responses={200: _page("ReportDeliveryPage", ReportDeliverySerializer()), **_errors(400, 403)},
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        access.require_report_manager(user)
        query = validated(DeliveryQuerySerializer, request.query_params)
        rows = access.deliveries_for(user)
        if "status" in query:
            rows = rows.filter(status=query["status"])
        if "subscription_id" in query:
            rows = rows.filter(subscription_id=query["subscription_id"])
        rows = rows.order_by("-created_at", "-pk")[: query["limit"]]
        results = ReportDeliverySerializer(rows, many=True).data
        return Response({"count": len(results), "results": results})


class DeliveryDetailView(APIView):
    @extend_schema(
        operation_id="reporting_deliveries_retrieve",
        tags=TAGS,
        parameters=[_id_path("delivery_id")],
        responses={200: ReportDeliverySerializer, **_errors(403, 404)},
    )
    def get(self, request: Request, delivery_id: int) -> Response:
        item = access.delivery_for_user(current_user(request), delivery_id)
        return Response(ReportDeliverySerializer(item, context=WITH_DATA).data)


class DeliveryPdfView(APIView):
    content_negotiation_class = JSONOnly  # errors are JSON whatever Accept says; success is the PDF

    @extend_schema(
        operation_id="reporting_deliveries_pdf",
        tags=TAGS,
        parameters=[_id_path("delivery_id")],
        responses={(200, PDF_MEDIA_TYPE): OpenApiTypes.BINARY, **_errors(403, 404)},
    )
    def get(self, request: Request, delivery_id: int) -> HttpResponseBase:
        user = current_user(request)
        item = access.delivery_for_user(user, delivery_id)
        if not item.pdf:
            raise NotFound(f"Report delivery {item.pk} has no PDF yet (status {item.status}): it is built when sent.")
        try:
            handle = item.pdf.open("rb")
        except FileNotFoundError:
            raise NotFound(f"The PDF of report delivery {item.pk} is missing from storage.") from None
        record_audit(user, AuditAction.EXPORT, resource="report-pdf", detail={"format": "pdf", "delivery_id": item.pk})
        response = FileResponse(handle, content_type=PDF_MEDIA_TYPE, as_attachment=True, filename=pdf_filename(item))
        response["Cache-Control"] = "private, no-store"
        return response
