"""Writes to calls and agent time: the only code that changes CallLog, AgentStatusPeriod, AgentSession.

Every function is one transaction. Views, webhooks, imports, admin actions and tasks call these; each
raises `CallActionError` (with an HTTP status and a sentence for a person) instead of writing
something inconsistent. Side effects are announced after commit (calls/events.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

from django.db import IntegrityError, transaction
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
    TwilioCallEvent,
    TwilioSyncRun,
)
from crm import rollups
from crm.actions import do_change_lead_status
from crm.errors import ActionError
from crm.models import BusinessReason, Campaign, Contact, LeadStatus, User
from crm.periods import local_date, local_day_bounds
from crm.phones import to_e164


class CallActionError(ActionError):
    pass


def talk_seconds(answered_at: datetime | None, ended_at: datetime | None) -> int:
    """duration_seconds: ended − answered for answered calls, else 0 (METRICS.md). Both are converted
    to UTC first: Python subtracts two datetimes sharing one tzinfo by wall clock, an hour off across DST."""
    if answered_at is None or ended_at is None:
        return 0
    return max(0, int((ended_at.astimezone(UTC) - answered_at.astimezone(UTC)).total_seconds()))


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
    with transaction.atomic():
        # An agent's first change has no open period to lock; the agent row serialises two of them,
        # which would otherwise both open a period (a unique-constraint error instead of a no-op).
        User.objects.select_for_update().filter(pk=agent.pk).first()
        # "Now" is read after the lock: read before it, a concurrent change that committed meanwhile
        # would make this one look back-dated (a spurious out_of_order 409).
        at = at or timezone.now()
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

# Clients stamp times with their own clocks; a few minutes of skew are tolerated, a time further ahead
# is a mistake that would put talk time in the future.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def _refuse_future(moment: datetime | None, field: str) -> None:
    if moment is not None and moment > timezone.now() + MAX_CLOCK_SKEW:
        raise CallActionError("future_time", f"{field} is in the future.", field=field)


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
    _refuse_future(started_at, "started_at")
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
        # Announced before the agent's new state: after the commit, hooks run in the order they were
        # registered, and the call's row is what every watching screen waits for first.
        announce_call(call.pk, agent.pk, "started")
        _set_status_if(agent, tuple(AgentStatus.values), AgentStatus.ON_CALL, started_at, source)
        if twilio_call_sid:
            # Twilio may have called back before the call was recorded here: apply what it said.
            apply_pending_twilio_call_events(call)
            call.refresh_from_db()
    return call


def do_mark_answered(call: CallLog, *, answered_at: datetime | None = None) -> CallLog:
    """Talk time starts. Repeating it changes nothing (the first answer time stays)."""
    _refuse_future(answered_at, "answered_at")
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
    _refuse_future(ended_at, "ended_at")
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
        announce_call(call.pk, call.agent_id, "ended")  # first after the commit (see do_start_call)
        call.save()
        _set_status_if(call.agent, (AgentStatus.ON_CALL,), AgentStatus.WRAP_UP, ended_at, call.source)
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
    if callback_at is None and (outcome == CallOutcome.CALLBACK or business_reason == BusinessReason.RESCHEDULED):
        raise CallActionError(
            "callback_required", "A callback needs callback_at (when to call back).", field="callback_at"
        )
    at = at or timezone.now()
    with transaction.atomic():
        # of=("self",): contact is nullable (an outer join), and PostgreSQL cannot lock that side of one.
        call = CallLog.objects.select_for_update(of=("self",)).select_related("contact", "agent").get(pk=call.pk)
        if call.status == CallStatus.IN_PROGRESS or call.ended_at is None:
            raise CallActionError("call_in_progress", f"Call {call.pk} has not ended yet; end it first.", status=409)
        first = call.disposition_at is None
        disposed_at = max(at, call.ended_at) if first else call.disposition_at
        assert disposed_at is not None  # noqa: S101 - set on the first disposition
        if first:
            call.disposition_at = disposed_at
            call.wrap_up_seconds = talk_seconds(call.ended_at, disposed_at)  # seconds from end to disposition
        call.outcome, call.business_reason, call.callback_at = outcome, business_reason, callback_at
        if notes:
            call.notes = notes
        call.save()
        contact = call.contact
        if contact is not None:
            # A disposition without a reason (e.g. voicemail) must not wipe the contact's planned callback.
            if business_reason:
                contact.business_reason, contact.callback_at = business_reason, callback_at
                contact.save(update_fields=["business_reason", "callback_at", "updated_at"])
            target = OUTCOME_LEAD_STATUS.get(CallOutcome(outcome))
            if target is not None:
                do_change_lead_status(contact, target, at=disposed_at, by=by, note=f"call {call.pk}", forward_only=True)
        if first:
            _set_status_if(call.agent, (AgentStatus.WRAP_UP,), AgentStatus.AVAILABLE, disposed_at, call.source)
        announce_call(call.pk, call.agent_id, "disposition")
    return call


# --- Twilio voice: status callbacks and sync corrections -----------------------------------------------
# Appended as one block (imports included) so it can be reviewed and moved as a unit.


logger = logging.getLogger(__name__)

# Twilio's call statuses in the order a call goes through them; a callback whose rank is not above what
# the call already shows changes nothing, so duplicates and late deliveries converge (API.md "Webhooks").
TWILIO_LIVE_STATUSES = ("queued", "initiated", "ringing", "in-progress")
TWILIO_FINAL_STATUSES = {
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.FAILED,
}
_TWILIO_RANK = {status: rank for rank, status in enumerate(TWILIO_LIVE_STATUSES)} | dict.fromkeys(
    TWILIO_FINAL_STATUSES, len(TWILIO_LIVE_STATUSES)
)


def twilio_status_rank(status: str) -> int:
    return _TWILIO_RANK.get(status, -1)


def parse_twilio_timestamp(value: str | None) -> datetime | None:
    """Twilio's callback Timestamp is RFC 2822 ("Tue, 31 Aug 2010 20:36:28 +0000")."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if timezone.is_aware(moment) else None


