"""The realtime bench measures something: at a tiny size (2 sockets, 3 call ends, the live test server with
the channel layer of the test settings), every socket receives every call's final "call" update, each
with a positive latency (benchmarks/realtime.py, `make bench`)."""

from __future__ import annotations

import asyncio
import time

import pytest

pytest.importorskip("websockets")

from benchmarks import realtime as bench

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_socket_receives_every_call_end(asgi_server, settings):
    keys = bench.create_users(agents=1, admins=2)
    gap = settings.REALTIME_COALESCE_SECONDS + 0.05
    result = asyncio.run(bench.run_steady(asgi_server.url, keys["agents"], keys["admins"], events=3, gap=gap))
    # the trailing (coalesced) pushes' timers run while the test database is still open
    windows = (settings.REALTIME_COALESCE_SECONDS, getattr(settings, "REALTIME_KPI_REFRESH_SECONDS", 0.0))
    time.sleep(max(windows) + 0.3)
    assert result.sockets == 2
    assert result.expected == 2 * 3
    assert result.received == result.expected
    assert len(result.latencies_ms) == 6
    assert all(latency > 0 for latency in result.latencies_ms)
    assert len(result.responses_ms) == 3
    assert all(response > 0 for response in result.responses_ms)
