"""What calls/ announces after a change commits. analytics/ subscribes (realtime pushes, snapshots).

Each signal is sent once per committed change, from `transaction.on_commit`, so a rolled-back write
announces nothing. Receivers get ids and the change name, and read current state themselves.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# sender=CallLog; kwargs: call_id, agent_id, change ("started" | "answered" | "ended" | "disposition" | "updated")
call_changed = Signal()
# sender=AgentStatusPeriod; kwargs: agent_id, status, since (datetime), previous_status
agent_status_changed = Signal()
# sender=CallLog; kwargs: user (who downloaded), resource ("call-log"), format ("csv"), filters (the query, as
# strings). Sent when an export starts, not after a commit: an export is a read. analytics/ records it in the
# audit log.
exported = Signal()


def announce_call(call_id: int, agent_id: int, change: str) -> None:
    from calls.models import CallLog

    transaction.on_commit(lambda: call_changed.send(sender=CallLog, call_id=call_id, agent_id=agent_id, change=change))


def announce_agent_status(agent_id: int, status: str, since, previous_status: str | None) -> None:
    from calls.models import AgentStatusPeriod

    transaction.on_commit(
        lambda: agent_status_changed.send(
            sender=AgentStatusPeriod, agent_id=agent_id, status=status, since=since, previous_status=previous_status
        )
    )
