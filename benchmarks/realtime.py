"""Realtime latency: call end (through the API) → `dashboard:update` on every connected WebSocket.

`.venv/bin/python -m benchmarks.realtime [--sockets 1,100,1000 --events 50 --events-large 10 --warmup 5
--gap 0.35 --burst 30 --only memory,core,core100,pubsub --split]` (env BENCH_REALTIME_SOCKETS, _EVENTS,
_EVENTS_LARGE, _WARMUP, _BURST, _ONLY override the defaults). `--events-large` call ends are measured at
1,000 sockets and more (each gives one sample per socket; on a 2-core machine one such event takes seconds,
see docs/benchmarks.md), `--events` below that.

What is measured, per configuration of the channel layer:
- **Servers.** A real server: uvicorn serving `config.asgi:application` (HTTP + WebSockets), the same call
  as `manage.py serve`, in a subprocess of its own (`python -m benchmarks.realtime --serve`, which only
  replaces CHANNEL_LAYERS for the PubSub layer, the one the settings cannot name). One worker process: the
  in-memory layer lives in it, and for Redis one worker keeps every socket on one process (the worst case
  of the per-process fan-out). Scratch resources: SQLite in a temporary directory for the in-memory layer;
  for Redis a scratch PostgreSQL database `cb_bench_realtime_<pid>` when 127.0.0.1:5432 answers (else
  SQLite), Redis db 11 with channel and cache prefixes `cbbench-rt-<pid>-<config>` (deleted at the end).
- **Sockets.** N WebSocket clients (`websockets`, asyncio, in this process; `--split` adds the
  comparison with the same sockets split over 2 client processes), each an admin with an API key of its own
  (`?token=`), so all N sit in the `org` group: a wall of admins/supervisors each receiving every event, the
  worst-case fan-out (one group_send → N sockets).
- **Trigger.** A call is started through `POST /api/calls/start` (agent's API key); after `--gap` seconds
  (longer than REALTIME_COALESCE_SECONDS, so the end is a leading push, not coalesced with the start) and
  once every socket has seen the start, t0 is taken, `POST /api/calls/end` sent, and the response's arrival
  noted. t1 is when a socket receives the "call" update of that call id with a final status. Latency per
  (event, socket); the first `--warmup` events are not counted. Agents take turns (`--agents`).
- **Burst.** `--burst` agents' calls (started before any socket connects, so the starts push nothing) are
  ended by concurrent requests while N sockets listen: each call end pushes "call" and "agent" to `org`
  (and a coalesced "kpi"), so each socket is sent about 2 × burst messages at once. Counts received vs
  expected per socket: channels' group_send drops silently what does not fit a channel's capacity.
- The machine's state before and after (benchmarks.analytics.machine_state on the scratch database, and
  the load average), the CPU used by the server and by the client process(es) during each measurement, so
  it shows which side is the bottleneck.

Every figure is printed (Markdown tables); a missed target prints MISSED and the exit code stays 0.
`run_steady` is the core measurement that tests/test_bench_realtime.py runs at a tiny size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 50.0
TARGET_SOCKETS = 1000
FINAL_STATUSES = frozenset({"completed", "no_answer", "busy", "failed", "dropped"})
HOST, PG_PORT, REDIS_PORT, REDIS_DB = "127.0.0.1", 5432, 6379, 11
Key = tuple[int, str]  # (call id, "start" | "end")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value.replace("_", "")) if value else default


def _answers(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=2).close()
    except OSError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _quantile(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method: never beyond the largest sample)."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --- users (Django side: the setup subprocess, and the test) ----------------------------------------------


def create_users(agents: int, admins: int) -> dict[str, list[str]]:
    """`agents` agents and `admins` admins, each with an API key; returns the raw keys."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from calls.models import ApiKey
    from crm.models import Role, User

    tag = secrets.token_hex(3)
    unusable = make_password(None)
    keys: dict[str, list[str]] = {"agents": [], "admins": []}
    with transaction.atomic():
        for kind, role, count in (("agents", Role.AGENT, agents), ("admins", Role.ADMIN, admins)):
            users = User.objects.bulk_create(
                [User(username=f"rt_{kind}_{tag}_{n}", role=role, password=unusable) for n in range(count)]
            )
            for user in users:
                keys[kind].append(ApiKey.objects.create_key(user, "realtime benchmark")[1])
    return keys


