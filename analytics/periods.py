"""Reporting periods of the dashboards (METRICS.md "Time" and "Trends").

A Period is a half-open interval [start, end) of aware datetimes. `today`, `week` and `month` end at
"now"; `startDate..endDate` are whole local days. The previous period is the interval of equal
length right before (for `today` up to now: yesterday 00:00 up to the same clock time — equal
*local* length, which differs from the absolute length across a DST change).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework.exceptions import ValidationError

from crm.periods import local_date, local_midnight

RANGES = ("today", "week", "month")
MAX_CUSTOM_DAYS = 400


class PeriodError(ValidationError):
    """Bad period parameters: a 400 naming the field, with a sentence for the user, wherever raised."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__({field: [message]})
        self.field = field


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    label: str  # "today", "week", "month", "custom", "day"

    @property
    def first_day(self) -> date:
        return local_date(self.start)

    @property
    def last_day(self) -> date:
        """The local date of the last instant inside the period."""
        return local_date(self.end - timedelta(microseconds=1))

    def previous(self) -> Period:
        """The interval of equal local length immediately before (for trends)."""
        start_day = self.first_day
        if self.label in RANGES:
            # same wall-clock span one day / week / month back
            days = {"today": 1, "week": 7}.get(self.label)
            if days is not None:
                previous_start = local_midnight(start_day - timedelta(days=days))
            else:
                last_month_end = start_day - timedelta(days=1)
                previous_start = local_midnight(last_month_end.replace(day=1))
            elapsed = timezone.localtime(self.end).replace(tzinfo=None) - timezone.localtime(self.start).replace(
                tzinfo=None
            )
            naive_end = timezone.localtime(previous_start).replace(tzinfo=None) + elapsed
            previous_end = min(timezone.make_aware(naive_end), self.start)
            return Period(previous_start, previous_end, f"previous {self.label}")
        days = (self.last_day - self.first_day).days + 1
        return Period(local_midnight(start_day - timedelta(days=days)), self.start, "previous")

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label}


def day_period(day: date) -> Period:
    return Period(local_midnight(day), local_midnight(day + timedelta(days=1)), "day")


def named_period(name: str, now: datetime | None = None) -> Period:
    now = now or timezone.now()
    today = local_date(now)
    if name == "today":
        first = today
    elif name == "week":
        first = today - timedelta(days=today.weekday())
    elif name == "month":
        first = today.replace(day=1)
    else:
        raise PeriodError(f"dateRange must be one of {', '.join(RANGES)}, not {name!r}.", "dateRange")
    return Period(local_midnight(first), now, name)


def custom_period(start: date, end: date) -> Period:
    if end < start:
        raise PeriodError("endDate is before startDate.", "endDate")
    if (end - start).days + 1 > MAX_CUSTOM_DAYS:
        raise PeriodError(f"A custom range may span at most {MAX_CUSTOM_DAYS} days.", "endDate")
    return Period(local_midnight(start), local_midnight(end + timedelta(days=1)), "custom")


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise PeriodError(f"{field} must be a date as YYYY-MM-DD, not {value!r}.", field) from None


def period_from_params(params: Mapping[str, Any], now: datetime | None = None) -> Period:
    """`dateRange=today|week|month` (default today) or `startDate=&endDate=` (inclusive local dates)."""
    get = params.get
    start, end = get("startDate"), get("endDate")
    if start or end:
        if not (start and end):
            missing = "endDate" if start else "startDate"
            raise PeriodError("Give both startDate and endDate (inclusive local dates).", missing)
        return custom_period(_parse_date(start, "startDate"), _parse_date(end, "endDate"))
    return named_period(get("dateRange") or "today", now)


def change(value: float, previous: float) -> float:
    """METRICS.md "Trends": percentage change, 1 decimal; 0.0 / 100.0 when previous is 0."""
    if previous == 0:
        return 0.0 if value == 0 else 100.0
    return round((value - previous) / previous * 100, 1)


def trend(change_percent: float) -> str:
    if change_percent >= 1.0:
        return "up"
    if change_percent <= -1.0:
        return "down"
    return "stable"


def with_trend(value: float, previous: float) -> dict[str, float | str]:
    delta = change(value, previous)
    return {"value": value, "trend": trend(delta), "change": delta}