def parse_twilio_seconds(value: object) -> int | None:
    try:
        seconds = int(str(value))
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def parse_twilio_price(value: object) -> Decimal | None:
    """Twilio reports a charge as a negative amount ("-0.01350"); we store the cost (positive)."""
    if value in (None, ""):
        return None
    try:
        return abs(Decimal(str(value)))
    except InvalidOperation:
        return None


def _twilio_final_status(twilio_status: str, answered: bool) -> str:
    status = TWILIO_FINAL_STATUSES[twilio_status]
    # A call our softphone saw answered cannot end as busy/no-answer (constraint); Twilio disagreeing
    # with the softphone is a failure of the call, not a missed one.
    if answered and status in (CallStatus.BUSY, CallStatus.NO_ANSWER):
        return CallStatus.FAILED
    return status


def _twilio_end_times(
    call: CallLog, twilio_status: str, duration: int | None, at: datetime | None
) -> tuple[datetime | None, datetime]:
    """(answered_at, ended_at) for ending `call` as Twilio reports it.

    Talk time comes from Twilio's duration when given: ended = answered + duration. A completed call
    that was never marked answered (its in-progress callback is late or lost) is answered at
    end − duration, so the talk time is the same whichever callback came first.
    """
    at = max(at, call.started_at) if at is not None else None
    answered_at = call.answered_at
    if twilio_status == "completed" and answered_at is None:
        if at is not None and duration is not None:
            answered_at = max(call.started_at, at - timedelta(seconds=duration))
        else:
            answered_at = call.started_at
    if twilio_status in ("busy", "no-answer") and answered_at is None:
        return None, at or timezone.now()
    if answered_at is not None and duration is not None:
        return answered_at, answered_at + timedelta(seconds=duration)
    ended_at = at or timezone.now()
    return answered_at, max(ended_at, answered_at) if answered_at is not None else ended_at


def _end_call_from_twilio(call: CallLog, twilio_status: str, duration: int | None, at: datetime | None) -> CallLog:
    answered_at, ended_at = _twilio_end_times(call, twilio_status, duration, at)
    if answered_at is not None and call.answered_at is None:
        call = do_mark_answered(call, answered_at=answered_at)
    return do_end_call(
        call, status=_twilio_final_status(twilio_status, call.answered_at is not None), ended_at=ended_at
    )


def _apply_twilio_event_to(event: TwilioCallEvent, call: CallLog) -> None:
    """Apply one stored callback to its (locked) call. Never moves a call backwards."""
    payload = event.payload or {}
    twilio_status = event.call_status
    at = parse_twilio_timestamp(payload.get("Timestamp")) or event.received_at
    if call.status == CallStatus.IN_PROGRESS:
        if twilio_status == "in-progress" and call.answered_at is None:
            do_mark_answered(call, answered_at=max(at, call.started_at))
        elif twilio_status in TWILIO_FINAL_STATUSES:
            _end_call_from_twilio(call, twilio_status, parse_twilio_seconds(payload.get("CallDuration")), at)
    # A final call ignores every later callback: a late ringing/in-progress, or a second final one.
    event.call, event.applied_at = call, timezone.now()
    event.save(update_fields=["call", "applied_at"])


