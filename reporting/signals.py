"""Keeps each subscription's beat task in step with the subscription, whoever saves it (the admin,
the API or code calling ``.save()``)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from reporting.delivery import cancel_scheduled_deliveries
from reporting.models import ReportSubscription
from reporting.schedules import remove_schedule, sync_schedule


@receiver(post_save, sender=ReportSubscription, dispatch_uid="reporting.sync_schedule")
def subscription_saved(
    sender: type[ReportSubscription], instance: ReportSubscription, raw: bool, **kwargs: Any
) -> None:
    if raw:  # loaddata: rows arrive in any order; the fixture brings its own beat rows
        return
    sync_schedule(instance)
    if not instance.is_active:
        cancel_scheduled_deliveries(instance)


@receiver(post_delete, sender=ReportSubscription, dispatch_uid="reporting.remove_schedule")
def subscription_deleted(sender: type[ReportSubscription], instance: ReportSubscription, **kwargs: Any) -> None:
    remove_schedule(instance.pk)
