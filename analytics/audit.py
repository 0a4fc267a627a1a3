"""The analytics audit log: sensitive views and exports are recorded with who, when and the filters."""

from __future__ import annotations

from typing import Any

from analytics.models import AuditLog
from crm.models import User


def record_audit(user: User, action: str, resource: str, detail: dict[str, Any] | None = None) -> AuditLog:
    return AuditLog.objects.create(user=user, action=action, resource=resource, detail=detail or {})
