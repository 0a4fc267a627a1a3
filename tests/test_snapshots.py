"""Snapshots of the organisation's metrics (analytics/snapshots.py): the periods, the stored numbers,
idempotency, history reads, the cron endpoint, the Celery tasks and their beat schedule, and the
read-only analytics admin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import AnalyticsSnapshot, AuditLog, RollupCheck, SnapshotType
from analytics.registry import METRICS, Metric
from analytics.rollups import reconcile_rollups
from analytics.snapshots import build_last_snapshot, build_snapshot, history, last_closed_period, period_bounds
from analytics.tasks import build_snapshot_task, reconcile_rollups_task
from calls.models import AgentHourRollup
from config.celery import app as celery_app
from crm.models import ChatHourRollup
from crm.periods import local_midnight
from crm.rollups import hour_start, total
from tests.factories import CallLogFactory, ConversationFactory

CRON_URL = "/api/cron/aggregate-metrics"
SECRET = "a-long-cron-secret-for-the-tests-0123456789"


@pytest.fixture
def test_metric() -> Iterator[Metric]:
    """A metric of this test's own, so the snapshot is checked whatever else is registered."""
    from analytics import call_metrics, chat_metrics  # noqa: F401 - the real metrics too

    metric = Metric("test_talk_per_call", "Talk per call", "seconds", "talk / calls", from_counters=_talk_per_call)
    METRICS[metric.key] = metric
    yield metric
    METRICS.pop(metric.key)


def _talk_per_call(c) -> float:
    return round(c["talk_seconds"] / c["calls"], 1) if c["calls"] else 0.0


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- periods ------------------------------------------------------------------------------------------------


def test_last_closed_periods() -> None:
    now = utc(2026, 11, 18, 14, 25)  # a Wednesday
    assert last_closed_period("hourly", now) == (utc(2026, 11, 18, 13), utc(2026, 11, 18, 14))
    assert last_closed_period("daily", now) == (utc(2026, 11, 17), utc(2026, 11, 18))
    assert last_closed_period("weekly", now) == (utc(2026, 11, 9), utc(2026, 11, 16))
    # right after midnight on a Monday
    monday = utc(2026, 11, 16, 0, 5)
    assert last_closed_period("hourly", monday) == (utc(2026, 11, 15, 23), utc(2026, 11, 16))
    assert last_closed_period("daily", monday) == (utc(2026, 11, 15), utc(2026, 11, 16))
    assert last_closed_period("weekly", monday) == (utc(2026, 11, 9), utc(2026, 11, 16))
    with pytest.raises(ValueError, match="snapshot type must be one of"):
        period_bounds("monthly", now)


@override_settings(TIME_ZONE="Europe/Warsaw")
def test_periods_are_local_and_dst_aware() -> None:
    # Sunday 2026-10-25 has 25 hours in Warsaw; the ISO week containing it has 169
    start, end = last_closed_period("daily", utc(2026, 10, 26, 6))
    assert (start, end) == (local_midnight(date(2026, 10, 25)), local_midnight(date(2026, 10, 26)))
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)
    start, end = last_closed_period("weekly", utc(2026, 10, 26, 6))
    assert start == local_midnight(date(2026, 10, 19))
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=169)
    # the repeated 02:00 hour: each of the two is its own hourly period
    first, second = utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)
    assert period_bounds("hourly", first) == (utc(2026, 10, 25, 0), utc(2026, 10, 25, 1))
    assert period_bounds("hourly", second) == (utc(2026, 10, 25, 1), utc(2026, 10, 25, 2))


# --- building -----------------------------------------------------------------------------------------------


def test_snapshot_holds_every_counter_metric_and_the_counters(midday, agent_a1, agent_b1, test_metric) -> None:
    yesterday = timezone.localdate() - timedelta(days=1)
    start = local_midnight(yesterday)
    CallLogFactory.create(agent=agent_a1, started_at=start + timedelta(hours=9), duration_seconds=100)
    CallLogFactory.create(agent=agent_b1, started_at=start + timedelta(hours=10), duration_seconds=50)
    CallLogFactory.create(agent=agent_b1, started_at=start - timedelta(minutes=1))  # the day before
    ConversationFactory.create(assigned_agent=agent_a1, created_at=start + timedelta(hours=11))

    snapshot = build_last_snapshot("daily")
    assert (snapshot.snapshot_type, snapshot.period_start, snapshot.period_end) == (
        "daily",
        start,
        local_midnight(timezone.localdate()),
    )
    counters = snapshot.metrics["counters"]
    assert counters == {
        **total(AgentHourRollup, start, snapshot.period_end),
        **total(ChatHourRollup, start, snapshot.period_end),
    }
    assert (counters["calls"], counters["talk_seconds"], counters["conversations"]) == (2, 150, 1)
    metrics = snapshot.metrics["metrics"]
    assert metrics["test_talk_per_call"] == 75.0
    assert set(metrics) == {key for key, m in METRICS.items() if m.from_counters}
    for key, value in metrics.items():
        assert value == METRICS[key].apply(counters), key


