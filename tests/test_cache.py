"""The metric cache is never stale: every commit that changes what the dashboards show bumps the data
version, through the real write actions (counters) and the receivers of non-counter state. Runs on the
local-memory cache (SQLite run) and on Redis (the PostgreSQL run sets REDIS_URL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from analytics import cache as metric_cache
from analytics.cache import cached, connect_receivers, data_changed, data_version
from calls import actions as call_actions
from calls.models import AgentHourRollup, AgentStatus, CallStatus
from crm import actions as crm_actions
from crm.models import ChatHourRollup, SenderStatus, WhatsAppSender
from crm.periods import local_midnight
from crm.rollups import on_counters_changed, total
from tests.factories import CampaignFactory, ContactFactory, ConversationFactory, TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def _receivers() -> None:
    connect_receivers()  # AnalyticsConfig.ready() calls it; calling it again connects nothing twice


def test_the_cache_in_use_matches_the_deployment() -> None:
    backend = settings.CACHES["default"]["BACKEND"]
    expected = "RedisCache" if settings.REDIS_URL else "LocMemCache"
    assert backend.endswith(expected)


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis cache (REDIS_URL) is not configured")
def test_redis_cache_calls_share_one_client_per_pool() -> None:
    from django.core.cache import cache

    client = cache._cache  # type: ignore[attr-defined]
    assert client.get_client("a") is client.get_client("b")
    assert client.get_client("a", write=True) is client.get_client("b", write=True)
    cache.set("analytics:test:shared-client", 41)
    assert cache.incr("analytics:test:shared-client") == 42
    assert cache.get("analytics:test:shared-client") == 42
    cache.delete("analytics:test:shared-client")


def test_counter_changes_are_hooked() -> None:
    assert data_changed in on_counters_changed


def test_cached_value_is_reused_until_the_version_moves(db) -> None:
    computed: list[int] = []

    def compute() -> int:
        computed.append(1)
        return len(computed)

    assert cached("k", compute) == 1
    assert cached("k", compute) == 1
    data_changed()
    assert cached("k", compute) == 2
    assert cached("other", compute) == 3


def test_a_value_computed_while_a_write_commits_is_not_served_afterwards(db) -> None:
    # The reader reads old data, then the write commits (bumping the version), then the reader stores
    # its stale result: tagged with the old version, which no reader accepts.
    def stale_compute() -> str:
        data_changed()
        return "stale"

    assert cached("k", stale_compute) == "stale"
    assert cached("k", lambda: "fresh") == "fresh"


def test_a_stale_value_stored_over_a_fresh_one_is_recomputed_not_served(db) -> None:
    # Entries carry their version: a slow reader that started before a commit may overwrite the entry a
    # later reader stored, but what it stores is tagged with the old version and never served.
    def slow_stale() -> str:
        data_changed()  # a write commits while this reader computes
        assert cached("k", lambda: "fresh") == "fresh"  # a reader that started after the commit
        return "stale"

    assert cached("k", slow_stale) == "stale"
    assert cached("k", lambda: "recomputed") == "recomputed"
    assert cached("k", lambda: "not called") == "recomputed"


def test_an_evicted_version_restarts_above_every_version_used_before(db) -> None:
    cached("k", lambda: "old")
    data_changed()
    used = data_version()
    metric_cache.cache.delete(metric_cache.VERSION_KEY)  # e.g. evicted by Redis under memory pressure
    data_changed()
    assert data_version() > used
    metric_cache.cache.delete(metric_cache.VERSION_KEY)
    assert data_version() > used
    assert cached("k", lambda: "new") == "new"


def _calls_today(agent_id: int) -> Callable[[], int]:
    from crm.rollups import Scope

    def compute() -> int:
        start = local_midnight(timezone.localdate())
        return total(AgentHourRollup, start, timezone.now(), scope=Scope(frozenset({agent_id})))["calls"]

    return compute


def test_call_actions_are_never_read_back_stale(midday, agent_a1, django_capture_on_commit_callbacks) -> None:
    key = f"calls-today:{agent_a1.pk}"
    assert cached(key, _calls_today(agent_a1.pk)) == 0
    for n in range(1, 3):
        with django_capture_on_commit_callbacks(execute=True):
            call = call_actions.do_start_call(
                agent_a1, phone_number="+48600100200", started_at=timezone.now() - timedelta(minutes=10)
            )
        assert cached(key, _calls_today(agent_a1.pk)) == n
        with django_capture_on_commit_callbacks(execute=True):
            call_actions.do_end_call(call, status=CallStatus.COMPLETED)
        talk = cached(
            f"talk:{agent_a1.pk}",
            lambda: total(AgentHourRollup, local_midnight(timezone.localdate()), timezone.now())["talk_seconds"],
        )
        assert talk == total(AgentHourRollup, local_midnight(timezone.localdate()), timezone.now())["talk_seconds"]
        assert talk > 0


def test_conversation_reassignment_is_never_read_back_stale(
    midday, agent_a1, agent_a2, django_capture_on_commit_callbacks
) -> None:
    from crm.rollups import Scope

    def conversations_of(agent_id: int) -> Callable[[], int]:
        return lambda: total(
            ChatHourRollup, local_midnight(timezone.localdate()), timezone.now(), scope=Scope(frozenset({agent_id}))
        )["conversations"]

    with django_capture_on_commit_callbacks(execute=True):
        conversation = ConversationFactory.create(
            assigned_agent=agent_a1, created_at=timezone.now() - timedelta(hours=1)
        )
    assert (cached("a1", conversations_of(agent_a1.pk)), cached("a2", conversations_of(agent_a2.pk))) == (1, 0)
    with django_capture_on_commit_callbacks(execute=True):
        crm_actions.do_assign_conversation(conversation, agent_a2)
    assert (cached("a1", conversations_of(agent_a1.pk)), cached("a2", conversations_of(agent_a2.pk))) == (0, 1)


def _bumps(change: Callable[[], Any], capture: Any) -> bool:
    before = data_version()
    with capture(execute=True):
        change()
    return data_version() > before


def test_non_counter_state_bumps_the_version(midday, agent_a1, agent_a2, django_capture_on_commit_callbacks) -> None:
    capture = django_capture_on_commit_callbacks
    campaign = CampaignFactory.create(is_active=True)
    team = TeamFactory.create()
    contact = ContactFactory.create()
    sender = WhatsAppSender.objects.create(phone="+48221234567")

    def deactivate() -> None:
        campaign.is_active = False
        campaign.save()

    def assign_contact() -> None:
        contact.assigned_agent = agent_a1
        contact.business_reason = "rescheduled"
        contact.save()

    def degrade_sender() -> None:
        sender.status = SenderStatus.DEGRADED
        sender.save()

    changes: dict[str, Callable[[], Any]] = {
        "campaign is_active": deactivate,
        "campaign membership": lambda: campaign.members.add(agent_a1),
        "campaign membership removed": lambda: campaign.members.remove(agent_a1),
        "team membership": lambda: team.members.add(agent_a2),
        "team supervisors": lambda: team.supervisors.add(agent_a1),
        "team cleared": lambda: team.members.clear(),
        "contact assignment": assign_contact,
        "sender status": degrade_sender,
        # the first status of the day closes no period: no counter moves, the current status does
        "agent status": lambda: call_actions.do_change_agent_status(agent_a2, AgentStatus.AVAILABLE),
        "campaign deleted": lambda: CampaignFactory.create().delete(),
    }
    for name, change in changes.items():
        assert _bumps(change, capture), name


def test_current_status_is_never_read_back_stale(db, midday, django_capture_on_commit_callbacks) -> None:
    from calls.actions import current_status_period

    agent = UserFactory.create()

    def status() -> str:
        period = current_status_period(agent)
        return period.status if period else "offline"

    assert cached("status", status) == "offline"
    for new in (AgentStatus.AVAILABLE, AgentStatus.BREAK, AgentStatus.OFFLINE):
        with django_capture_on_commit_callbacks(execute=True):
            call_actions.do_change_agent_status(agent, new)
        assert cached("status", status) == new


def test_a_rolled_back_write_does_not_bump(db) -> None:
    from django.db import transaction

    before = data_version()
    with pytest.raises(RuntimeError), transaction.atomic():
        CampaignFactory.create()
        raise RuntimeError("rolled back")
    assert data_version() == before
