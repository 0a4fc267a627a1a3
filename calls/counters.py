"""calls/'s rollup sources: how a call, a status period and a login session add to AgentHourRollup.

These functions are the definition of what the hourly counters hold (METRICS.md "Calls" and
"Agent states"); the metrics registry in analytics/ only sums them.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.db.models.signals import post_delete

from calls.models import (
    AgentDayRollup,
    AgentHourRollup,
    AgentSession,
    AgentStatus,
    AgentStatusPeriod,
    CallLog,
    CallOutcome,
    CallStatus,
    OrgDayRollup,
)
from crm.rollups import (
    Contribution,
    Row,
    Source,
    Window,
    clip,
    hour_start,
    in_window,
    register,
    register_day_table,
    split_by_hour,
    subtract_deleted,
)

STATE_COUNTERS = {
    AgentStatus.AVAILABLE: "available_us",
    AgentStatus.ON_CALL: "on_call_us",
    AgentStatus.WRAP_UP: "wrap_up_us",
    AgentStatus.BREAK: "break_us",
    AgentStatus.AWAY: "away_us",
}


def call_contribution(row: Row, window: Window | None = None) -> Contribution:
    if not in_window(window, row["started_at"]):
        return {}
    connected = row["duration_seconds"] > 0
    counts = {
        "calls": 1,
        f"calls_{row['status']}": 1,
        "calls_connected": int(connected),
        "talk_seconds": row["duration_seconds"],
        "wrap_up_seconds": row["wrap_up_seconds"],
        "connected_wrap_up_seconds": row["wrap_up_seconds"] if connected else 0,
    }
    if row["outcome"]:
        counts[f"outcome_{row['outcome']}"] = 1
    return {(hour_start(row["started_at"]), row["agent_id"]): counts}


def _interval_contribution(row: Row, window: Window | None, counter: str) -> Contribution:
    if row["ended_at"] is None:
        return {}
    start, end = clip(window, row["started_at"], row["ended_at"])
    if end <= start:
        return {}
    return {(hour, row["agent_id"]): {counter: amount} for hour, amount in split_by_hour(start, end)}


def period_contribution(row: Row, window: Window | None = None) -> Contribution:
    counter = STATE_COUNTERS.get(row["status"])
    return _interval_contribution(row, window, counter) if counter else {}


def session_contribution(row: Row, window: Window | None = None) -> Contribution:
    return _interval_contribution(row, window, "logged_us")


register_day_table(AgentHourRollup, AgentDayRollup, OrgDayRollup)
CALLS = register(
    Source(
        name="calls",
        model=CallLog,
        table=AgentHourRollup,
        keys=("agent_id",),
        columns=("agent_id", "started_at", "status", "outcome", "duration_seconds", "wrap_up_seconds"),
        contribute=call_contribution,
        produces=("calls", "talk_seconds", "wrap_up_seconds", "connected_wrap_up_seconds", "outcome_"),
        time_field="started_at",
    )
)
STATES = register(
    Source(
        name="agent_states",
        model=AgentStatusPeriod,
        table=AgentHourRollup,
        keys=("agent_id",),
        columns=("agent_id", "status", "started_at", "ended_at"),
        contribute=period_contribution,
        produces=tuple(STATE_COUNTERS.values()),
        time_field="started_at",
        end_field="ended_at",
        relevant=Q(status__in=list(STATE_COUNTERS)),  # offline counts nothing (one open row per agent at night)
    )
)
SESSIONS = register(
    Source(
        name="agent_sessions",
        model=AgentSession,
        table=AgentHourRollup,
        keys=("agent_id",),
        columns=("agent_id", "started_at", "ended_at"),
        contribute=session_contribution,
        produces=("logged_us",),
        time_field="started_at",
        end_field="ended_at",
    )
)

for _model in (CallLog, AgentStatusPeriod, AgentSession):
    post_delete.connect(lambda sender, instance, **kw: subtract_deleted(instance), sender=_model, weak=False)

_missing = ({f"calls_{s}" for s in CallStatus.values} | {f"outcome_{o}" for o in CallOutcome.values}) - set(
    CALLS.counters
)
if _missing:  # a new status or outcome needs its counter column
    raise ImproperlyConfigured(f"AgentHourRollup lacks counters {sorted(_missing)}")
