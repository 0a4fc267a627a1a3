"""Test personas (defined once) and shared fixtures.

The personas: `admin`; `supervisor_a` of team A; `agent_a1` and `agent_a2` in team A; `agent_b1` in
team B (supervised by nobody in particular). Permission tests become one-liners.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from crm.models import Role, Team, User
from crm.periods import local_midnight
from tests.factories import TeamFactory, UserFactory
from tests.live import asgi_server, browser  # noqa: F401 - fixtures for the browser tests


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Before any fixture is torn down (a transactional test's data removed): realtime pushes that a
    test's writes scheduled in the background finish first, so they never read a half-emptied database."""
    from analytics import realtime

    realtime.drain()


@pytest.fixture(autouse=True)
def _clear_cache():
    # The cache is real (Redis in the PostgreSQL run); start every test from an empty one.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin(db) -> User:
    return UserFactory.create(username="admin", role=Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def supervisor_a(db) -> User:
    return UserFactory.create(username="supervisor_a", role=Role.SUPERVISOR, is_staff=True)


@pytest.fixture
def agent_a1(db) -> User:
    return UserFactory.create(username="agent_a1", role=Role.AGENT)


@pytest.fixture
def agent_a2(db) -> User:
    return UserFactory.create(username="agent_a2", role=Role.AGENT)


@pytest.fixture
def agent_b1(db) -> User:
    return UserFactory.create(username="agent_b1", role=Role.AGENT)


@pytest.fixture
def team_a(supervisor_a, agent_a1, agent_a2) -> Team:
    return TeamFactory.create(name="Team A", supervisors=[supervisor_a], members=[agent_a1, agent_a2])


@pytest.fixture
def team_b(agent_b1) -> Team:
    return TeamFactory.create(name="Team B", members=[agent_b1])


@pytest.fixture
def midday() -> Iterator[datetime]:
    """The clock at 12:00 local today, still ticking: tests about "today" (calls a few minutes ago,
    the day's totals, a sync of today) then never straddle midnight, whenever the suite runs."""
    noon = local_midnight(timezone.localdate()) + timedelta(hours=12)
    with time_machine.travel(noon, tick=True):
        yield noon
