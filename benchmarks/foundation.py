"""Foundation figures: demo seeding and the admin pages on the seeded volume.

Seeds the default demo (12 agents × 30 days) into a scratch SQLite database under a temporary
directory, then times the admin pages staff use most on that volume. Record results in
docs/benchmarks.md with the machine and the date.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from functools import partial

from benchmarks.scratch import scratch_django


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), max(samples)


def run() -> None:
    scratch_django("callboard-bench-")
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client

    from calls.models import AgentStatusPeriod, CallLog
    from crm.models import Contact, Message, User

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    start = time.perf_counter()
    call_command("seed_demo", verbosity=0)
    seed_seconds = time.perf_counter() - start
    print(
        f"seed_demo (12 agents × 30 days): {seed_seconds:.1f} s  —  {CallLog.objects.count()} calls, "
        f"{AgentStatusPeriod.objects.count()} status periods, {Contact.objects.count()} contacts, "
        f"{Message.objects.count()} messages"
    )

    client = Client()
    client.force_login(User.objects.get(username="admin"))
    call = CallLog.objects.order_by("-started_at").first()
    if call is None:
        raise SystemExit("seed_demo created no calls")
    pages = {
        "admin call log, first page": "/admin/calls/calllog/",
        "admin call log, status filter": "/admin/calls/calllog/?status__exact=completed",
        "admin call log, search by phone": f"/admin/calls/calllog/?q={call.phone_number[1:]}",
        "admin call change page": f"/admin/calls/calllog/{call.pk}/change/",
        "admin contacts, first page": "/admin/crm/contact/",
        "admin status periods, first page": "/admin/calls/agentstatusperiod/",
        "admin conversations, first page": "/admin/crm/conversation/",
    }
    settings.DEBUG = True  # to count queries
    for label, url in pages.items():
        if client.get(url).status_code != 200:
            raise SystemExit(f"{url} did not answer 200")
        reset_queries()
        client.get(url)
        queries = len(connection.queries)
        median, worst = timed(partial(client.get, url), repeat=15)
        print(f"{label:36s} median {median * 1000:7.1f} ms   max {worst * 1000:7.1f} ms   {queries:3d} queries")

    start = time.perf_counter()
    call_command("backup_db", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    print(f"backup_db of the seeded database: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    run()
