"""Report subscriptions in django-celery-beat (reporting/schedules.py): saving a subscription creates or
updates its crontab task in the subscription's time zone, deactivating disables it, deleting removes it,
and the next run stays at the local delivery time across DST changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from crm.models import User
from reporting.models import ReportSubscription, ReportType
from reporting.schedules import crontab_spec, next_run, schedule_text, sync_schedule, task_name
from tests.factories import TeamFactory

WARSAW = ZoneInfo("Europe/Warsaw")


def subscribe(owner: User, **fields: Any) -> ReportSubscription:
    values: dict[str, Any] = {"name": "Morning report", "recipients": ["boss@example.com"], **fields}
    return ReportSubscription.objects.create(owner=owner, **values)


def task_of(subscription: ReportSubscription) -> PeriodicTask:
    return PeriodicTask.objects.select_related("crontab").get(name=task_name(subscription.pk))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- created, updated, disabled, removed ----------------------------------------------------------------


@pytest.mark.django_db
def test_saving_a_subscription_creates_its_beat_task_in_its_time_zone(admin):
    subscription = subscribe(admin, delivery_time=time(8, 30), timezone="Europe/Warsaw")

    task = task_of(subscription)
    assert task.task == "reporting.tasks.run_subscription"
    assert json.loads(task.args) == [subscription.pk]
    assert task.enabled and not task.one_off and task.interval_id is None
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("30", "8", "*")
    assert (crontab.day_of_month, crontab.month_of_year) == ("*", "*")
    assert str(crontab.timezone) == "Europe/Warsaw"
    subscription.refresh_from_db()
    assert subscription.periodic_task_id == task.pk


@pytest.mark.django_db
@override_settings(TIME_ZONE="America/New_York")
def test_a_subscription_without_a_time_zone_runs_in_the_sites_zone(admin):
    subscription = subscribe(admin, timezone="")
    assert str(task_of(subscription).crontab.timezone) == "America/New_York"


@pytest.mark.django_db
def test_changing_the_time_days_and_zone_updates_the_same_task_and_leaves_no_orphan(admin):
    subscription = subscribe(admin, delivery_time=time(8, 0), timezone="Europe/Warsaw")
    task, old_crontab = task_of(subscription), task_of(subscription).crontab

    subscription.delivery_time = time(17, 45)
    subscription.delivery_days = ["Friday", "Monday"]
    subscription.timezone = "Asia/Tokyo"
    subscription.save()

    updated = task_of(subscription)
    assert updated.pk == task.pk
    assert (updated.crontab.minute, updated.crontab.hour, updated.crontab.day_of_week) == ("45", "17", "1,5")
    assert str(updated.crontab.timezone) == "Asia/Tokyo"
    assert not CrontabSchedule.objects.filter(pk=old_crontab.pk).exists()
    assert PeriodicTask.objects.filter(name__startswith="report-subscription-").count() == 1


@pytest.mark.django_db
def test_subscriptions_with_the_same_schedule_share_one_crontab_row(admin):
    first = subscribe(admin, name="A", timezone="Europe/Warsaw")
    second = subscribe(admin, name="B", timezone="Europe/Warsaw")
    assert task_of(first).crontab_id == task_of(second).crontab_id
    assert CrontabSchedule.objects.count() == 1

    first.delivery_time = time(9, 0)
    first.save()
    # The shared row is still in use by the second subscription: it stays.
    assert task_of(second).crontab.hour == "8"
    assert CrontabSchedule.objects.count() == 2


@pytest.mark.django_db
def test_a_crontab_also_used_by_another_task_is_never_deleted(admin):
    subscription = subscribe(admin, timezone="Europe/Warsaw")
    shared = task_of(subscription).crontab
    PeriodicTask.objects.create(name="someone else's job", task="config.tasks.backup_database", crontab=shared)

    subscription.delivery_time = time(10, 0)
    subscription.save()
    subscription.delete()

    assert CrontabSchedule.objects.filter(pk=shared.pk).exists()
    assert PeriodicTask.objects.filter(name="someone else's job").exists()


@pytest.mark.django_db
def test_deactivating_disables_the_task_and_reactivating_enables_it(admin):
    subscription = subscribe(admin)
    subscription.is_active = False
    subscription.save()
    assert not task_of(subscription).enabled
    assert next_run(subscription) is None

    subscription.is_active = True
    subscription.save()
    assert task_of(subscription).enabled


@pytest.mark.django_db
def test_saving_without_a_schedule_change_leaves_the_task_untouched(admin):
    subscription = subscribe(admin)
    before = task_of(subscription).date_changed
    subscription.skip_if_empty = True
    subscription.save()
    # An unchanged task is not re-saved: beat is not told to reload its whole schedule for nothing.
    assert task_of(subscription).date_changed == before


@pytest.mark.django_db
def test_renaming_updates_the_tasks_description(admin):
    subscription = subscribe(admin)
    subscription.name = "Evening report"
    subscription.save()
    assert "Evening report" in task_of(subscription).description


@pytest.mark.django_db
def test_deleting_a_subscription_deletes_its_task_and_crontab(admin):
    subscription = subscribe(admin)
    name = task_name(subscription.pk)
    subscription.delete()
    assert not PeriodicTask.objects.filter(name=name).exists()
    assert CrontabSchedule.objects.count() == 0


@pytest.mark.django_db
def test_deleting_the_team_deletes_its_subscriptions_tasks(admin):
    team = TeamFactory.create()
    subscription = subscribe(admin, team=team)
    name = task_name(subscription.pk)
    team.delete()
    assert not ReportSubscription.objects.filter(pk=subscription.pk).exists()
    assert not PeriodicTask.objects.filter(name=name).exists()


@pytest.mark.django_db
def test_deleting_the_task_in_beats_admin_leaves_the_subscription_working(admin):
    subscription = subscribe(admin, timezone="Europe/Warsaw")
    task_of(subscription).delete()

    subscription.refresh_from_db()
    assert subscription.periodic_task_id is None
    # Its next run is still known (from its own fields), and the next save brings the task back.
    assert next_run(subscription, utc(2026, 6, 1, 12)) == datetime(2026, 6, 2, 8, tzinfo=WARSAW)
    subscription.save()
    assert task_of(subscription).crontab.hour == "8"
    subscription.refresh_from_db()
    assert subscription.periodic_task_id == task_of(subscription).pk


@pytest.mark.django_db
def test_a_task_switched_to_an_interval_in_beats_admin_is_put_back_on_its_crontab(admin):
    subscription = subscribe(admin)
    task = task_of(subscription)
    task.crontab = None
    task.interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    task.save()

    sync_schedule(subscription)
    task = task_of(subscription)
    assert task.interval_id is None and task.crontab is not None


# --- delivery days ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report_type", "days", "cron"),
    [
        (ReportType.DAILY, [], "*"),
        (ReportType.DAILY, ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"], "1,2,3,4,5"),
        (ReportType.DAILY, ["Sunday", "Saturday"], "0,6"),
        (ReportType.DAILY, ["Wednesday", "Sunday", "Monday"], "0,1,3"),
        (ReportType.WEEKLY, [], "1"),  # weekly without days: Monday
        (ReportType.WEEKLY, ["Friday"], "5"),
        (
            ReportType.WEEKLY,
            ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
            "*",
        ),
    ],
)
@pytest.mark.django_db
def test_delivery_days_become_cron_weekdays(admin, report_type, days, cron):
    subscription = subscribe(admin, report_type=report_type, delivery_days=days)
    assert crontab_spec(subscription)["day_of_week"] == cron
    assert task_of(subscription).crontab.day_of_week == cron


@pytest.mark.django_db
def test_a_weekly_report_runs_next_monday(admin):
    subscription = subscribe(admin, report_type=ReportType.WEEKLY, timezone="Europe/Warsaw")
    wednesday = utc(2026, 6, 3, 12)
    assert next_run(subscription, wednesday) == datetime(2026, 6, 8, 8, tzinfo=WARSAW)
    assert next_run(subscription, wednesday).strftime("%A") == "Monday"  # type: ignore[union-attr]


@pytest.mark.django_db
def test_next_run_is_strictly_after_now(admin):
    subscription = subscribe(admin, timezone="Europe/Warsaw", delivery_days=["Monday", "Thursday"])
    monday_8 = datetime(2026, 6, 1, 8, tzinfo=WARSAW)
    assert next_run(subscription, monday_8 - timedelta(seconds=1)) == monday_8
    assert next_run(subscription, monday_8) == datetime(2026, 6, 4, 8, tzinfo=WARSAW)


@pytest.mark.django_db
def test_schedule_text(admin):
    daily = subscribe(admin, timezone="Europe/Warsaw", delivery_time=time(7, 5))
    weekdays = subscribe(admin, timezone="UTC", delivery_days=["Friday", "Monday", "Tuesday", "Wednesday", "Thursday"])
    weekly = subscribe(admin, report_type=ReportType.WEEKLY, delivery_days=["Sunday", "Monday"], timezone="UTC")
    assert schedule_text(daily) == "Every day at 07:05 (Europe/Warsaw)"
    assert schedule_text(weekdays) == "Weekdays at 08:00 (UTC)"
    assert schedule_text(weekly) == "Mon, Sun at 08:00 (UTC)"


# --- DST ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("now", "expected_utc", "offset_hours"),
    [
        # Autumn: CEST (+2) until 2026-10-25 03:00, then CET (+1).
        (utc(2026, 10, 23, 12), utc(2026, 10, 24, 6), 2),
        (utc(2026, 10, 24, 12), utc(2026, 10, 25, 7), 1),
        (utc(2026, 10, 25, 12), utc(2026, 10, 26, 7), 1),
        # Spring: CET (+1) until 2027-03-28 02:00, then CEST (+2).
        (utc(2027, 3, 26, 12), utc(2027, 3, 27, 7), 1),
        (utc(2027, 3, 27, 12), utc(2027, 3, 28, 6), 2),
        (utc(2027, 3, 28, 12), utc(2027, 3, 29, 6), 2),
    ],
)
def test_next_run_stays_at_local_eight_across_dst_changes(admin, now, expected_utc, offset_hours):
    subscription = subscribe(admin, delivery_time=time(8, 0), timezone="Europe/Warsaw")
    when = next_run(subscription, now)
    assert when is not None
    assert when.astimezone(UTC) == expected_utc
    assert (when.hour, when.minute) == (8, 0)
    assert when.utcoffset() == timedelta(hours=offset_hours)


@pytest.mark.django_db
def test_beat_fires_at_local_eight_on_the_day_the_clocks_go_back(admin):
    """The crontab row beat reads: on 2026-10-25 (CEST → CET) it is not due at 06:00 UTC (07:00 local,
    what a fixed +2 offset would give) but at 07:00 UTC (08:00 CET)."""
    subscription = subscribe(admin, delivery_time=time(8, 0), timezone="Europe/Warsaw")
    schedule = task_of(subscription).crontab.schedule
    last_run = utc(2026, 10, 24, 6, 0, 5)  # it ran on Saturday at 08:00 CEST

    with time_machine.travel(utc(2026, 10, 25, 6, 0, 30), tick=False):
        assert not schedule.is_due(last_run).is_due
    with time_machine.travel(utc(2026, 10, 25, 7, 0, 30), tick=False):
        assert schedule.is_due(last_run).is_due


@pytest.mark.django_db
def test_beat_fires_at_local_eight_on_the_day_the_clocks_go_forward(admin):
    subscription = subscribe(admin, delivery_time=time(8, 0), timezone="Europe/Warsaw")
    schedule = task_of(subscription).crontab.schedule
    last_run = utc(2027, 3, 27, 7, 0, 5)  # Saturday 08:00 CET

    with time_machine.travel(utc(2027, 3, 28, 5, 59, 30), tick=False):
        assert not schedule.is_due(last_run).is_due
    with time_machine.travel(utc(2027, 3, 28, 6, 0, 30), tick=False):
        assert schedule.is_due(last_run).is_due
