"""Analytics read path at scale: the agent's 12 stats and the seven CRM dashboard sections, read from
the hourly rollups, against a naive implementation that counts raw rows per request.

`.venv/bin/python -m benchmarks.analytics [--calls N --agents N --days N --requests N]` (defaults
1,000,000 calls, 200 agents, 365 days, 200 requests per figure; env BENCH_ANALYTICS_CALLS, _AGENTS,
_DAYS, _REQUESTS override the defaults, BENCH_ANALYTICS_DB=sqlite forces SQLite).

The run is two subprocesses, each on a scratch database of its own made before Django starts
(PostgreSQL `cb_bench_analytics_<pid>` when 127.0.0.1:5432 answers, with Redis db 10 as the cache
when 127.0.0.1:6379 answers; otherwise SQLite in a temporary directory): one at 10,000 calls and
one at the full size, same agents and days. Each builds the dataset (COPY on PostgreSQL, batched
`executemany` on SQLite), runs VACUUM ANALYZE (PostgreSQL) and `manage.py rebuild_rollups`, then
times through Django's test client with a session login (admin, and one agent), the metric cache
cleared before every request
(computation) and then left warm (cached). The naive figures call functions of this module directly
(no HTTP overhead, which favours them). The parent prints the size ratio and PASS/FAIL per target;
a missed target does not fail the process.
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
from collections.abc import Callable
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


def _setup_django() -> tuple[str, Callable[[], None]]:
    """A fresh scratch database (PostgreSQL when it answers, else SQLite), migrated; returns its name and
    a function that removes it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.update(ALLOWED_HOSTS="testserver,127.0.0.1,localhost", API_THROTTLE_RATE="100000000/hour")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    scratch = tempfile.mkdtemp(prefix="callboard-bench-analytics-")
    os.environ["CALLBOARD_VAR_DIR"] = scratch
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    label = f"SQLite {scratch}/callboard.sqlite3"
    if os.environ.get("BENCH_ANALYTICS_DB", "").lower() != "sqlite" and _answers(PG_PORT):
        database = f"cb_bench_analytics_{os.getpid()}"
        _admin_pg(f"DROP DATABASE IF EXISTS {database}")
        _admin_pg(f"CREATE DATABASE {database}")
        os.environ["DATABASE_URL"] = f"postgres://postgres@{PG_HOST}:{PG_PORT}/{database}"
        label = f"PostgreSQL {database}"
        if _answers(REDIS_PORT):
            os.environ["REDIS_URL"] = f"redis://{PG_HOST}:{REDIS_PORT}/10"
            os.environ["SECRET_KEY"] = secrets.token_urlsafe(40)
            os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
            label += ", Redis db 10 cache"

        def cleanup() -> None:
            from django.db import connections

            connections.close_all()
            _admin_pg(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return label, cleanup


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
    for contact in contacts * 10:
        if conv_id >= target:
            break
        at = contact_created[contact] + timedelta(seconds=rng.expovariate(1 / 86_400))
        returning = False
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
                break
            returning = True
            at = resolved_at + timedelta(seconds=rng.expovariate(1 / (20 * 86_400)))
    return conv_id, messages


# --- timing ----------------------------------------------------------------------------------------


def _quantiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000, "n": len(samples)}


def _time(call: Callable[[], Any], requests: int, before: Callable[[], None] | None = None) -> list[float]:
    samples = []
    for _ in range(requests):
        if before:
            before()
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
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


def time_endpoints(ids: dict[str, Any], requests: int) -> dict[str, Any]:
    from django.core.cache import cache
    from django.test import Client
    from django.urls import Resolver404, resolve

    from crm.models import User

    past = _past_workday(date.fromisoformat(ids["today"]))
    clients = {}
    for role in ("admin", "agent"):
        client = Client()
        client.force_login(User.objects.get(pk=ids[role]))
        clients[role] = client
    results: dict[str, Any] = {"uncached": {}, "cached": {}, "missing": [], "errors": {}}
    for label, role, url in _endpoint_variants(ids, past):
        path = url.split("?")[0]
        try:
            resolve(path)
        except Resolver404:
            if path not in results["missing"]:
                results["missing"].append(path)
            continue
        client = clients[role]
        response = client.get(url)
        if response.status_code != 200:
            results["errors"][label] = f"{response.status_code} {response.content[:300]!r}"
            continue
        for _ in range(3):
            client.get(url)

        def get(client: Client = client, url: str = url) -> None:
            client.get(url)

        results["uncached"][label] = _quantiles(_time(get, requests, before=cache.clear))
        get()
        results["cached"][label] = _quantiles(_time(get, requests))
        print(f"    {label}: p95 {results['uncached'][label]['p95']:.1f} ms", flush=True)
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
        "total_work_time_today": int(sum(states.get((s,), 0) for s in ("available", "on_call", "wrap_up"))),
        "total_logged_time_today": int(logged.get((), 0)),
        "total_break_time_today": int(states.get(("break",), 0)),
        "total_contacts": contacts["total"],
        "total_rescheduled": contacts["rescheduled"],
        "active_campaigns": Campaign.objects.filter(members=agent_id, is_active=True).count(),
    }


def _conversation_figures(qs: Any) -> dict[str, Any]:
    """FRT, SLA, resolution from the raw conversations of the period (computed row by row, as the seed did)."""
    from django.conf import settings

    frt, within, resolution = [], 0, []
    for created, escalated, first, resolved in qs.values_list(
        "created_at", "escalated_at", "first_response_at", "resolved_at"
    ):
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
        out |= _conversation_figures(conv)
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
        out = _conversation_figures(conv) | conv.aggregate(total=Count("id"), reopened=Sum("reopened_count"))
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


