from django.core.management.base import BaseCommand, CommandError

from config.backup import BackupNotSupported, backup_sqlite_database


class Command(BaseCommand):
    help = "Back up the SQLite database now (online, consistent) into BACKUP_DIR, keeping the newest BACKUP_KEEP."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="Directory for the copy (default: BACKUP_DIR, var/backups/).")
        parser.add_argument("--keep", type=int, help="How many copies to keep (default: BACKUP_KEEP).")

    def handle(self, *args, **options):
        if options["keep"] is not None and options["keep"] < 1:
            raise CommandError("--keep must be at least 1.")
        try:
            path = backup_sqlite_database(options["dir"], options["keep"])
        except BackupNotSupported as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Backed up to {path}")