def test_build_is_idempotent_and_picks_up_late_data(midday, agent_a1, test_metric) -> None:
    hour = hour_start(timezone.now()) - timedelta(hours=2)
    CallLogFactory.create(agent=agent_a1, started_at=hour + timedelta(minutes=5), duration_seconds=60)
    first = build_snapshot("hourly", hour + timedelta(minutes=30))  # any moment inside the hour
    again = build_snapshot("hourly", hour)
    assert first.pk == again.pk
    assert AnalyticsSnapshot.objects.count() == 1
    assert (again.period_start, again.period_end) == (hour, hour + timedelta(hours=1))
    assert again.metrics == first.metrics

    CallLogFactory.create(agent=agent_a1, started_at=hour + timedelta(minutes=50), duration_seconds=120)  # late
    rebuilt = build_snapshot("hourly", hour)
    assert rebuilt.pk == first.pk
    assert rebuilt.metrics["counters"]["calls"] == 2
    assert rebuilt.metrics["metrics"]["test_talk_per_call"] == 90.0
    assert AnalyticsSnapshot.objects.count() == 1


def test_history_reads_stored_snapshots_in_order(midday, agent_a1, test_metric) -> None:
    today = timezone.localdate()
    for days in (3, 1, 2):
        day = today - timedelta(days=days)
        CallLogFactory.create(agent=agent_a1, started_at=local_midnight(day) + timedelta(hours=8))
        build_snapshot("daily", local_midnight(day))
    build_snapshot("hourly", timezone.now() - timedelta(hours=1))

    rows = history("daily", local_midnight(today - timedelta(days=3)), local_midnight(today - timedelta(days=1)))
    assert [r["start"] for r in rows] == [local_midnight(today - timedelta(days=d)) for d in (3, 2)]
    assert all(r["counters"]["calls"] == 1 for r in rows)
    assert rows[0]["end"] == rows[1]["start"]
    assert "test_talk_per_call" in rows[0]["metrics"]
    assert len(history("hourly", local_midnight(today), timezone.now())) == 1
    with pytest.raises(ValueError, match="snapshot type"):
        history("yearly", local_midnight(today), timezone.now())


def test_history_endpoint_serves_the_snapshots_to_admins(midday, admin, supervisor_a, agent_a1) -> None:
    today = timezone.localdate()
    for days in (2, 1):
        day = today - timedelta(days=days)
        for _ in range(days):
            CallLogFactory.create(agent=agent_a1, started_at=local_midnight(day) + timedelta(hours=9))
        build_snapshot("daily", local_midnight(day))
    url = reverse("dashboard-history")
    params = {"type": "daily", "startDate": str(today - timedelta(days=2)), "endDate": str(today)}

    response = api(admin).get(url, {**params, "metrics": "calls_made"})
    assert response.status_code == 200, response.json()
    series = response.json()["series"]
    assert [point["metrics"] for point in series] == [{"calls_made": 2}, {"calls_made": 1}]
    assert series[0]["start"] == local_midnight(today - timedelta(days=2)).isoformat()

    assert api(supervisor_a).get(url, params).status_code == 403
    for bad, field in (
        ({**params, "type": "yearly"}, "type"),
        ({"type": "daily"}, "startDate"),
        ({**params, "endDate": "yesterday"}, "endDate"),
        ({**params, "metrics": "calls_made,nonsense"}, "metrics"),
    ):
        response = api(admin).get(url, bad)
        assert response.status_code == 400 and field in response.json()["fields"], (bad, response.json())


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- cron endpoint --------------------------------------------------------------------------------------------


@pytest.fixture
def cron_secret(settings):
    settings.CRON_SECRET = SECRET


def cron(type_: str | None = "hourly", token: str | None = SECRET, scheme: str = "Bearer"):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    return client.post(CRON_URL + (f"?type={type_}" if type_ is not None else ""))


@pytest.mark.parametrize("snapshot_type", SnapshotType.values)
def test_cron_builds_the_last_closed_period(db, cron_secret, snapshot_type) -> None:
    with time_machine.travel(utc(2026, 11, 18, 14, 25), tick=False):
        response = cron(snapshot_type)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["success"] is True
        assert body["type"] == snapshot_type
        assert body["timestamp"] == timezone.now().isoformat()
        assert snapshot_type in body["message"]
        start, end = last_closed_period(snapshot_type)
        assert (body["period_start"], body["period_end"]) == (start.isoformat(), end.isoformat())
        # idempotent: the same period's row again
        assert cron(snapshot_type).json()["snapshot_id"] == body["snapshot_id"]
    assert AnalyticsSnapshot.objects.filter(snapshot_type=snapshot_type).count() == 1