def time_naive(ids: dict[str, Any], requests: int) -> dict[str, Any]:
    from analytics.periods import named_period

    past = _past_workday(date.fromisoformat(ids["today"]))
    agent = ids["agent"]
    results: dict[str, Any] = {}
    for label, role, url in _endpoint_variants(ids, past):
        if url.startswith("/api/crm/dashboard/stats"):
            day = past if "date=" in url else date.fromisoformat(ids["today"])

            def stats(day: date = day) -> None:
                naive_stats(agent, day)

            results[label] = _quantiles(_time(stats, requests))
            continue
        section, range_ = url.split("/")[3].split("?dateRange=")
        scope = None if role == "admin" else frozenset({agent})

        def run(section: str = section, range_: str = range_, scope: frozenset[int] | None = scope) -> None:
            period = named_period(range_)
            previous = period.previous()
            naive_section(section, scope, period.start, period.end)
            naive_section(section, scope, previous.start, previous.end)  # for the trend, as the endpoints do

        results[label] = _quantiles(_time(run, requests))
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


def run_size(calls: int, agents: int, days: int, requests: int) -> dict[str, Any]:
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collected static here
    database, cleanup = _setup_django()
    try:
        from django.core.management import call_command

        print(f"[{calls:,} calls, {agents} agents, {days} days] scratch database: {database}", flush=True)
        started = time.perf_counter()
        ids = build_dataset(calls, agents, days)
        load_s = time.perf_counter() - started
        print(f"  dataset loaded in {load_s:.1f} s: {ids['counts']}", flush=True)
        from django.db import connection

        if connection.vendor == "postgresql":
            # the state autovacuum leaves a bulk-loaded table in (statistics, visibility map), reached
            # now so that no autovacuum worker competes with the timing below
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        import io

        started = time.perf_counter()
        call_command("rebuild_rollups", stdout=io.StringIO(), stderr=io.StringIO())
        rebuild_s = time.perf_counter() - started
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(f"  rebuild_rollups: {rebuild_s:.1f} s", flush=True)
        cost = rollup_read_cost(ids)
        endpoints = time_endpoints(ids, requests)
        print(f"  endpoints timed ({len(endpoints['uncached'])} figures)", flush=True)
        naive = time_naive(ids, requests)
        print("  naive timed", flush=True)
        return {
            "calls": calls,
            "agents": agents,
            "days": days,
            "database": database,
            "vendor": connection.vendor,
            "load_s": load_s,
            "rebuild_s": rebuild_s,
            "counts": ids["counts"],
            "rollup_cost": cost,
            **endpoints,
            "naive": naive,
        }
    finally:
        cleanup()


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
        print("  -- naive (raw rows per request; function calls, no HTTP) --")
        for label, q in run["naive"].items():
            rollup = run["uncached"].get(label)
            ratio = f"  naive/rollup p95 {q['p95'] / rollup['p95']:6.1f}×" if rollup else ""
            print(_row(label, q) + ratio)

    print(f"\n### Targets at {full['calls']:,} calls")
    for label, q in full["uncached"].items():
        target = TARGET_STATS_MS if label.startswith("stats") else TARGET_SECTION_MS
        verdict = "PASS" if q["p95"] <= target else "FAIL"
        speedup = full["naive"][label]["p95"] / q["p95"]
        speed_verdict = "PASS" if speedup >= TARGET_SPEEDUP else "FAIL"
        line = (
            f"  {label:44s} p95 {q['p95']:7.2f} ms ≤ {target:.0f}: {verdict}   "
            f"naive/rollup {speedup:6.1f}× ≥ {TARGET_SPEEDUP:.0f}: {speed_verdict}"
        )
        if small and label in small["uncached"]:
            ratio = q["p95"] / small["uncached"][label]["p95"]
            line += (
                f"   full/10k {ratio:4.2f} ≤ {TARGET_SIZE_RATIO}: {'PASS' if ratio <= TARGET_SIZE_RATIO else 'FAIL'}"
            )
        print(line)
    for path in full["missing"]:
        print(f"  {path}: MISSING (not timed)")


def _subprocess(calls: int, agents: int, days: int, requests: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = Path(out.name)
    try:
        command = [sys.executable, "-m", "benchmarks.analytics", "--one-size", str(path)]
        command += ["--calls", str(calls), "--agents", str(agents), "--days", str(days), "--requests", str(requests)]
        subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)
        return json.loads(path.read_text())
    finally:
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=_env_int("BENCH_ANALYTICS_CALLS", 1_000_000))
    parser.add_argument("--agents", type=int, default=_env_int("BENCH_ANALYTICS_AGENTS", 200))
    parser.add_argument("--days", type=int, default=_env_int("BENCH_ANALYTICS_DAYS", 365))
    parser.add_argument("--requests", type=int, default=_env_int("BENCH_ANALYTICS_REQUESTS", 200))
    parser.add_argument("--one-size", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_size:
        result = run_size(args.calls, args.agents, args.days, args.requests)
        Path(args.one_size).write_text(json.dumps(result, default=str))
        return 0
    print(
        f"Analytics read path: {os.cpu_count()} CPUs, {_mem_gib():.0f} GiB RAM, Python {sys.version.split()[0]}; "
        f"{args.requests} requests per figure"
    )
    small = None
    if args.calls > SMALL_CALLS:
        small = _subprocess(SMALL_CALLS, args.agents, args.days, args.requests)
    full = _subprocess(args.calls, args.agents, args.days, args.requests)
    report(small, full)
    return 0


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
