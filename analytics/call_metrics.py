"""Call and agent-time metrics (METRICS.md "Calls (voice)", "Agent states"): the agent's 12 daily stats
and the per-agent call KPIs, defined once here and read by the dashboard, the KPI table, exports and
reports.

Counter metrics (`c`) are functions of AgentHourRollup counters summed over any period and scope
(calls/counters.py says what each counter holds); the three current-state metrics (`ctx`) count the
scope's single agent's contacts and campaigns as they are now.

Drill-down links are call-log queries with placeholders: `{agent}` (user id), `{date}` (a local day,
for the daily stats) or `{start}` / `{end}` (the first and last local day of a period).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from analytics.registry import Context, Counters, metric, ratio
from calls.counters import CALLS
from calls.models import AgentHourRollup, CallLog, CallOutcome
from crm.models import BusinessReason, Campaign, Contact
from crm.rollups import (
    HOUR,
    Scope,
    add_to_rollup,
    difference,
    hour_start,
    recompute,
    resync_days,
    table_counters,
)

US_PER_SECOND = 1_000_000
WORK_COUNTERS = ("available_us", "on_call_us", "wrap_up_us")
FAILED_COUNTERS = ("calls_failed", "calls_dropped", "calls_busy", "calls_no_answer")

_DAY_LOG = "/api/calls/log?user_id={agent}&start_date={date}&end_date={date}"
_PERIOD_LOG = "/api/calls/log?user_id={agent}&start_date={start}&end_date={end}"


def work_us(c: Counters) -> int:
    return sum(c.get(name, 0) for name in WORK_COUNTERS)


def _seconds(microseconds: int) -> int:
    return microseconds // US_PER_SECOND


def _single_agent(ctx: Context) -> int | None:
    agents = ctx.scope.agent_ids
    if agents is None or len(agents) != 1:
        return None
    return next(iter(agents))


# --- the agent's 12 daily stats (GET /api/crm/dashboard/stats) ------------------------------------------


@metric(
    "leads_today",
    "Leads",
    "count",
    """Calls of the agent that started in the period (the local day) and whose outcome is `lead`.
    A call counts in the period in which it started, whatever its status.""",
    drill_down=_DAY_LOG,
    tags=("agent_stats",),
)
def leads_today(c: Counters) -> int:
    return c.get("outcome_lead", 0)


@metric(
    "calls_total_today",
    "Calls",
    "count",
    """Every call of the agent that started in the period, whatever its status (in progress,
    completed, no answer, busy, failed or dropped).""",
    drill_down=_DAY_LOG,
    tags=("agent_stats",),
)
def calls_total_today(c: Counters) -> int:
    return c.get("calls", 0)


@metric(
    "calls_connected_today",
    "Connected calls",
    "count",
    """Calls of the agent that started in the period and were connected: talk time
    (duration_seconds, from answer to end) greater than zero.""",
    drill_down=_DAY_LOG + "&status=completed",
    tags=("agent_stats",),
)
def calls_connected_today(c: Counters) -> int:
    return c.get("calls_connected", 0)


@metric(
    "calls_missed_today",
    "Missed calls",
    "count",
    """Calls of the agent that started in the period and ended with status `no_answer`
    (busy, failed and dropped calls are not missed calls).""",
    drill_down=_DAY_LOG + "&status=no_answer",
    tags=("agent_stats",),
)
def calls_missed_today(c: Counters) -> int:
    return c.get("calls_no_answer", 0)


@metric(
    "total_call_time_today",
    "Talk time",
    "seconds",
    """Sum of the talk time (duration_seconds: answer to end, 0 for unanswered calls) of the agent's
    calls that started in the period, in seconds. A call is counted whole in the period it started in,
    even if it ran past midnight.""",
    drill_down=_DAY_LOG,
    tags=("agent_stats",),
)
def total_call_time_today(c: Counters) -> int:
    return c.get("talk_seconds", 0)


@metric(
    "average_call_time_today",
    "Average call time",
    "seconds",
    """Talk time divided by the number of connected calls (calls with talk time > 0) started in the
    period, in seconds rounded to 1 decimal; 0.0 when no call connected. Unanswered calls do not
    lower the average.""",
    drill_down=_DAY_LOG + "&status=completed",
    tags=("agent_stats",),
)
def average_call_time_today(c: Counters) -> float:
    return ratio(c.get("talk_seconds", 0), c.get("calls_connected", 0))


@metric(
    "total_work_time_today",
    "Work time",
    "seconds",
    """Seconds of the period the agent spent in status `available`, `on_call` or `wrap_up`, from the
    agent's status timeline. Stretches are clipped to the period (a stretch from 23:50 to 00:20 gives
    10 minutes to the first day and 20 minutes to the next) and the current status
    counts up to now. Whole seconds, rounded down.""",
    tags=("agent_stats",),
)
def total_work_time_today(c: Counters) -> int:
    return _seconds(work_us(c))


@metric(
    "total_logged_time_today",
    "Logged-in time",
    "seconds",
    """Seconds of the period covered by the agent's login sessions (from the first change away from
    `offline`, or login, to `offline` or logout), clipped to the period; a session still open counts
    up to now. Whole seconds, rounded down.""",
    tags=("agent_stats",),
)
def total_logged_time_today(c: Counters) -> int:
    return _seconds(c.get("logged_us", 0))


@metric(
    "total_break_time_today",
    "Break time",
    "seconds",
    """Seconds of the period the agent spent in status `break` (any reason), clipped to the period: a
    break from 23:50 to 00:20 gives 10 minutes to the first day and 20 minutes to the next; a break
    still running counts up to now. `away` is not break time. Whole seconds, rounded down.""",
    tags=("agent_stats",),
)
def total_break_time_today(c: Counters) -> int:
    return _seconds(c.get("break_us", 0))


@metric(
    "total_contacts",
    "Contacts",
    "count",
    """Contacts assigned to the agent now (all time, not limited to the period).""",
    tags=("agent_stats",),
)
def total_contacts(ctx: Context) -> int:
    agent = _single_agent(ctx)
    return 0 if agent is None else Contact.objects.filter(assigned_agent_id=agent).count()


@metric(
    "total_rescheduled",
    "Rescheduled contacts",
    "count",
    """Contacts assigned to the agent now whose business reason is `rescheduled` (call back later),
    all time.""",
    tags=("agent_stats",),
)
def total_rescheduled(ctx: Context) -> int:
    agent = _single_agent(ctx)
    if agent is None:
        return 0
    return Contact.objects.filter(assigned_agent_id=agent, business_reason=BusinessReason.RESCHEDULED).count()


@metric(
    "active_campaigns",
    "Active campaigns",
    "count",
    """Campaigns marked active of which the agent is a member, now.""",
    tags=("agent_stats",),
)
def active_campaigns(ctx: Context) -> int:
    agent = _single_agent(ctx)
    return 0 if agent is None else Campaign.objects.active().filter(members=agent).count()


AGENT_STATS = (
    "leads_today",
    "calls_total_today",
    "calls_connected_today",
    "calls_missed_today",
    "total_call_time_today",
    "average_call_time_today",
    "total_work_time_today",
    "total_logged_time_today",
    "total_break_time_today",
    "total_contacts",
    "total_rescheduled",
    "active_campaigns",
)


# --- per-agent call KPIs (any period) ---------------------------------------------------------------


@metric(
    "calls_made",
    "Calls made",
    "count",
    """Every call that started in the period, whatever its status or direction.""",
    drill_down=_PERIOD_LOG,
    tags=("agent_kpis",),
)
def calls_made(c: Counters) -> int:
    return c.get("calls", 0)


@metric(
    "successful_calls",
    "Successful calls",
    "count",
    """Calls started in the period that ended with status `completed`.""",
    drill_down=_PERIOD_LOG + "&status=completed",
    tags=("agent_kpis",),
)
def successful_calls(c: Counters) -> int:
    return c.get("calls_completed", 0)


@metric(
    "failed_calls",
    "Failed calls",
    "count",
    """Calls started in the period that ended with status `failed`, `dropped`, `busy` or `no_answer`.
    Calls still in progress are neither successful nor failed.""",
    drill_down=_PERIOD_LOG,
    tags=("agent_kpis",),
)
def failed_calls(c: Counters) -> int:
    return sum(c.get(name, 0) for name in FAILED_COUNTERS)


@metric(
    "aht",
    "Average handle time",
    "seconds",
    """Average handle time: the sum of talk time plus wrap-up time (end of call to disposition) of the
    connected calls (talk time > 0) started in the period, divided by the number of those calls, in
    seconds rounded to 1 decimal; 0.0 when no call connected. Wrap-up of unanswered calls is left
    out, so it cannot inflate the average.""",
    drill_down=_PERIOD_LOG + "&status=completed",
    tags=("agent_kpis",),
)
def aht(c: Counters) -> float:
    return ratio(c.get("talk_seconds", 0) + c.get("connected_wrap_up_seconds", 0), c.get("calls_connected", 0))


@metric(
    "total_talk_time",
    "Talk time",
    "seconds",
    """Sum of the talk time (answer to end) of the calls started in the period, in seconds.""",
    drill_down=_PERIOD_LOG,
    tags=("agent_kpis",),
)
def total_talk_time(c: Counters) -> int:
    return c.get("talk_seconds", 0)


@metric(
    "success_rate",
    "Success rate",
    "percent",
    """Successful (`completed`) calls divided by the calls started in the period that have ended
    (every call except those still in progress) × 100, rounded to 1 decimal; 0.0 when no call has
    ended.""",
    drill_down=_PERIOD_LOG,
    tags=("agent_kpis",),
)
def success_rate(c: Counters) -> float:
    ended = c.get("calls", 0) - c.get("calls_in_progress", 0)
    return ratio(c.get("calls_completed", 0), ended, percent=True)


@metric(
    "occupancy",
    "Occupancy",
    "percent",
    """Talk time plus wrap-up time (end of call to disposition, of every call) of the calls started in
    the period, divided by the work time of the period (seconds in status `available`, `on_call` or
    `wrap_up`, clipped to the period, the current status up to now) × 100, rounded to 1 decimal; 0.0
    when there is no work time. Not capped: above 100 means calls were logged while the status
    timeline said the agent was not working (e.g. imported history without status changes).""",
    tags=("agent_kpis",),
)
def occupancy(c: Counters) -> float:
    busy_us = (c.get("talk_seconds", 0) + c.get("wrap_up_seconds", 0)) * US_PER_SECOND
    return ratio(busy_us, work_us(c), percent=True)


AGENT_KPIS = ("calls_made", "successful_calls", "failed_calls", "aht", "total_talk_time", "success_rate", "occupancy")


# --- call outcomes (the agents' dispositions: the reports' "interest" breakdown) -----------------------


def _register_outcome(outcome: str, label: str) -> None:
    counter = f"outcome_{outcome}"

    def count(c: Counters) -> int:
        return c.get(counter, 0)

    metric(
        f"calls_outcome_{outcome}",
        f"Outcome: {label}",
        "count",
        f"""Calls started in the period whose outcome (the agent's disposition after the call) is
        `{outcome}`, whatever their status.""",
        drill_down=_PERIOD_LOG,
        tags=("call_outcomes",),
    )(count)


# English labels as every metric label (CallOutcome's are lazy translations, not ready at import time)
OUTCOME_LABELS: dict[str, str] = {
    CallOutcome.LEAD: "Lead",
    CallOutcome.INTERESTED: "Interested",
    CallOutcome.NOT_INTERESTED: "Not interested",
    CallOutcome.CALLBACK: "Call back",
    CallOutcome.WRONG_NUMBER: "Wrong number",
    CallOutcome.VOICEMAIL: "Voicemail",
    CallOutcome.OTHER: "Other",
}
for _outcome in CallOutcome.values:
    _register_outcome(_outcome, OUTCOME_LABELS[_outcome])

CALL_OUTCOMES = tuple(f"calls_outcome_{outcome}" for outcome in CallOutcome.values)


@metric(
    "calls_without_outcome",
    "No outcome",
    "count",
    """Calls started in the period without an outcome: still in progress, or ended and not (yet)
    disposed by the agent.""",
    drill_down=_PERIOD_LOG,
    tags=("call_outcomes",),
)
def calls_without_outcome(c: Counters) -> int:
    return c.get("calls", 0) - sum(c.get(f"outcome_{outcome}", 0) for outcome in CallOutcome.values)


# --- repairing one agent × hour cell --------------------------------------------------------------------


def expected_cell(agent_id: int, hour: datetime) -> dict[str, int]:
    """The exact AgentHourRollup counters of (hour, agent) recomputed from the raw rows: calls started
    in the hour, closed status periods and sessions clipped to it (stored counters never hold open
    intervals; reads add those)."""
    hour = hour_start(hour)
    found = recompute(AgentHourRollup, hour, hour + HOUR, Scope(frozenset({agent_id})))
    cell = found.get((hour, agent_id), {})
    return {name: int(cell.get(name, 0)) for name in table_counters(AgentHourRollup)}


def recount_agent_hour(agent_id: int, hour: datetime) -> dict[str, int]:
    """Make the stored (hour, agent) rollup row equal to its recomputation from raw rows; returns the
    correction applied per counter (empty when the row was right, so repeating changes nothing).

    The cell row is created if missing and locked first: a writer that commits a raw row and its
    increment to this cell either finishes before the lock (both are read) or waits for it and adds
    its increment on top of the corrected row; reading the raw rows before the lock could count a
    concurrent call twice or not at all.
    """
    hour = hour_start(hour)
    with transaction.atomic():
        AgentHourRollup.objects.bulk_create([AgentHourRollup(hour=hour, agent_id=agent_id)], ignore_conflicts=True)
        counters = table_counters(AgentHourRollup)
        cell = AgentHourRollup.objects.select_for_update().filter(hour=hour, agent_id=agent_id)
        stored = dict(zip(counters, map(int, cell.values_list(*counters).get()), strict=True))
        expected = expected_cell(agent_id, hour)
        key = (hour, agent_id)
        delta = difference({key: stored}, {key: expected})
        # the upsert reads only the source's table and key columns, which every AgentHourRollup source shares
        add_to_rollup(CALLS, delta, days=False)
        # the day row is the sum of its hours (whether the hour was off through a lost write or an edit)
        resync_days(AgentHourRollup, [hour], {"agent_id": agent_id})
    return dict(delta.get(key, {}))


def recount_call(call: CallLog) -> dict[str, int]:
    """Recompute the rollup cell the call counts in (its agent × the local hour it started in)."""
    return recount_agent_hour(call.agent_id, call.started_at)
