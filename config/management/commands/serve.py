"""`manage.py serve`: the ASGI server (HTTP + WebSockets), plus beat in the embedded default."""

from __future__ import annotations

import logging
from typing import Any

import uvicorn
from celery.beat import EmbeddedService
from django.conf import settings
from django.core.management.base import BaseCommand

from config.celery import app as celery_app

logger = logging.getLogger(__name__)


def uvicorn_options() -> dict[str, Any]:
    """How the ASGI server runs (the realtime bench serves with the same options)."""
    return {
        "lifespan": "off",
        "ws": "websockets-sansio",  # uvicorn's "auto" picks the deprecated legacy websockets server
        "ws_per_message_deflate": settings.WS_PER_MESSAGE_DEFLATE,
        "log_level": settings.LOG_LEVEL.lower(),
    }


class Command(BaseCommand):
    help = (
        "Serve Callboard over HTTP and WebSockets (uvicorn). In the embedded default (no REDIS_URL) "
        "Celery beat runs as a thread of this process, so scheduled jobs need nothing else running."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="Scale-out only: worker processes.")
        parser.add_argument("--no-beat", action="store_true", help="Do not run the embedded beat thread.")

    def handle(self, *args: Any, **options: Any) -> None:
        workers = options["workers"]
        if workers > 1 and settings.EMBEDDED:
            # The in-memory channel layer and local-memory cache live in one process: a second worker
            # would not see the first one's WebSocket groups or cache.
            self.stderr.write("Several workers need REDIS_URL (shared channel layer and cache); serving with one.")
            workers = 1
        beat: Any = None  # celery.beat's embedded service (thread flavour)
        if settings.EMBEDDED_BEAT and not options["no_beat"]:
            # Beat runs a task in-process (eagerly) only if its module is imported; otherwise it hands the
            # task to the in-memory broker, where no worker ever takes it. `celery worker` and `celery beat`
            # import every app's tasks.py at start-up (autodiscovery); here we must ask for it.
            celery_app.loader.import_default_modules()
            # Service defaults to the shelve-file PersistentScheduler; the setting names ours.
            beat = EmbeddedService(celery_app, thread=True, scheduler_cls=settings.CELERY_BEAT_SCHEDULER)
            beat.start()
            self.stdout.write("Embedded Celery beat started (scheduled jobs run inside this process).")
        self.stdout.write(f"Callboard on http://{options['host']}:{options['port']}/  (admin: /admin/)  Ctrl-C stops.")
        try:
            uvicorn.run(
                "config.asgi:application",
                host=options["host"],
                port=options["port"],
                workers=workers,
                **uvicorn_options(),
            )
        finally:
            if beat is not None:
                beat.stop()