def apply_pending_twilio_call_events(call: CallLog) -> int:
    """Apply the stored, unapplied callbacks for `call`'s SID in lifecycle order; returns how many.

    Called when a callback arrives for a known call, when a SID is attached to a call, and by the
    sync (a safety net for calls created with a SID by code that does not call this).
    """
    if not call.twilio_call_sid:
        return 0
    with transaction.atomic():
        # The call row lock serialises two callbacks for the same call (and a concurrent attach).
        call = CallLog.objects.select_for_update().get(pk=call.pk)
        pending = list(
            TwilioCallEvent.objects.select_for_update().filter(call_sid=call.twilio_call_sid, applied_at__isnull=True)
        )
        pending.sort(key=lambda e: (twilio_status_rank(e.call_status), e.sequence_number or 0, e.received_at, e.pk))
        for event in pending:
            _apply_twilio_event_to(event, call)
            call.refresh_from_db()
    return len(pending)


def do_record_twilio_call_event(payload: dict[str, str]) -> TwilioCallEvent:
    """Store a signature-valid voice status callback, then apply it if its call exists (else it waits
    for `do_attach_twilio_sid` / `apply_pending_twilio_call_events`)."""
    sid = (payload.get("CallSid") or "").strip()
    if not sid:
        raise CallActionError("missing_call_sid", "The callback has no CallSid.", field="CallSid")
    # Stored in its own transaction first: a callback that cannot be applied (a bug, a call edited
    # into a shape Twilio disagrees with) is kept for a later attempt instead of being lost with a 500.
    event = TwilioCallEvent.objects.create(
        call_sid=sid,
        call_status=(payload.get("CallStatus") or "").strip().lower(),
        sequence_number=parse_twilio_seconds(payload.get("SequenceNumber")),
        payload=payload,
    )
    call = CallLog.objects.filter(twilio_call_sid=sid).first()
    if call is not None:
        try:
            apply_pending_twilio_call_events(call)
        except CallActionError as exc:
            logger.warning("Twilio callback %s for call %s left unapplied: %s", event.pk, call.pk, exc.detail)
        event.refresh_from_db()
    return event


def do_attach_twilio_sid(call: CallLog, sid: str) -> CallLog:
    """Link a Twilio Call SID to a call and apply the callbacks that arrived before the link."""
    with transaction.atomic():
        call = CallLog.objects.select_for_update().get(pk=call.pk)
        if call.twilio_call_sid and call.twilio_call_sid != sid:
            raise CallActionError(
                "sid_conflict", f"Call {call.pk} already has Twilio SID {call.twilio_call_sid}.", status=409
            )
        if CallLog.objects.filter(twilio_call_sid=sid).exclude(pk=call.pk).exists():
            raise CallActionError("sid_taken", f"Twilio SID {sid} belongs to another call.", status=409)
        if call.twilio_call_sid != sid:
            call.twilio_call_sid = sid
            call.save(update_fields=["twilio_call_sid", "updated_at"])
        apply_pending_twilio_call_events(call)
        call.refresh_from_db()
    return call


def do_reconcile_call_with_twilio(
    call: CallLog,
    *,
    twilio_status: str,
    duration: int | None,
    end_time: datetime | None,
    price: Decimal | None,
    price_unit: str,
) -> bool:
    """Make a call agree with Twilio's record of it (the sync). Returns whether anything changed.

    Twilio's billing record is authoritative for a finished call's status, talk time and price; a call
    Twilio still reports live is left to the callbacks.
    """
    with transaction.atomic():
        call = CallLog.objects.select_for_update().get(pk=call.pk)
        if twilio_status not in TWILIO_FINAL_STATUSES:
            return False
        changed = False
        if call.status == CallStatus.IN_PROGRESS:
            call = _end_call_from_twilio(call, twilio_status, duration, end_time)
            changed = True
        status = _twilio_final_status(twilio_status, call.answered_at is not None)
        answered_at, ended_at = call.answered_at, call.ended_at
        if status in (CallStatus.BUSY, CallStatus.NO_ANSWER):
            answered_at = None
        elif status == CallStatus.COMPLETED and answered_at is None:
            answered_at = call.started_at
        if answered_at is not None and duration is not None:
            ended_at = answered_at + timedelta(seconds=duration)
        fields: dict[str, object] = {
            "status": status,
            "answered_at": answered_at,
            "ended_at": ended_at,
            "duration_seconds": talk_seconds(answered_at, ended_at),
        }
        if price is not None:
            fields["price"], fields["price_unit"] = price, (price_unit or "")[:3].upper()
        updates = {name: value for name, value in fields.items() if getattr(call, name) != value}
        if updates:
            for name, value in updates.items():
                setattr(call, name, value)
            call.save(update_fields=[*updates, "updated_at"])
            announce_call(call.pk, call.agent_id, "updated")
    return changed or bool(updates)


