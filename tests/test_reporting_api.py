"""The reporting API (API.md "Reporting", /api/analytics/reporting/): templates, subscriptions (saving one
syncs its beat task), deliveries and their PDFs, generate and send — with the roles' rules and a clear
400 for every bad value, after which nothing has changed."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from analytics.models import AuditLog
from calls.models import ApiKey
from crm.models import User
from reporting.delivery import delivery_for
from reporting.models import DeliveryStatus, ReportDelivery, ReportSubscription, ReportTemplate, ReportType
from reporting.schedules import task_name

BASE = "/api/analytics/reporting"
SLACK_HOOK = "https://hooks.slack.com/services/T000/B000/XXXX"


def key_client(user: User) -> Client:
    _, raw = ApiKey.objects.create_key(user, "tests")
    return Client(headers={"authorization": f"Bearer {raw}"})


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(f"{BASE}/{path}", json.dumps(body), content_type="application/json")


def patch(client: Client, path: str, body: Any) -> Any:
    return client.patch(f"{BASE}/{path}", json.dumps(body), content_type="application/json")


def put(client: Client, path: str, body: Any) -> Any:
    return client.put(f"{BASE}/{path}", json.dumps(body), content_type="application/json")


def streamed(response: Any) -> bytes:
    """The body of a file download (a streaming response)."""
    return b"".join(response.streaming_content)


def subscription(owner: User, **fields: Any) -> ReportSubscription:
    values: dict[str, Any] = {"name": "Report", "recipients": ["boss@example.com"], **fields}
    return ReportSubscription.objects.create(owner=owner, **values)


def stored_delivery(sub: ReportSubscription, status: str = DeliveryStatus.SENT, **fields: Any) -> ReportDelivery:
    day = date(2026, 3, 2) + timedelta(days=ReportDelivery.objects.count())
    row = ReportDelivery.objects.create(
        subscription=sub,
        report_type=sub.report_type,
        team=sub.team,
        agent=sub.agent,
        recipients=sub.recipients,
        period_start=day,
        period_end=day,
        status=status,
        **fields,
    )
    return row


def yesterday() -> date:
    return timezone.localdate() - timedelta(days=1)


# --- templates --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_creates_reads_changes_and_deletes_a_template(admin):
    client = key_client(admin)
    created = post(client, "templates", {"name": "Plain", "html": "<h1>{{ title }}</h1>"})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "Plain" and body["html"] == "<h1>{{ title }}</h1>"

    listed = client.get(f"{BASE}/templates").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    assert client.get(f"{BASE}/templates/{body['id']}").json()["name"] == "Plain"

    changed = patch(client, f"templates/{body['id']}", {"description": "For managers"})
    assert changed.status_code == 200 and changed.json()["description"] == "For managers"
    replaced = put(client, f"templates/{body['id']}", {"name": "Plainer", "html": "<p>{{ title }}</p>"})
    assert replaced.status_code == 200 and replaced.json()["name"] == "Plainer"

    assert client.delete(f"{BASE}/templates/{body['id']}").status_code == 204
    assert not ReportTemplate.objects.exists()
    assert client.get(f"{BASE}/templates/{body['id']}").status_code == 404


@pytest.mark.django_db
def test_a_template_with_a_syntax_error_is_refused_with_its_line(admin):
    html = "<h1>{{ title }}</h1>\n<p>\n{% if summary %}\n</p>"
    response = post(key_client(admin), "templates", {"name": "Broken", "html": html})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert body["fields"]["html"].startswith("Line 3:")
    assert "Line 3" in body["detail"]
    assert not ReportTemplate.objects.exists()


@pytest.mark.django_db
def test_changing_a_template_to_a_broken_one_changes_nothing(admin):
    template = ReportTemplate.objects.create(name="Good", html="<h1>{{ title }}</h1>")
    response = patch(key_client(admin), f"templates/{template.pk}", {"html": "{% for x in %}"})
    assert response.status_code == 400 and "Line 1" in response.json()["fields"]["html"]
    template.refresh_from_db()
    assert template.html == "<h1>{{ title }}</h1>"


@pytest.mark.django_db
def test_two_templates_cannot_share_a_name(admin):
    ReportTemplate.objects.create(name="Plain", html="x")
    response = post(key_client(admin), "templates", {"name": "Plain", "html": "y"})
    assert response.status_code == 400
    assert response.json()["fields"]["name"] == "There is already a report template with this name."


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["supervisor_a", "agent_a1"])
def test_everyone_reads_templates_only_admins_write_them(request, persona):
    user = request.getfixturevalue(persona)
    template = ReportTemplate.objects.create(name="Plain", html="x")
    client = key_client(user)
    assert client.get(f"{BASE}/templates").json()["count"] == 1
    assert client.get(f"{BASE}/templates/{template.pk}").status_code == 200

    created = post(client, "templates", {"name": "Mine", "html": "y"})
    assert created.status_code == 403 and created.json()["detail"] == "Only admins may create report templates."
    assert patch(client, f"templates/{template.pk}", {"html": "z"}).status_code == 403
    assert client.delete(f"{BASE}/templates/{template.pk}").status_code == 403
    template.refresh_from_db()
    assert template.html == "x" and ReportTemplate.objects.count() == 1


@pytest.mark.django_db
def test_templates_need_a_signed_in_caller():
    response = Client().get(f"{BASE}/templates")
    assert response.status_code == 401 and response.json()["error"] == "not_authenticated"


# --- subscriptions: create, read, change, delete ------------------------------------------------------


@pytest.mark.django_db
def test_admin_creates_a_subscription_and_its_beat_task(admin, team_a):
    template = ReportTemplate.objects.create(name="Plain", html="<h1>{{ title }}</h1>")
    body = {
        "name": "Team A weekly",
        "team_id": team_a.pk,
        "report_type": "weekly",
        "delivery_method": "email",
        "recipients": ["boss@example.com", " ops@example.com "],
        "delivery_time": "07:30",
        "delivery_days": ["friday", "Monday"],
        "timezone": "Europe/Warsaw",
        "template_id": template.pk,
        "is_active": True,
        "skip_if_empty": True,
    }
    response = post(key_client(admin), "subscriptions", body)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["team_id"] == team_a.pk and data["agent_id"] is None and data["scope"] == "team"
    assert data["recipients"] == ["boss@example.com", "ops@example.com"]
    assert data["delivery_time"] == "07:30"
    assert data["delivery_days"] == ["Monday", "Friday"]
    assert data["timezone"] == "Europe/Warsaw" and data["template_id"] == template.pk
    assert data["owner_id"] == admin.pk and data["skip_if_empty"] is True
    assert data["schedule"] == "Mon, Fri at 07:30 (Europe/Warsaw)"
    assert data["next_run"].endswith(("+01:00", "+02:00")) and "T07:30:00" in data["next_run"]

    task = PeriodicTask.objects.select_related("crontab").get(name=task_name(data["id"]))
    assert task.enabled and json.loads(task.args) == [data["id"]]
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == ("7", "30", "1,5")
    assert str(task.crontab.timezone) == "Europe/Warsaw"


@pytest.mark.django_db
def test_a_minimal_subscription_gets_the_defaults(admin, team_a):
    response = post(key_client(admin), "subscriptions", {"team_id": team_a.pk, "recipients": ["a@example.com"]})
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["name"] == "Daily report — Team A"
    assert (data["report_type"], data["delivery_method"]) == ("daily", "email")
    assert (data["delivery_time"], data["delivery_days"], data["timezone"]) == ("08:00", [], None)
    assert data["is_active"] is True and data["skip_if_empty"] is False
    assert data["schedule"] == "Every day at 08:00 (UTC)"


@pytest.mark.django_db
def test_an_organisation_report_to_slack(admin):
    body = {"delivery_method": "slack", "recipients": [SLACK_HOOK], "report_type": "weekly"}
    response = post(key_client(admin), "subscriptions", body)
    assert response.status_code == 201, response.json()
    assert response.json()["scope"] == "organisation" and response.json()["name"] == "Weekly report — Organisation"
    crontab = PeriodicTask.objects.get(name=task_name(response.json()["id"])).crontab
    assert crontab is not None and crontab.day_of_week == "1"


@pytest.mark.django_db
def test_changing_a_subscription_updates_its_beat_task(admin, team_a):
    sub = subscription(admin, team=team_a)
    client = key_client(admin)
    response = patch(client, f"subscriptions/{sub.pk}", {"delivery_time": "18:15", "delivery_days": ["Sunday"]})
    assert response.status_code == 200, response.json()
    task = PeriodicTask.objects.select_related("crontab").get(name=task_name(sub.pk))
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == ("18", "15", "0")
    assert CrontabSchedule.objects.count() == 1  # the 08:00 row nobody uses any more is gone

    off = patch(client, f"subscriptions/{sub.pk}", {"is_active": False})
    assert off.status_code == 200 and off.json()["next_run"] is None
    assert not PeriodicTask.objects.get(name=task_name(sub.pk)).enabled

    whole = {"team_id": team_a.pk, "recipients": ["x@example.com"], "report_type": "weekly", "is_active": True}
    replaced = put(client, f"subscriptions/{sub.pk}", whole)
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["recipients"] == ["x@example.com"] and replaced.json()["report_type"] == "weekly"
    assert PeriodicTask.objects.get(name=task_name(sub.pk)).enabled


@pytest.mark.django_db
def test_deleting_a_subscription_deletes_its_beat_task(admin):
    sub = subscription(admin)
    response = key_client(admin).delete(f"{BASE}/subscriptions/{sub.pk}")
    assert response.status_code == 204
    assert not ReportSubscription.objects.exists()
    assert not PeriodicTask.objects.filter(name=task_name(sub.pk)).exists()


@pytest.mark.django_db
def test_subscription_list_and_filter(admin, team_a, team_b):
    subscription(admin, name="B", team=team_b)
    subscription(admin, name="A", team=team_a, is_active=False)
    client = key_client(admin)
    listed = client.get(f"{BASE}/subscriptions").json()
    assert [row["name"] for row in listed["results"]] == ["A", "B"] and listed["count"] == 2
    active = client.get(f"{BASE}/subscriptions?is_active=true").json()
    assert [row["name"] for row in active["results"]] == ["B"]
    assert client.get(f"{BASE}/subscriptions?limit=1").json()["count"] == 1
    assert client.get(f"{BASE}/subscriptions?limit=5000").status_code == 400


@pytest.mark.django_db
def test_the_subscription_list_costs_the_same_queries_for_many_rows(admin, team_a, django_assert_max_num_queries):
    for n in range(12):
        subscription(admin, name=f"S{n}", team=team_a, delivery_days=["Monday"] if n % 2 else [])
    client = key_client(admin)
    client.get(f"{BASE}/subscriptions")  # warm the API key's last-used write
    with django_assert_max_num_queries(6):
        assert client.get(f"{BASE}/subscriptions").json()["count"] == 12


# --- subscriptions: bad input -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"delivery_days": ["Monday", "Funday"]}, "delivery_days", "'Funday' is not a weekday"),
        ({"delivery_days": "Monday"}, "delivery_days", "must be a list of weekday names"),
        ({"delivery_time": "8am"}, "delivery_time", 'write it as "HH:MM"'),
        ({"delivery_time": "24:00"}, "delivery_time", "is not a time of day"),
        ({"timezone": "Mars/Olympus"}, "timezone", "'Mars/Olympus' is not a known IANA time zone"),
        ({"agent_id": "AGENT"}, "agent_id", "Choose a team or an agent, not both."),
        (
            {"recipients": ["boss@example.com", "not-an-address"]},
            "recipients",
            "'not-an-address' is not a valid e-mail",
        ),
        ({"recipients": []}, "recipients", "at least one recipient"),
        ({"recipients": ["", "  "]}, "recipients", "at least one recipient"),
        ({"recipients": "boss@example.com"}, "recipients", "Recipients must be a list"),
        (
            {"delivery_method": "slack", "recipients": ["https://hooks.evil.example/services/x"]},
            "recipients",
            "'hooks.evil.example' is not allowed",
        ),
        ({"delivery_method": "slack", "recipients": ["boss@example.com"]}, "recipients", "webhook"),
        ({"report_type": "monthly"}, "report_type", '"monthly" is not a report type: use daily or weekly.'),
        ({"delivery_method": "fax"}, "delivery_method", '"fax" is not a delivery method'),
        ({"team_id": 999999}, "team_id", "There is no team with id 999999."),
        ({"template_id": 999999}, "template_id", "There is no report template with id 999999."),
    ],
)
def test_bad_subscription_input_is_a_400_naming_the_field_and_nothing_is_saved(
    admin, team_a, agent_a1, change, field, words
):
    body: dict[str, Any] = {"team_id": team_a.pk, "recipients": ["boss@example.com"], **change}
    if body.get("agent_id") == "AGENT":
        body["agent_id"] = agent_a1.pk
    response = post(key_client(admin), "subscriptions", body)
    assert response.status_code == 400, response.json()
    data = response.json()
    assert data["success"] is False and data["error"] == "invalid"
    assert words in data["fields"][field], data["fields"]
    assert data["detail"].startswith("The request is not valid.")
    assert not ReportSubscription.objects.exists()
    assert not PeriodicTask.objects.exists() and not CrontabSchedule.objects.exists()


@pytest.mark.django_db
def test_a_bad_change_leaves_the_subscription_and_its_task_as_they_were(admin, team_a):
    sub = subscription(admin, team=team_a, timezone="Europe/Warsaw")
    client = key_client(admin)
    response = patch(client, f"subscriptions/{sub.pk}", {"delivery_time": "09:00", "timezone": "Nowhere/Land"})
    assert response.status_code == 400 and "timezone" in response.json()["fields"]
    # Switching to Slack with e-mail recipients still stored: the stored recipients are checked too.
    response = patch(client, f"subscriptions/{sub.pk}", {"delivery_method": "slack"})
    assert response.status_code == 400 and "recipients" in response.json()["fields"]
    sub.refresh_from_db()
    assert sub.delivery_time.hour == 8 and sub.delivery_method == "email"
    assert PeriodicTask.objects.select_related("crontab").get(name=task_name(sub.pk)).crontab.hour == "8"


@pytest.mark.django_db
def test_malformed_json_is_a_400(admin):
    response = key_client(admin).post(f"{BASE}/subscriptions", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "malformed_request"


# --- subscriptions: who may do what ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_supervisor_sets_up_reports_for_their_team_and_its_agents(supervisor_a, team_a, agent_a1):
    client = key_client(supervisor_a)
    team = post(client, "subscriptions", {"team_id": team_a.pk, "recipients": ["a@example.com"]})
    agent = post(client, "subscriptions", {"agent_id": agent_a1.pk, "recipients": ["a@example.com"]})
    assert team.status_code == 201 and agent.status_code == 201
    assert team.json()["owner_id"] == supervisor_a.pk
    assert agent.json()["name"] == f"Daily report — {agent_a1.get_full_name()}"
    assert PeriodicTask.objects.count() == 2


@pytest.mark.django_db
def test_a_supervisor_may_not_set_up_reports_outside_their_teams(supervisor_a, team_a, team_b, agent_b1):
    client = key_client(supervisor_a)
    other_team = post(client, "subscriptions", {"team_id": team_b.pk, "recipients": ["a@example.com"]})
    assert other_team.status_code == 403
    assert other_team.json()["detail"] == "You may only set up reports for a team you supervise, not Team B."
    other_agent = post(client, "subscriptions", {"agent_id": agent_b1.pk, "recipients": ["a@example.com"]})
    assert other_agent.status_code == 403 and "agent of a team you supervise" in other_agent.json()["detail"]
    organisation = post(client, "subscriptions", {"recipients": ["a@example.com"]})
    assert organisation.status_code == 403
    assert organisation.json()["detail"].startswith("Only admins may set up organisation-wide reports")
    assert not ReportSubscription.objects.exists() and not PeriodicTask.objects.exists()


@pytest.mark.django_db
def test_a_supervisor_sees_and_changes_only_their_teams_subscriptions(
    admin, supervisor_a, team_a, team_b, agent_a1, agent_b1
):
    mine = subscription(admin, name="Team A", team=team_a)
    my_agent = subscription(admin, name="Agent A1", agent=agent_a1)
    subscription(admin, name="Team B", team=team_b)
    subscription(admin, name="Agent B1", agent=agent_b1)
    organisation = subscription(admin, name="Everyone")
    client = key_client(supervisor_a)

    listed = client.get(f"{BASE}/subscriptions").json()
    assert sorted(row["name"] for row in listed["results"]) == ["Agent A1", "Team A"]
    assert client.get(f"{BASE}/subscriptions/{my_agent.pk}").status_code == 200
    hidden = client.get(f"{BASE}/subscriptions/{organisation.pk}")
    assert hidden.status_code == 403 and hidden.json()["error"] == "forbidden"
    assert client.get(f"{BASE}/subscriptions/999999").status_code == 404
    assert patch(client, f"subscriptions/{organisation.pk}", {"is_active": False}).status_code == 403
    assert client.delete(f"{BASE}/subscriptions/{organisation.pk}").status_code == 403

    moved = patch(client, f"subscriptions/{mine.pk}", {"team_id": team_b.pk})
    assert moved.status_code == 403
    mine.refresh_from_db()
    assert mine.team_id == team_a.pk
    assert client.delete(f"{BASE}/subscriptions/{mine.pk}").status_code == 204
    assert ReportSubscription.objects.filter(pk=organisation.pk, is_active=True).exists()


@pytest.mark.django_db
def test_agents_get_403_on_subscriptions_deliveries_generate_and_send(admin, agent_a1, team_a):
    sub = subscription(admin, agent=agent_a1)
    client = key_client(agent_a1)
    for response in (
        client.get(f"{BASE}/subscriptions"),
        post(client, "subscriptions", {"agent_id": agent_a1.pk, "recipients": ["a@example.com"]}),
        client.get(f"{BASE}/subscriptions/{sub.pk}"),
        client.get(f"{BASE}/deliveries"),
        post(client, "generate", {"agent_id": agent_a1.pk}),
        post(client, "send", {"delivery_id": stored_delivery(sub).pk}),
    ):
        assert response.status_code == 403, response.content
        assert response.json()["detail"].startswith("Reports are set up by supervisors and admins")
    assert ReportSubscription.objects.count() == 1


# --- deliveries ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_deliveries_filtered_by_status_newest_first(admin, team_a):
    sub = subscription(admin, team=team_a)
    sent = stored_delivery(sub, DeliveryStatus.SENT)
    failed = stored_delivery(sub, DeliveryStatus.FAILED, last_error="SMTP said no", attempts=5)
    pending = stored_delivery(sub, DeliveryStatus.PENDING)
    client = key_client(admin)

    everything = client.get(f"{BASE}/deliveries").json()
    assert [row["id"] for row in everything["results"]] == [pending.pk, failed.pk, sent.pk]
    assert "data" not in everything["results"][0]
    only_failed = client.get(f"{BASE}/deliveries?status=failed").json()
    assert only_failed["count"] == 1
    row = only_failed["results"][0]
    assert (row["id"], row["status"], row["last_error"], row["attempts"]) == (failed.pk, "failed", "SMTP said no", 5)
    assert row["subscription_id"] == sub.pk and row["team_id"] == team_a.pk and row["pdf_url"] is None
    assert client.get(f"{BASE}/deliveries?status=pending").json()["results"][0]["id"] == pending.pk
    assert client.get(f"{BASE}/deliveries?limit=2").json()["count"] == 2
    assert client.get(f"{BASE}/deliveries?subscription_id={sub.pk}").json()["count"] == 3

    bad = client.get(f"{BASE}/deliveries?status=lost")
    assert bad.status_code == 400 and "is not a delivery status" in bad.json()["fields"]["status"]
    assert client.get(f"{BASE}/deliveries?limit=0").status_code == 400


@pytest.mark.django_db
def test_a_supervisor_sees_only_their_teams_deliveries(admin, supervisor_a, team_a, team_b, agent_a1):
    mine = stored_delivery(subscription(admin, team=team_a))
    my_agent = stored_delivery(subscription(admin, agent=agent_a1))
    theirs = stored_delivery(subscription(admin, team=team_b))
    client = key_client(supervisor_a)
    listed = client.get(f"{BASE}/deliveries").json()
    assert sorted(row["id"] for row in listed["results"]) == sorted([mine.pk, my_agent.pk])
    assert client.get(f"{BASE}/deliveries/{mine.pk}").status_code == 200
    assert client.get(f"{BASE}/deliveries/{theirs.pk}").status_code == 403
    assert client.get(f"{BASE}/deliveries/{theirs.pk}/pdf").status_code == 403
    assert client.get(f"{BASE}/deliveries/999999").status_code == 404


@pytest.mark.django_db
def test_a_delivery_with_its_data_and_its_pdf(admin, team_a):
    data = {"title": "Daily report · Team A", "summary": [{"key": "calls", "label": "Calls", "value": "12"}]}
    delivery = stored_delivery(subscription(admin, team=team_a), data={**data, "is_empty": False})
    delivery.pdf.save("daily.pdf", ContentFile(b"%PDF-1.7 test body"), save=True)
    client = key_client(admin)

    detail = client.get(f"{BASE}/deliveries/{delivery.pk}").json()
    assert detail["title"] == "Daily report · Team A" and detail["summary"] == data["summary"]
    assert detail["is_empty"] is False and detail["data"]["title"] == data["title"]
    assert detail["pdf_url"] == f"{BASE}/deliveries/{delivery.pk}/pdf"

    pdf = client.get(detail["pdf_url"], HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert streamed(pdf) == b"%PDF-1.7 test body"
    assert "attachment" in pdf["Content-Disposition"] and ".pdf" in pdf["Content-Disposition"]
    audit = AuditLog.objects.get(resource="report-pdf")
    assert audit.user == admin and audit.detail["delivery_id"] == delivery.pk


@pytest.mark.django_db
def test_a_delivery_without_a_pdf_yet_is_a_404_with_a_reason(admin):
    delivery = stored_delivery(subscription(admin), DeliveryStatus.PENDING)
    response = key_client(admin).get(f"{BASE}/deliveries/{delivery.pk}/pdf", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert "has no PDF yet" in response.json()["detail"]


# --- generate and send ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_generate_builds_and_stores_a_report_for_a_day(admin, team_a):
    day = yesterday()
    client = key_client(admin)
    response = post(client, "generate", {"report_type": "daily", "date": day.isoformat(), "team_id": team_a.pk})
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["period_start"], data["period_end"]) == (day.isoformat(), day.isoformat())
    assert data["status"] == "pending" and data["subscription_id"] is None and data["team_id"] == team_a.pk
    assert data["data"]["scope"]["kind"] == "team" and data["title"] == data["data"]["title"]
    assert data["recipients"] == [] and data["pdf_url"]

    pdf = client.get(data["pdf_url"])
    assert pdf.status_code == 200 and streamed(pdf).startswith(b"%PDF")
    delivery = ReportDelivery.objects.get()
    assert delivery.requested_by == admin and delivery.status == DeliveryStatus.PENDING


@pytest.mark.django_db
def test_generate_weekly_for_a_date_covers_its_monday_to_sunday(admin):
    wednesday = timezone.localdate() - timedelta(days=timezone.localdate().weekday() + 5)  # last week's
    response = post(key_client(admin), "generate", {"report_type": "weekly", "date": wednesday.isoformat()})
    assert response.status_code == 201, response.json()
    monday = wednesday - timedelta(days=wednesday.weekday())
    assert response.json()["period_start"] == monday.isoformat()
    assert response.json()["period_end"] == (monday + timedelta(days=6)).isoformat()


@pytest.mark.django_db
def test_generate_without_a_period_covers_the_last_complete_one(admin):
    response = post(key_client(admin), "generate", {"report_type": "daily"})
    assert response.status_code == 201, response.json()
    assert response.json()["period_start"] == response.json()["period_end"] == yesterday().isoformat()


# Transactional: the send is enqueued on commit, and (tasks eager) has happened when the API answers.
@pytest.mark.django_db(transaction=True)
def test_generate_with_recipients_sends_the_report(admin, team_a, mailoutbox):
    body = {
        "report_type": "daily",
        "start_date": (yesterday() - timedelta(days=1)).isoformat(),
        "end_date": yesterday().isoformat(),
        "team_id": team_a.pk,
        "recipients": ["manager@example.com"],
    }
    response = post(key_client(admin), "generate", body)
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "sent"
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["manager@example.com"]
    attachments = [a for a in message.attachments if a[2] == "application/pdf"]
    assert len(attachments) == 1 and attachments[0][1].startswith(b"%PDF")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"start_date": "2026-03-10", "end_date": "2026-03-01"}, "end_date", "is after end_date"),
        ({"start_date": "2026-03-10"}, "end_date", "Give both start_date and end_date"),
        ({"date": "2026-03-10", "start_date": "2026-03-01", "end_date": "2026-03-02"}, "date", "not both"),
        ({"start_date": "2024-01-01", "end_date": "2025-12-31"}, "end_date", "at most 400 days"),
        ({"date": "9999-01-01"}, "date", "not a date this service has data for"),
        ({"date": "not-a-date"}, "date", "Date has wrong format"),
        ({"report_type": "hourly"}, "report_type", "is not a report type"),
        ({"recipients": ["nobody"]}, "recipients", "'nobody' is not a valid e-mail address."),
        ({"delivery_method": "slack", "recipients": ["https://example.com/hook"]}, "recipients", "not allowed"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "is not a known IANA time zone"),
        ({"team_id": "TEAM", "agent_id": "AGENT"}, "agent_id", "Choose a team or an agent, not both."),
    ],
)
def test_bad_generate_input_is_a_400_and_builds_nothing(admin, team_a, agent_a1, mailoutbox, body, field, words):
    body = {
        key: team_a.pk if value == "TEAM" else agent_a1.pk if value == "AGENT" else value for key, value in body.items()
    }
    response = post(key_client(admin), "generate", body)
    assert response.status_code == 400, response.json()
    assert words in response.json()["fields"][field], response.json()
    assert not ReportDelivery.objects.exists() and not mailoutbox


@pytest.mark.django_db
def test_generate_for_a_period_that_starts_after_today_is_refused(admin):
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = post(key_client(admin), "generate", {"date": tomorrow.isoformat()})
    assert response.status_code == 400
    assert response.json()["fields"]["date"] == "The period starts after today: there is nothing to report yet."


@pytest.mark.django_db
def test_a_supervisor_generates_for_their_team_only(supervisor_a, team_a, team_b):
    client = key_client(supervisor_a)
    assert post(client, "generate", {"team_id": team_a.pk}).status_code == 201
    refused = post(client, "generate", {"team_id": team_b.pk})
    assert refused.status_code == 403 and "Team B" in refused.json()["detail"]
    assert post(client, "generate", {}).status_code == 403  # the whole organisation: admins only
    assert ReportDelivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_send_delivers_an_existing_delivery_once(admin, team_a, mailoutbox):
    sub = subscription(admin, team=team_a, recipients=["manager@example.com"], report_type=ReportType.DAILY)
    delivery = delivery_for(sub, timezone.localdate())
    client = key_client(admin)
    response = post(client, "send", {"delivery_id": delivery.pk})
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "sent"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["manager@example.com"]

    again = post(client, "send", {"delivery_id": delivery.pk})
    assert again.status_code == 409 and "already sent" in again.json()["detail"]
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_send_refuses_a_report_without_recipients_and_unknown_or_foreign_ones(admin, supervisor_a, team_a, team_b):
    client = key_client(admin)
    generated = post(client, "generate", {"team_id": team_b.pk}).json()
    no_recipients = post(client, "send", {"delivery_id": generated["id"]})
    assert no_recipients.status_code == 409 and "no recipients" in no_recipients.json()["detail"]
    assert ReportDelivery.objects.get(pk=generated["id"]).status == DeliveryStatus.PENDING

    assert post(client, "send", {"delivery_id": 999999}).status_code == 404
    missing = post(client, "send", {})
    assert missing.status_code == 400 and "delivery_id" in missing.json()["fields"]
    assert post(key_client(supervisor_a), "send", {"delivery_id": generated["id"]}).status_code == 403


@pytest.mark.django_db
def test_reporting_endpoints_are_in_the_schema(admin):
    schema = key_client(admin).get("/api/schema/?format=json").json()
    for path in (
        "/api/analytics/reporting/templates",
        "/api/analytics/reporting/subscriptions/{subscription_id}",
        "/api/analytics/reporting/generate",
        "/api/analytics/reporting/send",
        "/api/analytics/reporting/deliveries",
        "/api/analytics/reporting/deliveries/{delivery_id}/pdf",
    ):
        assert path in schema["paths"], path
