import os
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("callboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_after_setup.connect
def warm_up_report_rendering(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A worker serving the `reports` queue loads WeasyPrint, its fonts and matplotlib before it forks its
    pool: every pool process (and each one that replaces a recycled process) starts with them loaded, and
    no report pays for the first render's loading (about 0.4 s; docs/benchmarks.md)."""
    if "reports" in (instance.app.amqp.queues.consume_from or {}):
        from reporting.rendering import warm_up

        warm_up()
