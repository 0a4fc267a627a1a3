"""Import speed: 100,000 historical calls as CSV through the import's domain function.

Runnable alone (`.venv/bin/python -m benchmarks.imports`) and as `run()` from benchmarks/__main__.py.
Works in a scratch SQLite database under a temporary directory (never the project's own database).
Goal: at least 1,700 rows per second (100k rows in 60 s or less).
"""

from __future__ import annotations

import csv
import io
import random
import time
from datetime import UTC, datetime, timedelta

from benchmarks.scratch import scratch_django

ROWS = 100_000
GOAL_ROWS_PER_SECOND = 1_700
AGENTS = 5


def _setup_django() -> None:
    """A scratch database, unless Django is already set up (run() called from another benchmark)."""
    from django.apps import apps

    if not apps.ready:
        scratch_django("callboard-bench-imports-")


def make_csv(usernames: list[str], rows: int = ROWS, seed: int = 7) -> str:
    """Valid rows: mixed statuses and outcomes, numbers in several spellings, identifiers on most rows."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    columns = "agent phone_number started_at answered_at ended_at status outcome direction wrap_up_seconds notes"
    writer.writerow([*columns.split(), "external_id", "twilio_call_sid"])
    start = datetime(2025, 1, 1, 8, tzinfo=UTC)
    for n in range(rows):
        started = start + timedelta(seconds=n * 37)
        status = rng.choice(["completed", "completed", "completed", "no_answer", "busy", "failed", "dropped"])
        answered = started + timedelta(seconds=rng.randint(3, 30)) if status in ("completed", "dropped") else None
        ended = (answered or started) + timedelta(seconds=rng.randint(5, 600))
        number = 600_000_000 + rng.randint(0, 30_000)
        phone = f"+48{number}" if n % 3 else f"{number // 1000} {number % 1000:03d}"
        writer.writerow(
            [
                usernames[n % len(usernames)],
                phone,
                started.isoformat(),
                answered.isoformat() if answered else "",
                ended.isoformat(),
                status,
                rng.choice(["", "", "lead", "interested", "callback", "not_interested"]),
                "outbound" if n % 5 else "inbound",
                rng.randint(0, 90),
                "imported from the old dialler" if n % 10 == 0 else "",
                f"old-{n}" if n % 4 else "",
                f"CA{n:032x}" if n % 2 else "",
            ]
        )
    return out.getvalue()


def run() -> None:
    _setup_django()
    from calls.actions import do_import_calls
    from calls.imports import rows_from_csv
    from calls.models import CallLog
    from crm.models import User

    usernames = [f"bench_import_agent{i}" for i in range(1, AGENTS + 1)]
    for username in usernames:
        User.objects.get_or_create(username=username)
    CallLog.objects.filter(agent__username__in=usernames).delete()
    text = make_csv(usernames)
    print(f"Import of {ROWS:,} CSV rows ({len(text) / 1e6:.1f} MB), {AGENTS} agents:")

    start = time.perf_counter()
    result = do_import_calls(rows_from_csv(text))
    seconds = time.perf_counter() - start
    if result.errors or result.created != ROWS:
        raise SystemExit(f"the import did not create every row: {result.detail or result.as_dict()}")
    rate = ROWS / seconds
    verdict = "meets" if rate >= GOAL_ROWS_PER_SECOND else "MISSES"
    print(f"  first import:  {seconds:6.1f} s  {rate:8,.0f} rows/s  ({verdict} the goal of {GOAL_ROWS_PER_SECOND:,})")

    start = time.perf_counter()
    again = do_import_calls(rows_from_csv(text))
    seconds = time.perf_counter() - start
    print(
        f"  re-import:     {seconds:6.1f} s  {ROWS / seconds:8,.0f} rows/s  "
        f"(created {again.created}, updated {again.updated}, skipped {again.skipped})"
    )


if __name__ == "__main__":
    run()
