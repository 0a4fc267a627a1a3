"""Analytics read path at scale: the agent's 12 stats and the seven CRM dashboard sections, read from
the rollups, against two naive implementations that count raw rows per request.

`.venv/bin/python -m benchmarks.analytics [--calls N --agents N --days N --requests N --rounds N]`
(defaults 1,000,000 calls, 200 agents, 365 days, 100 requests per figure in 5 rounds; env
BENCH_ANALYTICS_CALLS, _AGENTS, _DAYS, _REQUESTS, _ROUNDS override the defaults, BENCH_ANALYTICS_DB=sqlite
forces SQLite).

Builds: one subprocess per size (10,000 calls, then the full size; same agents and days), each on a
scratch database of its own made before Django starts (PostgreSQL `cb_bench_analytics_<pid>` when
127.0.0.1:5432 answers, with Redis db 10 as the cache when 127.0.0.1:6379 answers; otherwise SQLite in
a temporary directory). Each loads the dataset (COPY on PostgreSQL, batched `executemany` on SQLite),
runs VACUUM ANALYZE (PostgreSQL) and `manage.py rebuild_rollups`.

Timing: one subprocess times both databases in interleaved rounds (switching Django's connection
between them), so the machine's drift during the run falls on both sizes alike and the size ratio
compares like with like. Requests go through Django's test client with a session login (admin, and
one agent), the metric cache cleared before every request (computation) and then left warm (cached).

Baselines, each called as a function (no HTTP, which favours them): "seed" fetches the period's rows
and counts them in Python, as the seed's dashboards did; "sql" runs aggregates over the raw rows. The
≥ 50× target is judged against the seed baseline; the SQL ratio is printed beside it. A slow baseline
figure stops after NAIVE_BUDGET_S once it has NAIVE_MIN_SAMPLES. tests/test_bench_analytics.py checks
that both baselines give the API's numbers.

The parent drops the scratch databases, prints the size ratio and PASS/FAIL per target; a missed
target does not fail the process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

SMALL_CALLS = 10_000
SECTIONS = (
    "kpi",
    "conversation-effectiveness",
    "whatsapp-performance",
    "customer-load",
    "agent-productivity",
    "automation-impact",
    "business-impact",
)
TARGET_STATS_MS = 20.0
TARGET_SECTION_MS = 50.0
TARGET_SPEEDUP = 50.0
TARGET_SIZE_RATIO = 1.5
BATCH = 50_000
PG_HOST, PG_PORT, REDIS_PORT = "127.0.0.1", 5432, 6379


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value.replace("_", "")) if value else default


def _answers(port: int) -> bool:
    try:
        socket.create_connection((PG_HOST, port), timeout=2).close()
    except OSError:
        return False
    return True


# --- scratch database ------------------------------------------------------------------------------


def _admin_pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _scratch() -> dict[str, Any]:
    """A new, empty scratch database (PostgreSQL when it answers, else SQLite in a temporary directory):
    the environment that points Django at it, a label, and what `_drop` needs to remove it."""
    scratch = tempfile.mkdtemp(prefix="callboard-bench-analytics-")
    env = {"CALLBOARD_VAR_DIR": scratch}
    out: dict[str, Any] = {"env": env, "var_dir": scratch, "pg": None, "label": f"SQLite {scratch}/callboard.sqlite3"}
    if os.environ.get("BENCH_ANALYTICS_DB", "").lower() != "sqlite" and _answers(PG_PORT):
        database = f"cb_bench_analytics_{os.getpid()}"
        _admin_pg(f"DROP DATABASE IF EXISTS {database}")
        _admin_pg(f"CREATE DATABASE {database}")
        env["DATABASE_URL"] = f"postgres://postgres@{PG_HOST}:{PG_PORT}/{database}"
        out |= {"pg": database, "label": f"PostgreSQL {database}"}
        if _answers(REDIS_PORT):
            env |= {"REDIS_URL": f"redis://{PG_HOST}:{REDIS_PORT}/10", "CELERY_TASK_ALWAYS_EAGER": "true"}
            out["label"] += ", Redis db 10 cache"
    return out


def _drop(scratch: dict[str, Any]) -> None:
    import shutil

    if scratch["pg"]:
        _admin_pg(f"DROP DATABASE IF EXISTS {scratch['pg']} WITH (FORCE)")
    shutil.rmtree(scratch["var_dir"], ignore_errors=True)


def _setup_django(env: dict[str, str]) -> None:
    """Django on the scratch database that `env` points at (from `_scratch`)."""
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collected static here
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.update(ALLOWED_HOSTS="testserver,127.0.0.1,localhost", API_THROTTLE_RATE="100000000/hour")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(env)
    import django

    django.setup()


# --- dataset ---------------------------------------------------------------------------------------


class Loader:
    """Buffers rows per table and writes them in large batches: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        self.postgres = connection.vendor == "postgresql"
        self.buffers: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {}
        self.counts: dict[str, int] = {}

    def add(self, table: str, columns: tuple[str, ...], row: tuple[Any, ...]) -> None:
        buffer = self.buffers.setdefault(table, (columns, []))[1]
        buffer.append(row)
        if len(buffer) >= BATCH:
            self.flush()  # every table, in the order they were first added: parents before children

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.buffers):
            columns, rows = self.buffers[name]
            if rows:
                self._write(name, columns, rows)
                self.counts[name] = self.counts.get(name, 0) + len(rows)
                rows.clear()

    def _write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        with self.connection.cursor() as cursor:
            if self.postgres:
                raw = cursor.cursor
                with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                # every generated datetime is in UTC: Django's SQLite format is the naive UTC text
                adapted = [
                    tuple(str(v.replace(tzinfo=None)) if isinstance(v, datetime) else v for v in row) for row in rows
                ]
                marks = ", ".join(["%s"] * len(columns))
                # table and column names are this module's constants, values are parameters
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
                cursor.executemany(sql, adapted)

    def finish(self) -> None:
        from django.core.management.color import no_style

        self.flush()
        if self.postgres:
            from django.apps import apps

            sql = self.connection.ops.sequence_reset_sql(no_style(), apps.get_models())
            with self.connection.cursor() as cursor:
                for statement in sql:
                    cursor.execute(statement)


CALL_COLUMNS = [
    "id",
    "agent_id",
    "contact_id",
    "campaign_id",
    "phone_number",
    "direction",
    "status",
    "outcome",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_seconds",
    "wrap_up_seconds",
    "disposition_at",
    "business_reason",
    "notes",
    "price_unit",
    "source",
    "created_at",
    "updated_at",
]
PERIOD_COLUMNS = ("agent_id", "status", "reason", "started_at", "ended_at", "source")
SESSION_COLUMNS = ("agent_id", "started_at", "ended_at", "end_reason", "source")
STATUS_WEIGHTS = (("completed", 55), ("no_answer", 20), ("busy", 8), ("failed", 5), ("dropped", 12))
OUTCOMES = ("lead", "interested", "not_interested", "callback", "wrong_number", "other", "", "")
MSG_STATUS_WEIGHTS = (("read", 50), ("delivered", 25), ("sent", 12), ("failed", 5), ("undelivered", 3), ("queued", 5))


