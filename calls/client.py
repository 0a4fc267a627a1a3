"""Callboard's Python client for softphones: track a call's time through the calls API (API.md "Calls").

This module is shipped on its own to desktop softphones: it must never import Django or anything else
from this project. Its only dependency is httpx.

    tracker = CallTracker("https://callboard.example.com", api_key)
    tracker.set_timer_callback(lambda seconds, text: label.set_text(text))
    tracker.start_call(contact_id=42, phone="+48600100200")
    tracker.mark_answered()
    metrics = tracker.end_call("completed", outcome="interested")

Times. The client stamps `started_at`, `answered_at` and `ended_at` itself (UTC, from this computer's
clock) when the agent acts, and sends the same stamp on every attempt of that request. Talk time is
therefore what the agent saw, not shifted by network delays or retries.

Timer. While a call is active, the timer callback gets `(seconds, "MM:SS")` (`"HH:MM:SS"` from one
hour on) about once a second from a background thread, counted from the call's START (when
`start_call` was called, measured with a monotonic clock so changing the wall clock does not disturb
it). The first tick is `0` at the start. The callback runs on the timer thread: a GUI must hand the
text over to its own thread. An exception in the callback is logged and the timer keeps going.

Retries. Network failures (`httpx.TransportError`: connection refused, timeouts, resets) and 5xx
answers are retried up to `retries` more times, sleeping `backoff`, 2×`backoff`, 4×`backoff`, ...
between attempts. A 4xx answer is never retried: it is raised at once as `CallTrackerError` carrying
the server's error body (`status`, `code`, `detail`, `fields`). When the retries run out the last
failure is raised as a `CallTrackerError` (`status` 5xx, or `None` and code `network_error`).

Retries never create a duplicate call. A failed attempt is treated as possibly received by the
server (a timeout, a reset or a 502 can hide a committed request). So:

- `start_call`: before each re-post, the client looks for a call of its own with exactly the
  `started_at` it stamped (microsecond precision, so it is this request's call and no other) in
  `GET /api/calls/log`; if one exists it adopts it instead of posting again. If the re-post is refused
  with 409 `call_in_progress` (the server allows one call in progress per agent; the earlier attempt
  was still being processed when the client looked), the client looks once more and adopts the call
  if its `started_at` matches; otherwise the 409 is raised (another call really is in progress).
- `mark_answered`: repeating it changes nothing on the server (the first answer time stays).
- `end_call`: the same body ends a call once; the server answers a repeat with the same 200.

Errors of use (answering or ending with no active call, starting a second call) raise
`CallTrackerError` with `status=None` and a sentence, without contacting the server.

Metrics. `get_metrics()` adds up the day's calls from `GET /api/calls/log?start_date=&end_date=`
because the server has no endpoint for one agent's day totals in the calls API yet; the rules are the
server's (calls made = calls started that day, connected = talk time > 0, average = talk time /
connected). "Today" is this computer's local date, read by the server as a day of the organisation's
time zone: the two agree when the softphone runs in the organisation's time zone.

Thread safety. One `CallTracker` may be used from several threads: call-lifecycle operations
(start/answer/end) run one at a time, the current-call state is guarded by a lock, and reads
(history, metrics) run concurrently (httpx.Client is thread-safe).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

__all__ = ["ActiveCall", "CallTracker", "CallTrackerError", "format_elapsed"]

logger = logging.getLogger(__name__)

TimerCallback = Callable[[int, str], None]


def format_elapsed(seconds: int) -> str:
    """`MM:SS` below one hour, `HH:MM:SS` from one hour on (hours keep counting past 99)."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


class CallTrackerError(Exception):
    """A request the server refused (4xx, or 5xx after the retries), the network failing after the
    retries (`status` None, code `network_error`), or a misuse of the tracker (`status` None)."""

    def __init__(self, status: int | None, code: str, detail: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}" if status is not None else f"{code}: {detail}")
        self.status, self.code, self.detail, self.fields = status, code, detail, fields or {}


@dataclass(frozen=True)
class ActiveCall:
    call_id: int
    started_at: datetime
    phone: str
    contact_id: int | None
    answered_at: datetime | None = None


