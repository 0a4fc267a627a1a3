"""End to end: a report subscription due in the next minute is delivered by the real machinery.

Scale-out: PostgreSQL and Redis on this machine, a scratch database made and migrated here (not the
test run's), two real Celery workers started as documented (the default queue, and the `reports`
queue with prefetch 1 and recycled children) and the one real beat with django-celery-beat's
DatabaseScheduler. Embedded default: `manage.py serve` on a scratch SQLite file (beat thread, eager
tasks). In both, saving the subscription makes its beat schedule (reporting.schedules), beat fires it
at its minute, and the e-mail (file backend) arrives with the PDF while the delivery becomes `sent`.

Both run in either test run: neither touches the test database. The scale-out one is skipped only
when PostgreSQL or Redis does not answer on 127.0.0.1.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/11"
ZONE = "Europe/Warsaw"  # not the organisation's UTC: the crontab is in the subscription's zone
WAIT_SECONDS = 150


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """One running Callboard (processes, their logs and environment) and where its e-mail lands."""

    env: dict[str, str]
    var_dir: Path
    mail_dir: Path
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def manage(self, *args: str, timeout: int = 300) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self, name: str, command: list[str]) -> None:
        log = (self.var_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((name, process))

    def log(self, name: str) -> str:
        return (self.var_dir / f"{name}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log(name)[-6000:]}" for name, _ in self.processes)

    def assert_running(self) -> None:
        for name, process in self.processes:
            assert process.poll() is None, f"{name} exited with {process.returncode}:\n{self.logs()}"

    def stop(self) -> None:
        for _, process in self.processes:
            if process.poll() is None:
                process.terminate()
        for _, process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _base_env(var_dir: Path, mail_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    env.update(
        CALLBOARD_VAR_DIR=str(var_dir),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
        CELERY_BEAT_MAX_LOOP_INTERVAL="1",  # beat notices the new schedule within a second
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


SUBSCRIBE = """
import json
from datetime import time
from crm.models import Role, User
from reporting.models import ReportSubscription
owner = User.objects.create(username="owner", email="owner@example.com", role=Role.ADMIN, is_staff=True)
subscription = ReportSubscription.objects.create(
    name="E2E daily", owner=owner, recipients=["manager@example.com"], report_type="daily",
    delivery_method="email", delivery_time=time({hour}, {minute}), timezone={zone!r},
)
subscription.refresh_from_db()
task = subscription.periodic_task
print(json.dumps({{"id": subscription.pk, "task": task and task.task, "enabled": task and task.enabled,
    "args": task and task.args, "crontab": task and str(task.crontab)}}))
