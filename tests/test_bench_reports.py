"""The reports bench measures something: on a tiny dataset from the analytics bench's generator (4 agents),
the daily and the weekly report it times are real reports of that data (every agent in the staff table,
the calls counted, pages rendered), and the peak memory it reads is the measured child's own
(benchmarks/reports.py, `make bench`)."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from benchmarks import analytics as dataset
from benchmarks import reports as bench
from calls.models import CallLog
from reporting.rendering import warm_up

pytestmark = pytest.mark.django_db(transaction=True)

NOW = "2026-05-06 15:20:00+00:00"  # a Wednesday


@pytest.fixture
def tiny() -> Iterator[dict[str, Any]]:
    with time_machine.travel(NOW, tick=False):
        ids = dataset.build_dataset(calls=600, agents=4, days=bench.DAYS)
        call_command("rebuild_rollups", stdout=io.StringIO(), stderr=io.StringIO())
        yield ids


def test_the_daily_and_weekly_renders_are_reports_of_the_data(tiny):
    warm_up()  # what the bench's second process does first; then the renders are the same
    with time_machine.travel(NOW, tick=False):
        today = date(2026, 5, 6)
        assert bench.report_dates("daily", today) == (date(2026, 5, 5), date(2026, 5, 5))
        assert bench.report_dates("daily", date(2026, 5, 4)) == (date(2026, 5, 1), date(2026, 5, 1))  # Monday: Friday
        assert bench.report_dates("weekly", today) == (date(2026, 4, 27), date(2026, 5, 3))
        for report_type in ("daily", "weekly"):
            start, end = bench.report_dates(report_type, today)
            result = bench.render_once(report_type, start, end)
            calls = CallLog.objects.filter(
                started_at__date__gte=start, started_at__date__lte=end
            ).count()  # the tests' zone is UTC
            assert not result["is_empty"] and result["calls"] == calls > 0
            assert result["agents"] == len(tiny["agents"]) == 4
            assert result["pages"] >= 2 and result["bytes"] > 10_000
            assert 0 < result["build_s"] < result["total_s"] and result["render_s"] > 0 and result["cpu_s"] > 0


def test_peak_memory_is_the_measured_process_own():
    """The child's own high-water mark: 120 MB touched shows, and a bare interpreter started from this big
    test process does not inherit the parent's (as getrusage's ru_maxrss would)."""
    measure = "from benchmarks.reports import peak_rss_mb; print(peak_rss_mb())"
    grow = f"block = bytearray(120 * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); {measure}"
    big = float(subprocess.run([sys.executable, "-c", grow], capture_output=True, text=True, check=True).stdout)
    small = float(subprocess.run([sys.executable, "-c", measure], capture_output=True, text=True, check=True).stdout)
    assert big >= 120 and small < 60 < big - 60
    assert bench.peak_rss_mb() > small  # this test process, with Django and the dataset, is bigger
