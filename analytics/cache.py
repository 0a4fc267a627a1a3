"""Metric cache (Redis when configured, local memory otherwise) that never serves a number older than
the last committed write that changed it.

Every cached value is stored with the *data version* it was computed under; a commit that changes
what the dashboards show bumps the version, so entries of older versions are never served again (the
next read recomputes and overwrites them). Two kinds of commits bump it:

- those that change rollup counters (crm.rollups calls `data_changed` after commit, registered in
  AnalyticsConfig.ready);
- those that change current state the dashboards read directly — campaign activity and membership,
  team membership, contact assignment, WhatsApp sender status, agent status and sessions — through
  the receivers of `connect_receivers` (also called from AnalyticsConfig.ready).

A reader that computed from data older than a concurrent commit stored it tagged with the old version,
which no reader accepts any more. Queryset `.update()` sends no signal: a write path changing one of the
states above that way must call `data_changed_on_commit()` itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

T = TypeVar("T")
VERSION_KEY = "analytics:data-version"
TTL_SECONDS = 300


def _fresh_version() -> int:
    # A version that starts (or restarts after an eviction) at the clock in microseconds is above every
    # version used before, so entries cached under an older one are never served again.
    return time.time_ns() // 1_000


def data_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, _fresh_version(), timeout=None)
        version = cache.get(VERSION_KEY, 0)
    return int(version)


def data_changed() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # no version yet (or evicted): a fresh one differs from what readers used
        cache.add(VERSION_KEY, _fresh_version(), timeout=None)


def data_changed_on_commit() -> None:
    """Bump the version once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(data_changed)


def cached(key: str, compute: Callable[[], T], timeout: int = TTL_SECONDS) -> T:
    """`compute()`, or the value stored for `key` under the current data version.

    The entry carries the version it was computed under, so the version and the entry are read
    together in one round trip (`get_many`); an entry of another version is recomputed."""
    entry = f"analytics:entry:{key}"
    found: dict[str, Any] = cache.get_many([VERSION_KEY, entry])
    version = found.get(VERSION_KEY)
    if version is None:
        version = data_version()
    else:
        stored = found.get(entry)
        if stored is not None and stored[0] == int(version):
            return stored[1]
    value = compute()
    cache.set(entry, (int(version), value), timeout)
    return value


# --- state the dashboards read directly (not counted in the rollups) ---------------------------------------


def _saved(sender: type, instance: Any = None, **kwargs: Any) -> None:
    if kwargs.get("raw"):  # loaddata
        return
    data_changed_on_commit()


def _m2m(sender: type, action: str = "", **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        data_changed_on_commit()


def connect_receivers() -> None:
    """Bump the version after commits that change non-counter state the dashboards show.
    Idempotent (dispatch_uid), so calling it twice connects each receiver once."""
    from calls.models import AgentSession, AgentStatusPeriod
    from crm.models import Campaign, Contact, Team, User, WhatsAppSender

    # Contact: assignment and business reason (total_contacts, total_rescheduled); User: role and
    # activity; status periods and sessions: the open ones are read live (current status, time "until now").
    for model in (Campaign, Team, Contact, User, WhatsAppSender, AgentStatusPeriod, AgentSession):
        label = model._meta.label_lower
        post_save.connect(_saved, sender=model, dispatch_uid=f"analytics.cache.save.{label}")
        post_delete.connect(_saved, sender=model, dispatch_uid=f"analytics.cache.delete.{label}")
    for through in (Campaign.members.through, Team.members.through, Team.supervisors.through):
        m2m_changed.connect(_m2m, sender=through, dispatch_uid=f"analytics.cache.m2m.{through._meta.label_lower}")