def _weighted(rng: random.Random, weights: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weights], [w[1] for w in weights])[0]


def _outbound_status(rng: random.Random, moment: datetime, now: datetime) -> str:
    """A drawn status, except that only the last few minutes' messages can still wait in the queue
    (Twilio takes a queued message within seconds; older ones were sent)."""
    status = _weighted(rng, MSG_STATUS_WEIGHTS)
    return "sent" if status == "queued" and moment < now - timedelta(minutes=5) else status


def build_dataset(calls: int, agents: int, days: int, seed: int = 5) -> dict[str, Any]:
    """Users, teams, campaigns, contacts, calls, status timelines, sessions, conversations, messages,
    lead status changes. Returns the ids the timing needs."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from crm.models import Campaign, Role, Team, User
    from crm.periods import local_date, local_midnight

    rng = random.Random(seed)
    now = timezone.now()
    today = local_date(now)
    first_day = today - timedelta(days=days - 1)
    range_start = local_midnight(first_day).astimezone(UTC)
    loader = Loader()
    unusable = make_password(None)

    admin = User.objects.create(username="bench_admin", role=Role.ADMIN, password=unusable)
    supervisor = User.objects.create(username="bench_supervisor", role=Role.SUPERVISOR, password=unusable)
    User.objects.bulk_create(
        [User(username=f"bench_agent_{n:04d}", role=Role.AGENT, password=unusable) for n in range(agents)],
        batch_size=1000,
    )
    agent_ids = list(User.objects.filter(role=Role.AGENT).order_by("pk").values_list("pk", flat=True))
    teams = [Team.objects.create(name=f"Team {n}") for n in range(math.ceil(agents / 10))]
    for n, team in enumerate(teams):
        team.members.add(*agent_ids[n * 10 : n * 10 + 10])
    teams[0].supervisors.add(supervisor)
    campaigns = [
        Campaign.objects.create(name=f"Campaign {n}", is_active=n < 8, team=teams[n % len(teams)]) for n in range(10)
    ]
    membership = Campaign.members.through
    membership.objects.bulk_create(
        [membership(campaign_id=c.pk, user_id=a) for a in agent_ids for c in rng.sample(campaigns, 3)]
    )
    campaign_ids = [c.pk for c in campaigns]

    # contacts and their lead status history
    contact_count = max(500, calls // 20)
    contact_agent: dict[int, int] = {}
    contact_created: dict[int, datetime] = {}
    span = (now - range_start).total_seconds()
    change_columns = ("contact_id", "from_status", "to_status", "changed_at", "changed_by_id", "note")
    for cid in range(1, contact_count + 1):
        created = range_start + timedelta(seconds=rng.random() * span)
        agent = rng.choice(agent_ids)
        contact_agent[cid], contact_created[cid] = agent, created
        path = ["new"]
        for step, chance in (("contacted", 0.5), ("qualified", 0.4), ("converted", 0.35)):
            if rng.random() >= chance:
                if rng.random() < 0.3:
                    path.append("lost")
                break
            path.append(step)
        moment, status = created, "new"
        changes = [(cid, "", "new", created, None, "")]
        for nxt in path[1:]:
            moment += timedelta(seconds=rng.randint(3_600, 10 * 86_400))
            if moment >= now:
                break
            changes.append((cid, status, nxt, moment, agent, ""))
            status = nxt
        loader.add(
            "crm_contact",
            (
                "id",
                "name",
                "phone",
                "email",
                "company",
                "assigned_agent_id",
                "campaign_id",
                "lead_status",
                "lead_status_changed_at",
                "business_reason",
                "notes",
                "created_at",
                "updated_at",
            ),
            (
                cid,
                f"Contact {cid}",
                f"+48{500_000_000 + cid}",
                "",
                "",
                agent,
                rng.choice(campaign_ids),
                status,
                changes[-1][3],
                "rescheduled" if rng.random() < 0.15 else rng.choice(["", "interested", "not_interested"]),
                "",
                created,
                now,
            ),
        )
        for change in changes:
            loader.add("crm_leadstatuschange", change_columns, change)
    loader.flush()

    # calls and the gap-free state timeline, agent by agent, working day by working day
    work_days = [first_day + timedelta(days=n) for n in range(days) if (first_day + timedelta(days=n)).weekday() < 5]
    slots = len(work_days) * len(agent_ids)
    per_slot = [calls // slots] * slots
    for slot in rng.sample(range(slots), calls % slots):
        per_slot[slot] += 1
    contacts_of: dict[int, list[int]] = {}
    for cid, agent in contact_agent.items():
        contacts_of.setdefault(agent, []).append(cid)
    call_id = 0
    slot = 0
    for agent in agent_ids:
        timeline: list[tuple[str, str, datetime]] = [("offline", "", range_start)]
        sessions: list[tuple[datetime, datetime]] = []
        agent_calls: list[list[Any]] = []
        mine = contacts_of.get(agent) or [1]
        for day in work_days:
            count = per_slot[slot]
            slot += 1
            day_start = local_midnight(day).astimezone(UTC)
            t = day_start + timedelta(hours=8, seconds=rng.randint(0, 5_400))
            shift_end = t + timedelta(hours=8)
            login = t
            timeline.append(("available", "", t))
            mean_gap = max(10.0, (8 * 3_600 - count * 170) / max(count, 1))
            lunch_at = count // 2
            for n in range(count):
                if n == lunch_at:
                    t += timedelta(seconds=rng.randint(60, 900))
                    timeline.append(("break", "lunch", t))
                    t += timedelta(seconds=rng.randint(1_800, 2_700))
                    timeline.append(("available", "", t))
                elif rng.random() < 0.03:
                    t += timedelta(seconds=rng.randint(30, 300))
                    timeline.append(("away", "", t))
                    t += timedelta(seconds=rng.randint(120, 900))
                    timeline.append(("available", "", t))
                t += timedelta(seconds=min(int(rng.expovariate(1 / mean_gap)) + 5, 3_600))
                status = _weighted(rng, STATUS_WEIGHTS)
                ring = rng.randint(3, 30)
                answered = t + timedelta(seconds=ring) if status in ("completed", "dropped") else None
                talk = rng.randint(10, 600) if answered else 0
                ended = (answered + timedelta(seconds=talk)) if answered else t + timedelta(seconds=ring)
                wrap = rng.randint(5, 90)
                outcome = rng.choice(OUTCOMES) if status == "completed" else rng.choice(("", "", "voicemail"))
                call_id += 1
                agent_calls.append([call_id, t, answered, ended, status, outcome, talk, wrap, rng.choice(mine)])
                timeline.append(("on_call", "", t))
                timeline.append(("wrap_up", "", ended))
                t = ended + timedelta(seconds=wrap)
                timeline.append(("available", "", t))
            if count == 0:
                timeline.append(("break", "lunch", t + timedelta(hours=4)))
                timeline.append(("available", "", t + timedelta(hours=4, minutes=40)))
            t = max(t + timedelta(seconds=rng.randint(30, 600)), shift_end)
            timeline.append(("offline", "", t))
            sessions.append((login, t))
        _write_agent(loader, agent, timeline, sessions, agent_calls, now, campaign_ids, rng)
    loader.flush()

    conversations, messages = _write_conversations(loader, calls, agent_ids, contact_created, campaign_ids, now, rng)
    loader.finish()
    counts = dict(loader.counts)
    counts["conversations"], counts["messages"] = conversations, messages
    return {
        "admin": admin.pk,
        "supervisor": supervisor.pk,
        "agent": agent_ids[0],
        "agents": agent_ids,
        "counts": counts,
        "today": today.isoformat(),
    }


def _write_agent(
    loader: Loader,
    agent: int,
    timeline: list[tuple[str, str, datetime]],
    sessions: list[tuple[datetime, datetime]],
    agent_calls: list[list[Any]],
    now: datetime,
    campaign_ids: list[int],
    rng: random.Random,
) -> None:
    """Write one agent's rows, cut at "now": what starts later is dropped, what spans now stays open."""
    for n, (status, reason, start) in enumerate(timeline):
        if start >= now:
            break
        end = timeline[n + 1][2] if n + 1 < len(timeline) else None
        if end is not None and end >= now:
            end = None
        if end is not None and end == start:
            continue
        loader.add("calls_agentstatusperiod", PERIOD_COLUMNS, (agent, status, reason, start, end, "import"))
        if end is None:
            break
    for start, end in sessions:
        if start >= now:
            break
        loader.add(
            "calls_agentsession",
            SESSION_COLUMNS,
            (agent, start, end if end < now else None, "logout" if end < now else "", "import"),
        )
    for cid, started, answered, ended, status, outcome, talk, wrap, contact in agent_calls:
        if started >= now:
            break
        disposition: datetime | None = ended + timedelta(seconds=wrap)
        if ended >= now:  # the call in progress right now
            status, outcome, ended, talk, wrap, disposition = "in_progress", "", None, 0, 0, None
            answered = answered if answered and answered < now else None
        elif disposition and disposition >= now:
            wrap, disposition = 0, None
        loader.add(
            "calls_calllog",
            tuple(CALL_COLUMNS),
            (
                cid,
                agent,
                contact,
                rng.choice(campaign_ids),
                f"+48{500_000_000 + contact}",
                "outbound" if cid % 5 else "inbound",
                status,
                outcome,
                started,
                answered,
                ended,
                talk,
                wrap,
                disposition,
                "",
                "",
                "",
                "import",
                started,
                now,
            ),
        )


