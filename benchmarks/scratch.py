"""A scratch database for a benchmark: a temporary directory as CALLBOARD_VAR_DIR (SQLite, embedded
default), set up BEFORE Django starts, migrated. Never the project's own database."""

from __future__ import annotations

import os
import tempfile


def scratch_django(prefix: str) -> str:
    """Set Django up on a fresh scratch database and return its directory."""
    scratch = tempfile.mkdtemp(prefix=prefix)
    os.environ["CALLBOARD_VAR_DIR"] = scratch
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    print(f"Scratch database: {scratch}/callboard.sqlite3  ({os.cpu_count()} CPUs)")
    call_command("migrate", verbosity=0)
    return scratch
