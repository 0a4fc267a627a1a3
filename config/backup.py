"""Online backups of the embedded SQLite database (SQLite's backup API: consistent while in use)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

BACKUP_GLOB = "callboard-*.sqlite3"


class BackupNotSupported(Exception):
    pass


def backup_sqlite_database(directory: Path | None = None, keep: int | None = None) -> Path:
    """Copy the live SQLite database to `directory` and keep only the newest `keep` copies.

    Returns the new file. Raises BackupNotSupported on PostgreSQL (use pg_dump there).
    """
    if connection.vendor != "sqlite":
        raise BackupNotSupported("The database is not SQLite: back it up with pg_dump (see README).")
    directory = Path(directory or settings.BACKUP_DIR)
    keep = keep or settings.BACKUP_KEEP
    directory.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%fZ")
    target = directory / f"callboard-{stamp}.sqlite3"
    partial = target.with_suffix(".partial")
    # A connection of its own: the caller's may be inside a write transaction, from which SQLite
    # refuses to back up (SQLITE_LOCKED). In WAL mode this reader sees the last committed state and
    # does not block writers while it copies.
    name = str(connection.settings_dict["NAME"])
    source = sqlite3.connect(name, uri=name.startswith("file:"))
    destination = sqlite3.connect(partial)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()
    partial.rename(target)  # a reader of the backup directory never sees a half-written file
    for old in sorted(directory.glob(BACKUP_GLOB))[:-keep]:
        old.unlink()
    return target
