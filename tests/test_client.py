"""calls/client.py against a real server (pytest-django's live_server) — and, for network failures,
through a transport that forwards to that server but fails where a real network can."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from django.utils import timezone

from calls.actions import agent_day_totals
from calls.client import CallTracker, CallTrackerError, format_elapsed
from calls.models import ApiKey, CallLog, CallStatus
from crm.models import User
from tests.factories import CallLogFactory, ContactFactory

ROOT = Path(__file__).resolve().parent.parent
START = ("POST", "/api/calls/start")
END = ("POST", "/api/calls/end")
LOG = ("GET", "/api/calls/log")


class FaultyTransport(httpx.BaseTransport):
    """Forwards to the real server, except where `faults[(method, path)]` says otherwise, one fault
    per attempt in order:

    - "before": fail to connect; the server never sees the request.
    - "after": the server gets the request and answers, then the connection drops (ConnectError).
    - "timeout_after": same, as a read timeout.
    - "503": a proxy answers 503; the server never sees the request.
    - "empty_log": answer an empty call log without asking the server (a read that raced a write).
    """

    def __init__(self, faults: dict[tuple[str, str], list[str]] | None = None) -> None:
        self.real = httpx.HTTPTransport()
        self.faults = {key: list(actions) for key, actions in (faults or {}).items()}
        self.attempts: list[tuple[str, str]] = []
        self.forwarded: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        with self._lock:
            self.attempts.append(key)
            queue = self.faults.get(key)
            action = queue.pop(0) if queue else "pass"
        if action == "before":
            raise httpx.ConnectError("simulated: connection refused", request=request)
        if action == "503":
            return httpx.Response(503, text="Service Unavailable")
        if action == "empty_log":
            return httpx.Response(200, json={"count": 0, "results": []})
        response = self.real.handle_request(request)
        with self._lock:
            self.forwarded.append(key)
        if action in ("after", "timeout_after"):
            response.read()
            response.close()
            if action == "after":
                raise httpx.ConnectError("simulated: connection lost after sending", request=request)
            raise httpx.ReadTimeout("simulated: no answer in time", request=request)
        return response

    def close(self) -> None:
        self.real.close()

    def count(self, key: tuple[str, str], *, forwarded: bool = False) -> int:
        return (self.forwarded if forwarded else self.attempts).count(key)


@pytest.fixture
def api_key(transactional_db, agent_a1: User) -> str:
    return ApiKey.objects.create_key(agent_a1, "softphone")[1]


@pytest.fixture
def make_tracker(live_server, api_key):
    trackers: list[CallTracker] = []

    def make(transport: httpx.BaseTransport | None = None, **options: Any) -> CallTracker:
        options.setdefault("backoff", 0.01)
        tracker = CallTracker(live_server.url, options.pop("key", api_key), transport=transport, **options)
        trackers.append(tracker)
        return tracker

    yield make
    for tracker in trackers:
        tracker.close()


# --- Pure parts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "00:00"),
        (59, "00:59"),
        (60, "01:00"),
        (61, "01:01"),
        (3599, "59:59"),
        (3600, "01:00:00"),
        (3661, "01:01:01"),
        (36000, "10:00:00"),
        (360000 + 59, "100:00:59"),
        (-5, "00:00"),
    ],
)
def test_format_elapsed(seconds, text):
    assert format_elapsed(seconds) == text


def test_importing_the_client_does_not_import_django():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys, calls.client; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'rest_framework', 'crm', 'config'}); "
        "print(bad or 'clean')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "clean"


def test_answering_or_ending_without_a_call_is_refused_locally():
    transport = httpx.MockTransport(lambda request: pytest.fail(f"no request expected, got {request.url}"))
    with CallTracker("http://callboard.invalid", "key", transport=transport) as tracker:
        for action in (tracker.mark_answered, lambda: tracker.end_call("completed")):
            with pytest.raises(CallTrackerError) as caught:
                action()
            assert caught.value.status is None
            assert caught.value.code == "no_active_call"
            assert caught.value.detail.startswith("There is no active call to ")


def test_network_failures_are_retried_with_exponential_backoff_then_raised(monkeypatch):
    attempts = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise httpx.ConnectError("connection refused", request=request)

    pauses: list[float] = []
    monkeypatch.setattr("calls.client.time", SimpleNamespace(sleep=pauses.append, monotonic=time.monotonic))
    tracker = CallTracker("http://callboard.invalid", "key", transport=httpx.MockTransport(refuse))
    with tracker, pytest.raises(CallTrackerError) as caught:
        tracker.get_session_history()
    assert caught.value.status is None and caught.value.code == "network_error"
    assert "ConnectError" in caught.value.detail
    assert attempts == ["/api/calls/log"] * 4
    assert pauses == [0.5, 1.0, 2.0]


# --- Against the live server ---------------------------------------------------------------------------


def test_start_answer_end_returns_the_servers_metrics(make_tracker, agent_a1):
    CallLogFactory.create(agent=agent_a1, started_at=timezone.now() - timedelta(minutes=3))  # 120 s earlier today
    contact = ContactFactory.create()
    tracker = make_tracker()

    started = tracker.start_call(contact.pk, "+48600100200")
    assert started["status"] == "in_progress"
    call = CallLog.objects.get(pk=started["call_id"])
    assert (call.agent, call.contact, call.phone_number, call.status) == (
        agent_a1,
        contact,
        "+48600100200",
        CallStatus.IN_PROGRESS,
    )
    assert tracker.current_call is not None and tracker.current_call.call_id == call.pk

    tracker.mark_answered()
    time.sleep(1.05)  # at least one second of talk
    metrics = tracker.end_call("completed", notes="Asked for the price list", outcome="interested")

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED and call.outcome == "interested"
    assert call.notes == "Asked for the price list"
    assert call.duration_seconds >= 1
    totals = agent_day_totals(agent_a1, call.started_at)
    assert metrics["call_id"] == call.pk
    assert metrics["duration_seconds"] == call.duration_seconds
    assert metrics["calls_made"] == totals.calls_made == 2
    assert metrics["total_talk_time"] == totals.total_talk_time == 120 + call.duration_seconds
    assert metrics["new_average"] == totals.average
    assert tracker.current_call is None


def test_session_history_is_the_agents_own_calls_newest_first(make_tracker, agent_a1, agent_a2):
    now = timezone.now()
    older, newer = (CallLogFactory.create(agent=agent_a1, started_at=now - timedelta(minutes=m)) for m in (30, 20))
    CallLogFactory.create(agent=agent_a1, started_at=now - timedelta(minutes=40))
    CallLogFactory.create(agent=agent_a2, started_at=now - timedelta(minutes=5))

    history = make_tracker().get_session_history(limit=2)

    assert [row["call_id"] for row in history] == [newer.pk, older.pk]
    assert {row["agent"] for row in history} == {"agent_a1"}
    assert history[0]["duration_seconds"] == 120


def test_metrics_are_the_days_totals_the_server_computes(make_tracker, agent_a1, agent_a2):
    now = timezone.now()
    CallLogFactory.create(agent=agent_a1, started_at=now - timedelta(minutes=9), duration_seconds=60)
    CallLogFactory.create(agent=agent_a1, started_at=now - timedelta(minutes=6), duration_seconds=45)
    CallLogFactory.create(
        agent=agent_a1,
        started_at=now - timedelta(minutes=3),
        status=CallStatus.NO_ANSWER,
        answered_at=None,
        duration_seconds=0,
    )
    CallLogFactory.create(agent=agent_a1, started_at=now - timedelta(days=2))  # another day
    CallLogFactory.create(agent=agent_a2, started_at=now - timedelta(minutes=2))  # someone else

    metrics = make_tracker().get_metrics()

    totals = agent_day_totals(agent_a1, now)
    assert metrics["date"] == timezone.localdate().isoformat()
    assert (metrics["calls_made"], metrics["connected"], metrics["total_talk_time"], metrics["average"]) == (
        totals.calls_made,
        totals.connected,
        totals.total_talk_time,
        totals.average,
    )
    assert (metrics["calls_made"], metrics["connected"], metrics["total_talk_time"], metrics["average"]) == (
        3,
        2,
        105,
        52.5,
    )


def test_timer_ticks_every_second_of_the_call_and_stops_when_it_ends(make_tracker):
    ticks: list[tuple[int, str, str]] = []
    tracker = make_tracker(tick_interval=0.25)  # one timer second lasts 0.25 s here
    tracker.set_timer_callback(lambda seconds, text: ticks.append((seconds, text, threading.current_thread().name)))

    tracker.start_call(None, "+48600100200")
    deadline = time.monotonic() + 10  # wait for ticks, not a fixed time: the machine may be loaded
    while len(ticks) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    tracker.end_call("no_answer")
    seen = list(ticks)
    time.sleep(0.25)

    assert ticks == seen, "the timer kept ticking after the call ended"
    seconds = [s for s, _, _ in seen]
    # The timer counts from the call's start, stamped before the start request was sent, so the first
    # tick is 0 unless that request took longer than one (shortened) timer second.
    assert len(seconds) >= 4 and seconds[0] <= 3
    assert seconds == sorted(set(seconds)), "strictly increasing"
    assert all(text == format_elapsed(s) for s, text, _ in seen)
    assert {name for _, _, name in seen} == {"callboard-call-timer"}


def test_a_failing_timer_callback_does_not_stop_the_timer(make_tracker):
    calls: list[int] = []

    def callback(seconds: int, text: str) -> None:
        calls.append(seconds)
        raise RuntimeError("the label was destroyed")

    tracker = make_tracker(tick_interval=0.05)
    tracker.set_timer_callback(callback)
    tracker.start_call(None, "+48600100200")
    # Wait for ticks rather than for a fixed time: a loaded machine may wake the timer late.
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    tracker.end_call("no_answer")
    assert len(calls) >= 3, "the timer stopped after its callback raised"
    assert calls == sorted(set(calls))


def test_threads_sharing_a_tracker_start_one_call_and_read_history_safely(make_tracker, agent_a1):
    tracker = make_tracker()
    barrier = threading.Barrier(8)
    started: list[dict[str, Any]] = []
    refused: list[CallTrackerError] = []
    histories: list[list[dict[str, Any]]] = []
    unexpected: list[BaseException] = []

    def start(n: int) -> None:
        barrier.wait()
        try:
            started.append(tracker.start_call(None, f"+4860010020{n}"))
        except CallTrackerError as exc:
            refused.append(exc)
        except BaseException as exc:
            unexpected.append(exc)

    def read() -> None:
        barrier.wait()
        try:
            for _ in range(3):
                histories.append(tracker.get_session_history(limit=10))
        except BaseException as exc:
            unexpected.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert unexpected == []
    assert len(started) == 1 and len(refused) == 3
    assert {exc.code for exc in refused} == {"call_active"}
    call = CallLog.objects.get(agent=agent_a1)
    assert tracker.current_call is not None and tracker.current_call.call_id == call.pk == started[0]["call_id"]
    assert len(histories) == 12 and all(isinstance(history, list) for history in histories)
    tracker.end_call("no_answer")
    assert tracker.current_call is None
    assert CallLog.objects.get(agent=agent_a1).status == CallStatus.NO_ANSWER


def test_a_start_the_server_received_before_the_connection_dropped_is_adopted_not_repeated(make_tracker, agent_a1):
    transport = FaultyTransport({START: ["after"]})
    tracker = make_tracker(transport)

    started = tracker.start_call(None, "+48600100200")

    call = CallLog.objects.get(agent=agent_a1)  # exactly one
    assert started["call_id"] == call.pk and started["status"] == "in_progress"
    assert tracker.current_call is not None and tracker.current_call.call_id == call.pk
    assert transport.count(START) == 1, "found in the log, so not posted again"
    assert transport.count(LOG) == 1
    assert tracker.end_call("no_answer")["call_id"] == call.pk


def test_a_start_that_commits_after_the_client_looked_is_adopted_through_the_409(make_tracker, agent_a1):
    # The first attempt times out while the server is still working on it; the client's look at the
    # log comes too early to see it; the re-post is refused with 409 call_in_progress.
    transport = FaultyTransport({START: ["timeout_after"], LOG: ["empty_log"]})
    tracker = make_tracker(transport)

    started = tracker.start_call(None, "+48600100200")

    call = CallLog.objects.get(agent=agent_a1)
    assert started["call_id"] == call.pk
    assert tracker.current_call is not None and tracker.current_call.call_id == call.pk
    assert transport.count(START, forwarded=True) == 2  # the second was refused with 409
    assert transport.count(LOG) == 2


def test_a_409_for_someone_elses_call_in_progress_is_raised(make_tracker, agent_a1):
    other = CallLogFactory.create(
        agent=agent_a1, status=CallStatus.IN_PROGRESS, answered_at=None, ended_at=None, duration_seconds=0
    )
    tracker = make_tracker()
    with pytest.raises(CallTrackerError) as caught:
        tracker.start_call(None, "+48600100200")
    assert (caught.value.status, caught.value.code) == (409, "call_in_progress")
    assert str(other.pk) in caught.value.detail
    assert tracker.current_call is None
    assert CallLog.objects.filter(agent=agent_a1).count() == 1


def test_connection_failures_before_sending_are_retried_until_the_start_succeeds(make_tracker, agent_a1):
    transport = FaultyTransport({START: ["before", "before"]})
    tracker = make_tracker(transport)

    started = tracker.start_call(None, "+48600100200")

    assert CallLog.objects.get(agent=agent_a1).pk == started["call_id"]
    assert transport.count(START) == 3
    assert transport.count(START, forwarded=True) == 1


def test_5xx_answers_are_retried(make_tracker, agent_a1):
    transport = FaultyTransport({START: ["503"], LOG: ["503"]})
    tracker = make_tracker(transport)

    started = tracker.start_call(None, "+48600100200")
    history = tracker.get_session_history()

    assert CallLog.objects.get(agent=agent_a1).pk == started["call_id"] == history[0]["call_id"]
    assert transport.count(START) == 2


def test_a_retried_end_gets_the_same_answer_once(make_tracker, agent_a1):
    transport = FaultyTransport({END: ["after"]})
    tracker = make_tracker(transport)
    tracker.start_call(None, "+48600100200")

    metrics = tracker.end_call("completed", outcome="lead")

    call = CallLog.objects.get(agent=agent_a1)
    assert call.status == CallStatus.COMPLETED and call.outcome == "lead"
    assert transport.count(END, forwarded=True) == 2
    assert metrics["call_id"] == call.pk and metrics["calls_made"] == 1
    assert tracker.current_call is None


def test_4xx_answers_are_raised_with_the_servers_error_and_never_retried(make_tracker, agent_a1):
    transport = FaultyTransport()
    tracker = make_tracker(transport)

    with pytest.raises(CallTrackerError) as caught:
        tracker.start_call(None, "not a phone number")
    assert caught.value.status == 400
    assert caught.value.code == "invalid_phone"
    assert set(caught.value.fields) == {"phone_number"}
    with pytest.raises(CallTrackerError) as caught:
        tracker.start_call(987654, "+48600100200")
    assert (caught.value.status, caught.value.code) == (400, "invalid")
    assert caught.value.fields == {"contact_id": "There is no contact with id 987654."}
    with pytest.raises(CallTrackerError) as caught:
        tracker.get_session_history(limit=5000)
    assert caught.value.status == 400 and "limit" in caught.value.fields

    assert transport.attempts == [START, START, LOG]
    assert not CallLog.objects.exists()
    assert tracker.current_call is None


def test_an_unknown_key_is_a_401_with_the_servers_detail(make_tracker):
    transport = FaultyTransport()
    tracker = make_tracker(transport, key="cb_not_a_real_key")
    with pytest.raises(CallTrackerError) as caught:
        tracker.start_call(None, "+48600100200")
    assert caught.value.status == 401
    assert caught.value.code == "authentication_failed"
    assert caught.value.detail == "This API key is unknown, expired or revoked."
    assert transport.attempts == [START]
    assert not CallLog.objects.exists()


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