def _write_conversations(
    loader: Loader,
    calls: int,
    agent_ids: list[int],
    contact_created: dict[int, datetime],
    campaign_ids: list[int],
    now: datetime,
    rng: random.Random,
) -> tuple[int, int]:
    """Conversations contact by contact (a later one starts after the earlier is resolved, so at most one
    is open), with their messages: some bot-first (half of those escalated), first responses, resolutions."""
    conv_columns = [
        "id",
        "contact_id",
        "channel",
        "campaign_id",
        "assigned_agent_id",
        "status",
        "priority",
        "our_number",
        "created_at",
        "updated_at",
        "last_message_at",
        "handled_by_bot_first",
        "escalated_to_human",
        "escalated_at",
        "first_response_at",
        "first_response_by_id",
        "resolved_at",
        "resolved_by_id",
        "reopened_count",
        "csat_score",
        "csat_received_at",
        "is_returning",
    ]
    msg_columns = [
        "conversation_id",
        "contact_id",
        "direction",
        "author_type",
        "agent_id",
        "body",
        "intent",
        "media_count",
        "status",
        "error_message",
        "price_unit",
        "created_at",
        "updated_at",
    ]
    target = max(200, calls // 10)
    conv_id = messages = 0
    contacts = list(contact_created)
    rng.shuffle(contacts)
    resume: dict[int, datetime | None] = {}  # a contact's next conversation, None once one stays open
    for contact in contacts * 10:  # later passes (few contacts) carry on each contact's history
        if conv_id >= target:
            break
        if contact in resume and resume[contact] is None:
            continue
        at = resume.get(contact) or contact_created[contact] + timedelta(seconds=rng.expovariate(1 / 86_400))
        returning = contact in resume
        while at < now and conv_id < target:
            conv_id += 1
            agent = rng.choice(agent_ids)
            bot_first = rng.random() < 0.4
            escalated = bot_first and rng.random() < 0.5
            human = not bot_first or escalated
            thread: list[tuple[datetime, str, str]] = [(at, "inbound", "customer")]
            t = at
            escalated_at = None
            if bot_first:
                t += timedelta(seconds=rng.randint(1, 5))
                thread.append((t, "outbound", "bot"))
                if escalated:
                    t += timedelta(seconds=rng.randint(30, 600))
                    escalated_at = t
            if human:
                for _ in range(rng.randint(1, 3)):
                    t += timedelta(seconds=int(rng.expovariate(1 / 240)) + 5)
                    thread.append((t, "outbound", "agent"))
                    t += timedelta(seconds=rng.randint(30, 1_800))
                    thread.append((t, "inbound", "customer"))
            resolved_at = t + timedelta(seconds=rng.randint(60, 7_200))
            thread = [m for m in thread if m[0] < now]
            if escalated_at and escalated_at >= now:
                escalated, escalated_at = False, None
            first_response = next((m[0] for m in thread if m[2] == "agent"), None)
            stays_open = resolved_at >= now or rng.random() < 0.05
            status = rng.choice(("open", "pending")) if stays_open else "resolved"
            loader.add(
                "crm_conversation",
                tuple(conv_columns),
                (
                    conv_id,
                    contact,
                    "whatsapp",
                    rng.choice(campaign_ids),
                    agent if human else None,
                    status,
                    rng.choice(("low", "normal", "normal", "high", "urgent")),
                    "",
                    at,
                    now,
                    thread[-1][0],
                    bot_first,
                    escalated,
                    escalated_at,
                    first_response,
                    agent if first_response else None,
                    None if stays_open else resolved_at,
                    None if stays_open or not human else agent,
                    0,
                    rng.randint(1, 5) if not stays_open and rng.random() < 0.3 else None,
                    None,
                    returning,
                ),
            )
            for moment, direction, author in thread:
                messages += 1
                loader.add(
                    "crm_message",
                    tuple(msg_columns),
                    (
                        conv_id,
                        contact,
                        direction,
                        author,
                        agent if author == "agent" else None,
                        "benchmark message",
                        "",
                        0,
                        "received" if direction == "inbound" else _outbound_status(rng, moment, now),
                        "",
                        "",
                        moment,
                        moment,
                    ),
                )
            if stays_open:
                resume[contact] = None
                break
            returning = True
            at = resume[contact] = resolved_at + timedelta(seconds=rng.expovariate(1 / (20 * 86_400)))
    return conv_id, messages


# --- timing ----------------------------------------------------------------------------------------


def _quantiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000, "n": len(samples)}


