from celery import shared_task

from config.backup import backup_sqlite_database


@shared_task(name="config.tasks.backup_database")
def backup_database() -> str:
    return str(backup_sqlite_database())
