"""`make bench`: every benchmark, each in a subprocess of its own (each sets up its own scratch
database before Django starts). Figures are printed; docs/benchmarks.md records them."""

from __future__ import annotations

import subprocess
import sys

SUITES = [
    "benchmarks.foundation",
    "benchmarks.api",
    "benchmarks.imports",
    "benchmarks.analytics",
    "benchmarks.realtime",
    "benchmarks.reports",
]


def main() -> int:
    failed = []
    for module in SUITES:
        print(f"\n== {module} ==", flush=True)
        if subprocess.run([sys.executable, "-m", module], check=False).returncode != 0:
            failed.append(module)
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
