"""The agent's 12 daily stats, update-after-call and the per-agent call KPIs (API.md "Agent dashboard",
METRICS.md "Calls (voice)", "Agent states").

Every number is checked twice: against hand-counted values of a hand-built history, and against an
independent recomputation from the raw rows (no rollups) written here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from analytics import call_metrics
from analytics.registry import METRICS
from calls.models import (
    FAILED_CALL_STATUSES,
    WORK_STATUSES,
    AgentDayRollup,
    AgentHourRollup,
    AgentSession,
    AgentStatus,
    AgentStatusPeriod,
    CallLog,
    CallOutcome,
    CallStatus,
)
from crm.models import BusinessReason, Campaign, Contact, User
from crm.periods import local_day_bounds, local_midnight
from crm.rollups import compare, day_start, hour_start
from tests.factories import (
    AgentSessionFactory,
    AgentStatusPeriodFactory,
    CallLogFactory,
    CampaignFactory,
    ContactFactory,
    TeamFactory,
    UserFactory,
)

STATS = "/api/crm/dashboard/stats"
UPDATE = "/api/crm/dashboard/stats/update-after-call"
TABLE = "/api/analytics/agents/kpis"
STAT_KEYS = set(call_metrics.AGENT_STATS)
KPI_KEYS = set(call_metrics.AGENT_KPIS)


def api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def kpis_url(agent_id: int) -> str:
    return f"/api/analytics/agents/{agent_id}/kpis"


@pytest.fixture
def noon() -> Iterator[datetime]:
    """12:00 local today, frozen (not ticking): open sessions and breaks count up to exactly this."""
    moment = local_midnight(timezone.localdate()) + timedelta(hours=12)
    with time_machine.travel(moment, tick=False):
        yield moment


def local(day: date, hours: float) -> datetime:
    return local_midnight(day) + timedelta(hours=hours)


def call(agent: User, started_at: datetime, status: str = CallStatus.COMPLETED, **fields: Any) -> CallLog:
    """A call with consistent times: `talk` seconds of talk time (0: unanswered)."""
    talk = fields.pop("talk", 120 if status == CallStatus.COMPLETED else 0)
    answered = started_at + timedelta(seconds=5) if talk else None
    if status == CallStatus.IN_PROGRESS:
        return CallLogFactory.create(
            agent=agent,
            started_at=started_at,
            status=status,
            answered_at=answered,
            ended_at=None,
            duration_seconds=0,
            **fields,
        )
    ended = (answered or started_at) + timedelta(seconds=talk or 20)
    return CallLogFactory.create(
        agent=agent,
        started_at=started_at,
        status=status,
        answered_at=answered,
        ended_at=ended,
        duration_seconds=talk,
        **fields,
    )


def state(agent: User, status: str, start: datetime, end: datetime | None) -> AgentStatusPeriod:
    return AgentStatusPeriodFactory.create(agent=agent, status=status, started_at=start, ended_at=end)


# --- an independent recomputation from raw rows --------------------------------------------------------


def _clipped(start: datetime, end: datetime | None, lo: datetime, hi: datetime, now: datetime) -> float:
    end = min(end or now, hi, now)
    return max(0.0, (end.astimezone(UTC) - max(start, lo).astimezone(UTC)).total_seconds())


def raw_counts(agent: User, start: datetime, end: datetime, now: datetime) -> dict[str, Any]:
    calls = list(CallLog.objects.filter(agent=agent, started_at__gte=start, started_at__lt=end))
    connected = [c for c in calls if c.duration_seconds > 0]
    periods = AgentStatusPeriod.objects.filter(agent=agent)
    work = sum(_clipped(p.started_at, p.ended_at, start, end, now) for p in periods if p.status in WORK_STATUSES)
    breaks = sum(_clipped(p.started_at, p.ended_at, start, end, now) for p in periods if p.status == AgentStatus.BREAK)
    logged = sum(_clipped(s.started_at, s.ended_at, start, end, now) for s in AgentSession.objects.filter(agent=agent))
    return {"calls": calls, "connected": connected, "work": work, "break": breaks, "logged": logged}


def raw_stats(agent: User, day: date, now: datetime) -> dict[str, Any]:
    start, end = local_day_bounds(day)
    raw = raw_counts(agent, start, end, now)
    calls, connected = raw["calls"], raw["connected"]
    talk = sum(c.duration_seconds for c in calls)
    return {
        "leads_today": sum(c.outcome == CallOutcome.LEAD for c in calls),
        "calls_total_today": len(calls),
        "calls_connected_today": len(connected),
        "calls_missed_today": sum(c.status == CallStatus.NO_ANSWER for c in calls),
        "total_call_time_today": talk,
        "average_call_time_today": round(talk / len(connected), 1) if connected else 0.0,
        "total_work_time_today": int(raw["work"]),
        "total_logged_time_today": int(raw["logged"]),
        "total_break_time_today": int(raw["break"]),
        "total_contacts": Contact.objects.filter(assigned_agent=agent).count(),
        "total_rescheduled": Contact.objects.filter(
            assigned_agent=agent, business_reason=BusinessReason.RESCHEDULED
        ).count(),
        "active_campaigns": Campaign.objects.filter(is_active=True, members=agent).count(),
    }


def raw_kpis(agent: User, start: datetime, end: datetime, now: datetime) -> dict[str, Any]:
    raw = raw_counts(agent, start, end, now)
    calls, connected = raw["calls"], raw["connected"]
    completed = sum(c.status == CallStatus.COMPLETED for c in calls)
    ended = sum(c.status != CallStatus.IN_PROGRESS for c in calls)
    busy = sum(c.duration_seconds + c.wrap_up_seconds for c in calls)
    return {
        "calls_made": len(calls),
        "successful_calls": completed,
        "failed_calls": sum(c.status in FAILED_CALL_STATUSES for c in calls),
        "aht": round(sum(c.duration_seconds + c.wrap_up_seconds for c in connected) / len(connected), 1)
        if connected
        else 0.0,
        "total_talk_time": sum(c.duration_seconds for c in calls),
        "success_rate": round(completed / ended * 100, 1) if ended else 0.0,
        "occupancy": round(busy / raw["work"] * 100, 1) if raw["work"] else 0.0,
    }


# --- the hand-built history -------------------------------------------------------------------------


@pytest.fixture
def history(noon: datetime, agent_a1: User, agent_a2: User, team_a: Any) -> dict[str, Any]:
    """agent_a1's day: every status and outcome, a break across last midnight, an open session and an
    open `available` period running at noon, plus rows that must not count."""
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    a1 = agent_a1
    call(a1, local(today, 8.5), outcome=CallOutcome.LEAD, talk=100, wrap_up_seconds=30)
    call(a1, local(today, 9), outcome=CallOutcome.INTERESTED, talk=200, wrap_up_seconds=10)
    call(a1, local(today, 9.25), CallStatus.NO_ANSWER, wrap_up_seconds=7)
    call(a1, local(today, 9.5), CallStatus.NO_ANSWER, outcome=CallOutcome.VOICEMAIL)
    call(a1, local(today, 10), CallStatus.BUSY)
    call(a1, local(today, 10.25), CallStatus.FAILED)
    call(a1, local(today, 10.5), CallStatus.DROPPED, talk=30, outcome=CallOutcome.LEAD)
    call(a1, local(today, 11.9), CallStatus.IN_PROGRESS)
    call(a1, local(yesterday, 23.5), outcome=CallOutcome.LEAD, talk=60)  # yesterday's
    call(agent_a2, local(today, 9), outcome=CallOutcome.LEAD, talk=500)  # someone else's
    # states: break 23:50 → 00:20 (20 min today), offline, then work from 08:00
    state(a1, AgentStatus.AVAILABLE, local(yesterday, 23), local(yesterday, 23 + 50 / 60))
    state(a1, AgentStatus.BREAK, local(yesterday, 23 + 50 / 60), local(today, 20 / 60))
    state(a1, AgentStatus.OFFLINE, local(today, 20 / 60), local(today, 8))
    state(a1, AgentStatus.AVAILABLE, local(today, 8), local(today, 9))  # 3600
    state(a1, AgentStatus.ON_CALL, local(today, 9), local(today, 9 + 10 / 60))  # 600
    state(a1, AgentStatus.WRAP_UP, local(today, 9 + 10 / 60), local(today, 9.25))  # 300
    state(a1, AgentStatus.BREAK, local(today, 9.25), local(today, 9.75))  # 1800
    state(a1, AgentStatus.AWAY, local(today, 9.75), local(today, 10))  # neither work nor break
    state(a1, AgentStatus.AVAILABLE, local(today, 10), None)  # open: 7200 up to noon
    AgentSessionFactory.create(agent=a1, started_at=local(yesterday, 23), ended_at=local(today, 20 / 60))  # 1200
    AgentSessionFactory.create(agent=a1, started_at=local(today, 8), ended_at=None)  # 14400 up to noon
    state(agent_a2, AgentStatus.BREAK, local(today, 9), local(today, 10))
    # current state
    ContactFactory.create(assigned_agent=a1)
    ContactFactory.create(assigned_agent=a1, business_reason=BusinessReason.RESCHEDULED)
    ContactFactory.create(assigned_agent=a1, business_reason=BusinessReason.RESCHEDULED)
    ContactFactory.create(assigned_agent=agent_a2, business_reason=BusinessReason.RESCHEDULED)
    CampaignFactory.create(members=[a1, agent_a2])
    CampaignFactory.create(members=[a1], is_active=False)
    CampaignFactory.create(members=[agent_a2])
    return {"today": today, "yesterday": yesterday}


def test_every_stat_matches_the_hand_count_and_the_raw_rows(history, agent_a1, noon):
    body = api(agent_a1).get(STATS).json()
    assert body["success"] is True
    stats = body["stats"]
    assert set(stats) == STAT_KEYS | {"timestamp", "date"}
    assert stats["date"] == history["today"].isoformat()
    assert datetime.fromisoformat(stats["timestamp"]) == noon
    expected = {
        "leads_today": 2,  # the completed lead and the dropped one
        "calls_total_today": 8,
        "calls_connected_today": 3,  # 100 + 200 + 30 s of talk
        "calls_missed_today": 2,
        "total_call_time_today": 330,
        "average_call_time_today": 110.0,
        "total_work_time_today": 3600 + 600 + 300 + 7200,
        "total_logged_time_today": 1200 + 4 * 3600,
        "total_break_time_today": 1200 + 1800,
        "total_contacts": 3,
        "total_rescheduled": 2,
        "active_campaigns": 1,
    }
    assert {k: stats[k] for k in expected} == expected
    assert expected == raw_stats(agent_a1, history["today"], noon)


def test_break_across_midnight_splits_between_the_days(history, agent_a1, noon):
    stats = api(agent_a1).get(STATS, {"date": history["yesterday"].isoformat()}).json()["stats"]
    assert stats["total_break_time_today"] == 600  # 23:50 → 00:00
    assert stats["total_logged_time_today"] == 3600
    assert stats["total_work_time_today"] == 50 * 60
    assert stats["calls_total_today"] == stats["leads_today"] == 1
    assert {k: stats[k] for k in STAT_KEYS} == raw_stats(agent_a1, history["yesterday"], noon)


def test_open_session_and_open_state_count_up_to_now(agent_a1, noon):
    AgentSessionFactory.create(agent=agent_a1, started_at=noon - timedelta(minutes=47, seconds=3), ended_at=None)
    state(agent_a1, AgentStatus.BREAK, noon - timedelta(minutes=5), None)
    stats = api(agent_a1).get(STATS).json()["stats"]
    assert stats["total_logged_time_today"] == 47 * 60 + 3
    assert stats["total_break_time_today"] == 300
    # a future day has nothing yet
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert api(agent_a1).get(STATS, {"date": tomorrow}).json()["stats"]["total_logged_time_today"] == 0


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2025, 10, 26), 25)],
    ids=["spring-forward", "fall-back"],
)
def test_dst_day_in_warsaw(agent_a1, day, hours):
    with override_settings(TIME_ZONE="Europe/Warsaw"), time_machine.travel(datetime(2026, 4, 10, 10, tzinfo=UTC)):
        start, end = (moment.astimezone(UTC) for moment in local_day_bounds(day))  # UTC arithmetic below
        assert (end - start).total_seconds() == hours * 3600
        AgentSessionFactory.create(
            agent=agent_a1, started_at=start - timedelta(hours=1), ended_at=end + timedelta(hours=1)
        )
        # available all day, with a break from 01:30 to 03:30 local (wall clock) around the change
        break_start, break_end = local(day, 1.5), local_midnight(day).replace(hour=3, minute=30)  # wall clock
        state(agent_a1, AgentStatus.AVAILABLE, start, break_start)
        state(agent_a1, AgentStatus.BREAK, break_start, break_end)
        state(agent_a1, AgentStatus.AVAILABLE, break_end, end)
        # calls in every local hour the day has
        moment = start
        placed = 0
        while moment < end:
            call(agent_a1, moment + timedelta(minutes=10), talk=60)
            moment += timedelta(hours=1)
            placed += 1
        call(agent_a1, end, talk=60)  # the next day's
        stats = api(agent_a1).get(STATS, {"date": day.isoformat()}).json()["stats"]
        break_seconds = (break_end.astimezone(UTC) - break_start.astimezone(UTC)).total_seconds()
        assert break_seconds == {23: 3600, 25: 3 * 3600}[hours]
        assert placed == hours
        assert stats["total_logged_time_today"] == hours * 3600
        assert stats["total_break_time_today"] == break_seconds
        assert stats["total_work_time_today"] == hours * 3600 - break_seconds
        assert stats["calls_total_today"] == hours
        assert stats["total_call_time_today"] == hours * 60
        assert {k: stats[k] for k in STAT_KEYS} == raw_stats(agent_a1, day, timezone.now())
        # the rollup hours are local hours: one cell per local hour of the day
        cells = AgentHourRollup.objects.filter(agent_id=agent_a1.pk, hour__gte=start, hour__lt=end)
        assert cells.count() == hours
        assert compare(AgentHourRollup, start, end) == []


# --- access -----------------------------------------------------------------------------------------

MATRIX = [
    ("agent_a1", "agent_a1", 200),
    ("agent_a1", "agent_a2", 403),
    ("agent_a1", "agent_b1", 403),
    ("supervisor_a", "agent_a1", 200),
    ("supervisor_a", "agent_a2", 200),
    ("supervisor_a", "agent_b1", 403),
    ("admin", "agent_b1", 200),
    ("admin", "agent_a1", 200),
]


@pytest.fixture
def people(admin, supervisor_a, agent_a1, agent_a2, agent_b1, team_a, team_b) -> dict[str, User]:
    return {u.username: u for u in (admin, supervisor_a, agent_a1, agent_a2, agent_b1)}


@pytest.mark.parametrize(("viewer", "target", "status"), MATRIX)
def test_stats_access(people, midday, viewer, target, status):
    call(people[target], midday - timedelta(minutes=30))
    response = api(people[viewer]).get(STATS, {"agent_id": people[target].pk})
    assert response.status_code == status, response.content
    if status == 200:
        assert response.json()["stats"]["calls_total_today"] == 1
    else:
        assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize(("viewer", "target", "status"), MATRIX)
def test_kpis_access(people, midday, viewer, target, status):
    response = api(people[viewer]).get(kpis_url(people[target].pk))
    assert response.status_code == status, response.content


@pytest.mark.parametrize(("viewer", "target", "status"), MATRIX)
def test_update_after_call_access(people, midday, viewer, target, status):
    made = call(people[target], midday - timedelta(minutes=30))
    response = api(people[viewer]).post(UPDATE, {"call_id": made.pk}, format="json")
    assert response.status_code == status, response.content


@pytest.mark.parametrize("viewer", ["agent_a1", "supervisor_a", "admin"])
def test_unknown_ids_are_404(people, viewer):
    client = api(people[viewer])
    assert client.get(STATS, {"agent_id": 999_999}).status_code == 404
    assert client.get(kpis_url(999_999)).status_code == 404
    assert client.post(UPDATE, {"call_id": 999_999}, format="json").status_code == 404
    assert client.get(TABLE, {"team_id": 999_999}).status_code == 404


def test_anonymous_is_refused():
    assert APIClient().get(STATS).status_code in (401, 403)
    assert APIClient().get(TABLE).status_code in (401, 403)


def assert_400(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["success"] is False and body["error"] == "invalid"
    assert field in body["fields"], body
    assert " " in body["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date": "2026-13-01"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"date": "0001-01-01"}, "date"),
        ({"agent_id": "x"}, "agent_id"),
    ],
)
def test_bad_stats_query_is_400(agent_a1, query, field):
    assert_400(api(agent_a1).get(STATS, query), field)


@pytest.mark.parametrize(
    ("body", "field"), [({}, "call_id"), ({"call_id": "x"}, "call_id"), ({"call_id": None}, "call_id")]
)
def test_bad_update_body_is_400(agent_a1, body, field):
    assert_400(api(agent_a1).post(UPDATE, body, format="json"), field)


@pytest.mark.parametrize("team_id", ["x", "-1", "1.5"])
def test_bad_team_id_is_400(admin, team_id):
    assert_400(api(admin).get(TABLE, {"team_id": team_id}), "team_id")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"dateRange": "year"}, "dateRange"),
        ({"startDate": "2026-05-01"}, "endDate"),
        ({"endDate": "2026-05-01"}, "startDate"),
        ({"startDate": "May 1", "endDate": "2026-05-02"}, "startDate"),
        ({"startDate": "2026-05-01", "endDate": "2026-02-30"}, "endDate"),
        ({"startDate": "2026-05-02", "endDate": "2026-05-01"}, "endDate"),
        ({"startDate": "2020-01-01", "endDate": "2026-05-01"}, "endDate"),
    ],
)
def test_bad_period_is_400(agent_a1, team_a, query, field):
    assert_400(api(agent_a1).get(kpis_url(agent_a1.pk), query), field)
    assert_400(api(agent_a1).get(TABLE, query), field)


# --- update-after-call ------------------------------------------------------------------------------


def test_update_after_call_is_idempotent_when_nothing_is_wrong(agent_a1, midday):
    made = call(agent_a1, midday - timedelta(minutes=30), outcome=CallOutcome.LEAD, wrap_up_seconds=12)
    before = list(AgentHourRollup.objects.order_by("pk").values())
    for _ in range(2):
        body = api(agent_a1).post(UPDATE, {"call_id": made.pk}, format="json").json()
        assert body["success"] is True and isinstance(body["message"], str)
        assert body["corrected"] == {}
        assert body["stats"]["calls_total_today"] == body["stats"]["leads_today"] == 1
    assert list(AgentHourRollup.objects.order_by("pk").values()) == before


def test_update_after_call_repairs_a_corrupted_cell(agent_a1, midday, django_capture_on_commit_callbacks):
    made = call(agent_a1, midday - timedelta(minutes=30), outcome=CallOutcome.LEAD, talk=90, wrap_up_seconds=12)
    call(agent_a1, midday - timedelta(minutes=20), CallStatus.NO_ANSWER)
    state(agent_a1, AgentStatus.BREAK, midday - timedelta(minutes=50), midday - timedelta(minutes=40))
    hour = hour_start(made.started_at)
    cell = AgentHourRollup.objects.filter(agent_id=agent_a1.pk, hour=hour)
    good = cell.values().get()
    day_row = AgentDayRollup.objects.filter(agent_id=agent_a1.pk, day=day_start(hour))
    good_day = day_row.values().get()
    # a write that bypassed the counters (all of the day's activity is in this hour)
    cell.update(calls=99, talk_seconds=0, outcome_lead=0, break_us=5)
    day_row.update(calls=99, talk_seconds=0, outcome_lead=0, break_us=5)
    assert compare(AgentHourRollup, hour, hour + timedelta(hours=1))
    assert api(agent_a1).get(STATS).json()["stats"]["calls_total_today"] == 99 + 0  # the corruption shows

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        body = api(agent_a1).post(UPDATE, {"call_id": made.pk}, format="json").json()
    assert callbacks  # the cache's data version is bumped after the commit
    assert body["corrected"] == {
        "calls": 2 - 99,
        "talk_seconds": 90,
        "outcome_lead": 1,
        "break_us": good["break_us"] - 5,
    }
    assert "corrected 4 counters" in body["message"]
    assert cell.values().get() == good
    assert day_row.values().get() == good_day  # the day row is resynced from its hours
    assert compare(AgentHourRollup, hour, hour + timedelta(hours=1)) == []
    today = timezone.localdate()
    expected = raw_stats(agent_a1, today, timezone.now())
    for stats in (body["stats"], api(agent_a1).get(STATS).json()["stats"]):
        assert {k: stats[k] for k in STAT_KEYS} == {**expected, "total_logged_time_today": 0}
    # again: nothing left to correct
    again = api(agent_a1).post(UPDATE, {"call_id": made.pk}, format="json").json()
    assert again["corrected"] == {}
    assert cell.values().get() == good


def test_update_after_call_recreates_a_missing_cell(agent_a1, midday):
    made = call(agent_a1, midday - timedelta(minutes=30), talk=45, wrap_up_seconds=5)
    cell = AgentHourRollup.objects.filter(agent_id=agent_a1.pk, hour=hour_start(made.started_at))
    cell.delete()
    body = api(agent_a1).post(UPDATE, {"call_id": made.pk}, format="json").json()
    assert body["corrected"]["calls"] == 1
    assert body["stats"]["total_call_time_today"] == 45
    assert cell.get().connected_wrap_up_seconds == 5


# --- query counts -----------------------------------------------------------------------------------


def _queries(client: APIClient, path: str, params: dict[str, Any] | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, params or {}).status_code == 200
    return len(captured)


def test_stats_query_count_does_not_grow_with_the_data(
    supervisor_a, agent_a1, team_a, midday, django_assert_max_num_queries
):
    client = api(supervisor_a)
    params = {"agent_id": agent_a1.pk}
    call(agent_a1, midday - timedelta(hours=3))
    AgentSessionFactory.create(agent=agent_a1, started_at=midday - timedelta(hours=4), ended_at=None)
    with django_assert_max_num_queries(10):
        one = _queries(client, STATS, params)
    base = midday - timedelta(hours=6)
    for minute in range(49):
        call(agent_a1, base + timedelta(minutes=7 * minute))
        state(agent_a1, AgentStatus.AVAILABLE, base + timedelta(minutes=minute), base + timedelta(minutes=minute + 1))
    cache.clear()  # writes in a test transaction do not bump the version (no commit)
    with django_assert_max_num_queries(10):
        fifty = _queries(client, STATS, params)
    assert fifty == one
    assert api(agent_a1).get(STATS).json()["stats"]["calls_total_today"] == 50
    # a second read is served from the cache
    assert _queries(client, STATS, params) <= 3


def test_team_table_query_count_does_not_grow_with_agents(admin, midday, django_assert_max_num_queries):
    agents = [UserFactory.create() for _ in range(2)]
    team = TeamFactory.create(members=agents)
    for agent in agents:
        call(agent, midday - timedelta(hours=1))
    client = api(admin)
    with django_assert_max_num_queries(12):
        few = _queries(client, TABLE, {"team_id": team.pk})
    more = [UserFactory.create() for _ in range(20)]
    team.members.add(*more)
    for agent in more:
        for minutes in (10, 70, 130):
            call(agent, midday - timedelta(minutes=minutes))
        state(agent, AgentStatus.AVAILABLE, midday - timedelta(hours=3), None)
    with django_assert_max_num_queries(12):
        many = _queries(client, TABLE, {"team_id": team.pk})
    assert many == few
    assert len(client.get(TABLE, {"team_id": team.pk}).json()["results"]) == 22


# --- KPIs for a period --------------------------------------------------------------------------------

THURSDAY = date(2026, 5, 14)


@pytest.fixture
def month_of_calls(agent_a1, agent_a2, team_a) -> Iterator[dict[str, Any]]:
    """agent_a1's calls today (Thursday), earlier this week, earlier this month and last month."""
    now = local(THURSDAY, 12)
    with time_machine.travel(now, tick=False):
        a1 = agent_a1
        state(a1, AgentStatus.AVAILABLE, local(THURSDAY, 9), None)  # 3 h of work today
        call(a1, local(THURSDAY, 10), talk=600, wrap_up_seconds=60)
        call(a1, local(THURSDAY, 10.5), CallStatus.NO_ANSWER, wrap_up_seconds=20)
        call(a1, local(THURSDAY, 11.9), CallStatus.IN_PROGRESS)
        state(
            a1, AgentStatus.AVAILABLE, local(THURSDAY - timedelta(days=2), 9), local(THURSDAY - timedelta(days=2), 10)
        )
        call(a1, local(THURSDAY - timedelta(days=2), 9.5), talk=300)  # Tuesday
        call(a1, local(THURSDAY - timedelta(days=2), 9.6), CallStatus.BUSY)
        call(a1, local(date(2026, 5, 4), 9), CallStatus.DROPPED, talk=40, wrap_up_seconds=4)  # earlier this month
        call(a1, local(date(2026, 4, 30), 9), talk=1000)  # last month
        call(agent_a2, local(THURSDAY, 10), talk=50, wrap_up_seconds=10)
        yield {"now": now}


