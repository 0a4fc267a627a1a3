"""The Django admin: every crm/calls model is registered, its pages render in a bounded number of
queries that does not grow with the rows shown, and the admin-only behaviours (API key creation and
revocation, derived values) hold."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core import serializers
from django.db import connection
from django.db.models import Model
from django.forms import BaseForm, MultiWidget
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls.actions import talk_seconds
from calls.admin import hms
from calls.models import (
    AgentDayRollup,
    AgentHourRollup,
    AgentSession,
    AgentStatusPeriod,
    ApiKey,
    CallLog,
    OrgDayRollup,
    RecordSource,
    SessionEndReason,
    TwilioCallEvent,
    TwilioSyncRun,
    hash_api_key,
)
from crm.models import (
    AuthorType,
    AutoReplyRule,
    Broadcast,
    Campaign,
    ChatAgentDayRollup,
    ChatDayRollup,
    ChatHourRollup,
    ChatOrgDayRollup,
    ChatOrgHourRollup,
    Contact,
    Conversation,
    Direction,
    LeadStatus,
    LeadStatusChange,
    Message,
    MessageStatus,
    Team,
    TwilioMessageEvent,
    User,
    WhatsAppSender,
)
from crm.rollups import day_start, hour_start
from tests.factories import (
    AgentSessionFactory,
    AgentStatusPeriodFactory,
    ApiKeyFactory,
    BroadcastFactory,
    CallLogFactory,
    CampaignFactory,
    ContactFactory,
    ConversationFactory,
    LeadStatusChangeFactory,
    MessageFactory,
    TeamFactory,
    UserFactory,
)

APPS = ("crm", "calls")
REGISTERED: list[type[Model]] = sorted(
    (m for m in admin.site._registry if m._meta.app_label in APPS), key=lambda m: m._meta.label
)
WITH_DATE_HIERARCHY = [m for m in REGISTERED if admin.site._registry[m].date_hierarchy]

# Generous enough for session + user + count + rows + filters + date hierarchy + prefetches, tight
# enough that a query per row (6 rows and more) cannot hide under it.
MAX_CHANGELIST_QUERIES = 12
MAX_CHANGE_FORM_QUERIES = 12
MAX_ADD_FORM_QUERIES = 5


# --- Rows of every model, with every foreign key filled (so a missing select_related shows) ---------


def _user() -> User:
    user = UserFactory.create(phone_extension="201")
    TeamFactory.create(members=[user], supervisors=[UserFactory.create()])
    return user


def _team() -> Team:
    return TeamFactory.create(supervisors=[UserFactory.create()], members=[UserFactory.create(), UserFactory.create()])


def _campaign() -> Campaign:
    campaign = CampaignFactory.create(
        team=TeamFactory.create(), members=[UserFactory.create()], start_date=timezone.localdate()
    )
    ContactFactory.create(campaign=campaign)
    return campaign


def _contact() -> Contact:
    contact = ContactFactory.create(
        assigned_agent=UserFactory.create(), campaign=CampaignFactory.create(), company="Acme"
    )
    LeadStatusChangeFactory.create(contact=contact, changed_by=UserFactory.create())
    return contact


def _lead_status_change() -> LeadStatusChange:
    return LeadStatusChangeFactory.create(
        changed_by=UserFactory.create(), contact=ContactFactory.create(assigned_agent=UserFactory.create())
    )


def _agent_message(conversation: Conversation, **kwargs: Any) -> Message:
    return MessageFactory.create(
        conversation=conversation,
        direction=Direction.OUTBOUND,
        author_type=AuthorType.AGENT,
        agent=conversation.assigned_agent or UserFactory.create(),
        status=MessageStatus.SENT,
        **kwargs,
    )


def _conversation() -> Conversation:
    agent = UserFactory.create()
    conversation = ConversationFactory.create(
        assigned_agent=agent,
        campaign=CampaignFactory.create(),
        first_response_by=agent,
        first_response_at=timezone.now(),
    )
    MessageFactory.create(conversation=conversation)
    _agent_message(conversation)
    return conversation


def _message() -> Message:
    return _agent_message(ConversationFactory.create(), broadcast=BroadcastFactory.create())


def _broadcast() -> Broadcast:
    broadcast = BroadcastFactory.create(campaign=CampaignFactory.create(), created_by=UserFactory.create())
    MessageFactory.create(
        broadcast=broadcast,
        conversation=None,
        contact=ContactFactory.create(),
        direction=Direction.OUTBOUND,
        author_type=AuthorType.SYSTEM,
        status=MessageStatus.DELIVERED,
    )
    return broadcast


def _agent_hour_rollup() -> AgentHourRollup:
    call = CallLogFactory.create(outcome="lead", wrap_up_seconds=15)
    AgentSessionFactory.create(agent=call.agent)
    return AgentHourRollup.objects.filter(agent_id=call.agent_id).order_by("hour").first()  # type: ignore[return-value]


def _agent_day_rollup() -> AgentDayRollup:
    call = CallLogFactory.create(outcome="lead", wrap_up_seconds=15)
    return AgentDayRollup.objects.filter(agent_id=call.agent_id).first()  # type: ignore[return-value]


def _chat_day_rollup() -> ChatDayRollup:
    conversation = _conversation()
    assert conversation.assigned_agent_id is not None and conversation.campaign_id is not None
    rows = ChatDayRollup.objects.filter(agent_id=conversation.assigned_agent_id, campaign_id=conversation.campaign_id)
    return rows.first()  # type: ignore[return-value]


def _org_day_rollup() -> OrgDayRollup:
    call = CallLogFactory.create(started_at=timezone.now() - timedelta(days=OrgDayRollup.objects.count() + 1))
    return OrgDayRollup.objects.get(day=day_start(call.started_at))


def _chat_org_day_rollup() -> ChatOrgDayRollup:
    conversation = _conversation()
    assert conversation.campaign_id is not None
    return ChatOrgDayRollup.objects.get(day=day_start(conversation.created_at), campaign_id=conversation.campaign_id)


def _chat_agent_day_rollup() -> ChatAgentDayRollup:
    conversation = _conversation()
    assert conversation.assigned_agent_id is not None
    return ChatAgentDayRollup.objects.get(
        day=day_start(conversation.created_at), agent_id=conversation.assigned_agent_id
    )


def _chat_org_hour_rollup() -> ChatOrgHourRollup:
    conversation = _conversation()
    assert conversation.campaign_id is not None
    return ChatOrgHourRollup.objects.get(hour=hour_start(conversation.created_at), campaign_id=conversation.campaign_id)


def _chat_hour_rollup() -> ChatHourRollup:
    conversation = _conversation()
    assert conversation.assigned_agent_id is not None and conversation.campaign_id is not None
    rows = ChatHourRollup.objects.filter(agent_id=conversation.assigned_agent_id, campaign_id=conversation.campaign_id)
    return rows.order_by("hour").first()  # type: ignore[return-value]


ROW_MAKERS: dict[type[Model], Callable[[], Model]] = {
    User: _user,
    Team: _team,
    Campaign: _campaign,
    Contact: _contact,
    LeadStatusChange: _lead_status_change,
    Conversation: _conversation,
    Message: _message,
    Broadcast: _broadcast,
    CallLog: lambda: CallLogFactory.create(campaign=CampaignFactory.create(), outcome="lead", wrap_up_seconds=15),
    AgentStatusPeriod: AgentStatusPeriodFactory.create,
    AgentSession: AgentSessionFactory.create,
    ApiKey: ApiKeyFactory.create,
    TwilioCallEvent: lambda: TwilioCallEvent.objects.create(
        call_sid="CA" + "0" * 32, call_status="ringing", payload={"CallStatus": "ringing"}, call=CallLogFactory.create()
    ),
    TwilioSyncRun: lambda: TwilioSyncRun.objects.create(day=timezone.localdate(), matched=3),
    AgentHourRollup: _agent_hour_rollup,
    AgentDayRollup: _agent_day_rollup,
    ChatHourRollup: _chat_hour_rollup,
    ChatDayRollup: _chat_day_rollup,
    OrgDayRollup: _org_day_rollup,
    ChatOrgDayRollup: _chat_org_day_rollup,
    ChatOrgHourRollup: _chat_org_hour_rollup,
    ChatAgentDayRollup: _chat_agent_day_rollup,
    WhatsAppSender: lambda: WhatsAppSender.objects.create(
        phone=f"+4822290{WhatsAppSender.objects.count():04d}", name="Front desk"
    ),
    AutoReplyRule: lambda: AutoReplyRule.objects.create(
        intent="opening hours", keywords="open, hours", reply="We are open 7-22.", campaign=CampaignFactory.create()
    ),
    TwilioMessageEvent: lambda: TwilioMessageEvent.objects.create(
        message_sid="SM" + "0" * 32,
        message_status="delivered",
        payload={"MessageStatus": "delivered"},
        message=_message(),
    ),
}


def make_rows(model: type[Model], n: int) -> list[Model]:
    return [ROW_MAKERS[model]() for _ in range(n)]


def changelist_url(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj: Model) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def add_url(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")


def form_data(response: Any) -> dict[str, Any]:
    """The POST data a browser would send back unchanged from a rendered admin change form."""

    def fields_of(form: BaseForm) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, field in form.fields.items():
            bound = form[name]
            value = bound.value()
            widget = getattr(field.widget, "widget", field.widget)  # unwrap RelatedFieldWidgetWrapper
            if isinstance(widget, MultiWidget):
                for i, part in enumerate(widget.decompress(value) or ()):
                    data[f"{bound.html_name}_{i}"] = "" if part is None else part
            elif isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            else:
                data[bound.html_name] = "" if value is None else value
        return data

    data = fields_of(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data |= fields_of(inline.formset.management_form)
        for form in inline.formset.forms:
            data |= fields_of(form)
    return data


@pytest.fixture
def staff_client(admin: User) -> Client:
    client = Client()
    client.force_login(admin)
    return client


# --- Every model is registered, and every page of every admin renders --------------------------------


def test_every_model_of_crm_and_calls_is_registered() -> None:
    models = {m for label in APPS for m in apps.get_app_config(label).get_models()}
    assert models - set(REGISTERED) == set(), "register these models in the admin"
    assert set(REGISTERED) <= set(ROW_MAKERS), "add a row maker for the new admin to this test"


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_changelist_queries_do_not_grow_with_rows(staff_client: Client, model: type[Model]) -> None:
    make_rows(model, 1)
    url = changelist_url(model)
    staff_client.get(url)  # warm per-process caches (content types, site) out of the count

    with CaptureQueriesContext(connection) as one_row:
        response = staff_client.get(url)
    assert response.status_code == 200
    rows_before = response.context["cl"].result_count

    make_rows(model, 5)
    with CaptureQueriesContext(connection) as six_rows:
        response = staff_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= rows_before + 5

    assert len(six_rows) == len(one_row), "\n".join(q["sql"] for q in six_rows.captured_queries)
    assert len(one_row) <= MAX_CHANGELIST_QUERIES


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_change_page_renders(staff_client: Client, model: type[Model], django_assert_max_num_queries: Any) -> None:
    obj = make_rows(model, 1)[0]
    with django_assert_max_num_queries(MAX_CHANGE_FORM_QUERIES):
        response = staff_client.get(change_url(obj))
    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_add_page_renders(staff_client: Client, model: type[Model], django_assert_max_num_queries: Any) -> None:
    # Records written only by the system (Twilio callbacks, sync runs) have no add page: 403.
    system_written = (
        TwilioCallEvent,
        TwilioSyncRun,
        TwilioMessageEvent,
        AgentHourRollup,
        AgentDayRollup,
        ChatHourRollup,
        ChatDayRollup,
        OrgDayRollup,
        ChatOrgDayRollup,
        ChatOrgHourRollup,
        ChatAgentDayRollup,
    )
    expected = 200 if model not in system_written else 403
    with django_assert_max_num_queries(MAX_ADD_FORM_QUERIES):
        response = staff_client.get(add_url(model))
    assert response.status_code == expected


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_search_and_every_list_filter_choice(staff_client: Client, model: type[Model]) -> None:
    make_rows(model, 2)
    url = changelist_url(model)
    model_admin = admin.site._registry[model]
    assert model_admin.search_fields, "every admin is searchable"
    response = staff_client.get(url, {"q": "a"})
    assert response.status_code == 200

    cl = staff_client.get(url).context["cl"]
    tried = 0
    for spec in cl.filter_specs:
        for choice in spec.choices(cl):
            # An unknown or broken lookup makes the admin redirect to ?e=1 instead of answering 200.
            response = staff_client.get(url + choice["query_string"])
            assert response.status_code == 200, (spec.title, choice["query_string"])
            tried += 1
    assert tried >= len(cl.filter_specs)


@pytest.mark.parametrize("model", WITH_DATE_HIERARCHY, ids=lambda m: m._meta.label)
def test_date_hierarchy_drill_down(staff_client: Client, model: type[Model]) -> None:
    field = admin.site._registry[model].date_hierarchy
    assert isinstance(field, str)
    obj = make_rows(model, 1)[0]
    value = getattr(obj, field)
    day: date = timezone.localtime(value).date() if isinstance(value, datetime) else value
    url = changelist_url(model)
    for params in (
        {f"{field}__year": day.year},
        {f"{field}__year": day.year, f"{field}__month": day.month},
        {f"{field}__year": day.year, f"{field}__month": day.month, f"{field}__day": day.day},
    ):
        response = staff_client.get(url, params)
        assert response.status_code == 200, params
        assert obj in response.context["cl"].result_list


def test_admin_pages_need_staff(agent_a1: User) -> None:
    client = Client()
    client.force_login(agent_a1)
    response = client.get(changelist_url(CallLog))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- Users and teams -----------------------------------------------------------------------------------


def test_user_add_form_asks_for_role_extension_and_language(staff_client: Client, team_a: Team) -> None:
    response = staff_client.get(add_url(User))
    form = response.context["adminform"].form
    assert {"role", "phone_extension", "language"} <= set(form.fields)

    response = staff_client.post(
        add_url(User),
        {
            "username": "new_agent",
            "usable_password": "true",
            "password1": "a-long-enough-pass-9",
            "password2": "a-long-enough-pass-9",
            "role": "supervisor",
            "phone_extension": "305",
            "language": "pl",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    user = User.objects.get(username="new_agent")
    assert (user.role, user.phone_extension, user.language) == ("supervisor", "305", "pl")


def test_user_change_page_shows_the_users_teams(staff_client: Client, team_a: Team, agent_a1: User) -> None:
    response = staff_client.get(change_url(agent_a1))
    assert "Team A" in response.content.decode()
    response = staff_client.get(changelist_url(User), {"role__exact": "agent"})
    assert response.context["cl"].result_count == 2
    assert "Team A" in response.content.decode()


def test_team_member_count_is_annotated(staff_client: Client, team_a: Team, team_b: Team) -> None:
    response = staff_client.get(changelist_url(Team))
    counts = {t.name: t.member_count for t in response.context["cl"].result_list}
    assert counts == {"Team A": 2, "Team B": 1}


# --- Contacts and conversations ------------------------------------------------------------------------


def test_contact_lead_status_change_in_the_admin_is_recorded(staff_client: Client, admin: User) -> None:
    contact = ContactFactory.create(lead_status=LeadStatus.NEW)
    response = staff_client.get(change_url(contact))
    data = form_data(response)
    data["lead_status"] = LeadStatus.QUALIFIED
    response = staff_client.post(change_url(contact), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors

    change = LeadStatusChange.objects.get(contact=contact)
    assert (change.from_status, change.to_status, change.changed_by) == ("new", "qualified", admin)
    contact.refresh_from_db()
    assert contact.lead_status_changed_at == change.changed_at

    # Saving again without touching the status records nothing.
    response = staff_client.post(change_url(contact), form_data(staff_client.get(change_url(contact))))
    assert response.status_code == 302
    assert LeadStatusChange.objects.filter(contact=contact).count() == 1


def test_contact_search_finds_by_phone(staff_client: Client) -> None:
    wanted = ContactFactory.create(phone="+48600999888")
    ContactFactory.create()
    response = staff_client.get(changelist_url(Contact), {"q": "600999"})
    assert list(response.context["cl"].result_list) == [wanted]


def test_conversation_shows_messages_oldest_first_read_only(staff_client: Client) -> None:
    conversation = ConversationFactory.create(created_at=timezone.now() - timedelta(hours=2))
    now = timezone.now()
    MessageFactory.create(conversation=conversation, body="second message", created_at=now - timedelta(minutes=5))
    MessageFactory.create(conversation=conversation, body="first message", created_at=now - timedelta(minutes=50))
    response = staff_client.get(change_url(conversation))
    content = response.content.decode()
    assert content.index("first message") < content.index("second message")
    inline = response.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission and not inline.has_change_permission


def test_conversation_change_page_queries_do_not_grow_with_messages(staff_client: Client) -> None:
    conversation = _conversation()
    url = change_url(conversation)
    staff_client.get(url)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for _ in range(5):
        _agent_message(conversation)
    with CaptureQueriesContext(connection) as more:
        staff_client.get(url)
    assert len(more) == len(few)


# --- Calls and agent time ------------------------------------------------------------------------------


def test_hms() -> None:
    assert [hms(0), hms(59), hms(61), hms(3600 + 125), hms(None)] == [
        "0:00:00",
        "0:00:59",
        "0:01:01",
        "1:02:05",
        "—",
    ]
    start = timezone.now()
    assert talk_seconds(start, start + timedelta(seconds=90)) == 90
    assert talk_seconds(None, start) == 0


def test_call_list_shows_talk_time_as_hms(staff_client: Client) -> None:
    CallLogFactory.create(phone_number="+48600111222", duration_seconds=125, contact=None)
    response = staff_client.get(changelist_url(CallLog), {"q": "600111222"})
    assert response.context["cl"].result_count == 1
    assert "0:02:05" in response.content.decode()


def _set_time(data: dict[str, Any], name: str, value: datetime) -> datetime:
    """Type a date-time into a split admin widget, as staff do: to the second."""
    local = timezone.localtime(value).replace(microsecond=0)
    data[f"{name}_0"], data[f"{name}_1"] = local.date().isoformat(), local.time().isoformat()
    return local


def test_call_correction_recomputes_talk_time(staff_client: Client) -> None:
    call = CallLogFactory.create()
    assert call.answered_at is not None
    data = form_data(staff_client.get(change_url(call)))
    ended = _set_time(data, "ended_at", call.answered_at + timedelta(seconds=300))
    data["duration_seconds"] = "5"  # read-only: a forged value is ignored
    response = staff_client.post(change_url(call), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    call.refresh_from_db()
    assert call.ended_at == ended
    assert call.duration_seconds == talk_seconds(call.answered_at, ended) in (299, 300)
    assert call.source == RecordSource.API


def test_saving_a_form_keeps_untouched_times_to_the_microsecond(staff_client: Client, agent_a1: User) -> None:
    # Adjacent periods share a boundary; editing one must not open a sub-second gap in the timeline.
    start = timezone.now().replace(microsecond=123456) - timedelta(hours=2)
    period = AgentStatusPeriodFactory.create(agent=agent_a1, started_at=start, ended_at=start + timedelta(minutes=30))
    data = form_data(staff_client.get(change_url(period)))
    data["reason"] = "training"
    data["status"] = "break"
    response = staff_client.post(change_url(period), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    period.refresh_from_db()
    assert (period.status, period.started_at, period.ended_at) == (
        "break",
        start,
        start + timedelta(minutes=30),
    )


def test_agent_state_open_filter(staff_client: Client, agent_a1: User) -> None:
    closed = AgentStatusPeriodFactory.create(agent=agent_a1)
    current = AgentStatusPeriodFactory.create(agent=agent_a1, started_at=closed.ended_at, ended_at=None)
    url = changelist_url(AgentStatusPeriod)
    assert list(staff_client.get(url, {"open": "yes"}).context["cl"].result_list) == [current]
    assert list(staff_client.get(url, {"open": "no"}).context["cl"].result_list) == [closed]

    session = AgentSessionFactory.create(agent=agent_a1, ended_at=None)
    url = changelist_url(AgentSession)
    assert list(staff_client.get(url, {"open": "yes"}).context["cl"].result_list) == [session]
    assert list(staff_client.get(url, {"open": "no"}).context["cl"].result_list) == []


def test_closing_a_session_in_the_admin(staff_client: Client, agent_a1: User) -> None:
    session = AgentSessionFactory.create(agent=agent_a1, ended_at=None)
    data = form_data(staff_client.get(change_url(session)))
    ended = _set_time(data, "ended_at", session.started_at + timedelta(hours=3))
    response = staff_client.post(change_url(session), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    session.refresh_from_db()
    assert (session.ended_at, session.end_reason, session.source) == (
        ended,
        SessionEndReason.ADMIN,
        RecordSource.API,
    )


# --- API keys --------------------------------------------------------------------------------------------


def _everything_stored() -> str:
    """Every row of every model (sessions and admin log included), serialised."""
    return "".join(serializers.serialize("json", m._default_manager.all()) for m in apps.get_models())


def test_api_key_add_form_asks_only_for_user_and_name(staff_client: Client) -> None:
    response = staff_client.get(add_url(ApiKey))
    assert set(response.context["adminform"].form.fields) == {"user", "name"}


def test_api_key_is_generated_shown_once_and_stored_hashed(staff_client: Client, agent_a1: User) -> None:
    response = staff_client.post(add_url(ApiKey), {"user": agent_a1.pk, "name": "softphone desk 12"}, follow=True)
    assert response.status_code == 200

    key = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    raws = [raw for text in shown for raw in re.findall(r"cb_[A-Za-z0-9_-]{40,}", text)]
    assert len(raws) == 1, shown
    raw = raws[0]
    assert "not be shown again" in " ".join(shown)
    assert (key.user, key.name) == (agent_a1, "softphone desk 12")
    assert key.key_hash == hash_api_key(raw)
    assert ApiKey.objects.for_key(raw) == key
    assert raw not in _everything_stored()

    # Never shown again, and the hash is never shown at all.
    page = staff_client.get(change_url(key)).content.decode()
    assert raw not in page
    assert key.key_hash not in page
    assert key.key_hash not in staff_client.get(changelist_url(ApiKey)).content.decode()


def test_revoke_action(staff_client: Client) -> None:
    first, second = ApiKeyFactory.create(), ApiKeyFactory.create()
    already = ApiKeyFactory.create(revoked_at=timezone.now() - timedelta(days=3))
    untouched = ApiKeyFactory.create()
    response = staff_client.post(
        changelist_url(ApiKey),
        {"action": "revoke_keys", "_selected_action": [first.pk, second.pk, already.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Revoked 2 key(s)." in [str(m) for m in response.context["messages"]]
    for key in (first, second):
        key.refresh_from_db()
        assert key.revoked_at is not None
    assert ApiKey.objects.get(pk=already.pk).revoked_at == already.revoked_at
    assert ApiKey.objects.get(pk=untouched.pk).revoked_at is None

    url = changelist_url(ApiKey)
    assert list(staff_client.get(url, {"status": "active"}).context["cl"].result_list) == [untouched]
    assert staff_client.get(url, {"status": "revoked"}).context["cl"].result_count == 3
