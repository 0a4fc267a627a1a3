"""A report subscription's place in django-celery-beat: one PeriodicTask per subscription.

The task is named ``report-subscription-<pk>``, runs ``reporting.tasks.run_subscription`` with
``[pk]`` and fires on a CrontabSchedule at the subscription's delivery time and days *in the
subscription's time zone*: beat's time-zone aware crontab keeps 08:00 at 08:00 local across a DST
change, while its UTC instant moves by an hour. Saving a subscription (admin, API or ``.save()``)
calls `sync_schedule` (reporting/signals.py); deleting one deletes its task.

One CrontabSchedule row serves every task with the same minute, hour, days and zone. A row this
module stops using is deleted when no task uses it any more (no orphans are left behind), and
never while one still does (deleting it would cascade to those tasks).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone as dj_timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from reporting.models import WEEKDAYS, ReportSubscription

TASK = "reporting.tasks.run_subscription"
_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")


def task_name(subscription_id: int) -> str:
    return f"report-subscription-{subscription_id}"


def cron_day(weekday: str) -> int:
    """Cron's number of a weekday name: Sunday 0, Monday 1 … Saturday 6."""
    return (WEEKDAYS.index(weekday) + 1) % 7


def crontab_spec(subscription: ReportSubscription) -> dict[str, Any]:
    """The CrontabSchedule fields of the subscription's delivery time, days and zone."""
    days = subscription.days
    day_of_week = "*" if len(days) == len(WEEKDAYS) else ",".join(str(d) for d in sorted(map(cron_day, days)))
    when = _delivery_time(subscription)
    return {
        "minute": str(when[1]),
        "hour": str(when[0]),
        "day_of_week": day_of_week,
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": subscription.zone,
    }


def _delivery_time(subscription: ReportSubscription) -> tuple[int, int]:
    value: Any = subscription.delivery_time
    if isinstance(value, str):  # the model's default before a round trip through the database
        hour, minute = value.split(":")[:2]
        return int(hour), int(minute)
    return value.hour, value.minute


def _crontab_for(spec: dict[str, Any]) -> CrontabSchedule:
    # Locked until commit: another subscription leaving this row checks, under the same lock, that no
    # task uses it before deleting it, so it cannot vanish under the task saved here. (Not
    # get_or_create: beat's admin lets staff make duplicates, and any one of them will do.)
    crontab = CrontabSchedule.objects.select_for_update().filter(**spec).order_by("pk").first()
    return crontab or CrontabSchedule.objects.create(**spec)


def _drop_if_unused(crontab_id: int | None) -> None:
    if crontab_id is None or not CrontabSchedule.objects.select_for_update().filter(pk=crontab_id).exists():
        return
    if not PeriodicTask.objects.filter(crontab_id=crontab_id).exists():
        CrontabSchedule.objects.filter(pk=crontab_id).delete()


@transaction.atomic
def sync_schedule(subscription: ReportSubscription) -> None:
    """Create or update the subscription's beat task; an inactive subscription's task is disabled."""
    if subscription.pk is None:
        raise ValueError("Only a saved subscription has a schedule.")
    crontab = _crontab_for(crontab_spec(subscription))
    wanted = {
        "task": TASK,
        "crontab": crontab,
        "interval": None,
        "solar": None,
        "clocked": None,
        "args": json.dumps([subscription.pk]),
        "kwargs": "{}",
        "one_off": False,
        "enabled": subscription.is_active,
        "description": f"Report subscription {subscription.pk}: {subscription.name}"[:1000],
    }
    # Found by name, not through subscription.periodic_task: that link is gone when staff deleted
    # the task in beat's admin, and the task comes back on the next save.
    task, created = PeriodicTask.objects.select_for_update().get_or_create(
        name=task_name(subscription.pk), defaults=wanted
    )
    previous_crontab = None if created else task.crontab_id
    if not created and any(getattr(task, field) != value for field, value in wanted.items()):
        for field, value in wanted.items():
            setattr(task, field, value)
        task.save()  # bumps beat's change marker, so a running beat reloads its schedule
    if previous_crontab not in (None, crontab.pk):
        _drop_if_unused(previous_crontab)
    if subscription.periodic_task_id != task.pk:
        # An update, not save(): saving would send post_save, which calls this function again.
        ReportSubscription.objects.filter(pk=subscription.pk).update(periodic_task=task)
        subscription.periodic_task = task


@transaction.atomic
def remove_schedule(subscription_id: int) -> None:
    """Delete a (deleted) subscription's beat task and the crontab nobody else uses."""
    task = PeriodicTask.objects.filter(name=task_name(subscription_id)).first()
    if task is None:
        return
    crontab_id = task.crontab_id
    task.delete()  # PeriodicTask.delete tells a running beat
    _drop_if_unused(crontab_id)


def _schedule(subscription: ReportSubscription) -> Any:
    """Beat's schedule object for the subscription: the crontab row's own (time-zone aware) schedule
    when the task exists, else the one its row would have. (select_related("periodic_task__crontab")
    on a list of subscriptions makes this query-free.)"""
    try:
        task = subscription.periodic_task
        crontab = task.crontab if task is not None else None
    except ObjectDoesNotExist:  # the task or its crontab was deleted since the row was read
        crontab = None
    return (crontab or CrontabSchedule(**crontab_spec(subscription))).schedule


def next_run(subscription: ReportSubscription, now: datetime | None = None) -> datetime | None:
    """When beat fires the subscription next (strictly after `now`), aware, in the subscription's
    zone; None when it is inactive."""
    if not subscription.is_active:
        return None
    now = now or dj_timezone.now()
    schedule = _schedule(subscription)
    # The calculation beat itself makes: from `now` in the crontab's zone, forward to the next
    # matching wall-clock minute (the zone's offset of that day applies, not today's).
    start, delta, _ = schedule.remaining_delta(now)
    when: datetime = start + delta
    return when.astimezone(subscription.zone)


# --- what people type: the same rules for the admin and the API ----------------------------------------


def zone_error(name: str) -> str | None:
    """Why `name` is not an IANA time zone, as a sentence; None when it is one."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not a known IANA time zone (e.g. Europe/Warsaw)."
    return None


def parse_weekdays(values: list[Any]) -> list[str]:
    """Weekday names (any capitalisation) in week order, each once; ValueError naming an unknown one."""
    by_lower = {day.lower(): day for day in WEEKDAYS}
    days = set()
    for value in values:
        day = by_lower.get(str(value).strip().lower()) if isinstance(value, str) else None
        if day is None:
            raise ValueError(f"{value!r} is not a weekday: use {', '.join(WEEKDAYS)}.")
        days.add(day)
    return [day for day in WEEKDAYS if day in days]


def parse_hh_mm(value: str) -> time:
    """A local clock time written "HH:MM" (24-hour); ValueError with a sentence otherwise."""
    match = _HH_MM.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f'{value!r} is not a time of day: write it as "HH:MM", 24-hour (e.g. "08:00").')
    return time(int(match[1]), int(match[2]))


def schedule_text(subscription: ReportSubscription) -> str:
    """The schedule as people say it: "Mon, Wed, Fri at 08:00 (Europe/Warsaw)"."""
    hour, minute = _delivery_time(subscription)
    days = subscription.days
    if len(days) == len(WEEKDAYS):
        when = "Every day"
    elif days == WEEKDAYS[:5]:
        when = "Weekdays"
    else:
        when = ", ".join(day[:3] for day in days)
    return f"{when} at {hour:02d}:{minute:02d} ({subscription.zone.key})"