@pytest.mark.parametrize(
    ("params", "first_day", "expected"),
    [
        (
            {"dateRange": "today"},
            THURSDAY,
            # occupancy: (600 + 60 + 20) / 3 h; success: 1 completed of 2 ended
            {
                "calls_made": 3,
                "successful_calls": 1,
                "failed_calls": 1,
                "aht": 660.0,
                "total_talk_time": 600,
                "success_rate": 50.0,
                "occupancy": 6.3,
            },
        ),
        (
            {"dateRange": "week"},
            date(2026, 5, 11),
            {
                "calls_made": 5,
                "successful_calls": 2,
                "failed_calls": 2,
                "aht": 480.0,
                "total_talk_time": 900,
                "success_rate": 50.0,
                "occupancy": 6.8,
            },
        ),
        (
            {"dateRange": "month"},
            date(2026, 5, 1),
            {
                "calls_made": 6,
                "successful_calls": 2,
                "failed_calls": 3,
                "aht": 334.7,
                "total_talk_time": 940,
                "success_rate": 40.0,
                "occupancy": 7.1,
            },
        ),
        (
            {"startDate": "2026-04-30", "endDate": "2026-05-04"},
            date(2026, 4, 30),
            {
                "calls_made": 2,
                "successful_calls": 1,
                "failed_calls": 1,
                "aht": 522.0,
                "total_talk_time": 1040,
                "success_rate": 50.0,
                "occupancy": 0.0,
            },
        ),
    ],
    ids=["today", "week", "month", "custom"],
)
def test_agent_kpis_per_period(month_of_calls, agent_a1, supervisor_a, params, first_day, expected):
    now = month_of_calls["now"]
    with time_machine.travel(now, tick=False):
        body = api(supervisor_a).get(kpis_url(agent_a1.pk), params).json()
    assert body["agent_id"] == agent_a1.pk
    assert body["agent_name"] == agent_a1.get_full_name()
    start = datetime.fromisoformat(body["period"]["start"])
    end = datetime.fromisoformat(body["period"]["end"])
    assert start == local_midnight(first_day)
    assert body["period"]["label"] == params.get("dateRange", "custom")
    assert body["kpis"] == expected
    assert expected == raw_kpis(agent_a1, start, end, now)


