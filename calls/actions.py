"""Writes to calls and agent time: the only code that changes CallLog, AgentStatusPeriod, AgentSession.

Every function is one transaction. Views, webhooks, imports, admin actions and tasks call these; each
raises `CallActionError` (with an HTTP status and a sentence for a person) instead of writing
something inconsistent. Side effects are announced after commit (calls/events.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from calls.events import announce_agent_status, announce_call
from calls.models import (
    FINAL_CALL_STATUSES,
    AgentSession,
    AgentStatus,
    AgentStatusPeriod,
    CallDirection,
    CallLog,
    CallOutcome,
    CallStatus,
    RecordSource,
    SessionEndReason,
)
from crm.actions import do_change_lead_status
from crm.errors import ActionError
from crm.models import BusinessReason, Campaign, Contact, LeadStatus, User
from crm.periods import local_date, local_day_bounds
from crm.phones import to_e164


class CallActionError(ActionError):
    pass


def talk_seconds(answered_at: datetime | None, ended_at: datetime | None) -> int:
    """duration_seconds: ended − answered for answered calls, else 0 (METRICS.md). Aware datetimes
    subtract in UTC, so a call across a DST change is not an hour off."""
    if answered_at is None or ended_at is None:
        return 0
    return max(0, int((ended_at - answered_at).total_seconds()))


# --- Agent states and sessions -------------------------------------------------------------------------


def current_status_period(agent: User, *, lock: bool = False) -> AgentStatusPeriod | None:
    periods = AgentStatusPeriod.objects.filter(agent=agent, ended_at__isnull=True)
    if lock:
        periods = periods.select_for_update()
    return periods.first()


def do_change_agent_status(
    agent: User,
    status: str,
    *,
    reason: str = "",
    at: datetime | None = None,
    source: str = RecordSource.API,
    session_end_reason: str = SessionEndReason.OFFLINE,
) -> AgentStatusPeriod:
    """Close the agent's current period and open `status` at `at`; open/close the login session.

    Changing to the state the agent is already in (same reason) changes nothing. A change dated
    before the current period started is refused: the timeline stays gap-free and in order.
    """
    if status not in AgentStatus.values:
        raise CallActionError("invalid_status", f"{status!r} is not an agent status.", field="status")
    if reason and status != AgentStatus.BREAK and status != AgentStatus.AWAY:
        raise CallActionError("invalid_reason", "Only a break or away may have a reason.", field="reason")
    at = at or timezone.now()
    with transaction.atomic():
        current = current_status_period(agent, lock=True)
        if current is not None and current.status == status and current.reason == reason:
            return current
        if current is not None and at < current.started_at:
            raise CallActionError(
                "out_of_order",
                f"This change is dated {at.isoformat()}, before the agent's current state began "
                f"({current.started_at.isoformat()}).",
                status=409,
            )
        if current is not None:
            current.ended_at = at
            current.save(update_fields=["ended_at"])
        period = AgentStatusPeriod.objects.create(
            agent=agent, status=status, reason=reason, started_at=at, source=source
        )
        session = AgentSession.objects.select_for_update().filter(agent=agent, ended_at__isnull=True).first()
        if status == AgentStatus.OFFLINE and session is not None:
            session.ended_at, session.end_reason = at, session_end_reason
            session.save(update_fields=["ended_at", "end_reason"])
        elif status != AgentStatus.OFFLINE and session is None:
            AgentSession.objects.create(agent=agent, started_at=at, source=source)
        announce_agent_status(agent.pk, status, at, current.status if current else None)
    return period


def do_agent_login(agent: User, *, at: datetime | None = None) -> AgentStatusPeriod:
    """Login makes an offline agent available (and opens a session); an agent already working stays as is."""
    current = current_status_period(agent)
    if current is not None and current.status != AgentStatus.OFFLINE:
        return current
    return do_change_agent_status(agent, AgentStatus.AVAILABLE, at=at)


def do_agent_logout(agent: User, *, at: datetime | None = None) -> AgentStatusPeriod:
    return do_change_agent_status(agent, AgentStatus.OFFLINE, at=at, session_end_reason=SessionEndReason.LOGOUT)


def _set_status_if(agent: User, expected: tuple[str, ...], status: str, at: datetime, source: str) -> None:
    """Automatic transitions (call start/end/disposition) only move an agent in the expected state,
    so a manual break taken during wrap-up is not overwritten."""
    current = current_status_period(agent)
    if current is None or current.status in expected:
        if current is not None and at < current.started_at:
            at = current.started_at
        do_change_agent_status(agent, status, at=at, source=source)


# --- Calls ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentDayTotals:
    """What the softphone shows after a call ends (the agent's local day of the call)."""

    calls_made: int
    connected: int
    total_talk_time: int

    @property
    def average(self) -> float:
        return round(self.total_talk_time / self.connected, 1) if self.connected else 0.0


def agent_day_totals(agent: User, day_of: datetime) -> AgentDayTotals:
    start, end = local_day_bounds(local_date(day_of))
    totals = (
        CallLog.objects.filter(agent=agent)
        .in_period(start, end)
        .aggregate(
            calls=Count("id"), connected=Count("id", filter=Q(duration_seconds__gt=0)), talk=Sum("duration_seconds")
        )
    )
    return AgentDayTotals(totals["calls"], totals["connected"], totals["talk"] or 0)


def do_start_call(
    agent: User,
    *,
    phone_number: str,
    contact: Contact | None = None,
    campaign: Campaign | None = None,
    direction: str = CallDirection.OUTBOUND,
    started_at: datetime | None = None,
    twilio_call_sid: str | None = None,
    source: str = RecordSource.API,
) -> CallLog:
    try:
        phone = to_e164(phone_number)
    except Exception as exc:  # ValidationError carries the sentence
        raise CallActionError(
            "invalid_phone", " ".join(getattr(exc, "messages", [str(exc)])), field="phone_number"
        ) from None
    if direction not in CallDirection.values:
        raise CallActionError(
            "invalid_direction", f"direction must be outbound or inbound, not {direction!r}.", field="direction"
        )
    started_at = started_at or timezone.now()
    if started_at > timezone.now() + timedelta(minutes=5):
        raise CallActionError("future_time", "started_at is in the future.", field="started_at")
    with transaction.atomic():
        # One call at a time per agent: the lock on the agent row serialises two starts.
        User.objects.select_for_update().filter(pk=agent.pk).first()
        active = CallLog.objects.filter(agent=agent, status=CallStatus.IN_PROGRESS).only("pk").first()
        if active is not None:
            raise CallActionError(
                "call_in_progress",
                f"Call {active.pk} is still in progress; end it before starting another.",
                status=409,
            )
        if campaign is None and contact is not None:
            campaign = contact.campaign
        call = CallLog.objects.create(
            agent=agent,
            contact=contact,
            campaign=campaign,
            phone_number=phone,
            direction=direction,
            started_at=started_at,
            twilio_call_sid=twilio_call_sid,
            source=source,
        )
        _set_status_if(agent, tuple(AgentStatus.values), AgentStatus.ON_CALL, started_at, source)
        announce_call(call.pk, agent.pk, "started")
    return call


def do_mark_answered(call: CallLog, *, answered_at: datetime | None = None) -> CallLog:
    """Talk time starts. Repeating it changes nothing (the first answer time stays)."""
    answered_at = answered_at or timezone.now()
    with transaction.atomic():
        call = CallLog.objects.select_for_update().get(pk=call.pk)
        if call.answered_at is not None:
            return call
        if call.status != CallStatus.IN_PROGRESS:
            raise CallActionError("call_ended", f"Call {call.pk} has already ended.", status=409)
        if answered_at < call.started_at:
            raise CallActionError(
                "answered_before_start", "answered_at is before the call started.", field="answered_at"
            )
        call.answered_at = answered_at
        call.save(update_fields=["answered_at", "updated_at"])
        announce_call(call.pk, call.agent_id, "answered")
    return call


def do_end_call(
    call: CallLog,
    *,
    status: str,
    outcome: str = "",
    notes: str = "",
    ended_at: datetime | None = None,
) -> CallLog:
    """Final status, end time and talk time. Ending an ended call again with the same status,
    outcome and notes returns it unchanged (a retried request); anything different is a conflict."""
    if status not in FINAL_CALL_STATUSES:
        finals = ", ".join(FINAL_CALL_STATUSES)
        raise CallActionError(
            "invalid_status", f"status must be a final status ({finals}), not {status!r}.", field="status"
        )
    if outcome not in ("", *CallOutcome.values):
        raise CallActionError("invalid_outcome", f"{outcome!r} is not a call outcome.", field="outcome")
    with transaction.atomic():
        call = CallLog.objects.select_for_update().get(pk=call.pk)
        if call.status != CallStatus.IN_PROGRESS:
            same = (
                call.status == status
                and call.outcome == (outcome or call.outcome)
                and (not notes or call.notes == notes)
            )
            if same and (ended_at is None or ended_at == call.ended_at):
                return call
            raise CallActionError(
                "already_ended",
                f"Call {call.pk} already ended as {call.status}; it cannot be ended again differently.",
                status=409,
            )
        ended_at = ended_at or timezone.now()
        if ended_at < call.started_at:
            raise CallActionError("ended_before_start", "ended_at is before the call started.", field="ended_at")
        if call.answered_at is not None and ended_at < call.answered_at:
            raise CallActionError("ended_before_answer", "ended_at is before the call was answered.", field="ended_at")
        if call.answered_at is not None and status in (CallStatus.NO_ANSWER, CallStatus.BUSY):
            raise CallActionError(
                "answered_call",
                f"Call {call.pk} was answered, so it cannot end as {status}.",
                status=409,
                field="status",
            )
        if status == CallStatus.COMPLETED and call.answered_at is None:
            call.answered_at = call.started_at  # METRICS.md: a completed call without an answer time counts from start
        call.status, call.ended_at = status, ended_at
        call.outcome = outcome or call.outcome
        call.notes = notes or call.notes
        call.duration_seconds = talk_seconds(call.answered_at, ended_at)
        call.save()
        _set_status_if(call.agent, (AgentStatus.ON_CALL,), AgentStatus.WRAP_UP, ended_at, call.source)
        announce_call(call.pk, call.agent_id, "ended")
    return call


# Which lead status a disposition moves the contact to (forward only; see crm.actions).
OUTCOME_LEAD_STATUS = {
    CallOutcome.LEAD: LeadStatus.QUALIFIED,
    CallOutcome.INTERESTED: LeadStatus.CONTACTED,
    CallOutcome.CALLBACK: LeadStatus.CONTACTED,
    CallOutcome.NOT_INTERESTED: LeadStatus.LOST,
    CallOutcome.WRONG_NUMBER: LeadStatus.LOST,
    CallOutcome.OTHER: LeadStatus.CONTACTED,
}
OUTCOME_BUSINESS_REASON = {
    CallOutcome.CALLBACK: BusinessReason.RESCHEDULED,
    CallOutcome.INTERESTED: BusinessReason.INTERESTED,
    CallOutcome.NOT_INTERESTED: BusinessReason.NOT_INTERESTED,
    CallOutcome.WRONG_NUMBER: BusinessReason.WRONG_NUMBER,
}


def do_set_disposition(
    call: CallLog,
    *,
    outcome: str,
    notes: str = "",
    business_reason: str = "",
    callback_at: datetime | None = None,
    at: datetime | None = None,
    by: User | None = None,
) -> CallLog:
    """The agent's disposition after the call: outcome, wrap-up time (first disposition only), and the
    contact's business reason, callback time and lead status. The agent goes back to available."""
    if outcome not in CallOutcome.values:
        raise CallActionError("invalid_outcome", f"{outcome!r} is not a call outcome.", field="outcome")
    if business_reason not in ("", *BusinessReason.values):
        raise CallActionError(
            "invalid_business_reason", f"{business_reason!r} is not a business reason.", field="business_reason"
        )
    business_reason = business_reason or OUTCOME_BUSINESS_REASON.get(CallOutcome(outcome), "")
    if business_reason == BusinessReason.RESCHEDULED and callback_at is None and outcome == CallOutcome.CALLBACK:
        raise CallActionError(
            "callback_required", "A callback needs callback_at (when to call back).", field="callback_at"
        )
    at = at or timezone.now()
    with transaction.atomic():
        call = CallLog.objects.select_for_update().select_related("contact", "agent").get(pk=call.pk)
        if call.status == CallStatus.IN_PROGRESS or call.ended_at is None:
            raise CallActionError("call_in_progress", f"Call {call.pk} has not ended yet; end it first.", status=409)
        first = call.disposition_at is None
        disposed_at = max(at, call.ended_at) if first else call.disposition_at
        assert disposed_at is not None  # noqa: S101 - set on the first disposition
        if first:
            call.disposition_at = disposed_at
            call.wrap_up_seconds = int((disposed_at - call.ended_at).total_seconds())
        call.outcome, call.business_reason, call.callback_at = outcome, business_reason, callback_at
        if notes:
            call.notes = notes
        call.save()
        contact = call.contact
        if contact is not None:
            contact.business_reason, contact.callback_at = business_reason, callback_at
            contact.save(update_fields=["business_reason", "callback_at", "updated_at"])
            target = OUTCOME_LEAD_STATUS.get(CallOutcome(outcome))
            if target is not None:
                do_change_lead_status(contact, target, at=disposed_at, by=by, note=f"call {call.pk}", forward_only=True)
        if first:
            _set_status_if(call.agent, (AgentStatus.WRAP_UP,), AgentStatus.AVAILABLE, disposed_at, call.source)
        announce_call(call.pk, call.agent_id, "disposition")
    return call
