"""The reporting admin (reporting/admin.py): staff set up templates and subscriptions there. Pages load;
adding a subscription creates its beat task; "send now" sends; "preview PDF" shows the PDF without
storing anything; a template with a syntax error is refused with its line and nothing is saved."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from crm.models import Team, User
from reporting.models import DeliveryStatus, ReportDelivery, ReportSubscription, ReportTemplate
from reporting.schedules import task_name

SLACK_HOOK = "https://hooks.slack.com/services/T000/B000/XXXX"


@pytest.fixture
def staff(admin: User) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def subscription(owner: User, **fields: Any) -> ReportSubscription:
    values: dict[str, Any] = {"name": "Team A daily", "recipients": ["manager@example.com"], **fields}
    return ReportSubscription.objects.create(owner=owner, **values)


def form_data(owner: User, team: Team | None = None, **fields: Any) -> dict[str, Any]:
    """The add/change form as a browser posts it (the deliveries inline included)."""
    data: dict[str, Any] = {
        "name": "Team A daily",
        "owner": owner.pk,
        "is_active": "on",
        "team": team.pk if team else "",
        "agent": "",
        "report_type": "daily",
        "template": "",
        "delivery_method": "email",
        "recipients": "manager@example.com\n\n  ops@example.com  \n",
        "delivery_time": "07:45",
        "delivery_days": ["Monday", "Wednesday", "Friday"],
        "timezone": "Europe/Warsaw",
        "deliveries-TOTAL_FORMS": "0",
        "deliveries-INITIAL_FORMS": "0",
        "deliveries-MIN_NUM_FORMS": "0",
        "deliveries-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def delivery(sub: ReportSubscription, day: date, status: str = DeliveryStatus.SENT, pdf: bytes = b"") -> ReportDelivery:
    row = ReportDelivery.objects.create(
        subscription=sub,
        report_type=sub.report_type,
        team=sub.team,
        recipients=sub.recipients,
        period_start=day,
        period_end=day,
        status=status,
        last_error="SMTP refused" if status == DeliveryStatus.FAILED else "",
    )
    if pdf:
        row.pdf.save(f"report-{day}.pdf", ContentFile(pdf), save=True)
    return row


# --- pages ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reporting_pages_load_for_a_superuser(staff, admin, team_a):
    template = ReportTemplate.objects.create(name="Plain", html="<h1>{{ title }}</h1>")
    sub = subscription(admin, team=team_a, template=template, timezone="Europe/Warsaw")
    row = delivery(sub, date(2026, 3, 2), pdf=b"%PDF-1.7 stored")
    pages = [
        reverse("admin:reporting_reporttemplate_changelist"),
        reverse("admin:reporting_reporttemplate_add"),
        reverse("admin:reporting_reporttemplate_change", args=[template.pk]),
        reverse("admin:reporting_reportsubscription_changelist"),
        reverse("admin:reporting_reportsubscription_add"),
        reverse("admin:reporting_reportsubscription_change", args=[sub.pk]),
        reverse("admin:reporting_reportdelivery_changelist"),
        reverse("admin:reporting_reportdelivery_change", args=[row.pk]),
    ]
    for page in pages:
        response = staff.get(page)
        assert response.status_code == 200, page


@pytest.mark.django_db
def test_the_subscription_list_shows_schedule_next_run_and_last_delivery(staff, admin, team_a, team_b):
    sub = subscription(admin, team=team_a, timezone="Europe/Warsaw", delivery_days=["Monday", "Tuesday"])
    delivery(sub, date(2026, 3, 2), DeliveryStatus.SENT)
    delivery(sub, date(2026, 3, 3), DeliveryStatus.FAILED)
    subscription(admin, name="Quiet", team=team_b, is_active=False)
    page = staff.get(reverse("admin:reporting_reportsubscription_changelist")).content.decode()
    assert "Mon, Tue at 08:00 (Europe/Warsaw)" in page
    assert "Team Team A" in page
    assert "Failed" in page  # the newest delivery's status
    assert "— (inactive)" in page
    filtered = staff.get(reverse("admin:reporting_reportsubscription_changelist") + "?is_active__exact=0")
    assert "Quiet" in filtered.content.decode() and "Team A daily" not in filtered.content.decode()


@pytest.mark.django_db
def test_the_subscription_list_does_not_query_per_row(staff, admin, team_a, django_assert_max_num_queries):
    for n in range(10):
        sub = subscription(admin, name=f"S{n}", team=team_a)
        delivery(sub, date(2026, 3, 2))
    url = reverse("admin:reporting_reportsubscription_changelist")
    staff.get(url)
    with django_assert_max_num_queries(12):
        assert staff.get(url).status_code == 200


@pytest.mark.django_db
def test_the_change_page_lists_deliveries_newest_first_with_their_pdfs(staff, admin, team_a):
    sub = subscription(admin, team=team_a)
    older = delivery(sub, date(2026, 3, 2), pdf=b"%PDF-1.7 older")
    newer = delivery(sub, date(2026, 3, 3), DeliveryStatus.FAILED)
    page = staff.get(reverse("admin:reporting_reportsubscription_change", args=[sub.pk])).content.decode()
    assert page.index("2026-03-03") < page.index("2026-03-02")
    assert "SMTP refused" in page
    pdf_url = reverse("admin:reporting_reportdelivery_pdf", args=[older.pk])
    assert pdf_url in page
    assert reverse("admin:reporting_reportdelivery_pdf", args=[newer.pk]) not in page  # it has no PDF
    assert reverse("admin:reporting_reportsubscription_preview", args=[sub.pk]) in page
    assert "beat task" in page

    pdf = staff.get(pdf_url)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content) == b"%PDF-1.7 older"
    assert staff.get(reverse("admin:reporting_reportdelivery_pdf", args=[newer.pk])).status_code == 404


@pytest.mark.django_db
def test_the_deliveries_page_is_read_only_and_filters_by_status(staff, admin, team_a):
    sub = subscription(admin, team=team_a)
    sent = delivery(sub, date(2026, 3, 2), DeliveryStatus.SENT)
    delivery(sub, date(2026, 3, 3), DeliveryStatus.FAILED)
    url = reverse("admin:reporting_reportdelivery_changelist")
    failed_only = staff.get(url + "?status__exact=failed").content.decode()
    assert "2026-03-03" in failed_only or "March 3, 2026" in failed_only
    assert reverse("admin:reporting_reportdelivery_change", args=[sent.pk]) not in failed_only
    assert staff.get(reverse("admin:reporting_reportdelivery_add")).status_code == 403
    response = staff.post(reverse("admin:reporting_reportdelivery_change", args=[sent.pk]), {"status": "failed"})
    assert response.status_code == 403
    sent.refresh_from_db()
    assert sent.status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_the_admin_is_for_staff_only(agent_a1, admin, team_a):
    sub = subscription(admin, team=team_a)
    client = Client()
    client.force_login(agent_a1)  # not staff
    for url in (
        reverse("admin:reporting_reportsubscription_changelist"),
        reverse("admin:reporting_reportsubscription_preview", args=[sub.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    response = client.post(reverse("admin:reporting_reportsubscription_send_now", args=[sub.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- adding and changing subscriptions -------------------------------------------------------------------


@pytest.mark.django_db
def test_adding_a_subscription_in_the_admin_creates_its_beat_task(staff, admin, team_a):
    response = staff.post(reverse("admin:reporting_reportsubscription_add"), form_data(admin, team_a))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    sub = ReportSubscription.objects.get()
    assert sub.recipients == ["manager@example.com", "ops@example.com"]
    assert sub.delivery_days == ["Monday", "Wednesday", "Friday"]
    assert (sub.delivery_time.hour, sub.delivery_time.minute) == (7, 45) and sub.timezone == "Europe/Warsaw"
    task = PeriodicTask.objects.select_related("crontab").get(name=task_name(sub.pk))
    assert task.task == "reporting.tasks.run_subscription" and json.loads(task.args) == [sub.pk] and task.enabled
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == ("7", "45", "1,3,5")
    assert str(task.crontab.timezone) == "Europe/Warsaw"


@pytest.mark.django_db
def test_the_add_form_offers_the_staff_user_as_owner_and_shows_recipients_one_per_line(staff, admin, team_a):
    page = staff.get(reverse("admin:reporting_reportsubscription_add")).content.decode()
    assert f'<option value="{admin.pk}" selected>' in page
    assert 'type="checkbox" name="delivery_days" value="Monday"' in page
    assert '<option value="Europe/Warsaw">' in page  # the time zone suggestions

    sub = subscription(admin, team=team_a, recipients=["a@example.com", "b@example.com"], delivery_time="09:05")
    change = staff.get(reverse("admin:reporting_reportsubscription_change", args=[sub.pk])).content.decode()
    assert "a@example.com\nb@example.com</textarea>" in change
    assert 'value="09:05"' in change


@pytest.mark.django_db
def test_deactivating_in_the_admin_disables_the_task(staff, admin, team_a):
    sub = subscription(admin, team=team_a)
    data = form_data(admin, team_a, is_active=None, recipients="manager@example.com")
    response = staff.post(reverse("admin:reporting_reportsubscription_change", args=[sub.pk]), data)
    assert response.status_code == 302
    sub.refresh_from_db()
    assert not sub.is_active
    assert not PeriodicTask.objects.get(name=task_name(sub.pk)).enabled


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"recipients": "manager@example.com\nnot-an-address"}, "recipients", "'not-an-address' is not a valid e-mail"),
        ({"recipients": ""}, "recipients", "This field is required."),
        ({"delivery_method": "slack", "recipients": "https://evil.example.com/hook"}, "recipients", "not allowed"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "'Europe/Atlantis' is not a known IANA time zone"),
        ({"delivery_time": "7.45"}, "delivery_time", 'write it as "HH:MM"'),
        ({"delivery_days": ["Monday", "Caturday"]}, "delivery_days", "Select a valid choice."),
        ({"agent": "AGENT"}, "agent", "Choose a team or an agent, not both"),
    ],
)
def test_a_bad_subscription_form_shows_the_error_and_saves_nothing(
    staff, admin, team_a, agent_a1, change, field, words
):
    if change.get("agent") == "AGENT":
        change = {"agent": agent_a1.pk}
    response = staff.post(reverse("admin:reporting_reportsubscription_add"), form_data(admin, team_a, **change))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert words in " ".join(errors[field]), errors
    assert not ReportSubscription.objects.exists() and not PeriodicTask.objects.exists()


@pytest.mark.django_db
def test_a_slack_subscription_with_an_allowed_webhook(staff, admin):
    data = form_data(admin, None, delivery_method="slack", recipients=SLACK_HOOK, delivery_days=[])
    response = staff.post(reverse("admin:reporting_reportsubscription_add"), data)
    assert response.status_code == 302
    sub = ReportSubscription.objects.get()
    assert sub.recipients == [SLACK_HOOK] and sub.scope == "organisation"
    crontab = PeriodicTask.objects.get(name=task_name(sub.pk)).crontab
    assert crontab is not None and crontab.day_of_week == "*"


# --- send now and preview ---------------------------------------------------------------------------------


# Transactional: sending is enqueued on commit (tasks run eagerly), as in the running product.
@pytest.mark.django_db(transaction=True)
def test_send_now_action_sends_the_report(staff, admin, team_a, mailoutbox):
    sub = subscription(admin, team=team_a)
    response = staff.post(
        reverse("admin:reporting_reportsubscription_changelist"),
        {"action": "send_now_action", "_selected_action": [sub.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["manager@example.com"]
    assert any(a[2] == "application/pdf" and a[1].startswith(b"%PDF") for a in message.attachments)
    sent = ReportDelivery.objects.get(subscription=sub)
    assert sent.status == DeliveryStatus.SENT and sent.requested_by == admin
    assert "was sent to manager@example.com" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_send_now_button_sends_and_a_second_press_sends_again(staff, admin, team_a, mailoutbox):
    sub = subscription(admin, team=team_a)
    url = reverse("admin:reporting_reportsubscription_send_now", args=[sub.pk])
    assert staff.get(url).status_code == 405  # a GET (a prefetching browser) sends nothing
    first = staff.post(url)
    assert first.status_code == 302 and first["Location"] == reverse(
        "admin:reporting_reportsubscription_change", args=[sub.pk]
    )
    assert len(mailoutbox) == 1
    staff.post(url)  # a deliberate resend of the same period
    assert len(mailoutbox) == 2
    assert ReportDelivery.objects.filter(subscription=sub).count() == 1


@pytest.mark.django_db
def test_preview_returns_the_pdf_and_stores_nothing(staff, admin, team_a, mailoutbox):
    sub = subscription(admin, team=team_a)
    response = staff.get(reverse("admin:reporting_reportsubscription_preview", args=[sub.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response.content.startswith(b"%PDF")
    assert not ReportDelivery.objects.exists() and not mailoutbox
    assert staff.get(reverse("admin:reporting_reportsubscription_preview", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_preview_action_opens_the_preview_of_one_subscription(staff, admin, team_a, team_b):
    one = subscription(admin, team=team_a)
    two = subscription(admin, name="Other", team=team_b)
    url = reverse("admin:reporting_reportsubscription_changelist")
    response = staff.post(url, {"action": "preview_pdf_action", "_selected_action": [one.pk]})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:reporting_reportsubscription_preview", args=[one.pk])
    both = staff.post(url, {"action": "preview_pdf_action", "_selected_action": [one.pk, two.pk]}, follow=True)
    assert "Choose exactly one subscription to preview." in both.content.decode()


# --- templates ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_template_with_a_syntax_error_shows_its_line_and_saves_nothing(staff):
    html = "<h1>{{ title }}</h1>\n<ul>\n{% for row in summary %}\n<li>{{ row.label }}</li>\n</ul>"
    response = staff.post(reverse("admin:reporting_reporttemplate_add"), {"name": "Broken", "html": html})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["html"]
    assert errors[0].startswith("Line 3:"), errors
    assert "Line 3:" in response.content.decode()
    assert not ReportTemplate.objects.exists()


@pytest.mark.django_db
def test_a_template_is_edited_in_a_monospace_box_and_saved(staff):
    page = staff.get(reverse("admin:reporting_reporttemplate_add")).content.decode()
    assert "monospace" in page
    response = staff.post(
        reverse("admin:reporting_reporttemplate_add"), {"name": "Plain", "html": "<h1>{{ title }}</h1>"}
    )
    assert response.status_code == 302
    assert ReportTemplate.objects.get().html == "<h1>{{ title }}</h1>"
