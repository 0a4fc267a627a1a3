"""`manage.py import_calls FILE [--format csv|json] [--dry-run]`: the API's import, from a file.

Same code path as `POST /api/calls/import` (calls.imports + calls.actions.do_import_calls): every
row is checked first and nothing is written if any row is wrong. Progress goes to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from calls import imports
from calls.actions import CallActionError, do_import_calls


class Command(BaseCommand):
    help = "Import historical calls from a CSV or JSON file (all or nothing; see README 'Importing calls')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The CSV (header row) or JSON file of calls.")
        parser.add_argument(
            "--format", choices=["csv", "json"], help="The file's format; by default from its extension."
        )
        parser.add_argument("--dry-run", action="store_true", help="Check and count, but write nothing.")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        file_format = options["format"] or path.suffix.lower().lstrip(".")
        if file_format not in ("csv", "json"):
            raise CommandError(f"Cannot tell the format of {path.name}; pass --format csv or --format json.")
        try:
            size = path.stat().st_size
            if size > imports.MAX_IMPORT_BYTES:
                raise CommandError(
                    f"Oversized import: {path} is larger than {imports.MAX_IMPORT_BYTES // (1024 * 1024)} MB; "
                    "split it into smaller files."
                )
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None

        # tqdm draws with carriage returns; Django's OutputWrapper would end each draw with a newline.
        stream = getattr(self.stderr, "_out", sys.stderr)
        bars: dict[str, tqdm] = {}

        def progress(stage: str, advanced: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                for finished in bars.values():
                    finished.close()
                bar = bars[stage] = tqdm(total=total, desc=stage, unit="row", file=stream, leave=True)
            bar.update(advanced)

        try:
            rows = imports.read_rows(data, file_format)
            result = do_import_calls(rows, dry_run=options["dry_run"], progress=progress)
        except CallActionError as exc:
            raise CommandError(exc.detail) from None
        finally:
            for bar in bars.values():
                bar.close()

        if result.errors:
            for error in result.errors:
                self.stderr.write(f"row {error['row']}: {error['detail']}")
            raise CommandError(result.detail)
        summary = f"created {result.created}, updated {result.updated}, skipped {result.skipped}"
        if result.dry_run:
            summary += " (dry run: nothing was written)"
        self.stdout.write(summary)
