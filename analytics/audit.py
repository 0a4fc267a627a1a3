"""The analytics audit log: sensitive views and exports are recorded with who, when and the filters."""

from __future__ import annotations

from typing import Any

from analytics.models import AuditLog
from crm.models import User


def record_audit(user: User, action: str, resource: str, detail: dict[str, Any] | None = None) -> AuditLog:
    return AuditLog.objects.create(user=user, action=action, resource=resource, detail=detail or {})


def _record_export(sender: Any, user: User, resource: str, format: str, filters: dict[str, str], **kwargs: Any) -> None:
    """A lower app's export (e.g. the call log as CSV), announced by its `exported` signal."""
    from analytics.models import AuditAction

    record_audit(user, AuditAction.EXPORT, resource=resource, detail={"format": format, "filters": filters})


def connect_receivers() -> None:
    from calls import events

    events.exported.connect(_record_export, dispatch_uid="analytics.audit.exported")
