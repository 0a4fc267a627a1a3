"""Django's `makemessages`, taught Callboard's JavaScript and layout (docs/operations.md "Languages").

Browser code translates with `Callboard.t("...")` (and the dashboard's `tn(one, many, n)` for plurals),
names xgettext does not know: for the djangojs domain they are added as keywords. Directories that are
not our sources (the virtualenv, var/, tests and benchmarks, vendored or collected static files) are
always skipped, and references name the file only (no line numbers), so a catalog does not change
every time a line moves. See Django's "Customizing the makemessages command".
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import makemessages

JS_KEYWORDS = ["--keyword=t", "--keyword=tn:1,2"]
ALWAYS_IGNORED = [".venv", "venv", "var", "node_modules", "staticfiles", "benchmarks", "tests", "static/vendor"]


class Command(makemessages.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("domain") == "djangojs":
            self.xgettext_options = [*self.xgettext_options, *JS_KEYWORDS]
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), *ALWAYS_IGNORED]
        if not options.get("no_location") and options.get("add_location") is None:
            options["add_location"] = "file"
        super().handle(*args, **options)
