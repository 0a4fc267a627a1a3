"""The call and agent-time actions (calls/actions.py), called directly.

Times are fixed instants in the past so every expected number can be written down.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from calls import actions
from calls.actions import CallActionError
from calls.events import agent_status_changed, call_changed
from calls.models import (
    AgentSession,
    AgentStatus,
    AgentStatusPeriod,
    CallLog,
    CallOutcome,
    CallStatus,
    SessionEndReason,
)
from crm.models import BusinessReason, Contact, LeadStatus, LeadStatusChange, User
from tests.factories import CampaignFactory, ContactFactory, UserFactory

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def start(agent: User, started_at: datetime = T0, **kwargs: Any) -> CallLog:
    return actions.do_start_call(agent, phone_number="+48600100200", started_at=started_at, **kwargs)


def status_of(agent: User) -> str | None:
    period = actions.current_status_period(agent)
    return period.status if period else None


def ended_call(agent: User, *, contact: Contact | None = None, answered: float = 10, ended: float = 130) -> CallLog:
    call = start(agent, contact=contact)
    actions.do_mark_answered(call, answered_at=at(answered))
    return actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=at(ended))


# --- Call state machine ------------------------------------------------------------------------------


def test_start_creates_an_in_progress_call_with_a_normalised_number(agent_a1):
    call = actions.do_start_call(agent_a1, phone_number="600 100 200", started_at=T0)

    call.refresh_from_db()
    assert (call.status, call.phone_number, call.started_at) == (CallStatus.IN_PROGRESS, "+48600100200", T0)
    assert (call.answered_at, call.ended_at, call.duration_seconds) == (None, None, 0)


def test_start_takes_the_campaign_of_the_contact(agent_a1):
    contact = ContactFactory.create(campaign=CampaignFactory.create(name="Spring"))
    call = start(agent_a1, contact=contact)
    assert call.campaign == contact.campaign


def test_answered_then_completed_talk_time_is_end_minus_answer(agent_a1):
    call = ended_call(agent_a1, answered=10, ended=130)
    assert (call.status, call.answered_at, call.ended_at, call.duration_seconds) == (
        CallStatus.COMPLETED,
        at(10),
        at(130),
        120,
    )


def test_completed_without_an_answer_counts_as_answered_at_start(agent_a1):
    call = actions.do_end_call(start(agent_a1), status=CallStatus.COMPLETED, ended_at=at(90))
    assert (call.answered_at, call.duration_seconds) == (T0, 90)


@pytest.mark.parametrize("status", [CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.DROPPED])
def test_unanswered_call_has_no_talk_time(agent_a1, status):
    call = actions.do_end_call(start(agent_a1), status=status, ended_at=at(40))
    call.refresh_from_db()
    assert (call.status, call.answered_at, call.duration_seconds) == (status, None, 0)


@pytest.mark.parametrize("status", [CallStatus.FAILED, CallStatus.DROPPED])
def test_answered_call_may_fail_or_drop_and_keeps_its_talk_time(agent_a1, status):
    call = start(agent_a1)
    actions.do_mark_answered(call, answered_at=at(5))
    call = actions.do_end_call(call, status=status, ended_at=at(65))
    assert call.duration_seconds == 60


@pytest.mark.parametrize("status", [CallStatus.NO_ANSWER, CallStatus.BUSY])
def test_no_answer_or_busy_after_an_answer_is_refused(agent_a1, status):
    call = start(agent_a1)
    actions.do_mark_answered(call, answered_at=at(5))

    with pytest.raises(CallActionError) as error:
        actions.do_end_call(call, status=status, ended_at=at(65))

    assert (error.value.code, error.value.status) == ("answered_call", 409)
    call.refresh_from_db()
    assert (call.status, call.ended_at) == (CallStatus.IN_PROGRESS, None)


def test_end_before_start_is_refused(agent_a1):
    call = start(agent_a1)
    with pytest.raises(CallActionError) as error:
        actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=at(-1))
    assert (error.value.code, error.value.status, error.value.field) == ("ended_before_start", 400, "ended_at")
    call.refresh_from_db()
    assert call.status == CallStatus.IN_PROGRESS


def test_end_before_answer_is_refused(agent_a1):
    call = start(agent_a1)
    actions.do_mark_answered(call, answered_at=at(30))
    with pytest.raises(CallActionError) as error:
        actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=at(20))
    assert error.value.code == "ended_before_answer"


def test_answer_before_start_is_refused(agent_a1):
    call = start(agent_a1)
    with pytest.raises(CallActionError) as error:
        actions.do_mark_answered(call, answered_at=at(-5))
    assert error.value.code == "answered_before_start"
    call.refresh_from_db()
    assert call.answered_at is None


def test_answering_twice_keeps_the_first_answer(agent_a1):
    call = start(agent_a1)
    actions.do_mark_answered(call, answered_at=at(5))
    call = actions.do_mark_answered(call, answered_at=at(50))
    assert call.answered_at == at(5)


@pytest.mark.parametrize("status", [CallStatus.IN_PROGRESS, "ringing", ""])
def test_end_needs_a_final_status(agent_a1, status):
    call = start(agent_a1)
    with pytest.raises(CallActionError) as error:
        actions.do_end_call(call, status=status, ended_at=at(10))
    assert (error.value.code, error.value.field) == ("invalid_status", "status")


def test_an_ended_call_never_moves_back(agent_a1):
    call = actions.do_end_call(start(agent_a1), status=CallStatus.NO_ANSWER, ended_at=at(30))

    with pytest.raises(CallActionError) as answered:
        actions.do_mark_answered(call, answered_at=at(40))
    with pytest.raises(CallActionError) as ended:
        actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=at(30))

    assert (answered.value.status, ended.value.status) == (409, 409)
    call.refresh_from_db()
    assert (call.status, call.answered_at, call.duration_seconds) == (CallStatus.NO_ANSWER, None, 0)


def test_ending_again_with_the_same_body_returns_the_same_call(agent_a1):
    call = start(agent_a1)
    first = actions.do_end_call(call, status=CallStatus.COMPLETED, outcome="lead", notes="hi", ended_at=at(60))
    again = actions.do_end_call(call, status=CallStatus.COMPLETED, outcome="lead", notes="hi", ended_at=at(60))
    without_time = actions.do_end_call(call, status=CallStatus.COMPLETED, outcome="lead", notes="hi")

    for result in (again, without_time):
        assert (result.pk, result.status, result.ended_at, result.duration_seconds, result.updated_at) == (
            first.pk,
            first.status,
            first.ended_at,
            first.duration_seconds,
            first.updated_at,
        )


@pytest.mark.parametrize(
    "different",
    [
        {"status": CallStatus.FAILED},
        {"outcome": "voicemail"},
        {"notes": "another note"},
        {"ended_at": at(61)},
    ],
    ids=["status", "outcome", "notes", "ended_at"],
)
def test_ending_again_with_a_different_body_is_a_conflict(agent_a1, different):
    body: dict[str, Any] = {"status": CallStatus.COMPLETED, "outcome": "lead", "notes": "hi", "ended_at": at(60)}
    call = actions.do_end_call(start(agent_a1), **body)

    with pytest.raises(CallActionError) as error:
        actions.do_end_call(call, **(body | different))

    assert (error.value.code, error.value.status) == ("already_ended", 409)
    call.refresh_from_db()
    assert (call.status, call.outcome, call.notes, call.ended_at) == (CallStatus.COMPLETED, "lead", "hi", at(60))


def test_one_call_in_progress_per_agent(agent_a1, agent_a2):
    first = start(agent_a1)

    with pytest.raises(CallActionError) as error:
        start(agent_a1, started_at=at(5))

    assert (error.value.code, error.value.status) == ("call_in_progress", 409)
    assert list(CallLog.objects.filter(agent=agent_a1)) == [first]
    start(agent_a2)  # another agent is not affected
    actions.do_end_call(first, status=CallStatus.BUSY, ended_at=at(10))
    start(agent_a1, started_at=at(20))  # and after the end the agent may call again
    assert CallLog.objects.filter(agent=agent_a1).count() == 2


def test_a_call_across_the_dst_change_is_timed_in_real_seconds(settings, agent_a1):
    settings.TIME_ZONE = "Europe/Warsaw"
    warsaw = ZoneInfo("Europe/Warsaw")
    # 2026-03-29: clocks go from 02:00 CET to 03:00 CEST; 01:59:30 → 03:00:30 local is one minute.
    answered, ended = datetime(2026, 3, 29, 1, 59, 30, tzinfo=warsaw), datetime(2026, 3, 29, 3, 0, 30, tzinfo=warsaw)

    assert actions.talk_seconds(answered, ended) == 60
    call = start(agent_a1, started_at=answered)
    actions.do_mark_answered(call, answered_at=answered)
    call = actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=ended)
    assert call.duration_seconds == 60
    unanswered = actions.do_end_call(start(agent_a1, started_at=answered), status=CallStatus.COMPLETED, ended_at=ended)
    assert unanswered.duration_seconds == 60
    totals = actions.agent_day_totals(agent_a1, ended)
    assert (totals.calls_made, totals.connected, totals.total_talk_time, totals.average) == (2, 2, 120, 60.0)


# --- Disposition -------------------------------------------------------------------------------------


def test_disposition_records_wrap_up_from_end_to_disposition_only_once(agent_a1):
    call = ended_call(agent_a1, ended=130)

    call = actions.do_set_disposition(call, outcome=CallOutcome.VOICEMAIL, at=at(175))
    assert (call.outcome, call.disposition_at, call.wrap_up_seconds) == (CallOutcome.VOICEMAIL, at(175), 45)

    call = actions.do_set_disposition(call, outcome=CallOutcome.OTHER, notes="corrected", at=at(900))
    call.refresh_from_db()
    assert (call.outcome, call.notes, call.disposition_at, call.wrap_up_seconds) == (
        CallOutcome.OTHER,
        "corrected",
        at(175),
        45,
    )


def test_disposition_of_a_call_in_progress_is_refused(agent_a1):
    call = start(agent_a1)
    with pytest.raises(CallActionError) as error:
        actions.do_set_disposition(call, outcome=CallOutcome.LEAD, at=at(10))
    assert (error.value.code, error.value.status) == ("call_in_progress", 409)


def test_disposition_updates_the_contact_and_records_the_lead_status_change(agent_a1):
    contact = ContactFactory.create(lead_status=LeadStatus.NEW)
    call = ended_call(agent_a1, contact=contact)
    callback_at = at(86400)

    actions.do_set_disposition(call, outcome=CallOutcome.CALLBACK, callback_at=callback_at, at=at(200), by=agent_a1)

    contact.refresh_from_db()
    assert (contact.business_reason, contact.callback_at, contact.lead_status, contact.lead_status_changed_at) == (
        BusinessReason.RESCHEDULED,
        callback_at,
        LeadStatus.CONTACTED,
        at(200),
    )
    change = LeadStatusChange.objects.get(contact=contact)
    assert (change.from_status, change.to_status, change.changed_at, change.changed_by, change.note) == (
        LeadStatus.NEW,
        LeadStatus.CONTACTED,
        at(200),
        agent_a1,
        f"call {call.pk}",
    )


@pytest.mark.parametrize(
    ("before", "outcome", "after"),
    [
        (LeadStatus.QUALIFIED, CallOutcome.INTERESTED, LeadStatus.QUALIFIED),  # never backwards
        (LeadStatus.LOST, CallOutcome.LEAD, LeadStatus.LOST),  # a final status stays
        (LeadStatus.CONVERTED, CallOutcome.NOT_INTERESTED, LeadStatus.CONVERTED),
        (LeadStatus.CONTACTED, CallOutcome.LEAD, LeadStatus.QUALIFIED),  # forward
    ],
)
def test_disposition_moves_the_lead_status_forward_only(agent_a1, before, outcome, after):
    contact = ContactFactory.create(lead_status=before)
    call = ended_call(agent_a1, contact=contact)

    actions.do_set_disposition(call, outcome=outcome, at=at(200))

    contact.refresh_from_db()
    assert contact.lead_status == after
    assert LeadStatusChange.objects.filter(contact=contact).count() == (0 if before == after else 1)


@pytest.mark.parametrize(
    "body",
    [
        {"outcome": CallOutcome.CALLBACK},
        {"outcome": CallOutcome.CALLBACK, "business_reason": BusinessReason.OTHER},
        {"outcome": CallOutcome.INTERESTED, "business_reason": BusinessReason.RESCHEDULED},
    ],
    ids=["callback", "callback-with-other-reason", "rescheduled"],
)
def test_a_callback_without_callback_at_is_refused(agent_a1, body):
    contact = ContactFactory.create()
    call = ended_call(agent_a1, contact=contact)

    with pytest.raises(CallActionError) as error:
        actions.do_set_disposition(call, at=at(200), **body)

    assert (error.value.code, error.value.field) == ("callback_required", "callback_at")
    call.refresh_from_db()
    contact.refresh_from_db()
    assert (call.disposition_at, call.outcome, contact.business_reason, contact.lead_status) == (
        None,
        "",
        "",
        LeadStatus.NEW,
    )


def test_a_disposition_without_a_reason_keeps_the_contacts_planned_callback(agent_a1):
    callback_at = at(86400)
    contact = ContactFactory.create(business_reason=BusinessReason.RESCHEDULED, callback_at=callback_at)
    call = ended_call(agent_a1, contact=contact)

    actions.do_set_disposition(call, outcome=CallOutcome.VOICEMAIL, at=at(200))

    contact.refresh_from_db()
    assert (contact.business_reason, contact.callback_at) == (BusinessReason.RESCHEDULED, callback_at)


# --- Agent status, timeline and sessions ------------------------------------------------------------


def test_a_call_moves_the_agent_on_call_then_wrap_up_then_available(agent_a1):
    actions.do_change_agent_status(agent_a1, AgentStatus.AVAILABLE, at=at(-60))

    call = start(agent_a1)
    assert status_of(agent_a1) == AgentStatus.ON_CALL
    actions.do_mark_answered(call, answered_at=at(10))
    actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=at(130))
    assert status_of(agent_a1) == AgentStatus.WRAP_UP
    actions.do_set_disposition(call, outcome=CallOutcome.LEAD, at=at(160))
    assert status_of(agent_a1) == AgentStatus.AVAILABLE

    periods = list(AgentStatusPeriod.objects.filter(agent=agent_a1).order_by("started_at"))
    assert [(p.status, p.started_at, p.ended_at) for p in periods] == [
        (AgentStatus.AVAILABLE, at(-60), T0),
        (AgentStatus.ON_CALL, T0, at(130)),
        (AgentStatus.WRAP_UP, at(130), at(160)),
        (AgentStatus.AVAILABLE, at(160), None),
    ]


def test_a_break_taken_during_wrap_up_is_not_overwritten_by_the_disposition(agent_a1):
    call = ended_call(agent_a1, ended=130)
    actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, reason="lunch", at=at(140))

    call = actions.do_set_disposition(call, outcome=CallOutcome.VOICEMAIL, at=at(170))

    assert status_of(agent_a1) == AgentStatus.BREAK
    assert call.wrap_up_seconds == 40


def test_status_changes_form_a_gap_free_timeline_with_one_open_period(agent_a1):
    changes = [
        (AgentStatus.AVAILABLE, "", 0),
        (AgentStatus.BREAK, "short", 600),
        (AgentStatus.AWAY, "", 900),
        (AgentStatus.AVAILABLE, "", 1000),
        (AgentStatus.OFFLINE, "", 5000),
    ]
    for status, reason, seconds in changes:
        actions.do_change_agent_status(agent_a1, status, reason=reason, at=at(seconds))

    periods = list(AgentStatusPeriod.objects.filter(agent=agent_a1).order_by("started_at"))
    assert [(p.status, p.reason, p.started_at) for p in periods] == [(s, r, at(t)) for s, r, t in changes]
    for previous, following in itertools.pairwise(periods):
        assert previous.ended_at == following.started_at
    assert [p.pk for p in periods if p.ended_at is None] == [periods[-1].pk]


def test_the_same_status_again_changes_nothing(agent_a1):
    first = actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, reason="lunch", at=at(0))
    again = actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, reason="lunch", at=at(60))
    assert again.pk == first.pk
    assert AgentStatusPeriod.objects.filter(agent=agent_a1).count() == 1


def test_a_change_dated_before_the_current_period_is_refused(agent_a1):
    actions.do_change_agent_status(agent_a1, AgentStatus.AVAILABLE, at=at(0))
    actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, at=at(600))

    with pytest.raises(CallActionError) as error:
        actions.do_change_agent_status(agent_a1, AgentStatus.AWAY, at=at(300))

    assert (error.value.code, error.value.status) == ("out_of_order", 409)
    assert [
        (p.status, p.ended_at) for p in AgentStatusPeriod.objects.filter(agent=agent_a1).order_by("started_at")
    ] == [
        (AgentStatus.AVAILABLE, at(600)),
        (AgentStatus.BREAK, None),
    ]


@pytest.mark.parametrize(("status", "reason"), [("lunch", ""), (AgentStatus.AVAILABLE, "lunch")])
def test_an_unknown_status_or_a_reason_outside_a_break_is_refused(agent_a1, status, reason):
    with pytest.raises(CallActionError) as error:
        actions.do_change_agent_status(agent_a1, status, reason=reason)
    assert error.value.status == 400
    assert not AgentStatusPeriod.objects.filter(agent=agent_a1).exists()


def test_a_session_opens_at_the_first_change_away_from_offline_and_closes_at_offline(agent_a1):
    actions.do_change_agent_status(agent_a1, AgentStatus.OFFLINE, at=at(0))
    assert not AgentSession.objects.exists()
    actions.do_change_agent_status(agent_a1, AgentStatus.AVAILABLE, at=at(100))
    actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, at=at(200))
    actions.do_change_agent_status(agent_a1, AgentStatus.OFFLINE, at=at(300))
    actions.do_change_agent_status(agent_a1, AgentStatus.AWAY, at=at(400))

    sessions = list(AgentSession.objects.filter(agent=agent_a1).order_by("started_at"))
    assert [(s.started_at, s.ended_at, s.end_reason) for s in sessions] == [
        (at(100), at(300), SessionEndReason.OFFLINE),
        (at(400), None, ""),
    ]


def test_starting_a_call_opens_a_session_for_an_agent_without_one(agent_a1):
    start(agent_a1)
    session = AgentSession.objects.get(agent=agent_a1)
    assert (session.started_at, session.ended_at) == (T0, None)


def test_login_and_logout_through_the_login_view_record_an_agents_session_and_status(agent_a1):
    client = Client()
    response = client.post(reverse("login"), {"username": "agent_a1", "password": "pw"})
    assert response.status_code == 302
    assert status_of(agent_a1) == AgentStatus.AVAILABLE
    session = AgentSession.objects.get(agent=agent_a1)
    assert session.ended_at is None

    client.post(reverse("logout"))

    assert status_of(agent_a1) == AgentStatus.OFFLINE
    session.refresh_from_db()
    assert (session.ended_at is not None, session.end_reason) == (True, SessionEndReason.LOGOUT)


def test_login_keeps_the_status_of_an_agent_already_working(agent_a1):
    actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, reason="lunch", at=at(0))
    Client().post(reverse("login"), {"username": "agent_a1", "password": "pw"})
    assert status_of(agent_a1) == AgentStatus.BREAK
    assert AgentSession.objects.filter(agent=agent_a1).count() == 1


@pytest.mark.parametrize("persona", ["supervisor_a", "admin"])
def test_login_of_a_non_agent_records_nothing(request, persona):
    user = request.getfixturevalue(persona)
    client = Client()
    client.post(reverse("login"), {"username": user.username, "password": "pw"})
    client.post(reverse("logout"))
    assert not AgentStatusPeriod.objects.exists()
    assert not AgentSession.objects.exists()


# --- Events: announced once, after commit, never on rollback ------------------------------------------


@dataclass
class Announcements:
    calls: list[tuple[int, int, str]] = field(default_factory=list)
    statuses: list[tuple[int, str, datetime, str | None]] = field(default_factory=list)

    def clear(self) -> None:
        self.calls.clear()
        self.statuses.clear()


@pytest.fixture
def announced() -> Iterator[Announcements]:
    seen = Announcements()

    def on_call(sender, call_id, agent_id, change, **kwargs):
        seen.calls.append((call_id, agent_id, change))

    def on_status(sender, agent_id, status, since, previous_status, **kwargs):
        seen.statuses.append((agent_id, status, since, previous_status))

    call_changed.connect(on_call, weak=False, dispatch_uid="test-calls")
    agent_status_changed.connect(on_status, weak=False, dispatch_uid="test-statuses")
    yield seen
    call_changed.disconnect(dispatch_uid="test-calls")
    agent_status_changed.disconnect(dispatch_uid="test-statuses")


def test_each_change_is_announced_once_after_commit(agent_a1, announced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call = start(agent_a1)
        assert announced.calls == [] and announced.statuses == []  # not before the commit
    assert announced.calls == [(call.pk, agent_a1.pk, "started")]
    assert announced.statuses == [(agent_a1.pk, AgentStatus.ON_CALL, T0, None)]

    steps = [
        (lambda: actions.do_mark_answered(call, answered_at=at(10)), "answered", []),
        (
            lambda: actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=at(130)),
            "ended",
            [(agent_a1.pk, AgentStatus.WRAP_UP, at(130), AgentStatus.ON_CALL)],
        ),
        (
            lambda: actions.do_set_disposition(call, outcome=CallOutcome.LEAD, at=at(150)),
            "disposition",
            [(agent_a1.pk, AgentStatus.AVAILABLE, at(150), AgentStatus.WRAP_UP)],
        ),
    ]
    for step, change, statuses in steps:
        announced.clear()
        with django_capture_on_commit_callbacks(execute=True):
            step()
        assert announced.calls == [(call.pk, agent_a1.pk, change)]
        assert announced.statuses == statuses


def test_repeating_a_change_announces_nothing(agent_a1, announced, django_capture_on_commit_callbacks):
    call = start(agent_a1)
    actions.do_mark_answered(call, answered_at=at(10))
    actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=at(130))
    actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, reason="lunch", at=at(140))

    with django_capture_on_commit_callbacks(execute=True):
        actions.do_mark_answered(call, answered_at=at(20))
        actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=at(130))
        actions.do_change_agent_status(agent_a1, AgentStatus.BREAK, reason="lunch", at=at(150))

    assert announced.calls == [] and announced.statuses == []


def test_nothing_is_announced_when_the_transaction_rolls_back(agent_a1, announced, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(CallActionError),
        transaction.atomic(),
    ):
        start(agent_a1)  # succeeds and schedules its announcements …
        start(agent_a1, started_at=at(5))  # … then this raises and everything rolls back

    assert callbacks == []
    assert announced.calls == [] and announced.statuses == []
    assert not CallLog.objects.exists()
    assert not AgentStatusPeriod.objects.exists()


def test_a_refused_change_announces_nothing(agent_a1, announced, django_capture_on_commit_callbacks):
    call = start(agent_a1)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CallActionError):
        actions.do_end_call(call, status=CallStatus.COMPLETED, ended_at=at(-10))
    assert announced.calls == [] and announced.statuses == []


# --- Races (PostgreSQL: SQLite serialises every write anyway) --------------------------------------------


def _race(*jobs: Callable[[], object]) -> list[object]:
    """Run the jobs at once in threads, each on its own connection; returns results or raised errors."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.skipif(settings.USES_SQLITE, reason="row locks are what is tested; SQLite has none")
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_starts_make_one_call():
    agent = UserFactory.create(username="racer")
    results = _race(*[lambda n=n: start(agent, started_at=at(n)) for n in range(4)])

    assert sum(isinstance(r, CallLog) for r in results) == 1
    assert all(isinstance(r, CallLog) or getattr(r, "code", None) == "call_in_progress" for r in results), results
    assert CallLog.objects.filter(agent=agent).count() == 1
    assert AgentStatusPeriod.objects.filter(agent=agent, ended_at__isnull=True).count() == 1


@pytest.mark.skipif(settings.USES_SQLITE, reason="row locks are what is tested; SQLite has none")
@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_status_changes_keep_one_open_period():
    agent = UserFactory.create(username="racer")
    results = _race(
        *[
            lambda s=s: actions.do_change_agent_status(agent, s)
            for s in (AgentStatus.AVAILABLE,) * 2 + (AgentStatus.BREAK,) * 2
        ]
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    assert AgentStatusPeriod.objects.filter(agent=agent, ended_at__isnull=True).count() == 1
    assert AgentSession.objects.filter(agent=agent, ended_at__isnull=True).count() == 1


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