class _Retryable(Exception):
    """An attempt that failed in a way worth repeating (network error or 5xx)."""

    def __init__(self, error: CallTrackerError) -> None:
        super().__init__(str(error))
        self.error = error


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class CallTracker:
    def __init__(
        self,
        server_url: str,
        api_key: str,
        *,
        timeout: float = 10,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        tick_interval: float = 1.0,
    ) -> None:
        """`server_url` like "https://callboard.example.com"; `api_key` a key of the agent's (shown once
        when it was created); `timeout` per attempt in seconds; `retries` extra attempts after a network
        error or 5xx; `backoff` the first pause between attempts (doubling); `transport` an httpx
        transport (tests, proxies); `tick_interval` the real length of one timer second (tests)."""
        self.retries, self.backoff, self.tick_interval = retries, backoff, tick_interval
        self._http = httpx.Client(
            base_url=server_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._operation_lock = threading.Lock()  # start/answer/end, one at a time
        self._state_lock = threading.Lock()  # the fields below; held only briefly
        self._call: ActiveCall | None = None
        self._call_started_monotonic = 0.0
        self._callback: TimerCallback | None = None
        self._timer_stop: threading.Event | None = None
        self._timer_thread: threading.Thread | None = None

    # --- the call ------------------------------------------------------------------------------------

    @property
    def current_call(self) -> ActiveCall | None:
        with self._state_lock:
            return self._call

    def start_call(self, contact_id: int | None, phone: str) -> dict[str, Any]:
        """Start a call (POST /api/calls/start); returns `{call_id, started_at, status}`."""
        with self._operation_lock:
            active = self.current_call
            if active is not None:
                raise CallTrackerError(
                    None, "call_active", f"Call {active.call_id} is still active; end it before starting another."
                )
            started_monotonic = time.monotonic()
            started_at = datetime.now(UTC)
            body: dict[str, Any] = {"phone_number": phone, "started_at": started_at.isoformat()}
            if contact_id is not None:
                body["contact_id"] = contact_id

            def attempt(number: int) -> dict[str, Any]:
                if number > 0:  # the earlier attempt may have reached the server
                    adopted = self._find_call_started_at(started_at)
                    if adopted is not None:
                        return adopted
                try:
                    return self._send("POST", "/api/calls/start", json=body)
                except CallTrackerError as exc:
                    if exc.code != "call_in_progress":
                        raise
                    # The earlier attempt may have committed after we looked.
                    adopted = self._find_call_started_at(started_at)
                    if adopted is None:
                        raise
                    return adopted

            result = self._with_retries(attempt)
            call = ActiveCall(
                call_id=int(result["call_id"]),
                started_at=_parse_time(result["started_at"]),
                phone=phone,
                contact_id=contact_id,
            )
            with self._state_lock:
                self._call = call
                self._call_started_monotonic = started_monotonic
            self._start_timer()
            return result

    def mark_answered(self) -> dict[str, Any]:
        """The callee answered: talk time starts (POST /api/calls/answered)."""
        with self._operation_lock:
            call = self._require_call("mark the call answered")
            answered_at = datetime.now(UTC)
            body = {"call_id": call.call_id, "answered_at": answered_at.isoformat()}
            result = self._with_retries(lambda _: self._send("POST", "/api/calls/answered", json=body))
            with self._state_lock:
                if self._call is not None and self._call.call_id == call.call_id:
                    answered = result.get("answered_at")
                    self._call = ActiveCall(
                        call.call_id,
                        call.started_at,
                        call.phone,
                        call.contact_id,
                        _parse_time(answered) if answered else answered_at,
                    )
            return result

    def end_call(self, status: str, notes: str = "", outcome: str = "") -> dict[str, Any]:
        """End the active call (POST /api/calls/end) with a final status (completed, no_answer, busy,
        failed, dropped); returns `{call_id, duration_seconds, new_average, calls_made, total_talk_time}`.

        The timer stops and the call is forgotten once the server has ended it — or has answered that
        the call is gone (404) or was already ended differently (409 `already_ended`, e.g. by Twilio);
        that error is still raised. Any other error leaves the call active so that ending can be retried.
        """
        with self._operation_lock:
            call = self._require_call("end the call")
            body = {
                "call_id": call.call_id,
                "status": status,
                "notes": notes,
                "outcome": outcome,
                "ended_at": datetime.now(UTC).isoformat(),
            }
            try:
                result = self._with_retries(lambda _: self._send("POST", "/api/calls/end", json=body))
            except CallTrackerError as exc:
                if exc.status == 404 or exc.code == "already_ended":
                    self._clear_call(call.call_id)
                raise
            self._clear_call(call.call_id)
            return result

    # --- reads ---------------------------------------------------------------------------------------

    def get_session_history(self, limit: int = 50) -> list[dict[str, Any]]:
        """The caller's calls, newest first (GET /api/calls/log). An agent's key sees its own calls;
        a supervisor's or admin's key sees every call it may see."""
        result = self._with_retries(lambda _: self._send("GET", "/api/calls/log", params={"limit": limit}))
        return list(result["results"])

    def get_metrics(self, day: date | None = None) -> dict[str, Any]:
        """The day's totals (default: today, local date): `{date, calls_made, connected,
        total_talk_time, average}` — the same figures `end_call` returns, added up client-side."""
        day = day or datetime.now(UTC).astimezone().date()
        params = {"start_date": day.isoformat(), "end_date": day.isoformat(), "limit": 1000}
        calls = self._with_retries(lambda _: self._send("GET", "/api/calls/log", params=params))["results"]
        connected = [c for c in calls if (c.get("duration_seconds") or 0) > 0]
        talk = sum(int(c["duration_seconds"]) for c in connected)
        return {
            "date": day.isoformat(),
            "calls_made": len(calls),
            "connected": len(connected),
            "total_talk_time": talk,
            "average": round(talk / len(connected), 1) if connected else 0.0,
        }

    # --- timer ---------------------------------------------------------------------------------------

    def set_timer_callback(self, fn: TimerCallback | None) -> None:
        """`fn(seconds, text)` about every second while a call is active (None: no more calls)."""
        with self._state_lock:
            self._callback = fn

    def _start_timer(self) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=self._run_timer, args=(stop,), name="callboard-call-timer", daemon=True)
        with self._state_lock:
            self._timer_stop, self._timer_thread = stop, thread
        thread.start()

    def _run_timer(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._state_lock:
                callback, started = self._callback, self._call_started_monotonic
            seconds = int((time.monotonic() - started) / self.tick_interval + 1e-6)
            if callback is not None:
                try:
                    callback(seconds, format_elapsed(seconds))
                except Exception:
                    logger.exception("The call timer callback failed")
            # Wake at the call clock's next whole second: ticks do not drift, and a late wake-up
            # (a slow callback, a busy machine) skips a second rather than repeating one.
            stop.wait(max(0.0, started + (seconds + 1) * self.tick_interval - time.monotonic()))

    def _clear_call(self, call_id: int) -> None:
        with self._state_lock:
            if self._call is None or self._call.call_id != call_id:
                return
            self._call = None
            stop, thread = self._timer_stop, self._timer_thread
            self._timer_stop = self._timer_thread = None
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def close(self) -> None:
        """Stop the timer and close the connection pool (the server's call is left as it is)."""
        call = self.current_call
        if call is not None:
            self._clear_call(call.call_id)
        self._http.close()

    def __enter__(self) -> CallTracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- HTTP ----------------------------------------------------------------------------------------

    def _require_call(self, action: str) -> ActiveCall:
        call = self.current_call
        if call is None:
            raise CallTrackerError(None, "no_active_call", f"There is no active call to {action}; start one first.")
        return call

    def _find_call_started_at(self, started_at: datetime) -> dict[str, Any] | None:
        """Our own call stamped `started_at`, as start_call's result, if the server has it."""
        params = {
            # A window of days around the stamp: the server reads dates in its own time zone.
            "start_date": (started_at - timedelta(days=1)).date().isoformat(),
            "end_date": (started_at + timedelta(days=1)).date().isoformat(),
            "limit": 50,
        }
        for row in self._send("GET", "/api/calls/log", params=params)["results"]:
            if row.get("started_at") and _parse_time(row["started_at"]) == started_at:
                return {"call_id": row["call_id"], "started_at": row["started_at"], "status": row["status"]}
        return None

    def _with_retries(self, attempt: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        number = 0
        while True:
            try:
                return attempt(number)
            except _Retryable as failure:
                if number >= self.retries:
                    raise failure.error from failure.__cause__
                delay = self.backoff * 2**number
                logger.warning("%s; retrying in %.2f s", failure.error, delay)
                number += 1
                time.sleep(delay)

    def _send(
        self, method: str, path: str, *, json: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One attempt. Raises _Retryable for network errors and 5xx, CallTrackerError for 4xx."""
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.TransportError as exc:
            error = CallTrackerError(
                None, "network_error", f"Could not reach {self._http.base_url} ({type(exc).__name__}: {exc})."
            )
            raise _Retryable(error) from exc
        if response.is_success:
            return response.json()
        error = self._error_from(response)
        if response.status_code >= 500:
            raise _Retryable(error)
        raise error

    @staticmethod
    def _error_from(response: httpx.Response) -> CallTrackerError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "detail" in body:
            return CallTrackerError(
                response.status_code,
                str(body.get("error") or f"http_{response.status_code}"),
                str(body["detail"]),
                body.get("fields") or {},
            )
        text = response.text.strip()[:200] or response.reason_phrase
        return CallTrackerError(response.status_code, f"http_{response.status_code}", text)