# --- WebSocket clients --------------------------------------------------------------------------------------


class Sockets:
    """WebSocket clients in this process's event loop. Records when each socket first sees a call's
    "call" update: (call id, "start") for the in-progress row, (call id, "end") for a final status."""

    def __init__(self, ws_url: str, origin: str, notify: Callable[[Key], None] | None = None) -> None:
        self.ws_url = ws_url
        self.origin = origin
        self.notify = notify
        self.connections: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.receipts: dict[Key, dict[int, float]] = {}
        # from the server's publish (the event's own timestamp, this machine's wall clock) to arrival
        self.fanout: dict[Key, dict[int, float]] = {}
        self.updates: list[int] = []
        self.completed: set[Key] = set()
        self.waiters: dict[Key, asyncio.Future[None]] = {}

    @property
    def size(self) -> int:
        return len(self.connections)

    async def connect(self, tokens: list[str], concurrency: int = 32) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        gate = asyncio.Semaphore(concurrency)

        async def one(token: str) -> Any:
            async with gate:
                ws = await connect(
                    f"{self.ws_url}?token={token}",
                    origin=Origin(self.origin),
                    ping_interval=None,
                    open_timeout=60,
                    max_size=None,
                )
                hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
                while hello.get("type") == "dashboard:update":  # the socket joins its groups before the hello
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if hello.get("type") != "dashboard:hello" or "org" not in hello.get("groups", []):
                    raise RuntimeError(f"unexpected first message: {hello}")
                return ws

        for ws in await asyncio.gather(*(one(token) for token in tokens)):
            index = len(self.connections)
            self.connections.append(ws)
            self.updates.append(0)
            self.readers.append(asyncio.create_task(self._read(index, ws)))

    async def _read(self, index: int, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now = time.perf_counter()
                if not isinstance(raw, str) or '"dashboard:update"' not in raw:
                    continue
                self.updates[index] += 1
                if '"section": "call"' not in raw:  # cheap filter: most updates are "agent" and "kpi"
                    continue
                message = json.loads(raw)
                if message.get("section") != "call":
                    continue
                data = message["data"]
                key = (data["call_id"], "end" if data.get("status") in FINAL_STATUSES else "start")
                seen = self.receipts.setdefault(key, {})
                if index not in seen:
                    seen[index] = now
                    published = datetime.fromisoformat(message["timestamp"]).timestamp()
                    self.fanout.setdefault(key, {})[index] = (time.time() - published) * 1000
                    if len(seen) == len(self.connections):
                        self._complete(key)

    def _complete(self, key: Key) -> None:
        self.completed.add(key)
        waiter = self.waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.notify is not None:
            self.notify(key)

    async def wait(self, key: Key, timeout: float) -> bool:
        """Whether every socket has received `key` (waiting at most `timeout` seconds)."""
        if key in self.completed or not self.connections:
            return True
        waiter = self.waiters.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return False
        return True

    def snapshot(self, keys: Iterable[Key]) -> dict[str, Any]:
        return {
            "receipts": {key: [self.receipts.get(key, {}).get(i) for i in range(self.size)] for key in keys},
            "fanout": {key: list(self.fanout.get(key, {}).values()) for key in keys},
            "updates": list(self.updates),
            "cpu": time.process_time(),
        }

    async def collect(self, keys: Iterable[Key]) -> dict[str, Any]:
        return self.snapshot(keys)

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.connections), return_exceptions=True)
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        self.connections, self.readers, self.updates = [], [], []
        self.receipts.clear()
        self.completed.clear()


def _pool_main(conn: Connection, ws_url: str, origin: str) -> None:
    """A client process: Sockets driven over a pipe (see RemoteSockets)."""
    asyncio.run(_pool_serve(conn, ws_url, origin))


