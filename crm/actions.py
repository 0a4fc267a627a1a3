"""Writes to contacts: the only code that changes a contact's lead status (and records the change)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crm.models import Contact, LeadStatus, LeadStatusChange, User

# Lead statuses only move forward along the funnel; `converted` and `lost` are final outcomes,
# except that a lost lead may be won back by an explicit change (admin) — not by a call disposition.
FUNNEL_ORDER = {
    LeadStatus.NEW: 0,
    LeadStatus.CONTACTED: 1,
    LeadStatus.QUALIFIED: 2,
    LeadStatus.CONVERTED: 3,
    LeadStatus.LOST: 3,
}


def do_change_lead_status(
    contact: Contact,
    to_status: str,
    *,
    at: datetime | None = None,
    by: User | None = None,
    note: str = "",
    forward_only: bool = False,
) -> bool:
    """Set the contact's lead status and record the change; returns whether anything changed.

    With `forward_only` (used by call dispositions) a change that would move the lead back along the
    funnel, or out of a final status, is ignored.
    """
    at = at or timezone.now()
    with transaction.atomic():
        current = Contact.objects.select_for_update().only("lead_status").get(pk=contact.pk).lead_status
        if current == to_status:
            return False
        if forward_only and (
            current in (LeadStatus.CONVERTED, LeadStatus.LOST)
            or FUNNEL_ORDER[LeadStatus(to_status)] <= FUNNEL_ORDER[LeadStatus(current)]
        ):
            return False
        LeadStatusChange.objects.create(
            contact=contact, from_status=current, to_status=to_status, changed_at=at, changed_by=by, note=note
        )
        Contact.objects.filter(pk=contact.pk).update(lead_status=to_status, lead_status_changed_at=at)
        contact.lead_status, contact.lead_status_changed_at = to_status, at
    return True


def do_record_contact_created(contact: Contact, *, by: User | None = None, note: str = "") -> LeadStatusChange:
    """The first row of a contact's lead history: '' → its status, at its creation time."""
    return LeadStatusChange.objects.create(
        contact=contact,
        from_status="",
        to_status=contact.lead_status,
        changed_at=contact.created_at,
        changed_by=by,
        note=note,
    )
