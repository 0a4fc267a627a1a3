"""System checks (`manage.py check`, and every command that runs them, `serve` included): the native
libraries WeasyPrint lays PDF reports out with.

Pango is what WeasyPrint cannot work without: with it missing no report renders (deliveries fail with
the error and retry). HarfBuzz-Subset is optional to WeasyPrint, which otherwise subsets the fonts with
fontTools — 0.1–0.3 s more per report at 100 agents (docs/benchmarks.md) and deprecated by WeasyPrint.
`make run`, `make test` and `make bench` install both where they may (scripts/ensure-pdf-libs).
"""

from __future__ import annotations

from ctypes.util import find_library
from typing import Any

from django.core import checks

# (library as ctypes names it, Debian's package, check id, what goes wrong without it)
LIBRARIES = (
    ("pango-1.0", "libpango-1.0-0", "reporting.W002", "PDF reports cannot be rendered"),
    ("pangoft2-1.0", "libpangoft2-1.0-0", "reporting.W002", "PDF reports cannot be rendered"),
    (
        "harfbuzz-subset",
        "libharfbuzz-subset0",
        "reporting.W001",
        "PDF reports render slower (fonts are subset with fontTools)",
    ),
)


def missing_pdf_libraries() -> list[tuple[str, str, str, str]]:
    """The rows of LIBRARIES whose library the dynamic loader cannot find."""
    return [row for row in LIBRARIES if find_library(row[0]) is None]


@checks.register()
def check_pdf_libraries(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Warning(
            f"The native library {library} is missing: {consequence}.",
            hint=f"Install it: apt-get install {package} (or run `make run`, which does so as root).",
            id=check_id,
        )
        for library, package, check_id, consequence in missing_pdf_libraries()
    ]