async def _pool_serve(conn: Connection, ws_url: str, origin: str) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: inbox.put_nowait(conn.recv()))
    pool = Sockets(ws_url, origin, notify=lambda key: conn.send(("complete", key)))
    while True:
        command, argument = await inbox.get()
        try:
            if command == "connect":
                await pool.connect(argument)
                conn.send(("connected", pool.size))
            elif command == "collect":
                conn.send(("collected", pool.snapshot(argument)))
            elif command == "close":
                await pool.close()
                conn.send(("closed", None))
                return
        except Exception as exc:  # reported to the driver, which raises it
            conn.send(("error", repr(exc)))


class RemoteSockets:
    """The same interface as Sockets, the sockets living in a client process of their own."""

    def __init__(self, ws_url: str, origin: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_pool_main, args=(child, ws_url, origin), daemon=True)
        self.process.start()
        child.close()
        self.size = 0
        self.completed: set[Key] = set()
        self.waiters: dict[Key, asyncio.Future[None]] = {}
        self.replies: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        asyncio.get_running_loop().add_reader(self.conn.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            while self.conn.poll():
                kind, value = self.conn.recv()
                if kind == "complete":
                    self.completed.add(value)
                    waiter = self.waiters.pop(value, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                else:
                    self.replies.put_nowait((kind, value))
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            self.replies.put_nowait(("error", "the client process ended"))

    async def _ask(self, command: str, argument: Any, timeout: float = 300) -> Any:
        self.conn.send((command, argument))
        kind, value = await asyncio.wait_for(self.replies.get(), timeout)
        if kind == "error":
            raise RuntimeError(f"client process: {value}")
        return value

    async def connect(self, tokens: list[str]) -> None:
        self.size = await self._ask("connect", tokens)

    async def wait(self, key: Key, timeout: float) -> bool:
        if key in self.completed or not self.size:
            return True
        waiter = self.waiters.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return False
        return True

    async def collect(self, keys: Iterable[Key]) -> dict[str, Any]:
        result: dict[str, Any] = await self._ask("collect", list(keys))
        return result

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ask("close", None, timeout=60)
        asyncio.get_running_loop().remove_reader(self.conn.fileno())
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
        self.size = 0


class Clients:
    """Several socket pools (this process, client processes) seen as one."""

    def __init__(self, pools: list[Any]) -> None:
        self.pools = pools

    @property
    def size(self) -> int:
        return sum(pool.size for pool in self.pools)

    async def wait(self, key: Key, timeout: float) -> bool:
        return all(await asyncio.gather(*(pool.wait(key, timeout) for pool in self.pools)))

    async def collect(self, keys: list[Key]) -> dict[str, Any]:
        parts = await asyncio.gather(*(pool.collect(keys) for pool in self.pools))
        return {
            "receipts": {key: [t for part in parts for t in part["receipts"][key]] for key in keys},
            "fanout": {key: [t for part in parts for t in part["fanout"][key]] for key in keys},
            "updates": [n for part in parts for n in part["updates"]],
            "cpu": sum(part["cpu"] for part in parts),
        }


# --- the measurements ---------------------------------------------------------------------------------------


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _start_call(http: httpx.AsyncClient, key: str, n: int) -> int:
    response = await http.post(
        "/api/calls/start", json={"phone_number": f"+48600{n % 1_000_000:06d}"}, headers=_auth(key)
    )
    response.raise_for_status()
    call_id: int = response.json()["call_id"]
    return call_id


async def _end_call(http: httpx.AsyncClient, key: str, call_id: int) -> float:
    """Ends the call; returns when the response arrived (perf_counter)."""
    response = await http.post("/api/calls/end", json={"call_id": call_id, "status": "completed"}, headers=_auth(key))
    arrived = time.perf_counter()
    response.raise_for_status()
    return arrived


def _server_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by process `pid` (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Steady:
    sockets: int
    events: int
    latencies_ms: list[float] = field(default_factory=list)  # per (event, socket) received
    responses_ms: list[float] = field(default_factory=list)  # per event: end request sent → response arrived
    fanout_ms: list[float] = field(default_factory=list)  # per (event, socket): server publish → arrival
    expected: int = 0
    received: int = 0
    wall: float = 0.0
    client_cpu: float = 0.0  # CPU seconds of the client process(es)
    server_cpu: float = 0.0  # CPU seconds of the server process
    updates_per_socket: float = 0.0  # every dashboard:update received, per socket, during the run
    timeouts: int = 0  # waits (start or end of a call) that ended before every socket had the update


async def measure_steady(
    http: httpx.AsyncClient,
    clients: Clients,
    agent_keys: list[str],
    events: int,
    warmup: int,
    gap: float,
    timeout: float = 10.0,
    server_pid: int | None = None,
) -> Steady:
    """`warmup + events` calls started and ended one after another; the last `events` are measured."""
    ended: list[tuple[Key, float, float]] = []
    timeouts = 0
    before = await clients.collect([])
    started_wall, server_before = time.perf_counter(), _server_cpu(server_pid)
    for n in range(warmup + events):
        agent_key = agent_keys[n % len(agent_keys)]
        call_id = await _start_call(http, agent_key, n)
        started = time.perf_counter()
        timeouts += not await clients.wait((call_id, "start"), timeout)
        await asyncio.sleep(max(0.0, gap - (time.perf_counter() - started)))  # past the coalescing window
        t0 = time.perf_counter()
        arrived = await _end_call(http, agent_key, call_id)
        timeouts += not await clients.wait((call_id, "end"), timeout)
        if n >= warmup:
            ended.append(((call_id, "end"), t0, arrived))
    wall = time.perf_counter() - started_wall
    server_cpu = _server_cpu(server_pid) - server_before
    after = await clients.collect([key for key, _, _ in ended])
    result = Steady(sockets=clients.size, events=events, wall=wall, server_cpu=server_cpu, timeouts=timeouts)
    result.client_cpu = after["cpu"] - before["cpu"]
    for key, t0, arrived in ended:
        result.responses_ms.append((arrived - t0) * 1000)
        result.fanout_ms.extend(after["fanout"][key])
        for t1 in after["receipts"][key]:
            result.expected += 1
            if t1 is not None:
                result.received += 1
                result.latencies_ms.append((t1 - t0) * 1000)
    counts = [a - b for a, b in zip(after["updates"], before["updates"], strict=False)]
    result.updates_per_socket = statistics.fmean(counts) if counts else 0.0
    return result


@dataclass
class Burst:
    sockets: int
    calls: int
    received_per_socket: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    responses_s: float = 0.0  # all end requests sent → last response arrived
    delivered_s: float = 0.0  # all end requests sent → last receipt
    updates_per_socket: float = 0.0
    server_cpu: float = 0.0


async def measure_burst(
    http: httpx.AsyncClient,
    clients: Clients,
    calls: list[tuple[str, int]],
    settle: float,
    server_pid: int | None = None,
) -> Burst:
    """Ends every (agent key, call id) of `calls` at once; counts what each socket receives."""
    keys: list[Key] = [(call_id, "end") for _, call_id in calls]
    before = await clients.collect([])
    server_before = _server_cpu(server_pid)
    t0 = time.perf_counter()
    arrivals = await asyncio.gather(*(_end_call(http, agent_key, call_id) for agent_key, call_id in calls))
    last_response = max(arrivals)
    await asyncio.gather(*(clients.wait(key, settle) for key in keys))
    after = await clients.collect(keys)
    result = Burst(sockets=clients.size, calls=len(calls), responses_s=last_response - t0)
    result.server_cpu = _server_cpu(server_pid) - server_before
    per_socket = [0] * clients.size
    last = t0
    for key in keys:
        for index, t1 in enumerate(after["receipts"][key]):
            if t1 is not None:
                per_socket[index] += 1
                result.latencies_ms.append((t1 - t0) * 1000)
                last = max(last, t1)
    result.received_per_socket = per_socket
    result.delivered_s = last - t0
    counts = [a - b for a, b in zip(after["updates"], before["updates"], strict=False)]
    result.updates_per_socket = statistics.fmean(counts) if counts else 0.0
    return result


def _ws_url(url: str) -> str:
    return url.replace("http://", "ws://", 1).rstrip("/") + "/ws/dashboard/"


async def run_steady(
    url: str, agent_keys: list[str], socket_keys: list[str], events: int, warmup: int = 0, gap: float = 0.35
) -> Steady:
    """Connects one socket per key of `socket_keys` (in this process), measures `events` call ends, closes."""
    pool = Sockets(_ws_url(url), url)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        try:
            await pool.connect(socket_keys)
            return await measure_steady(http, Clients([pool]), agent_keys, events, warmup, gap)
        finally:
            await pool.close()


# --- scratch resources and servers --------------------------------------------------------------------------


def _admin_pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@{HOST}:{PG_PORT}/postgres", autocommit=True) as conn:
        conn.execute(sql)  # our own constant names, no user input


@dataclass
class Scratch:
    env: dict[str, str]
    label: str
    var_dir: str
    pg: str | None = None
    redis_prefix: str | None = None


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        API_THROTTLE_RATE="100000000/hour",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECRET_KEY=secrets.token_urlsafe(48),
    )
    return env


def make_scratch(redis: bool) -> Scratch:
    var_dir = tempfile.mkdtemp(prefix="callboard-bench-realtime-")
    env = _base_env() | {"CALLBOARD_VAR_DIR": var_dir}
    if not redis:
        return Scratch(env, f"SQLite {var_dir}/callboard.sqlite3, in-memory layer, local-memory cache", var_dir)
    prefix = f"cbbench-rt-{os.getpid()}"
    env |= {
        "REDIS_URL": f"redis://{HOST}:{REDIS_PORT}/{REDIS_DB}",
        "CACHE_KEY_PREFIX": prefix,
        "CHANNELS_PREFIX": prefix,
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    scratch = Scratch(env, f"SQLite {var_dir}/callboard.sqlite3", var_dir, redis_prefix=prefix)
    if _answers(PG_PORT):
        database = f"cb_bench_realtime_{os.getpid()}"
        _admin_pg(f"DROP DATABASE IF EXISTS {database}")
        _admin_pg(f"CREATE DATABASE {database}")
        env["DATABASE_URL"] = f"postgres://postgres@{HOST}:{PG_PORT}/{database}"
        scratch.pg, scratch.label = database, f"PostgreSQL {database}"
    scratch.label += f", Redis db {REDIS_DB} (prefix {prefix}) for cache and channel layer"
    return scratch


def drop_scratch(scratch: Scratch) -> None:
    if scratch.pg:
        with contextlib.suppress(Exception):
            _admin_pg(f"DROP DATABASE IF EXISTS {scratch.pg} WITH (FORCE)")
    if scratch.redis_prefix:
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(scratch.env["REDIS_URL"])
            for name in client.scan_iter(match=f"*{scratch.redis_prefix}*", count=1000):
                client.delete(name)
            client.close()
    shutil.rmtree(scratch.var_dir, ignore_errors=True)


def _helper(scratch: Scratch, *args: str, timeout: int = 600) -> Any:
    """`python -m benchmarks.realtime <args>` on the scratch resources; its last stdout line, as JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.realtime", *args],
        cwd=ROOT,
        env=scratch.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class Layer:
    name: str  # memory | core | pubsub
    capacity: int | None  # None: the project's setting

    @property
    def label(self) -> str:
        if self.name == "memory":
            return "InMemoryChannelLayer" + (
                f", capacity {self.capacity}" if self.capacity else ", capacity 100 (default)"
            )
        if self.name == "pubsub":
            return "RedisPubSubChannelLayer (the project's; no capacity)"
        return "RedisChannelLayer, capacity " + (str(self.capacity) if self.capacity else "1000 (CHANNELS_CAPACITY)")


class Server:
    def __init__(self, scratch: Scratch, layer: Layer, tag: str) -> None:
        self.port = _free_port()
        self.url = f"http://{HOST}:{self.port}"
        env = dict(scratch.env)
        if scratch.redis_prefix:  # a group namespace and listener counts of its own per server
            env["CHANNELS_PREFIX"] = env["CACHE_KEY_PREFIX"] = f"{scratch.redis_prefix}-{tag}"
        if layer.name in ("core", "pubsub"):
            env["CHANNELS_LAYER"] = layer.name  # the project's settings build the layer
        if layer.capacity is not None:
            env["CHANNELS_CAPACITY"] = str(layer.capacity)
        self.log = Path(scratch.var_dir) / f"server-{tag}.log"
        command = [sys.executable, "-m", "benchmarks.realtime", "--serve", layer.name, "--port", str(self.port)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the server did not start:\n" + self.log.read_text())
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(layer: str, port: int) -> None:
    """The server process: Django on the environment's settings, then uvicorn as `manage.py serve` runs it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    if (layer == "memory") != settings.EMBEDDED:
        raise SystemExit(f"layer {layer} does not match the environment (REDIS_URL)")
    import uvicorn

    from config.management.commands.serve import uvicorn_options

    uvicorn.run("config.asgi:application", host=HOST, port=port, **{**uvicorn_options(), "log_level": "warning"})


# --- the run ------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    layer: Layer
    sizes: list[int]  # steady measurements, sockets in this process
    split: bool = False  # also at the largest size with the sockets over 2 client processes
    burst: bool = True


@dataclass
class Outcome:
    layer: Layer
    database: str
    steady: list[tuple[int, Steady]] = field(default_factory=list)  # (client processes, figures)
    burst: Burst | None = None
    error: str | None = None


async def run_plan(plan: Plan, server: Server, keys: dict[str, list[str]], args: argparse.Namespace) -> Outcome:
    outcome = Outcome(plan.layer, "")
    agents = keys["agents"][: args.agents]
    burst_agents = keys["agents"][args.agents : args.agents + args.burst]
    admins = keys["admins"]
    pid = server.process.pid
    limits = httpx.Limits(max_connections=max(10, args.burst + 5))
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as http:
        # the burst's calls start before any socket listens: their starts push nothing
        burst_calls = []
        if plan.burst and burst_agents:
            for n, key in enumerate(burst_agents):
                burst_calls.append((key, await _start_call(http, key, 500_000 + n)))
        local = Sockets(_ws_url(server.url), server.url)
        clients = Clients([local])
        try:
            for size in plan.sizes:
                await local.connect(admins[local.size : size])
                print(f"  {plan.layer.label}: {local.size} sockets ...", flush=True)
                events = args.events_large if size >= TARGET_SOCKETS else args.events
                figures = await measure_steady(http, clients, agents, events, args.warmup, args.gap, server_pid=pid)
                outcome.steady.append((1, figures))
                _progress(figures)
            if plan.burst and burst_calls:
                await local.connect(admins[local.size : args.top])
                await asyncio.sleep(1.0)
                print(
                    f"  {plan.layer.label}: burst of {len(burst_calls)} call ends, {local.size} sockets ...", flush=True
                )
                outcome.burst = await measure_burst(http, clients, burst_calls, args.burst_settle, server_pid=pid)
            if plan.split and plan.sizes:
                size = max(plan.sizes)
                await local.close()
                await asyncio.sleep(1.0)
                remotes = [RemoteSockets(_ws_url(server.url), server.url) for _ in range(2)]
                try:
                    half = size // 2
                    await asyncio.gather(remotes[0].connect(admins[:half]), remotes[1].connect(admins[half:size]))
                    print(f"  {plan.layer.label}: {size} sockets over 2 client processes ...", flush=True)
                    split = Clients(list(remotes))
                    events = args.events_large if size >= TARGET_SOCKETS else args.events
                    figures = await measure_steady(http, split, agents, events, args.warmup, args.gap, server_pid=pid)
                    outcome.steady.append((2, figures))
                    _progress(figures)
                finally:
                    await asyncio.gather(*(remote.close() for remote in remotes))
        finally:
            await local.close()
    return outcome


def _progress(s: Steady) -> None:
    lat = s.latencies_ms
    print(
        f"    {s.received}/{s.expected} received, p50 {_quantile(lat, 50):.1f} p95 {_quantile(lat, 95):.1f} "
        f"p99 {_quantile(lat, 99):.1f} ms (from publish p50 {_quantile(s.fanout_ms, 50):.1f} "
        f"p95 {_quantile(s.fanout_ms, 95):.1f}), {s.wall:.0f} s, {s.timeouts} waits timed out",
        flush=True,
    )


def _fmt(value: float) -> str:
    return f"{value:,.1f}"


def report_steady(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "| Layer | Database | Sockets | Client processes | Deliveries received / expected | p50 ms | p95 ms | p99 ms "
        "| max ms | from publish p50 / p95 ms | HTTP response p50 / p95 ms | server CPU | client CPU "
        "| Target p95 ≤ 50 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        for procs, s in outcome.steady:
            lat = s.latencies_ms
            target = ""
            if outcome.layer.name != "memory" and s.sockets >= TARGET_SOCKETS:
                p95 = _quantile(lat, 95)
                target = "PASS" if p95 <= TARGET_P95_MS and s.received == s.expected else "MISSED"
            lines.append(
                f"| {outcome.layer.label} | {outcome.database} | {s.sockets:,} | {procs} | {s.received:,} / {s.expected:,} "
                f"| {_fmt(_quantile(lat, 50))} | {_fmt(_quantile(lat, 95))} | {_fmt(_quantile(lat, 99))} "
                f"| {_fmt(max(lat) if lat else float('nan'))} "
                f"| {_fmt(_quantile(s.fanout_ms, 50))} / {_fmt(_quantile(s.fanout_ms, 95))} "
                f"| {_fmt(_quantile(s.responses_ms, 50))} / {_fmt(_quantile(s.responses_ms, 95))} "
                f"| {s.server_cpu / s.wall:.0%} | {s.client_cpu / s.wall:.0%} | {target} |"
            )
    return lines


def report_burst(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "| Layer | Sockets | Call ends at once | Call events received per socket (expected) min / mean / max "
        "| Sockets missing events | Updates per socket (all sections) | p50 / p95 / max ms | last response s "
        "| last delivery s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        b = outcome.burst
        if b is None:
            continue
        got = b.received_per_socket
        short = sum(1 for n in got if n < b.calls)
        lines.append(
            f"| {outcome.layer.label} | {b.sockets:,} | {b.calls} | {min(got)} / {statistics.fmean(got):.1f} / "
            f"{max(got)} ({b.calls}) | {short:,} | {b.updates_per_socket:.1f} "
            f"| {_fmt(_quantile(b.latencies_ms, 50))} / {_fmt(_quantile(b.latencies_ms, 95))} / "
            f"{_fmt(max(b.latencies_ms) if b.latencies_ms else float('nan'))} "
            f"| {b.responses_s:.2f} | {b.delivered_s:.2f} |"
        )
    return lines


def _machine(scratch: Scratch) -> str:
    state = _helper(scratch, "--machine-state", timeout=120)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{json.dumps(state, ensure_ascii=False)}; load average {load}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.realtime", description=__doc__.split("\n\n")[0])
    sockets_default = os.environ.get("BENCH_REALTIME_SOCKETS", "1,100,1000")
    parser.add_argument("--sockets", default=sockets_default, help="steady sizes, comma-separated (1,100,1000)")
    parser.add_argument("--events", type=int, default=_env_int("BENCH_REALTIME_EVENTS", 50), help="measured call ends")
    parser.add_argument("--warmup", type=int, default=_env_int("BENCH_REALTIME_WARMUP", 5))
    parser.add_argument("--gap", type=float, default=0.35, help="seconds between a call's start and its end")
    parser.add_argument("--agents", type=int, default=4, help="agents taking turns in the steady runs")
    parser.add_argument(
        "--events-large",
        type=int,
        default=_env_int("BENCH_REALTIME_EVENTS_LARGE", 10),
        help="measured call ends at 1,000 sockets and more",
    )
    parser.add_argument("--burst", type=int, default=_env_int("BENCH_REALTIME_BURST", 30), help="0: no burst")
    parser.add_argument("--burst-settle", type=float, default=30.0, help="seconds to wait for a burst's deliveries")
    parser.add_argument(
        "--only",
        default=os.environ.get("BENCH_REALTIME_ONLY", "memory,core,core100,pubsub"),
        help="configurations: memory (in-memory), core (Redis, project capacity), core100 (Redis, capacity 100), "
        "pubsub (Redis PubSub)",
    )
    parser.add_argument("--split", action="store_true", help="also 1,000 sockets over 2 client processes (core)")
    parser.add_argument("--serve", choices=["memory", "core", "pubsub"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--setup", nargs=2, type=int, metavar=("AGENTS", "ADMINS"), help=argparse.SUPPRESS)
    parser.add_argument("--machine-state", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _django_helper(args: argparse.Namespace) -> None:
    """The --setup and --machine-state helpers: Django on the scratch resources of the environment."""
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if args.setup:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(json.dumps(create_users(*args.setup)))
    else:
        from benchmarks.analytics import machine_state

        print(json.dumps(machine_state()))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if args.setup or args.machine_state:
        _django_helper(args)
        return 0
    sizes = sorted({int(s) for s in args.sockets.split(",") if s.strip()})
    top = args.top = max(sizes)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    redis_ok = _answers(REDIS_PORT)
    plans: list[tuple[bool, Plan]] = []
    if "memory" in only:
        plans.append((False, Plan(Layer("memory", None), sizes, burst=args.burst > 0)))
    if redis_ok:
        # the project's layer (PubSub) at every size; the core layer beside it at the top size
        if "pubsub" in only:
            plans.append((True, Plan(Layer("pubsub", None), sizes, burst=args.burst > 0)))
        if "core" in only:
            plans.append((True, Plan(Layer("core", None), [top], split=args.split, burst=args.burst > 0)))
        if "core100" in only and args.burst > 0:
            plans.append((True, Plan(Layer("core", 100), [], burst=True)))
    else:
        print("Redis does not answer on 127.0.0.1:6379: only the in-memory layer is measured.")
    started = time.perf_counter()
    print(
        f"Realtime latency: call end → dashboard:update, {args.events} events ({args.events_large} at "
        f"{TARGET_SOCKETS:,}+ sockets) +{args.warmup} warm-up per figure, "
        f"sockets {sizes}, burst {args.burst}; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}",
        flush=True,
    )
    scratches: dict[bool, Scratch] = {}
    outcomes: list[Outcome] = []
    machine: list[str] = []
    try:
        for redis in sorted({redis for redis, _ in plans}):
            scratches[redis] = make_scratch(redis)
        keys = {
            redis: _helper(scratch, "--setup", str(args.agents + args.burst), str(top))
            for redis, scratch in scratches.items()
        }
        probe = scratches.get(True) or scratches[False]
        machine.append("before: " + _machine(probe))
        print(f"Machine {machine[-1]}", flush=True)
        for n, (redis, plan) in enumerate(plans):
            scratch = scratches[redis]
            server = Server(scratch, plan.layer, f"c{n}")
            try:
                server.wait_ready()
                outcome = asyncio.run(run_plan(plan, server, keys[redis], args))
            except Exception as exc:  # one configuration failing does not hide the others
                outcome = Outcome(plan.layer, "", error=repr(exc))
                print(f"  {plan.layer.label}: FAILED {exc!r}", flush=True)
            finally:
                server.stop()
            outcome.database = "PostgreSQL" if scratch.pg else "SQLite"
            outcomes.append(outcome)
        machine.append("after: " + _machine(probe))
        print(f"Machine {machine[-1]}", flush=True)
    finally:
        for scratch in scratches.values():
            drop_scratch(scratch)
    print("\nScratch resources: " + "; ".join(s.label for s in scratches.values()))
    print("\n### Call end → WebSocket latency (per event and socket; events per row = deliveries ÷ sockets)\n")
    print("\n".join(report_steady(outcomes)))
    if any(o.burst for o in outcomes):
        print(f"\n### Burst: {args.burst} call ends at once\n")
        print("\n".join(report_burst(outcomes)))
    for outcome in outcomes:
        if outcome.error:
            print(f"\nFAILED {outcome.layer.label}: {outcome.error}")
    print(f"\nTotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
