"""Browser libraries that ship inside PyPI packages, served as our own static files (no CDN, no npm).

`PackageAssetFinder` exposes exactly the files listed in ASSETS, so `collectstatic` copies one
minified bundle, not the package's whole data directory.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error
from django.core.files.storage import FileSystemStorage

# static path -> (package, file inside the package)
ASSETS: dict[str, tuple[str, str]] = {
    "vendor/plotly.min.js": ("plotly", "package_data/plotly.min.js"),
}


def _source(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


class PackageAssetFinder(BaseFinder):
    def check(self, **kwargs: Any) -> list[CheckMessage]:
        return [
            Error(f"{package} does not ship {relative}; is it installed (requirements.txt)?", id="callboard.E001")
            for package, relative in ASSETS.values()
            if _source(package, relative) is None
        ]

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        source = ASSETS.get(path)
        found = _source(*source) if source else None
        if found is None:
            return [] if find_all else None
        return [str(found)] if find_all else str(found)

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        for path, (package, relative) in ASSETS.items():
            found = _source(package, relative)
            if found is not None:
                yield path, _SingleFileStorage(found, path)


class _SingleFileStorage(FileSystemStorage):
    """A storage in which `name` is one file living under another name on disk (opening, timestamps and
    collectstatic's copy all go through `path`)."""

    def __init__(self, source: Path, name: str) -> None:
        super().__init__(location=str(source.parent))
        self._source, self._name = source, name

    def path(self, name: str) -> str:
        return str(self._source) if name == self._name else super().path(name)