def _time(
    call: Callable[[], Any], requests: int, before: Callable[[], None] | None = None, budget_s: float | None = None
) -> list[float]:
    """`requests` timings of `call` (seconds); with `budget_s`, fewer (at least NAIVE_MIN_SAMPLES) once the
    budget is spent."""
    samples: list[float] = []
    spent = 0.0
    for _ in range(requests):
        if budget_s is not None and spent > budget_s and len(samples) >= NAIVE_MIN_SAMPLES:
            break
        if before:
            before()
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
        spent += samples[-1]
    return samples


def _endpoint_variants(ids: dict[str, Any], past: date) -> list[tuple[str, str, str]]:
    """(label, user role, url) for every figure."""
    agent = ids["agent"]
    variants = [
        ("stats today (agent)", "agent", "/api/crm/dashboard/stats"),
        (f"stats {past} (agent)", "agent", f"/api/crm/dashboard/stats?date={past}"),
        ("stats today (admin, agent_id)", "admin", f"/api/crm/dashboard/stats?agent_id={agent}"),
        (f"stats {past} (admin, agent_id)", "admin", f"/api/crm/dashboard/stats?date={past}&agent_id={agent}"),
    ]
    for section in SECTIONS:
        for role in ("admin", "agent"):
            for range_ in ("month", "week"):
                variants.append((f"{section} {range_} ({role})", role, f"/api/dashboard/{section}?dateRange={range_}"))
    return variants


def use_database(build: dict[str, Any]) -> None:
    """Point Django's default connection at `build`'s scratch database (same schema) and empty the cache."""
    from django.core.cache import cache
    from django.db import connections

    connection = connections["default"]
    connection.close()
    connection.settings_dict["NAME"] = build["name"]
    cache.clear()


def time_endpoints(builds: list[dict[str, Any]], requests: int, rounds: int) -> list[dict[str, Any]]:
    """Every figure for every database, interleaved: `rounds` rounds, each timing requests/rounds requests
    of every figure on each database in turn (the order flipping every round), so that the machine's
    drift during the run touches each size alike and the size ratio compares like with like."""
    from django.core.cache import cache
    from django.test import Client
    from django.urls import Resolver404, resolve

    from crm.models import User

    results: list[dict[str, Any]] = []
    clients: list[dict[str, Client]] = []
    samples: list[dict[str, dict[str, list[float]]]] = []
    for build in builds:
        use_database(build)
        ids = build["ids"]
        per_role = {}
        for role in ("admin", "agent"):
            client = Client()
            client.force_login(User.objects.get(pk=ids[role]))  # the session lives in this database
            per_role[role] = client
        clients.append(per_role)
        results.append({"uncached": {}, "cached": {}, "missing": [], "errors": {}})
        samples.append({"uncached": {}, "cached": {}})
    per_round = max(2, requests // rounds)
    for round_ in range(rounds):
        order = list(range(len(builds)))
        if round_ % 2:
            order.reverse()
        for n in order:
            build, result = builds[n], results[n]
            use_database(build)
            past = _past_workday(date.fromisoformat(build["ids"]["today"]))
            for label, role, url in _endpoint_variants(build["ids"], past):
                path = url.split("?")[0]
                try:
                    resolve(path)
                except Resolver404:
                    if path not in result["missing"]:
                        result["missing"].append(path)
                    continue
                if label in result["errors"]:
                    continue
                client = clients[n][role]
                response = client.get(url)
                if response.status_code != 200:
                    result["errors"][label] = f"{response.status_code} {response.content[:300]!r}"
                    continue
                client.get(url)

                def get(client: Client = client, url: str = url) -> None:
                    client.get(url)

                uncached = _time(get, per_round, before=cache.clear)
                samples[n]["uncached"].setdefault(label, []).extend(uncached)
                get()
                samples[n]["cached"].setdefault(label, []).extend(_time(get, per_round))
            print(f"    round {round_ + 1}/{rounds}, {build['calls']:,} calls: timed", flush=True)
    for result, timed in zip(results, samples, strict=True):
        for kind in ("uncached", "cached"):
            result[kind] = {label: _quantiles(values) for label, values in timed[kind].items()}
    return results


def _past_workday(today: date) -> date:
    day = today - timedelta(days=7)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


# --- the naive implementation (raw rows per request, as the seed did) ------------------------------


def _agent_filter(column: str, agent_ids: frozenset[int] | None) -> tuple[str, list[Any]]:
    if agent_ids is None:
        return "", []
    return f" AND {column} IN ({', '.join(['%s'] * len(agent_ids))})", sorted(agent_ids)


def _clipped_seconds(
    table: str, start: datetime, end: datetime, now: datetime, agent_ids: frozenset[int] | None, by: str = ""
) -> dict[Any, float]:
    """Σ seconds of the intervals overlapping [start, end), clipped in SQL (open ones until now), grouped by
    `by` columns (e.g. "agent_id, status")."""
    from django.db import connection

    where, params = _agent_filter("agent_id", agent_ids)
    if connection.vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM LEAST(COALESCE(ended_at, %s), %s) - GREATEST(started_at, %s))"
        bounds: list[Any] = [now, end, start]
    else:
        seconds = "(julianday(MIN(COALESCE(ended_at, %s), %s)) - julianday(MAX(started_at, %s))) * 86400"
        bounds = [str(v.astimezone(UTC).replace(tzinfo=None)) for v in (now, end, start)]
        start_s, end_s = bounds[2], bounds[1]
    group = f", {by}" if by else ""
    # table and column names are this module's constants, values are parameters
    sql = (
        f"SELECT SUM({seconds}){group} FROM {table} WHERE (ended_at IS NULL OR ended_at > %s) "  # noqa: S608
        f"AND started_at < %s{where}" + (f" GROUP BY {by}" if by else "")
    )
    edge = [start, end] if connection.vendor == "postgresql" else [start_s, end_s]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*bounds, *edge, *params])
        rows = cursor.fetchall()
    return {tuple(row[1:]) if by else (): float(row[0] or 0) for row in rows}


