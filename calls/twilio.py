"""Talking to Twilio (voice): the REST client, signature checks for webhooks, the daily sync.

The HTTP boundary is twilio's own `HttpClient`: tests build a real `twilio.rest.Client` around a fake
one (tests/twilio_fakes.py) and monkeypatch `twilio_client`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from calls import actions
from calls.actions import CallActionError
from calls.models import CallLog, RecordSource, TwilioSyncRun
from crm.models import User
from crm.periods import local_day_bounds
from crm.twilio_account import NOT_CONFIGURED, twilio_configured, twilio_rest_client

logger = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE = 200
# 429 backoff: 1, 2, 4, 8 s between 5 attempts (Twilio's REST limits reset within seconds).
RATE_LIMIT_ATTEMPTS = 5
RATE_LIMIT_BASE_DELAY = 1.0
RATE_LIMIT_MAX_DELAY = 30.0


def backoff_sleep(seconds: float) -> None:
    time.sleep(seconds)


class TwilioSyncError(Exception):
    """A sync attempt failed for a reason that may pass (rate limit, Twilio 5xx, network); retry later."""


def require_twilio() -> None:
    if not twilio_configured():
        raise CallActionError("twilio_not_configured", NOT_CONFIGURED, status=503)


def twilio_client() -> Client:
    """The REST client for the configured account (the seam tests replace)."""
    require_twilio()
    return twilio_rest_client()


# --- Rate limits ------------------------------------------------------------------------------------------


def _status_of(exc: Exception) -> int | None:
    """HTTP status of a twilio error: TwilioRestException carries it; a failed page fetch raises a plain
    TwilioException("Unable to fetch page", response)."""
    if isinstance(exc, TwilioRestException):
        return int(exc.status)
    for arg in exc.args:
        status = getattr(arg, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _error_text(exc: Exception) -> str:
    if isinstance(exc, TwilioRestException):
        return f"Twilio answered HTTP {exc.status} (error {exc.code}): {exc.msg}"
    for arg in exc.args:
        if hasattr(arg, "status_code"):
            try:
                body = json.loads(getattr(arg, "text", "") or "{}")
            except ValueError:
                body = {}
            return f"Twilio answered HTTP {arg.status_code} (error {body.get('code')}): {body.get('message', '')}"
    return f"{type(exc).__name__}: {exc}"


def with_rate_limit_retry(
    fetch: Callable[[], T],
    *,
    sleep: Callable[[float], None] = backoff_sleep,
    attempts: int = RATE_LIMIT_ATTEMPTS,
    base_delay: float = RATE_LIMIT_BASE_DELAY,
    max_delay: float = RATE_LIMIT_MAX_DELAY,
) -> T:
    """Call `fetch`, retrying Twilio's HTTP 429 (error 20429) with exponential backoff.

    twilio-python itself retries only connection errors; a 429 surfaces as an exception.
    """
    for attempt in range(attempts):
        try:
            return fetch()
        except TwilioException as exc:
            if _status_of(exc) != 429 or attempt == attempts - 1:
                raise
            delay = min(max_delay, base_delay * 2**attempt)
            logger.info("Twilio rate limit (429); retrying in %.1f s", delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# --- The daily sync ---------------------------------------------------------------------------------------


def iter_twilio_calls(
    client: Client, start: datetime, end: datetime, *, sleep: Callable[[float], None] = backoff_sleep
) -> Iterator[Any]:
    """Every call Twilio lists as started in [start, end), page by page (each fetch retried on 429)."""
    # twilio serialises the datetime with strftime("...Z") without converting, so pass UTC.
    page = with_rate_limit_retry(
        lambda: client.calls.page(
            start_time_after=start.astimezone(UTC), start_time_before=end.astimezone(UTC), page_size=PAGE_SIZE
        ),
        sleep=sleep,
    )
    while page is not None:
        for record in page:
            if record.start_time is None or start <= record.start_time < end:
                yield record
        current = page
        page = with_rate_limit_retry(current.next_page, sleep=sleep) if current.next_page_url else None


def sync_twilio_day(
    day: date,
    *,
    requested_by_id: int | None = None,
    sync_run_id: int | None = None,
    sleep: Callable[[float], None] = backoff_sleep,
) -> TwilioSyncRun:
    """Pull `day`'s calls (local day) from Twilio, correct the matching calls, record a TwilioSyncRun.

    A transient failure (rate limit after all retries, Twilio 5xx, network) is recorded on the run and
    raised as TwilioSyncError so the task retries later; other failures are recorded and not retried.
    """
    run = TwilioSyncRun.objects.filter(pk=sync_run_id).first() if sync_run_id else None
    if run is None:
        requested_by = User.objects.filter(pk=requested_by_id).first() if requested_by_id else None
        run = actions.do_begin_twilio_sync(day, requested_by=requested_by)
    else:
        run = actions.do_restart_twilio_sync(run)
    if not twilio_configured():
        return actions.do_finish_twilio_sync(run, error=NOT_CONFIGURED)
    start, end = local_day_bounds(day)
    try:
        records = list(iter_twilio_calls(twilio_client(), start, end, sleep=sleep))
    except (TwilioException, requests.RequestException) as exc:
        actions.do_finish_twilio_sync(run, error=_error_text(exc))
        status = _status_of(exc)
        if status is None or status == 429 or status >= 500:
            raise TwilioSyncError(run.error) from exc
        return run
    matched, fixed, missing, duplicates = _reconcile(records)
    return actions.do_finish_twilio_sync(
        run, fetched=len(records), matched=matched, fixed=fixed, missing=missing, duplicates=duplicates
    )


def _reconcile(records: list[Any]) -> tuple[int, int, int, int]:
    """(matched, fixed, missing, duplicates) for Twilio's listing of the day."""
    matched = fixed = missing = duplicates = 0
    seen: set[str] = set()
    unique = []
    for record in records:
        if record.sid in seen:
            duplicates += 1
            continue
        seen.add(record.sid)
        unique.append(record)
    calls: dict[str, CallLog] = {}
    sids = sorted(seen)
    for i in range(0, len(sids), 500):
        for found in CallLog.objects.filter(twilio_call_sid__in=sids[i : i + 500]):
            calls[found.twilio_call_sid or ""] = found
    for record in unique:
        call = calls.get(record.sid)
        if call is None:
            missing += 1
            continue
        matched += 1
        # Callbacks that arrived before their call was linked (by code that does not apply them).
        actions.apply_pending_twilio_call_events(call)
        changed = actions.do_reconcile_call_with_twilio(
            call,
            twilio_status=record.status or "",
            duration=actions.parse_twilio_seconds(record.duration),
            end_time=record.end_time,
            price=actions.parse_twilio_price(record.price),
            price_unit=record.price_unit or "",
        )
        fixed += int(changed)
    return matched, fixed, missing, duplicates


# --- Click to call ----------------------------------------------------------------------------------------


def start_twilio_call(agent: User, to: str, from_: str) -> CallLog:
    """Dial `to` from `from_` through Twilio and log the call (status callbacks then drive it)."""
    require_twilio()
    callback = settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/status"
    call = actions.do_start_call(agent, phone_number=to, source=RecordSource.TWILIO)
    # When the callee answers, Twilio bridges them to the agent's softphone (Twilio Client identity).
    bridge = VoiceResponse()
    bridge.dial().client(agent.username)
    try:
        created = twilio_client().calls.create(
            to=call.phone_number,
            from_=from_,
            twiml=str(bridge),
            status_callback=callback,
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            status_callback_method="POST",
        )
    except (TwilioException, requests.RequestException) as exc:
        actions.do_end_call(call, status="failed", notes=_error_text(exc))
        raise CallActionError("twilio_error", _error_text(exc), status=502) from exc
    return actions.do_attach_twilio_sid(call, created.sid)
