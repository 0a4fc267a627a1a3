"""`manage.py rebuild_rollups [--since YYYY-MM-DD]`: recompute the hourly counters from raw rows.

For data loaded around the write actions (bulk inserts, restores, a TIME_ZONE or
SLA_FIRST_RESPONSE_SECONDS change). One transaction: dashboards keep the old numbers until it commits.
On PostgreSQL the rollup tables are then vacuumed and analysed (analytics.rollups.vacuum_rollups).
"""

from __future__ import annotations

import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from analytics.rollups import rebuild_rollups, rebuild_row_count, vacuum_rollups
from crm.periods import local_midnight


class Command(BaseCommand):
    help = "Recompute the rollups (hourly counters) from the raw calls, states, sessions, conversations and messages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="Rebuild only the hours from this local date (YYYY-MM-DD) on.")

    def handle(self, *args, **options) -> None:
        since = None
        if options["since"]:
            try:
                since = local_midnight(date.fromisoformat(options["since"]))
            except ValueError:
                raise CommandError(f"--since must be a date as YYYY-MM-DD, not {options['since']!r}.") from None
        stream = getattr(self.stderr, "_out", sys.stderr)
        with tqdm(total=rebuild_row_count(since), desc="rebuilding", unit="row", file=stream) as bar:

            def advance(rows: int) -> None:
                bar.update(rows)

            written = rebuild_rollups(since, progress=advance)
        scope = f"from {options['since']}" if since else "all history"
        self.stdout.write(f"Rebuilt the rollups ({scope}): {written:,} hourly counter cells.")
        if vacuum_rollups():
            self.stdout.write("Vacuumed and analysed the rollup tables (PostgreSQL).")