def naive_stats(agent_id: int, day: date) -> dict[str, Any]:
    from django.db.models import Count, Q, Sum
    from django.utils import timezone

    from calls.models import CallLog
    from crm.models import Campaign, Contact
    from crm.periods import local_day_bounds

    start, end = local_day_bounds(day)
    now = timezone.now()
    calls = CallLog.objects.filter(agent_id=agent_id, started_at__gte=start, started_at__lt=end).aggregate(
        total=Count("id"),
        leads=Count("id", filter=Q(outcome="lead")),
        connected=Count("id", filter=Q(duration_seconds__gt=0)),
        missed=Count("id", filter=Q(status="no_answer")),
        talk=Sum("duration_seconds"),
    )
    states = _clipped_seconds("calls_agentstatusperiod", start, end, now, frozenset({agent_id}), by="status")
    logged = _clipped_seconds("calls_agentsession", start, end, now, frozenset({agent_id}))
    contacts = Contact.objects.filter(assigned_agent_id=agent_id).aggregate(
        total=Count("id"), rescheduled=Count("id", filter=Q(business_reason="rescheduled"))
    )
    talk = calls["talk"] or 0
    return {
        "leads_today": calls["leads"],
        "calls_connected_today": calls["connected"],
        "calls_total_today": calls["total"],
        "calls_missed_today": calls["missed"],
        "total_call_time_today": talk,
        "average_call_time_today": round(talk / calls["connected"], 1) if calls["connected"] else 0.0,
        "total_work_time_today": round(sum(states.get((s,), 0) for s in ("available", "on_call", "wrap_up"))),
        "total_logged_time_today": round(logged.get((), 0)),
        "total_break_time_today": round(states.get(("break",), 0)),
        "total_contacts": contacts["total"],
        "total_rescheduled": contacts["rescheduled"],
        "active_campaigns": Campaign.objects.filter(members=agent_id, is_active=True).count(),
    }


TIMES = ("created_at", "escalated_at", "first_response_at", "resolved_at")


def _conversation_figures(rows: Any) -> dict[str, Any]:
    """FRT, SLA, resolution from the period's conversations' TIMES rows (computed row by row)."""
    from django.conf import settings

    frt, within, resolution = [], 0, []
    for created, escalated, first, resolved in rows:
        if first is not None:
            seconds = (first - max(created, escalated or created)).total_seconds()
            frt.append(seconds)
            within += seconds <= settings.SLA_FIRST_RESPONSE_SECONDS
        if resolved is not None:
            resolution.append((resolved - created).total_seconds())
    return {
        "frt": sum(frt) / len(frt) if frt else 0.0,
        "sla": within / len(frt) * 100 if frt else 0.0,
        "resolution": sum(resolution) / len(resolution) if resolution else 0.0,
        "resolved": len(resolution),
    }


def naive_section(section: str, agent_ids: frozenset[int] | None, start: datetime, end: datetime) -> dict[str, Any]:
    """The section's main figures for [start, end) from raw rows."""
    from django.db.models import Avg, Count, Q, Sum
    from django.db.models.functions import TruncHour
    from django.utils import timezone

    from calls.models import CallLog
    from crm.models import Contact, Conversation, LeadStatusChange, Message

    now = timezone.now()
    conv = Conversation.objects.filter(created_at__gte=start, created_at__lt=end)
    msgs = Message.objects.filter(created_at__gte=start, created_at__lt=end)
    calls = CallLog.objects.filter(started_at__gte=start, started_at__lt=end)
    contacts = Contact.objects.all()
    if agent_ids is not None:
        conv = conv.filter(assigned_agent_id__in=agent_ids)
        msgs = msgs.filter(conversation__assigned_agent_id__in=agent_ids)
        calls = calls.filter(agent_id__in=agent_ids)
        contacts = contacts.filter(assigned_agent_id__in=agent_ids)
    out: dict[str, Any] = {}
    if section == "kpi":
        out = conv.aggregate(total=Count("id"), csat=Avg("csat_score"))
        out |= _conversation_figures(conv.values_list(*TIMES))
        out["open"] = list(
            Conversation.objects.filter(
                Q(resolved_at__isnull=True) | Q(resolved_at__gte=end),
                created_at__lt=end,
                status__in=("open", "pending"),
            )
            .filter(**({"assigned_agent_id__in": agent_ids} if agent_ids is not None else {}))
            .values("priority")
            .annotate(n=Count("id"))
        )
        out |= calls.aggregate(calls=Count("id"), connected=Count("id", filter=Q(duration_seconds__gt=0)))
    elif section == "conversation-effectiveness":
        out = _conversation_figures(conv.values_list(*TIMES)) | conv.aggregate(
            total=Count("id"), reopened=Sum("reopened_count")
        )
    elif section == "whatsapp-performance":
        out["funnel"] = list(msgs.filter(direction="outbound").values("status").annotate(n=Count("id")))
        out |= msgs.aggregate(inbound=Count("id", filter=Q(direction="inbound")))
    elif section == "customer-load":
        out["by_hour"] = list(conv.annotate(h=TruncHour("created_at")).values("h").annotate(n=Count("id")))
        out |= conv.aggregate(total=Count("id"), returning=Count("id", filter=Q(is_returning=True)))
        out["open"] = list(conv.filter(status__in=("open", "pending")).values("priority").annotate(n=Count("id")))
    elif section == "agent-productivity":
        out["calls"] = list(
            calls.values("agent_id").annotate(
                n=Count("id"),
                ok=Count("id", filter=Q(status="completed")),
                talk=Sum("duration_seconds"),
                wrap=Sum("wrap_up_seconds"),
            )
        )
        out["states"] = _clipped_seconds("calls_agentstatusperiod", start, end, now, agent_ids, by="agent_id, status")
        out["chats"] = list(conv.values("assigned_agent_id").annotate(n=Count("id")))
        out["messages"] = list(msgs.filter(author_type="agent").values("agent_id").annotate(n=Count("id")))
    elif section == "automation-impact":
        out = conv.aggregate(
            bot=Count("id", filter=Q(handled_by_bot_first=True)),
            escalated=Count("id", filter=Q(handled_by_bot_first=True, escalated_to_human=True)),
            by_bot=Count("id", filter=Q(status="resolved", first_response_at__isnull=True)),
            total=Count("id"),
        )
        out |= msgs.aggregate(bot_messages=Count("id", filter=Q(author_type="bot")))
    elif section == "business-impact":
        out = calls.aggregate(leads=Count("id", filter=Q(outcome="lead")))
        changes = LeadStatusChange.objects.filter(changed_at__gte=start, changed_at__lt=end)
        if agent_ids is not None:
            changes = changes.filter(contact__assigned_agent_id__in=agent_ids)
        out |= changes.aggregate(converted=Count("id", filter=Q(to_status="converted")))
        out |= contacts.filter(created_at__gte=start, created_at__lt=end).aggregate(new_contacts=Count("id"))
        out |= conv.aggregate(csat=Avg("csat_score"))
    return out