def test_team_table(month_of_calls, admin, supervisor_a, agent_a1, agent_a2, agent_b1, team_b):
    now = month_of_calls["now"]
    with time_machine.travel(now, tick=False):
        body = api(supervisor_a).get(TABLE, {"dateRange": "week"}).json()
        assert body["period"]["label"] == "week"
        rows = {row["agent_id"]: row for row in body["results"]}
        assert set(rows) == {agent_a1.pk, agent_a2.pk}  # the supervisor's team, not team B
        start, end = (datetime.fromisoformat(body["period"][k]) for k in ("start", "end"))
        for agent in (agent_a1, agent_a2):
            assert set(rows[agent.pk]["kpis"]) == KPI_KEYS
            assert rows[agent.pk]["kpis"] == raw_kpis(agent, start, end, now)
            assert rows[agent.pk]["teams"] == [{"id": agent.teams.get().pk, "name": "Team A"}]
            assert rows[agent.pk]["agent_name"] == agent.get_full_name()
        assert rows[agent_a1.pk]["kpis"]["calls_made"] == 5
        # the same numbers as the single-agent endpoint
        single = api(supervisor_a).get(kpis_url(agent_a1.pk), {"dateRange": "week"}).json()["kpis"]
        assert single == rows[agent_a1.pk]["kpis"]
        # an agent sees only their own row; a team they do not supervise is 403
        own = api(agent_a1).get(TABLE, {"dateRange": "week"}).json()["results"]
        assert [row["agent_id"] for row in own] == [agent_a1.pk]
        assert api(agent_a1).get(TABLE, {"team_id": team_b.pk}).status_code == 403
        assert api(supervisor_a).get(TABLE, {"team_id": team_b.pk}).status_code == 403
        # admins: everyone, or one team
        everyone = api(admin).get(TABLE, {"dateRange": "month"}).json()["results"]
        assert {row["agent_id"] for row in everyone} == {agent_a1.pk, agent_a2.pk, agent_b1.pk}
        only_b = api(admin).get(TABLE, {"team_id": team_b.pk}).json()["results"]
        assert [(row["agent_id"], row["kpis"]["calls_made"]) for row in only_b] == [(agent_b1.pk, 0)]


