"""Local days and periods in the organisation's time zone (METRICS.md "Time").

A day D is [D 00:00, D+1 00:00) in settings.TIME_ZONE, returned as aware datetimes; on DST days it is
23 or 25 hours long. Durations are computed by subtracting aware datetimes (UTC arithmetic).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone


def local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    return local_midnight(day), local_midnight(day + timedelta(days=1))


def local_date(moment: datetime) -> date:
    return timezone.localtime(moment).date()
