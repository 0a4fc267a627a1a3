"""`manage.py metrics_doc [--check]`: write the metrics registry's catalogue into docs/metrics.md.

The catalogue (between the registry markers) is generated from analytics.registry.METRICS, so the
document and the "how is this computed" tooltips read the same sentences. `--check` fails when the
file is out of date (the test suite runs it).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.registry import METRICS

START, END = "<!-- registry:start -->", "<!-- registry:end -->"


def catalogue() -> str:
    lines = [START, "", "| key | label | unit | formula | drill-down |", "|---|---|---|---|---|"]
    for metric in sorted(METRICS.values(), key=lambda m: m.key):
        drill = f"`{metric.drill_down}`" if metric.drill_down else ""
        formula = metric.formula.replace("|", "\\|")
        lines.append(f"| `{metric.key}` | {metric.label} | {metric.unit} | {formula} | {drill} |")
    lines += ["", END]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Write (or --check) the metrics catalogue in docs/metrics.md from the metrics registry."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Fail if docs/metrics.md is out of date.")
        parser.add_argument("--path", default=str(Path(settings.BASE_DIR) / "docs" / "metrics.md"))

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        text = path.read_text(encoding="utf-8")
        if START not in text or END not in text:
            raise CommandError(f"{path} has no {START} … {END} markers.")
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        updated = head + catalogue() + tail
        if options["check"]:
            if updated != text:
                raise CommandError(f"{path} is out of date: run `python manage.py metrics_doc`.")
            self.stdout.write(f"{path.name} matches the registry ({len(METRICS)} metrics).")
            return
        path.write_text(updated, encoding="utf-8")
        self.stdout.write(f"Wrote {len(METRICS)} metrics into {path}.")