# --- the seed-style implementation: fetch the raw rows, count them in Python ------------------------


def _clip(rows: Any, start: datetime, end: datetime, now: datetime) -> Iterator[tuple[Any, float]]:
    """(key, seconds inside [start, end)) of (key, started_at, ended_at) rows; open ones run until now."""
    for key, started, ended in rows:
        seconds = (min(ended or now, end) - max(started, start)).total_seconds()
        if seconds > 0:
            yield key, seconds


def _overlapping(model: Any, start: datetime, end: datetime) -> Any:
    from django.db.models import Q

    return model.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start), started_at__lt=end)


def seed_stats(agent_id: int, day: date) -> dict[str, Any]:
    """The 12 stats the way the seed's dashboard computed them: the day's rows fetched, counted in Python."""
    from django.utils import timezone

    from calls.models import AgentSession, AgentStatusPeriod, CallLog
    from crm.models import Campaign, Contact
    from crm.periods import local_day_bounds

    start, end = local_day_bounds(day)
    now = timezone.now()
    calls = CallLog.objects.filter(agent_id=agent_id, started_at__gte=start, started_at__lt=end)
    total = leads = connected = missed = talk = 0
    for status, outcome, duration in calls.values_list("status", "outcome", "duration_seconds"):
        total += 1
        leads += outcome == "lead"
        missed += status == "no_answer"
        if duration:
            connected += 1
            talk += duration
    state: dict[str, float] = {}
    periods = _overlapping(AgentStatusPeriod, start, end).filter(agent_id=agent_id)
    for status, seconds in _clip(periods.values_list("status", "started_at", "ended_at"), start, end, now):
        state[status] = state.get(status, 0) + seconds
    sessions = _overlapping(AgentSession, start, end).filter(agent_id=agent_id)
    logged = sum(seconds for _, seconds in _clip(sessions.values_list("pk", "started_at", "ended_at"), start, end, now))
    reasons = list(Contact.objects.filter(assigned_agent_id=agent_id).values_list("business_reason", flat=True))
    return {
        "leads_today": leads,
        "calls_connected_today": connected,
        "calls_total_today": total,
        "calls_missed_today": missed,
        "total_call_time_today": talk,
        "average_call_time_today": round(talk / connected, 1) if connected else 0.0,
        "total_work_time_today": round(sum(state.get(s, 0) for s in ("available", "on_call", "wrap_up"))),
        "total_logged_time_today": round(logged),
        "total_break_time_today": round(state.get("break", 0)),
        "total_contacts": len(reasons),
        "total_rescheduled": reasons.count("rescheduled"),
        "active_campaigns": len(list(Campaign.objects.filter(members=agent_id, is_active=True))),
    }


def _tally(rows: Any) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for row in rows:
        counts[row] = counts.get(row, 0) + 1
    return counts


def seed_section(section: str, agent_ids: frozenset[int] | None, start: datetime, end: datetime) -> dict[str, Any]:
    """The section's main figures for [start, end) the way the seed computed them: the period's raw rows
    fetched (only the columns needed, which favours it) and counted in Python."""
    from django.db.models import Q
    from django.utils import timezone

    from calls.models import AgentStatusPeriod, CallLog
    from crm.models import Contact, Conversation, LeadStatusChange, Message

    now = timezone.now()
    conv = Conversation.objects.filter(created_at__gte=start, created_at__lt=end)
    msgs = Message.objects.filter(created_at__gte=start, created_at__lt=end)
    calls = CallLog.objects.filter(started_at__gte=start, started_at__lt=end)
    if agent_ids is not None:
        conv = conv.filter(assigned_agent_id__in=agent_ids)
        msgs = msgs.filter(conversation__assigned_agent_id__in=agent_ids)
        calls = calls.filter(agent_id__in=agent_ids)
    out: dict[str, Any] = {}
    if section in ("kpi", "conversation-effectiveness", "customer-load", "automation-impact", "business-impact"):
        rows = list(
            conv.values_list(
                *TIMES,
                "csat_score",
                "status",
                "priority",
                "reopened_count",
                "is_returning",
                "handled_by_bot_first",
                "escalated_to_human",
            )
        )
        out["total"] = len(rows)
        scores = [row[4] for row in rows if row[4] is not None]
        out["csat"] = sum(scores) / len(scores) if scores else None
        if section in ("kpi", "conversation-effectiveness"):
            out |= _conversation_figures(row[:4] for row in rows)
            out["reopened"] = sum(row[7] for row in rows)
        if section == "customer-load":
            out["by_hour"] = _tally(row[0].replace(minute=0, second=0, microsecond=0) for row in rows)
            out["returning"] = sum(1 for row in rows if row[8])
            out["open"] = _tally(row[6] for row in rows if row[5] in ("open", "pending"))
        if section == "automation-impact":
            out["bot"] = sum(1 for row in rows if row[9])
            out["escalated"] = sum(1 for row in rows if row[9] and row[10])
            out["by_bot"] = sum(1 for row in rows if row[5] == "resolved" and row[2] is None)
            out["bot_messages"] = sum(1 for author in msgs.values_list("author_type", flat=True) if author == "bot")
    if section == "kpi":
        open_at_end = Conversation.objects.filter(
            Q(resolved_at__isnull=True) | Q(resolved_at__gte=end), created_at__lt=end, status__in=("open", "pending")
        )
        if agent_ids is not None:
            open_at_end = open_at_end.filter(assigned_agent_id__in=agent_ids)
        out["open"] = _tally(open_at_end.values_list("priority", flat=True))
        call_rows = list(calls.values_list("duration_seconds", flat=True))
        out["calls"], out["connected"] = len(call_rows), sum(1 for seconds in call_rows if seconds)
    elif section == "whatsapp-performance":
        rows = list(msgs.values_list("direction", "status"))
        out["funnel"] = _tally(status for direction, status in rows if direction == "outbound")
        out["inbound"] = sum(1 for direction, _ in rows if direction == "inbound")
    elif section == "agent-productivity":
        per_agent: dict[int, list[int]] = {}
        for agent, status, talk, wrap in calls.values_list("agent_id", "status", "duration_seconds", "wrap_up_seconds"):
            figures = per_agent.setdefault(agent, [0, 0, 0, 0])
            figures[0] += 1
            figures[1] += status == "completed"
            figures[2] += talk
            figures[3] += wrap
        out["calls"] = per_agent
        periods = _overlapping(AgentStatusPeriod, start, end)
        if agent_ids is not None:
            periods = periods.filter(agent_id__in=agent_ids)
        states: dict[tuple[int, str], float] = {}
        spans = periods.values_list("agent_id", "status", "started_at", "ended_at")
        keyed = (((agent, status), begun, ended) for agent, status, begun, ended in spans)
        for key, seconds in _clip(keyed, start, end, now):
            states[key] = states.get(key, 0) + seconds
        out["states"] = states
        out["chats"] = _tally(conv.values_list("assigned_agent_id", flat=True))
        out["messages"] = _tally(msgs.filter(author_type="agent").values_list("agent_id", flat=True))
    elif section == "business-impact":
        out["leads"] = sum(1 for outcome in calls.values_list("outcome", flat=True) if outcome == "lead")
        changes = LeadStatusChange.objects.filter(changed_at__gte=start, changed_at__lt=end)
        contacts = Contact.objects.filter(created_at__gte=start, created_at__lt=end)
        if agent_ids is not None:
            changes = changes.filter(contact__assigned_agent_id__in=agent_ids)
            contacts = contacts.filter(assigned_agent_id__in=agent_ids)
        out["converted"] = sum(1 for status in changes.values_list("to_status", flat=True) if status == "converted")
        out["new_contacts"] = len(list(contacts.values_list("pk", flat=True)))
    return out