def do_begin_twilio_sync(day: date, *, requested_by: User | None = None) -> TwilioSyncRun:
    return TwilioSyncRun.objects.create(day=day, requested_by=requested_by)


def do_restart_twilio_sync(run: TwilioSyncRun) -> TwilioSyncRun:
    """A retried sync task reuses its run (one row per request, whatever the number of attempts)."""
    run.status, run.error, run.finished_at = TwilioSyncRun.Status.RUNNING, "", None
    run.save(update_fields=["status", "error", "finished_at"])
    return run


def do_finish_twilio_sync(
    run: TwilioSyncRun,
    *,
    fetched: int = 0,
    matched: int = 0,
    fixed: int = 0,
    missing: int = 0,
    duplicates: int = 0,
    error: str = "",
) -> TwilioSyncRun:
    run.fetched, run.matched, run.fixed, run.missing, run.duplicates = fetched, matched, fixed, missing, duplicates
    run.error = error
    run.status = TwilioSyncRun.Status.FAILED if error else TwilioSyncRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    return run


# --- Importing historical calls (API.md "Calls": POST /api/calls/import, manage.py import_calls) -------
# Appended as one block (imports included); reading and checking rows lives in calls/imports.py.


@dataclass
class CallImportResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[dict[str, object]] | None = None
    detail: str = ""
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "errors": self.errors or [],
        }
        if self.dry_run:
            body["dry_run"] = True
        return body


def do_import_calls(
    rows: Sequence[object],
    *,
    dry_run: bool = False,
    source: str = RecordSource.IMPORT,
    progress: Callable[[str, int, int], None] | None = None,
) -> CallImportResult:
    """Import ended calls with explicit times (rows as read by calls.imports.read_rows): all or nothing.

    Every row is checked first; if any row is wrong, nothing is written and the result lists each
    problem with its row number. A row whose external_id or twilio_call_sid is already stored updates
    that call when anything differs (else it is skipped); a row without either always creates a call.
    Writes are bulk inserts/updates in one transaction. Nothing is announced per call: rollups and
    dashboards pick imported history up on their next recomputation.
    """
    from calls import imports  # calls.imports builds on this module

    if len(rows) > imports.MAX_IMPORT_ROWS:
        raise imports.oversized(f"more than {imports.MAX_IMPORT_ROWS:,} rows; split the file into smaller files.")
    prepared, errors = imports.check_rows(rows, now=timezone.now(), progress=progress)
    if errors.count:
        return CallImportResult(errors=errors.items, detail=errors.summary(), dry_run=dry_run)
    try:
        with transaction.atomic():
            plan = imports.plan_import(prepared, errors, source=source)
            if errors.count:
                return CallImportResult(errors=errors.items, detail=errors.summary(), dry_run=dry_run)
            if not dry_run:
                total = len(plan.create) + len(plan.update)
                for start in range(0, len(plan.create), imports.WRITE_BATCH):
                    batch = plan.create[start : start + imports.WRITE_BATCH]
                    CallLog.objects.bulk_create(batch)
                    rollups.count_created(CallLog, batch)
                    if progress is not None:
                        progress("writing", len(batch), total)
                if plan.update:
                    now = timezone.now()
                    for call in plan.update:
                        call.updated_at = now
                    fields = sorted(plan.update_fields | {"updated_at"})
                    for start in range(0, len(plan.update), imports.UPDATE_BATCH):
                        batch = plan.update[start : start + imports.UPDATE_BATCH]
                        with rollups.tracking(CallLog, [call.pk for call in batch]):
                            CallLog.objects.bulk_update(batch, fields)
                        if progress is not None:
                            progress("writing", len(batch), total)
    except IntegrityError:
        raise CallActionError(
            "import_conflict",
            "Another import or Twilio sync stored a call with one of these identifiers meanwhile; "
            "nothing was imported. Send the file again.",
            status=409,
        ) from None
    return CallImportResult(
        created=len(plan.create), updated=len(plan.update), skipped=plan.skipped, errors=[], dry_run=dry_run
    )