@pytest.mark.parametrize(
    ("token", "scheme"),
    [
        (None, "Bearer"),
        ("wrong", "Bearer"),
        (SECRET[:-1], "Bearer"),
        (SECRET + "x", "Bearer"),
        (SECRET, "Basic"),
        ("", "Bearer"),
    ],
)
def test_cron_refuses_a_missing_or_wrong_secret(db, cron_secret, token, scheme) -> None:
    response = cron("hourly", token, scheme)
    assert response.status_code == 401
    body = response.json()
    assert (body["success"], body["error"]) == (False, "authentication_failed")
    assert "Bearer <CRON_SECRET>" in body["detail"]
    assert not AnalyticsSnapshot.objects.exists()


def test_cron_is_disabled_without_a_secret(db, settings) -> None:
    settings.CRON_SECRET = ""
    for token in (None, "", "anything"):
        response = cron("hourly", token)
        assert response.status_code == 503
        assert response.json()["error"] == "cron_disabled"
        assert "CRON_SECRET" in response.json()["detail"]
    assert not AnalyticsSnapshot.objects.exists()


@pytest.mark.parametrize("type_", [None, "", "monthly", "HOURLY"])
def test_cron_bad_type_is_400(db, cron_secret, type_) -> None:
    response = cron(type_)
    assert response.status_code == 400
    body = response.json()
    assert (body["success"], body["error"]) == (False, "invalid")
    assert "type must be one of hourly, daily, weekly" in body["fields"]["type"]


def test_cron_ignores_sessions_and_accepts_only_post(db, cron_secret, admin) -> None:
    client = APIClient()
    client.force_login(admin)
    assert client.post(CRON_URL + "?type=daily").status_code == 401  # a staff session is not the secret
    assert APIClient().get(CRON_URL + "?type=daily", HTTP_AUTHORIZATION=f"Bearer {SECRET}").status_code == 405


def test_cron_is_in_the_schema(admin) -> None:
    client = APIClient()
    client.force_authenticate(admin)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/cron/aggregate-metrics"]["post"]
    assert {p["name"] for p in operation["parameters"]} >= {"type"}
    assert {"200", "400", "401", "503"} <= set(operation["responses"])


# --- tasks and schedule -----------------------------------------------------------------------------------------


def test_tasks_are_one_line_wrappers(midday, agent_a1, test_metric) -> None:
    snapshot_id = build_snapshot_task.apply(args=("hourly",)).get()
    snapshot = AnalyticsSnapshot.objects.get(pk=snapshot_id)
    assert (snapshot.period_start, snapshot.period_end) == last_closed_period("hourly")

    assert reconcile_rollups_task.apply().get() == 0
    check = RollupCheck.objects.get()
    assert check.window_end - check.window_start == timedelta(days=2)
    assert build_snapshot_task.acks_late and reconcile_rollups_task.acks_late


def test_beat_schedules_snapshots_and_reconciliation() -> None:
    schedule: dict[str, Any] = settings.CELERY_BEAT_SCHEDULE
    snapshots = {entry["args"][0] for entry in schedule.values() if entry["task"] == build_snapshot_task.name}
    assert snapshots == {"hourly", "daily", "weekly"}
    assert any(entry["task"] == reconcile_rollups_task.name for entry in schedule.values())
    for entry in schedule.values():
        if entry["task"].startswith("analytics."):
            assert entry["task"] in celery_app.tasks, entry["task"]
    # hourly: each runs once an hour, at a fixed minute
    for name in ("analytics-snapshot-hourly", "analytics-snapshot-daily", "analytics-snapshot-weekly"):
        assert schedule[name]["schedule"].remaining_estimate(timezone.now()) <= timedelta(hours=1)


# --- read-only admin ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [RollupCheck, AnalyticsSnapshot, AuditLog], ids=lambda m: m.__name__)
def test_analytics_admin_is_read_only(admin, model, test_metric) -> None:
    obj = {
        RollupCheck: lambda: reconcile_rollups(days=1),
        AnalyticsSnapshot: lambda: build_last_snapshot("hourly"),
        AuditLog: lambda: AuditLog.objects.create(user=admin, action="export", resource="calls", detail={"f": 1}),
    }[model]()
    client = Client()
    client.force_login(admin)
    meta = model._meta
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    response = client.get(changelist)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    for spec in response.context["cl"].filter_specs:
        for choice in spec.choices(response.context["cl"]):
            assert client.get(changelist + choice["query_string"]).status_code == 200
    assert client.get(changelist, {"q": "a"}).status_code == 200
    view = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
    assert view.status_code == 200
    assert not view.context["has_change_permission"]
    assert client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add")).status_code == 403
    assert client.post(reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[obj.pk])).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()