NAIVE_KINDS = {
    "seed": "seed-style (the period's rows fetched and counted in Python)",
    "sql": "SQL aggregates over the raw rows",
}
NAIVE_BUDGET_S = 8.0  # per figure: stop after this long once NAIVE_MIN_SAMPLES are in
NAIVE_MIN_SAMPLES = 10


def time_naive(ids: dict[str, Any], requests: int) -> dict[str, dict[str, Any]]:
    """Both baselines for every figure: "sql" (aggregates in the database, naive_*) and "seed" (rows
    fetched and counted in Python, seed_*), each as a function call (no HTTP, which favours them)."""
    from analytics.periods import named_period

    past = _past_workday(date.fromisoformat(ids["today"]))
    agent = ids["agent"]
    results: dict[str, dict[str, Any]] = {"sql": {}, "seed": {}}
    for label, role, url in _endpoint_variants(ids, past):
        for kind, stats_of, section_of in (("sql", naive_stats, naive_section), ("seed", seed_stats, seed_section)):
            if url.startswith("/api/crm/dashboard/stats"):
                day = past if "date=" in url else date.fromisoformat(ids["today"])

                def run(day: date = day, stats_of: Callable[..., Any] = stats_of) -> None:
                    stats_of(agent, day)

            else:
                section, range_ = url.split("/")[3].split("?dateRange=")
                scope = None if role == "admin" else frozenset({agent})

                def run(  # type: ignore[misc]
                    section: str = section,
                    range_: str = range_,
                    scope: frozenset[int] | None = scope,
                    section_of: Callable[..., Any] = section_of,
                ) -> None:
                    period = named_period(range_)
                    previous = period.previous()
                    section_of(section, scope, period.start, period.end)
                    section_of(section, scope, previous.start, previous.end)  # the trend, as the endpoints do

            results[kind][label] = _quantiles(_time(run, requests, budget_s=NAIVE_BUDGET_S))
    return results


def rollup_read_cost(ids: dict[str, Any]) -> dict[str, Any]:
    """Rollup rows a month's org-wide read sums, and (PostgreSQL) EXPLAIN ANALYZE of that SUM."""
    from django.db import connection
    from django.db.models import Sum, Value

    from analytics.periods import named_period
    from calls.models import AgentHourRollup
    from crm.models import ChatHourRollup
    from crm.rollups import table_counters

    period = named_period("month")
    out: dict[str, Any] = {"period": period.as_dict()}
    for table in (AgentHourRollup, ChatHourRollup):
        rows = table._default_manager.filter(hour__gte=period.start, hour__lt=period.end)
        name = table._meta.db_table
        out[f"{name} rows in month"] = rows.count()
        out[f"{name} rows in total"] = table._default_manager.count()
        query = rows.annotate(k=Value(1)).values("k").annotate(**{f"_{c}": Sum(c) for c in table_counters(table)})
        started = time.perf_counter()
        list(query.order_by())
        out[f"{name} month SUM ms"] = round((time.perf_counter() - started) * 1000, 2)
        if connection.vendor == "postgresql":
            plan = query.order_by().explain(analyze=True)
            out[f"{name} EXPLAIN ANALYZE"] = plan
    return out


# --- one size, in its own process ------------------------------------------------------------------


def build_size(calls: int, agents: int, days: int) -> dict[str, Any]:
    """A scratch database with the dataset loaded and the rollups rebuilt, left in place for the timing
    process (the parent drops it); dropped here if the build fails."""
    import io

    scratch = _scratch()
    try:
        _setup_django(scratch["env"])
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        print(f"[{calls:,} calls, {agents} agents, {days} days] scratch database: {scratch['label']}", flush=True)
        started = time.perf_counter()
        ids = build_dataset(calls, agents, days)
        load_s = time.perf_counter() - started
        print(f"  dataset loaded in {load_s:.1f} s: {ids['counts']}", flush=True)
        if connection.vendor == "postgresql":
            # the state autovacuum leaves a bulk-loaded table in (statistics, visibility map), reached
            # now so that no autovacuum worker competes with the timing
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        started = time.perf_counter()
        call_command("rebuild_rollups", stdout=io.StringIO(), stderr=io.StringIO())
        rebuild_s = time.perf_counter() - started
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(f"  rebuild_rollups: {rebuild_s:.1f} s", flush=True)
        return scratch | {
            "calls": calls,
            "agents": agents,
            "days": days,
            "database": scratch["label"],
            "name": connection.settings_dict["NAME"],
            "vendor": connection.vendor,
            "load_s": load_s,
            "rebuild_s": rebuild_s,
            "counts": ids["counts"],
            "ids": ids,
            "rollup_cost": rollup_read_cost(ids),
        }
    except BaseException:
        _drop(scratch)
        raise


def time_sizes(builds: list[dict[str, Any]], requests: int, rounds: int) -> list[dict[str, Any]]:
    """The endpoints on every build, interleaved, then both naive baselines on each."""
    _setup_django(builds[0]["env"])
    machine = {"before": machine_state()}
    timed = time_endpoints(builds, requests, rounds)
    machine["after endpoints"] = machine_state()
    for build, result in zip(builds, timed, strict=True):
        use_database(build)
        result["naive"] = time_naive(build["ids"], requests)
        print(f"  naive timed, {build['calls']:,} calls", flush=True)
    return [build | result | {"machine": machine} for build, result in zip(builds, timed, strict=True)]


