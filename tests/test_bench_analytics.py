"""The analytics bench's baselines compute what they are compared with.

`make bench` reports the rollup-backed endpoints against two naive implementations (benchmarks/analytics.py):
SQL aggregates over the raw rows, and the seed's way (the period's rows fetched and counted in Python). A speed-up
only means something if all three give the same numbers, so on a small generated dataset (the bench's own
generator) the 12 stats of both baselines must equal the API's, and the sections' figures must agree between the
baselines.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.test import APIClient

from analytics.periods import named_period
from benchmarks import analytics as bench
from crm.models import User

pytestmark = pytest.mark.django_db(transaction=True)

NOW = "2026-05-06 15:20:00+00:00"


@pytest.fixture
def dataset() -> Any:
    with time_machine.travel(NOW, tick=False):
        ids = bench.build_dataset(calls=900, agents=4, days=12)
        call_command("rebuild_rollups", stdout=io.StringIO(), stderr=io.StringIO())
        yield ids


def test_both_baselines_give_the_apis_twelve_stats(dataset):
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=dataset["agent"]))
    today = date.fromisoformat(dataset["today"])
    for day in (today, today - timedelta(days=1), bench._past_workday(today)):
        api = client.get("/api/crm/dashboard/stats", {"date": day.isoformat()}).json()["stats"]
        seed, sql = bench.seed_stats(dataset["agent"], day), bench.naive_stats(dataset["agent"], day)
        assert seed == sql
        assert {key: api[key] for key in seed} == seed
        assert seed["calls_total_today"] > 0 or day == today  # the dataset has calls on past workdays


def _same_shape(section: str, figures: dict[str, Any]) -> dict[str, Any]:
    """The SQL baseline's lists of {key..., n} rows as the seed baseline's {key: n} tallies."""
    out = dict(figures)
    for name, value in figures.items():
        if isinstance(value, list):
            out[name] = {
                tuple(v for k, v in row.items() if k != "n") if len(row) > 2 else next(iter(row.values())): row["n"]
                for row in value
            }
    if section == "agent-productivity":
        out["calls"] = {row["agent_id"]: [row["n"], row["ok"], row["talk"], row["wrap"]] for row in figures["calls"]}
        out["chats"] = {row["assigned_agent_id"]: row["n"] for row in figures["chats"]}
        out["messages"] = {row["agent_id"]: row["n"] for row in figures["messages"]}
        out["states"] = {key: round(value) for key, value in figures["states"].items()}
    return out


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, float):
        return round(value, 6)
    return value


@pytest.mark.parametrize("section", bench.SECTIONS)
def test_the_baselines_agree_on_every_section(dataset, section):
    with time_machine.travel(NOW, tick=False):
        period = named_period("month")
        for scope in (None, frozenset({dataset["agent"]})):
            sql = _same_shape(section, bench.naive_section(section, scope, period.start, period.end))
            seed = bench.seed_section(section, scope, period.start, period.end)
            if section == "agent-productivity":
                seed["states"] = {key: round(value) for key, value in seed["states"].items()}
            common = set(sql) & set(seed)
            assert len(common) >= 2, (section, sorted(sql), sorted(seed))
            assert _rounded({key: sql[key] for key in common}) == _rounded({key: seed[key] for key in common})
            assert any(sql[key] for key in common), f"{section}: nothing to compare in the dataset"
