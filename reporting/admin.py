"""Django admin for scheduled reports: staff write templates, set up subscriptions (their beat schedule
follows every save), send or preview a report, and follow deliveries.

- Templates: the HTML in a monospace editor; a syntax error is refused with its line, nothing saved.
- Subscriptions: recipients one per line, delivery days as checkboxes, the time zone checked; the list
  shows the schedule, the next run and the last delivery's status. "Send now" (an action and a
  button) sends the current period's report; "Preview PDF" opens the PDF it would send, built now.
  Its deliveries are listed inline, newest first, each with its PDF.
- Deliveries: read-only, filtered by status, type and method, with their PDFs.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from crm.admin import ReadOnlyAdmin
from reporting import delivery as reports
from reporting.links import pdf_filename
from reporting.models import (
    WEEKDAYS,
    DeliveryMethod,
    DeliveryStatus,
    ReportDelivery,
    ReportSubscription,
    ReportTemplate,
)
from reporting.schedules import next_run, parse_hh_mm, schedule_text, zone_error

PDF = "application/pdf"
INLINE_DELIVERIES = 20  # the newest ones; the deliveries page has them all


def _local(moment: Any, zone: Any = None) -> str:
    if moment is None:
        return "—"
    return timezone.localtime(moment, zone).strftime("%Y-%m-%d %H:%M %Z")


def delivery_pdf_link(delivery: ReportDelivery) -> SafeString | str:
    if not delivery.pdf:
        return "—"
    url = reverse("admin:reporting_reportdelivery_pdf", args=[delivery.pk])
    return format_html('<a href="{}" target="_blank" rel="noopener">PDF</a>', url)


# --- templates ------------------------------------------------------------------------------------------


class ReportTemplateForm(forms.ModelForm):
    class Meta:
        model = ReportTemplate
        fields = ["name", "description", "html"]
        widgets = {
            "html": forms.Textarea(
                attrs={
                    "rows": 32,
                    "cols": 120,
                    "spellcheck": "false",
                    "wrap": "off",
                    "style": "font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; "
                    "font-size: 12px; width: 100%; tab-size: 2;",
                }
            ),
            "description": forms.Textarea(attrs={"rows": 2}),
        }


@admin.register(ReportTemplate)
class ReportTemplateAdmin(admin.ModelAdmin):
    """The HTML of report PDFs. Saving checks it compiles (the model refuses a syntax error with its line)."""

    form = ReportTemplateForm
    list_display = ("name", "description_short", "updated_at")
    search_fields = ("name", "description")
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="Description")
    def description_short(self, obj: ReportTemplate) -> str:
        return Truncator(obj.description).chars(80)


# --- subscriptions ---------------------------------------------------------------------------------------


class RecipientsField(forms.CharField):
    """One recipient per line (blank lines ignored), stored as the JSON list."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 80, "spellcheck": "false"})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("["):  # the JSON list of a bound, unchanged form
            try:
                value = json.loads(value)
            except ValueError:
                return value
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


class ZoneInput(forms.TextInput):
    """A text box suggesting the IANA zone names (a datalist), so typing "Eur" offers Europe/…."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        from zoneinfo import available_timezones

        list_id = f"{(attrs or {}).get('id', name)}_zones"
        box = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">', ((zone,) for zone in sorted(available_timezones())))
        return format_html('{}<datalist id="{}">{}</datalist>', box, list_id, options)


class ReportSubscriptionForm(forms.ModelForm):
    recipients = RecipientsField(
        required=True,
        help_text="One per line. E-mail addresses; for Slack, incoming-webhook URLs "
        "(hosts allowed by REPORT_SLACK_WEBHOOK_HOSTS).",
    )
    delivery_days = forms.MultipleChoiceField(
        choices=[(day, day) for day in WEEKDAYS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every day (daily report) or Monday (weekly report).",
    )
    delivery_time = forms.CharField(
        max_length=5,
        initial="08:00",
        widget=forms.TextInput(attrs={"size": 6, "placeholder": "HH:MM"}),
        help_text="Local time in the subscription's time zone, 24-hour (e.g. 08:00).",
    )
    timezone = forms.CharField(
        max_length=64,
        required=False,
        widget=ZoneInput(attrs={"size": 30, "placeholder": settings.TIME_ZONE}),
        help_text=f"IANA time zone, e.g. Europe/Warsaw. Empty: {settings.TIME_ZONE} (the site's TIME_ZONE).",
    )

    class Meta:
        model = ReportSubscription
        fields = [
            "name",
            "owner",
            "is_active",
            "team",
            "agent",
            "report_type",
            "template",
            "skip_if_empty",
            "delivery_method",
            "recipients",
            "delivery_time",
            "delivery_days",
            "timezone",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["delivery_time"] = self.instance.delivery_time.strftime("%H:%M")

    def clean_delivery_time(self) -> Any:
        try:
            return parse_hh_mm(self.cleaned_data["delivery_time"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_delivery_days(self) -> list[str]:
        chosen = set(self.cleaned_data["delivery_days"])
        return [day for day in WEEKDAYS if day in chosen]

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        error = zone_error(name) if name else None
        if error:
            raise forms.ValidationError(error)
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("team") and data.get("agent"):
            self.add_error("agent", "Choose a team or an agent, not both (neither: the whole organisation).")
        method, recipients = data.get("delivery_method"), data.get("recipients")
        if method and recipients is not None:
            errors = reports.validate_recipients(method, recipients)
            if errors:
                self.add_error("recipients", errors)
        return data


class ScopeListFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("organisation", "Organisation"), ("team", "A team"), ("agent", "An agent")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "organisation":
            return queryset.filter(team__isnull=True, agent__isnull=True)
        if self.value() == "team":
            return queryset.filter(team__isnull=False)
        if self.value() == "agent":
            return queryset.filter(agent__isnull=False)
        return queryset


class ReportDeliveryInline(admin.TabularInline):
    """The subscription's newest deliveries (read-only)."""

    model = ReportDelivery
    fk_name = "subscription"
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"Deliveries (newest {INLINE_DELIVERIES}; all of them under Report deliveries)"
    fields = ("period", "status", "attempts", "sent", "error", "pdf_link")
    readonly_fields = fields
    ordering = ("-period_start", "-pk")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Period")
    def period(self, obj: ReportDelivery) -> str:
        if obj.period_start == obj.period_end:
            return obj.period_start.isoformat()
        return f"{obj.period_start.isoformat()} – {obj.period_end.isoformat()}"

    @admin.display(description="Sent")
    def sent(self, obj: ReportDelivery) -> str:
        return _local(obj.sent_at)

    @admin.display(description="Last error")
    def error(self, obj: ReportDelivery) -> str:
        return Truncator(obj.last_error).chars(120) or "—"

    @admin.display(description="PDF")
    def pdf_link(self, obj: ReportDelivery) -> SafeString | str:
        return delivery_pdf_link(obj)


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    """Who receives which report, how and when. Saving updates its django-celery-beat task."""

    form = ReportSubscriptionForm
    inlines = (ReportDeliveryInline,)
    list_display = (
        "name",
        "scope_label",
        "report_type",
        "delivery_method",
        "schedule",
        "next_run_at",
        "is_active",
        "last_delivery_status",
    )
    list_filter = (
        "is_active",
        "report_type",
        "delivery_method",
        ScopeListFilter,
        ("team", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("team", "agent", "periodic_task__crontab")
    search_fields = ("name", "team__name", "agent__username", "agent__first_name", "agent__last_name")
    autocomplete_fields = ("owner", "team", "agent")
    readonly_fields = ("schedule_summary", "created_at", "updated_at")
    actions = ("send_now_action", "preview_pdf_action")
    fieldsets = (
        (None, {"fields": ("name", "owner", "is_active")}),
        (
            "Scope",
            {"fields": ("team", "agent"), "description": "A team or one agent; neither: the whole organisation."},
        ),
        ("Report", {"fields": ("report_type", "template", "skip_if_empty")}),
        ("Delivery", {"fields": ("delivery_method", "recipients")}),
        ("Schedule", {"fields": ("delivery_time", "delivery_days", "timezone", "schedule_summary")}),
        ("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReportSubscription]:
        newest = ReportDelivery.objects.filter(subscription=OuterRef("pk")).order_by("-period_start", "-pk")
        return super().get_queryset(request).annotate(last_status=Subquery(newest.values("status")[:1]))

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"owner": request.user.pk, **super().get_changeform_initial_data(request)}

    def get_formset_kwargs(self, request: HttpRequest, obj: Any, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, ReportDeliveryInline) and obj is not None and obj.pk:
            newest = obj.deliveries.order_by("-period_start", "-pk").values_list("pk", flat=True)[:INLINE_DELIVERIES]
            kwargs["queryset"] = ReportDelivery.objects.filter(pk__in=list(newest)).order_by("-period_start", "-pk")
        return kwargs

    # --- columns ---

    @admin.display(description="Scope")
    def scope_label(self, obj: ReportSubscription) -> str:
        if obj.team_id:
            return f"Team {obj.team}"
        if obj.agent_id:
            return f"Agent {obj.agent}"
        return "Organisation"

    @admin.display(description="Schedule")
    def schedule(self, obj: ReportSubscription) -> str:
        return schedule_text(obj)

    @admin.display(description="Next run")
    def next_run_at(self, obj: ReportSubscription) -> str:
        when = next_run(obj)
        return _local(when, obj.zone) if when else "— (inactive)"

    @admin.display(description="Last delivery", ordering="last_status")
    def last_delivery_status(self, obj: ReportSubscription) -> str:
        status = getattr(obj, "last_status", None)
        return str(DeliveryStatus(status).label) if status else "—"

    @admin.display(description="Beat schedule")
    def schedule_summary(self, obj: ReportSubscription) -> SafeString | str:
        if obj.pk is None:
            return "Made when the subscription is saved."
        text = f"{schedule_text(obj)}; next run: {self.next_run_at(obj)}"
        if obj.periodic_task_id is None:
            return f"{text}. Its beat task is missing (deleted?): saving the subscription creates it again."
        url = reverse("admin:django_celery_beat_periodictask_change", args=[obj.periodic_task_id])
        return format_html('{} — <a href="{}">beat task</a>', text, url)

    # --- send now and preview ---

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:object_id>/preview.pdf",
                self.admin_site.admin_view(self.preview_view),
                name="reporting_reportsubscription_preview",
            ),
            path(
                "<int:object_id>/send-now/",
                self.admin_site.admin_view(require_POST(self.send_now_view)),
                name="reporting_reportsubscription_send_now",
            ),
        ]
        return own + super().get_urls()

    def _subscription(self, request: HttpRequest, object_id: int, *, change: bool) -> ReportSubscription:
        subscription = get_object_or_404(ReportSubscription.objects.select_related("template"), pk=object_id)
        allowed = (
            self.has_change_permission(request, subscription)
            if change
            else self.has_view_permission(request, subscription)
        )
        if not allowed:
            raise Http404("No such subscription.")
        return subscription

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The PDF the subscription would send for the current period, built now; nothing is stored."""
        subscription = self._subscription(request, object_id, change=False)
        pdf = reports.preview_pdf(subscription)
        response = HttpResponse(pdf, content_type=PDF)
        response["Content-Disposition"] = f'inline; filename="preview-{subscription.pk}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response

    def send_now_view(self, request: HttpRequest, object_id: int) -> HttpResponseRedirect:
        subscription = self._subscription(request, object_id, change=True)
        self._send_now(request, [subscription])
        return HttpResponseRedirect(reverse("admin:reporting_reportsubscription_change", args=[subscription.pk]))

    def _send_now(self, request: HttpRequest, subscriptions: list[ReportSubscription]) -> None:
        user = request.user if request.user.is_authenticated else None
        for subscription in subscriptions:
            try:
                item = reports.send_now(subscription, requested_by=user)
            except reports.DeliveryError as exc:
                self.message_user(request, f"{subscription}: {exc}", messages.ERROR)
                continue
            item.refresh_from_db()
            level = messages.ERROR if item.status == DeliveryStatus.FAILED else messages.SUCCESS
            self.message_user(request, f"{subscription}: {_status_sentence(item)}", level)

    @admin.action(description="Send now (the current period's report)", permissions=["change"])
    def send_now_action(self, request: HttpRequest, queryset: QuerySet[ReportSubscription]) -> None:
        self._send_now(request, list(queryset.select_related("template")))

    @admin.action(description="Preview PDF (one subscription)", permissions=["view"])
    def preview_pdf_action(self, request: HttpRequest, queryset: QuerySet[ReportSubscription]) -> Any:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, "Choose exactly one subscription to preview.", messages.WARNING)
            return None
        url = reverse("admin:reporting_reportsubscription_preview", args=[chosen[0].pk])
        return HttpResponseRedirect(url)


def _status_sentence(item: ReportDelivery) -> str:
    period = item.period_start.isoformat()
    if item.period_end != item.period_start:
        period += f" – {item.period_end.isoformat()}"
    recipients = ", ".join(item.recipients) if item.delivery_method == DeliveryMethod.EMAIL else "Slack"
    return {
        DeliveryStatus.SENT: f"the report for {period} was sent to {recipients}.",
        DeliveryStatus.SKIPPED: f"the report for {period} was skipped. {item.last_error}",
        DeliveryStatus.FAILED: f"the report for {period} failed: {item.last_error}",
    }.get(
        DeliveryStatus(item.status),
        f"the report for {period} is on its way (status {item.status}); its delivery shows how it went.",
    )


# --- deliveries ------------------------------------------------------------------------------------------


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(ReadOnlyAdmin):
    """Every report built: scheduled ones and ad-hoc ones (API `generate`), with how sending went."""

    list_display = (
        "period_start",
        "period_end",
        "subscription_link",
        "report_type",
        "scope",
        "delivery_method",
        "status",
        "attempts",
        "sent_at",
        "pdf_link",
    )
    list_filter = (
        "status",
        "report_type",
        "delivery_method",
        ("subscription", admin.RelatedOnlyFieldListFilter),
        ("period_start", admin.DateFieldListFilter),
    )
    list_select_related = ("subscription",)
    search_fields = ("subscription__name", "last_error")
    date_hierarchy = "period_start"
    list_per_page = 100
    fields = (
        "subscription",
        "report_type",
        "team",
        "agent",
        "delivery_method",
        "recipients",
        "delivered_to",
        ("period_start", "period_end"),
        "timezone",
        "status",
        "attempts",
        "last_error",
        "pdf_link",
        "requested_by",
        "created_at",
        "claimed_at",
        "next_attempt_at",
        "sent_at",
        "data_json",
    )
    # every field read-only: a delivery is a record, changed only by sending it (and the actions)
    readonly_fields = tuple(f for entry in fields for f in (entry if isinstance(entry, tuple) else (entry,)))

    @admin.display(description="Subscription", ordering="subscription__name")
    def subscription_link(self, obj: ReportDelivery) -> SafeString | str:
        if obj.subscription is None:
            return "ad-hoc"
        url = reverse("admin:reporting_reportsubscription_change", args=[obj.subscription_id])
        return format_html('<a href="{}">{}</a>', url, obj.subscription.name)

    @admin.display(description="PDF")
    def pdf_link(self, obj: ReportDelivery) -> SafeString | str:
        return delivery_pdf_link(obj)

    @admin.display(description="Report data")
    def data_json(self, obj: ReportDelivery) -> SafeString | str:
        if obj.data is None:
            return "— (built when it is sent)"
        text = json.dumps(obj.data, indent=2, ensure_ascii=False)
        return format_html('<pre style="max-height: 30em; overflow: auto; white-space: pre-wrap;">{}</pre>', text)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:object_id>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="reporting_reportdelivery_pdf",
            )
        ]
        return own + super().get_urls()

    def pdf_view(self, request: HttpRequest, object_id: int) -> HttpResponseBase:
        delivery = get_object_or_404(ReportDelivery.objects.select_related("subscription"), pk=object_id)
        if not self.has_view_permission(request, delivery) or not delivery.pdf:
            raise Http404("This delivery has no PDF.")
        try:
            handle = delivery.pdf.open("rb")
        except FileNotFoundError:
            raise Http404("The PDF file is missing from storage.") from None
        return FileResponse(handle, content_type=PDF, filename=pdf_filename(delivery))
