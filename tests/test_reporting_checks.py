"""The system check on WeasyPrint's native libraries (reporting/checks.py) and the script that installs
them (scripts/ensure-pdf-libs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core import checks as django_checks

from reporting import checks

ROOT = Path(__file__).resolve().parent.parent
BASH = shutil.which("bash") or "/bin/bash"


def _loader_without(monkeypatch: pytest.MonkeyPatch, *absent: str) -> None:
    """The dynamic loader as if `absent` libraries were not installed (the others are found)."""
    monkeypatch.setattr(checks, "find_library", lambda name: None if name in absent else f"lib{name}.so.0")


def test_no_warning_when_every_library_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    _loader_without(monkeypatch)
    assert checks.check_pdf_libraries() == []


def test_missing_harfbuzz_subset_is_a_warning_with_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    _loader_without(monkeypatch, "harfbuzz-subset")
    [warning] = checks.check_pdf_libraries()
    assert warning.id == "reporting.W001"
    assert warning.level == django_checks.WARNING
    assert "harfbuzz-subset is missing: PDF reports render slower" in warning.msg
    assert "apt-get install libharfbuzz-subset0" in (warning.hint or "")


def test_missing_pango_says_reports_cannot_render(monkeypatch: pytest.MonkeyPatch) -> None:
    _loader_without(monkeypatch, "pango-1.0", "pangoft2-1.0")
    warnings = checks.check_pdf_libraries()
    assert [w.id for w in warnings] == ["reporting.W002", "reporting.W002"]
    assert all("PDF reports cannot be rendered" in w.msg for w in warnings)
    assert "libpango-1.0-0" in (warnings[0].hint or "") and "libpangoft2-1.0-0" in (warnings[1].hint or "")


def test_the_check_is_registered_with_django(monkeypatch: pytest.MonkeyPatch) -> None:
    _loader_without(monkeypatch, "harfbuzz-subset")
    assert "reporting.W001" in [m.id for m in django_checks.run_checks()]


def test_agrees_with_weasyprints_own_loader() -> None:
    """Whatever this machine has: the check calls HarfBuzz-Subset missing exactly when WeasyPrint did
    not load it (and then subsets with fontTools)."""
    from weasyprint.text import ffi

    missing = {row[0] for row in checks.missing_pdf_libraries()}
    assert ("harfbuzz-subset" in missing) == (ffi.harfbuzz_subset is None)
    assert "pango-1.0" not in missing  # WeasyPrint imported, so Pango is there


# --- scripts/ensure-pdf-libs -------------------------------------------------------------------------


def _stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _run_script(stubs: Path, *, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}" if path is None else path}
    return subprocess.run(
        [BASH, str(ROOT / "scripts" / "ensure-pdf-libs")], env=env, capture_output=True, text=True, check=False
    )


def test_script_is_silent_when_everything_is_installed(tmp_path: Path) -> None:
    listing = "\\n".join(
        f"\t{lib} (libc6,x86-64) => /usr/lib/{lib}"
        for lib in ("libpango-1.0.so.0", "libpangoft2-1.0.so.0", "libharfbuzz-subset.so.0")
    )
    _stub(tmp_path, "ldconfig", f'printf "{listing}\\n"')
    _stub(tmp_path, "fc-list", "echo 'DejaVu Sans'")
    _stub(tmp_path, "apt-get", "echo apt-get must not run; exit 1")
    done = _run_script(tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_script_names_what_is_missing_when_it_may_not_install(tmp_path: Path) -> None:
    _stub(tmp_path, "ldconfig", 'printf "\\tlibpango-1.0.so.0 => /usr/lib/libpango-1.0.so.0\\n"')
    _stub(tmp_path, "fc-list", "echo 'Liberation Sans'")
    _stub(tmp_path, "id", "echo 1000")  # not root
    _stub(tmp_path, "apt-get", "echo apt-get must not run; exit 1")
    done = _run_script(tmp_path)
    assert done.returncode == 0
    assert "sudo apt-get install libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core" in done.stdout
    assert "must not run" not in done.stdout


def test_script_installs_what_is_missing_as_root(tmp_path: Path) -> None:
    log = tmp_path / "apt.log"
    _stub(tmp_path, "ldconfig", "exit 0")
    _stub(tmp_path, "fc-list", "echo 'DejaVu Sans'")
    _stub(tmp_path, "id", "echo 0")
    _stub(tmp_path, "apt-get", f'echo "$@" >> {log}')
    done = _run_script(tmp_path)
    assert done.returncode == 0
    assert log.read_text().splitlines() == [
        "update -qq",
        "install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0",
    ]


def test_script_asks_nothing_where_there_is_no_ldconfig(tmp_path: Path) -> None:
    """Not a glibc system (macOS): it cannot tell what is installed, so it installs and says nothing."""
    log = tmp_path / "apt.log"
    _stub(tmp_path, "id", "echo 0")
    _stub(tmp_path, "apt-get", f'echo "$@" >> {log}')
    done = _run_script(tmp_path, path=str(tmp_path))  # only the stubs: no ldconfig
    assert (done.returncode, done.stdout) == (0, "")
    assert not log.exists()
