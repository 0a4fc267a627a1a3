"""`manage.py render_report --type daily|weekly [--date YYYY-MM-DD] [--team ID | --agent ID] [--timezone ZONE]
--out FILE.pdf [--png FILE.png [--pages N]]`: build a report from the database and write its PDF (and a PNG
preview of its first pages), without storing or sending anything. docs/reports-content.md."""

from __future__ import annotations

import io
import logging
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from reporting.content import ReportError, build_report, in_zone, report_period
from reporting.models import ReportType
from reporting.rendering import render_pdf

PNG_SCALE = 2.0  # 144 dpi: sharp on a screen, small enough for a README
PAGE_GAP = 24  # pixels between pages side by side


def period_of(report_type: str, day: date | None, zone: str | None) -> tuple[date, date]:
    """The dates to report: those containing `day` (a weekly report: its Monday–Sunday week), or, without
    a day, the period a report sent today (in `zone`) covers."""
    if day is None:
        with in_zone(zone):
            return report_period(report_type, timezone.localdate())
    if report_type == ReportType.DAILY:
        return day, day
    # the week of `day` is the one a weekly report sent a week later covers
    return report_period(report_type, date.fromordinal(day.toordinal() + 7))


def pages_png(pdf: bytes, pages: int) -> bytes:
    """The first `pages` pages of `pdf`, side by side, as one PNG (pypdfium2, a development dependency)."""
    try:
        import pypdfium2  # type: ignore[import-untyped]
    except ImportError:
        raise CommandError("--png needs pypdfium2 (pip install -r requirements-dev.txt).") from None
    from PIL import Image

    document = pypdfium2.PdfDocument(pdf)
    try:
        images = [document[n].render(scale=PNG_SCALE).to_pil() for n in range(min(pages, len(document)))]
    finally:
        document.close()
    width = sum(image.width for image in images) + PAGE_GAP * (len(images) + 1)
    height = max(image.height for image in images) + 2 * PAGE_GAP
    sheet = Image.new("RGB", (width, height), "#d9dde5")
    x = PAGE_GAP
    for image in images:
        sheet.paste(image, (x, PAGE_GAP))
        x += image.width + PAGE_GAP
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()


class Command(BaseCommand):
    help = (
        "Build a daily or weekly report from the database and write it as a PDF (and optionally a PNG preview "
        "of its first pages). Nothing is stored or sent. Without --date: the period a report sent today covers "
        "(daily: yesterday; weekly: last Monday–Sunday week)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--type", dest="report_type", required=True, choices=ReportType.values)
        parser.add_argument(
            "--date",
            type=date.fromisoformat,
            help="A day the report covers, YYYY-MM-DD (weekly: the Monday–Sunday week containing it).",
        )
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--team", type=int, help="Only this team (its id).")
        scope.add_argument("--agent", type=int, help="Only this agent (their user id).")
        parser.add_argument("--timezone", help="IANA time zone of the report's dates (default TIME_ZONE).")
        parser.add_argument("--out", required=True, type=Path, help="Where to write the PDF.")
        parser.add_argument("--png", type=Path, help="Also write a PNG preview of the first pages here.")
        parser.add_argument("--pages", type=int, default=1, help="Pages in the PNG preview, side by side (default 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["pages"] < 1:
            raise CommandError("--pages must be at least 1.")
        if options["verbosity"] < 2:  # WeasyPrint tells every layout step at INFO
            logging.getLogger("weasyprint").setLevel(logging.WARNING)
        report_type, zone = options["report_type"], options["timezone"]
        try:
            start, end = period_of(report_type, options["date"], zone)
            data = build_report(
                report_type, start, end, team_id=options["team"], agent_id=options["agent"], timezone=zone
            )
        except ReportError as exc:
            raise CommandError(str(exc)) from None
        pdf = render_pdf(data)
        out: Path = options["out"]
        out.write_bytes(pdf)
        self.stdout.write(f"{data['title']}: {out} ({len(pdf):,} bytes)")
        if data["is_empty"]:
            self.stdout.write(data["empty_message"])
        if options["png"]:
            png: Path = options["png"]
            png.write_bytes(pages_png(pdf, options["pages"]))
            self.stdout.write(f"Preview: {png}")