"""


def _next_minute(margin_seconds: int) -> datetime:
    """The next whole minute (in ZONE) at least `margin_seconds` away."""
    return (datetime.now(ZoneInfo(ZONE)) + timedelta(seconds=margin_seconds + 60)).replace(second=0, microsecond=0)


def _subscribe(stack: Stack, due: datetime) -> int:
    """Saves a daily e-mail subscription due at `due`; returns its id."""
    output = stack.manage("shell", "-c", SUBSCRIBE.format(hour=due.hour, minute=due.minute, zone=ZONE))
    made = json.loads(output.strip().splitlines()[-1])
    # Its beat schedule, made by reporting.schedules.sync_schedule when it was saved.
    assert made["task"] == "reporting.tasks.run_subscription" and made["enabled"] is True, made
    assert json.loads(made["args"]) == [made["id"]]
    assert f"{due.minute} {due.hour} * * *" in made["crontab"] and ZONE in made["crontab"], made
    return int(made["id"])


def _wait_for_delivery(
    stack: Stack, status_of: Callable[[], tuple[str, int, str] | None], due: datetime
) -> tuple[EmailMessage, tuple[str, int, str]]:
    deadline = time.monotonic() + WAIT_SECONDS
    row: tuple[str, int, str] | None = None
    while time.monotonic() < deadline:
        stack.assert_running()
        row = status_of()
        files = sorted(stack.mail_dir.glob("*.log")) if stack.mail_dir.exists() else []
        if row is not None and row[0] in ("sent", "failed") and files:
            message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            return message, row
        if row is not None and row[0] == "failed":
            break
        time.sleep(1)
    pytest.fail(f"no delivery within {WAIT_SECONDS} s (due {due:%H:%M %Z}, row {row}):\n{stack.logs()}")


def _check_email(message: EmailMessage, due: datetime) -> None:
    yesterday = (due - timedelta(days=1)).date()
    assert message["To"] == "manager@example.com"
    assert str(message["Subject"]).strip().startswith("Daily report")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"e2e-daily-{yesterday.isoformat()}.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "Daily report" in html.get_content()


# --- The two deployments, started once, both due at the same minute ---------------------------------------


@contextmanager
def _scale_out_stack(base: Path) -> Iterator[Stack]:
    """PostgreSQL (a scratch database), Redis (this run's key prefix), two workers and one beat."""
    import psycopg
    import redis

    run = uuid.uuid4().hex[:10]
    database = f"cb_e2e_{run}"
    prefix = f"e2e-{run}:"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    stack = Stack(
        env=_base_env(
            base / "var",
            base / "mail",
            DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
            REDIS_URL=REDIS_URL,
            CELERY_KEY_PREFIX=prefix,  # this run's queues, apart from any other user of this Redis
            CACHE_KEY_PREFIX=prefix + "cache",
            CHANNELS_PREFIX=prefix + "channels",
            SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
            CELERY_TASK_ALWAYS_EAGER="false",
        ),
        var_dir=base / "var",
        mail_dir=base / "mail",
    )
    stack.var_dir.mkdir()
    try:
        stack.manage("migrate", "--noinput", "-v0")
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        quiet = ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"]
        # As docs/reports-delivery.md runs them: everything else on the default queue; sending reports
        # (PDF rendering) on its own queue, one task at a time, processes recycled.
        stack.start("worker", [*celery, "worker", "-Q", "celery", "-c", "1", "-n", f"default-{run}@%h", *quiet])
        reports = ["-Q", "reports", "-c", "1", "--prefetch-multiplier", "1", "--max-tasks-per-child", "50"]
        stack.start("reports-worker", [*celery, "worker", *reports, "-n", f"reports-{run}@%h", *quiet])
        scheduler = ["-S", "django_celery_beat.schedulers:DatabaseScheduler"]
        pidfile = ["--pidfile", str(stack.var_dir / "beat.pid")]
        stack.start("beat", [*celery, "beat", *scheduler, *pidfile, "--loglevel", "INFO"])
        yield stack
    finally:
        stack.stop()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        client: Any = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


@contextmanager
def _embedded_stack(base: Path) -> Iterator[Stack]:
    """`manage.py serve` as `make run` starts it: SQLite, eager tasks, beat as a thread of the server."""
    stack = Stack(env=_base_env(base / "var", base / "mail"), var_dir=base / "var", mail_dir=base / "mail")
    stack.var_dir.mkdir()
    try:
        stack.manage("migrate", "--noinput", "-v0")
        stack.start("serve", [sys.executable, "manage.py", "serve", "--port", str(_free_port())])
        yield stack
    finally:
        stack.stop()


@dataclass
class Due:
    """A deployment and its subscription due at `due` (None: the deployment cannot run here, `reason`)."""

    stack: Stack | None
    subscription_id: int = 0
    due: datetime | None = None
    reason: str = ""


@pytest.fixture(scope="module")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Due]]:
    """Both deployments running, each with a subscription due at the same minute, so the two tests
    wait for one minute boundary together instead of one each."""
    with ExitStack() as running:
        found: dict[str, Due] = {}
        if _answers("127.0.0.1", 5432) and _answers("127.0.0.1", 6379):
            found["scale_out"] = Due(running.enter_context(_scale_out_stack(tmp_path_factory.mktemp("scale_out"))))
        else:
            reason = "PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must both answer for the worker e2e test"
            found["scale_out"] = Due(None, reason=reason)
        found["embedded"] = Due(running.enter_context(_embedded_stack(tmp_path_factory.mktemp("embedded"))))
        due = _next_minute(margin_seconds=30)  # time for the subscriptions to be saved and beat to notice
        for entry in found.values():
            if entry.stack is not None:
                entry.subscription_id, entry.due = _subscribe(entry.stack, due), due
        # Saved in time: beat (polling every second) knows the schedules before their minute comes.
        assert datetime.now(ZoneInfo(ZONE)) < due - timedelta(seconds=3), "the machine is too slow for this margin"
        yield found


# --- Scale-out: PostgreSQL, Redis, real workers, one real beat ----------------------------------------------


def test_a_real_worker_and_beat_deliver_a_due_subscription(deployments: dict[str, Due]) -> None:
    import psycopg

    entry = deployments["scale_out"]
    if entry.stack is None:
        pytest.skip(entry.reason)
    stack, due = entry.stack, entry.due
    assert due is not None
    url = stack.env["DATABASE_URL"].replace("postgres://", "postgresql://")

    def status_of() -> tuple[str, int, str] | None:
        with psycopg.connect(url) as db:
            row = db.execute(
                "SELECT status, attempts, last_error FROM reporting_reportdelivery WHERE subscription_id = %s",
                (entry.subscription_id,),
            ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    message, row = _wait_for_delivery(stack, status_of, due)
    assert row == ("sent", 1, ""), stack.logs()
    _check_email(message, due)
    assert datetime.now(ZoneInfo(ZONE)) >= due  # sent at its minute, not before
    # Routed as configured: the subscription fired on the default queue, the report was sent by the
    # reports worker.
    assert "Task reporting.tasks.run_subscription[" in stack.log("worker")
    assert "Task reporting.tasks.send_delivery[" in stack.log("reports-worker")
    assert "Task reporting.tasks.send_delivery[" not in stack.log("worker")


# --- The embedded default: manage.py serve, SQLite, eager tasks, beat thread --------------------------------


def test_the_embedded_default_delivers_a_due_subscription(deployments: dict[str, Due]) -> None:
    entry = deployments["embedded"]
    assert entry.stack is not None and entry.due is not None
    stack, due = entry.stack, entry.due

    def status_of() -> tuple[str, int, str] | None:
        with sqlite3.connect(stack.var_dir / "callboard.sqlite3", timeout=20) as db:
            row = db.execute(
                "SELECT status, attempts, last_error FROM reporting_reportdelivery WHERE subscription_id = ?",
                (entry.subscription_id,),
            ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    message, row = _wait_for_delivery(stack, status_of, due)
    assert row == ("sent", 1, ""), stack.logs()
    _check_email(message, due)
    assert datetime.now(ZoneInfo(ZONE)) >= due
    assert "Embedded Celery beat started" in stack.log("serve")