def machine_state() -> dict[str, float]:
    """How fast this machine is right now: a pure-Python loop (CPU) and the round trip of `SELECT 1` to
    the database (inter-process wake-up), so that figures from different hours can be compared."""
    from django.db import connection

    started = time.perf_counter()
    total = 0
    for n in range(5_000_000):
        total += n
    cpu = time.perf_counter() - started
    trips = []
    with connection.cursor() as cursor:
        for _ in range(1000):
            started = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            trips.append((time.perf_counter() - started) * 1e6)
    cuts = statistics.quantiles(trips, n=20)
    return {
        "python loop of 5M additions s": round(cpu, 3),
        "SELECT 1 round trip mean µs": round(statistics.fmean(trips)),
        "SELECT 1 round trip p50 µs": round(cuts[9]),
        "SELECT 1 round trip p95 µs": round(cuts[18]),
    }


# --- the parent: both sizes, ratios, targets ------------------------------------------------------


def _row(label: str, q: dict[str, float] | None) -> str:
    if q is None:
        return f"  {label:52s}        —"
    return f"  {label:52s} p50 {q['p50']:8.2f}  p95 {q['p95']:8.2f}  p99 {q['p99']:8.2f} ms  (n={q['n']})"


def report(small: dict[str, Any] | None, full: dict[str, Any]) -> None:
    for run in (small, full):
        if run is None:
            continue
        print(
            f"\n### {run['calls']:,} calls, {run['agents']} agents, {run['days']} days on {run['database']}\n"
            f"  load {run['load_s']:.1f} s, rebuild_rollups {run['rebuild_s']:.1f} s; rows {run['counts']}"
        )
        for key, value in run["rollup_cost"].items():
            if "EXPLAIN" in key:
                print(f"  {key}:\n    " + "\n    ".join(str(value).splitlines()))
            else:
                print(f"  {key}: {value}")
        if run["missing"]:
            print(f"  MISSING endpoints (not timed): {', '.join(run['missing'])}")
        for label, error in run["errors"].items():
            print(f"  ERROR {label}: {error}")
        for title, key in (("rollups, cache cleared per request", "uncached"), ("rollups, cached", "cached")):
            print(f"  -- {title} --")
            for label, q in run[key].items():
                print(_row(label, q))
        for kind, title in NAIVE_KINDS.items():
            print(f"  -- naive, {title}; function calls, no HTTP --")
            for label, q in run["naive"][kind].items():
                rollup = run["uncached"].get(label)
                ratio = f"  naive/rollup p95 {q['p95'] / rollup['p95']:6.1f}×" if rollup else ""
                print(_row(label, q) + ratio)

    for moment, state in full.get("machine", {}).items():
        print(f"\nmachine {moment}: " + ", ".join(f"{k} {v}" for k, v in state.items()))
    print(
        f"\n### Targets at {full['calls']:,} calls (naive = seed-style, rows counted in Python; "
        "the SQL-aggregate baseline's ratio in brackets, for information)"
    )
    for label, q in full["uncached"].items():
        target = TARGET_STATS_MS if label.startswith("stats") else TARGET_SECTION_MS
        verdict = "PASS" if q["p95"] <= target else "FAIL"
        speedup = full["naive"]["seed"][label]["p95"] / q["p95"]
        sql_speedup = full["naive"]["sql"][label]["p95"] / q["p95"]
        speed_verdict = "PASS" if speedup >= TARGET_SPEEDUP else "FAIL"
        line = (
            f"  {label:44s} p95 {q['p95']:7.2f} ms ≤ {target:.0f}: {verdict}   "
            f"naive/rollup {speedup:6.1f}× ({sql_speedup:5.1f}×) ≥ {TARGET_SPEEDUP:.0f}: {speed_verdict}"
        )
        if small and label in small["uncached"]:
            ratio = q["p95"] / small["uncached"][label]["p95"]
            line += (
                f"   full/10k {ratio:4.2f} ≤ {TARGET_SIZE_RATIO}: {'PASS' if ratio <= TARGET_SIZE_RATIO else 'FAIL'}"
            )
        print(line)
    for path in full["missing"]:
        print(f"  {path}: MISSING (not timed)")


def _subprocess(*arguments: str) -> Any:
    """`python -m benchmarks.analytics ARGUMENTS --out JSON` in a process of its own; its JSON result."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = Path(out.name)
    try:
        command = [sys.executable, "-m", "benchmarks.analytics", *arguments, "--out", str(path)]
        subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)
        return json.loads(path.read_text())
    finally:
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=_env_int("BENCH_ANALYTICS_CALLS", 1_000_000))
    parser.add_argument("--agents", type=int, default=_env_int("BENCH_ANALYTICS_AGENTS", 200))
    parser.add_argument("--days", type=int, default=_env_int("BENCH_ANALYTICS_DAYS", 365))
    parser.add_argument("--requests", type=int, default=_env_int("BENCH_ANALYTICS_REQUESTS", 100))
    parser.add_argument("--rounds", type=int, default=_env_int("BENCH_ANALYTICS_ROUNDS", 5))
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--time", metavar="BUILDS_JSON", help=argparse.SUPPRESS)
    parser.add_argument("--out", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build or args.time:
        if args.build:
            result: Any = build_size(args.calls, args.agents, args.days)
        else:
            result = time_sizes(json.loads(Path(args.time).read_text()), args.requests, args.rounds)
        Path(args.out).write_text(json.dumps(result, default=str))
        return 0
    print(
        f"Analytics read path: {os.cpu_count()} CPUs, {_mem_gib():.0f} GiB RAM, Python {sys.version.split()[0]}; "
        f"{args.requests} requests per figure in {args.rounds} interleaved rounds"
    )
    sizes = [SMALL_CALLS, args.calls] if args.calls > SMALL_CALLS else [args.calls]
    builds: list[dict[str, Any]] = []
    try:
        for calls in sizes:
            builds.append(_subprocess("--build", *_shape(calls, args)))
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(builds, handle, default=str)
        try:
            runs = _subprocess("--time", handle.name, *_shape(args.calls, args))
        finally:
            Path(handle.name).unlink(missing_ok=True)
    finally:
        for build in builds:
            _drop(build)
    report(runs[0] if len(runs) > 1 else None, runs[-1])
    return 0


def _shape(calls: int, args: argparse.Namespace) -> list[str]:
    shape = {"calls": calls, "agents": args.agents, "days": args.days, "requests": args.requests}
    return [part for name, value in (shape | {"rounds": args.rounds}).items() for part in (f"--{name}", str(value))]


def _mem_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


if __name__ == "__main__":
    raise SystemExit(main())
