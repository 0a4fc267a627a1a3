from __future__ import annotations

import sqlite3

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from config.backup import BackupNotSupported, backup_sqlite_database
from config.tasks import backup_database
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the backup reads committed data


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite backups; PostgreSQL is backed up with pg_dump")
def test_backup_is_a_consistent_copy_and_only_the_newest_are_kept(tmp_path):
    ContactFactory.create(phone="+48600100200")
    paths = [backup_sqlite_database(tmp_path, keep=2) for _ in range(3)]
    kept = sorted(tmp_path.glob("callboard-*.sqlite3"))
    assert kept == sorted(paths[1:])
    assert not list(tmp_path.glob("*.partial"))
    with sqlite3.connect(paths[-1]) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT phone FROM crm_contact").fetchall() == [("+48600100200",)]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite backups")
def test_backup_db_command_and_periodic_task(tmp_path, settings, capsys):
    settings.BACKUP_DIR = tmp_path
    call_command("backup_db")
    assert "Backed up to" in capsys.readouterr().out
    assert backup_database.apply().get().startswith(str(tmp_path))
    assert len(list(tmp_path.glob("callboard-*.sqlite3"))) == 2
    with pytest.raises(CommandError, match="--keep must be at least 1"):
        call_command("backup_db", "--keep", "0")


def test_backup_is_scheduled_every_interval_on_sqlite(settings):
    from datetime import timedelta

    if connection.vendor == "sqlite":
        entry = settings.CELERY_BEAT_SCHEDULE["backup-sqlite-database"]
        assert entry["task"] == backup_database.name
        assert entry["schedule"] == timedelta(minutes=settings.BACKUP_INTERVAL_MINUTES)
    else:
        assert "backup-sqlite-database" not in settings.CELERY_BEAT_SCHEDULE


@pytest.mark.skipif(connection.vendor == "sqlite", reason="what PostgreSQL users are told")
def test_postgresql_is_pointed_to_pg_dump(tmp_path):
    with pytest.raises(BackupNotSupported, match="pg_dump"):
        backup_sqlite_database(tmp_path)
    with pytest.raises(CommandError, match="pg_dump"):
        call_command("backup_db", "--dir", str(tmp_path))
