"""Call start+end round trips per second through the API, with the Python client (calls/client.py).

Runnable alone (`.venv/bin/python -m benchmarks.api`) and as `run()` from benchmarks/__main__.py.
Serves `manage.py serve` (uvicorn, the embedded default: SQLite, no Redis) in a subprocess on a free
port with a scratch CALLBOARD_VAR_DIR and the throttle raised out of the way, then times:

- one agent, ROUND_TRIPS sequential start+end round trips (two requests each);
- THREADS agents at once, one thread and one API key each (an agent has one call in progress at a
  time), ROUND_TRIPS round trips in all.

The server is stopped with SIGINT (Ctrl-C) at the end and the scratch directory removed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from calls.client import CallTracker

ROOT = Path(__file__).resolve().parent.parent
ROUND_TRIPS = 300
THREADS = 4
WARM_UP = 10

SETUP = """
import json
from calls.models import ApiKey
from crm.models import Role, User
keys = []
for n in range({agents}):
    agent = User.objects.create_user(f"bench_agent_{{n}}", role=Role.AGENT)
    keys.append(ApiKey.objects.create_key(agent, "benchmark")[1])
print(json.dumps(keys))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _round_trips(url: str, key: str, count: int, phone: str) -> list[float]:
    """Seconds per start+end round trip."""
    samples = []
    with CallTracker(url, key, retries=0) as tracker:
        for _ in range(count):
            start = time.perf_counter()
            tracker.start_call(None, phone)
            tracker.end_call("no_answer")
            samples.append(time.perf_counter() - start)
    return samples


def _report(label: str, samples: list[float], wall: float) -> None:
    quantiles = statistics.quantiles(samples, n=100)
    print(
        f"{label:34s} {len(samples) / wall:7.1f} round trips/s   "
        f"p50 {quantiles[49] * 1000:6.1f} ms   p95 {quantiles[94] * 1000:6.1f} ms   "
        f"({len(samples)} round trips in {wall:.2f} s)"
    )


def _start_server(scratch: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = (scratch / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--no-beat"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the server did not start:\n" + (scratch / "server.log").read_text())
        time.sleep(0.2)


def _stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="callboard-bench-api-"))
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    env.update(
        CALLBOARD_VAR_DIR=str(scratch),
        API_THROTTLE_RATE="1000000/hour",
        LOG_LEVEL="WARNING",  # no access log line per request
        PYTHONUNBUFFERED="1",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    setup = subprocess.run(
        [*manage, "shell", "-c", SETUP.format(agents=THREADS)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    keys: list[str] = json.loads(setup.stdout.strip().splitlines()[-1])
    process, url = _start_server(scratch, env)
    try:
        print(
            f"manage.py serve (uvicorn, SQLite) at {url}, scratch {scratch}  "
            f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
        )
        print("Call start+end round trips per second through the API (CallTracker, 2 requests each):")
        _round_trips(url, keys[0], WARM_UP, "+48600000000")

        started = time.perf_counter()
        samples = _round_trips(url, keys[0], ROUND_TRIPS, "+48600000000")
        _report("1 agent, sequential", samples, time.perf_counter() - started)

        per_thread = ROUND_TRIPS // THREADS
        results: list[list[float]] = [[] for _ in keys]
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                results[n] = _round_trips(url, keys[n], per_thread, f"+4860000000{n}")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        if errors:
            raise errors[0]
        _report(f"{THREADS} agents, {THREADS} threads at once", [s for r in results for s in r], wall)
    finally:
        _stop_server(process)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    run()