def test_a_supervisor_who_takes_calls_appears_in_the_table(supervisor_a, agent_a1, team_a, midday):
    call(supervisor_a, midday - timedelta(minutes=30))
    rows = api(supervisor_a).get(TABLE).json()["results"]
    assert {row["agent_id"]: row["kpis"]["calls_made"] for row in rows} == {
        agent_a1.pk: 0,
        team_a.members.exclude(pk=agent_a1.pk).get().pk: 0,
        supervisor_a.pk: 1,
    }


# --- the registry ----------------------------------------------------------------------------------


def test_every_call_metric_is_registered_with_a_formula():
    for key in (*call_metrics.AGENT_STATS, *call_metrics.AGENT_KPIS):
        definition = METRICS[key]
        assert len(definition.formula) > 40, key
        assert definition.formula.endswith("."), key
        if definition.drill_down:
            assert definition.drill_down.startswith("/api/calls/log?user_id={agent}"), key


def test_ratios_are_zero_without_a_denominator():
    empty: dict[str, int] = {}
    for key in ("average_call_time_today", "aht", "success_rate", "occupancy"):
        assert METRICS[key].apply(empty) == 0.0
    only_running = {"calls": 2, "calls_in_progress": 2}
    assert METRICS["success_rate"].apply(only_running) == 0.0
