"""Typed readers for settings from the environment.

Each helper fails loudly (ImproperlyConfigured) on a value it does not understand, so a typo such as
``DEBUG=yes`` or ``SLA_FIRST_RESPONSE_SECONDS=5m`` stops the process at start-up instead of silently
meaning something else. Any variable may instead be given as ``NAME_FILE`` pointing at a file that
holds the value (for secrets mounted by an orchestrator).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = "true"
_FALSE = "false"


def _raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    file_name = env.get(f"{name}_FILE")
    if name in env and file_name is not None:
        raise ImproperlyConfigured(f"Set either {name} or {name}_FILE, not both.")
    if file_name is not None:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return env.get(name)


def env_str(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} is required.")
        return default
    return value


def env_optional(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    value = _raw(name, environ)
    return value or None


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered == _TRUE:
        return True
    if lowered == _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be 'true' or 'false', not {value!r}.")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None or value == "":
        result = default
    else:
        try:
            result = int(value.strip())
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if minimum is not None and result < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {result}.")
    if maximum is not None and result > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {result}.")
    return result


def env_float(name: str, default: float, *, minimum: float = 0.0, environ: Mapping[str, str] | None = None) -> float:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    try:
        result = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number such as 12.5, not {value!r}.") from None
    if not result >= minimum or result == float("inf"):
        raise ImproperlyConfigured(f"{name} must be a finite number of at least {minimum}, not {value!r}.")
    return result


def env_list(name: str, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """A comma-separated list; blanks around items are ignored, empty items are an error."""
    value = _raw(name, environ)
    if value is None or value.strip() == "":
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items):
        raise ImproperlyConfigured(f"{name} has an empty item: {value!r}.")
    return items


def env_choice(name: str, default: str, choices: list[str], environ: Mapping[str, str] | None = None) -> str:
    value = env_str(name, default, environ)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def generated_secret(path: Path) -> str:
    """Read a random secret from `path`, creating it (mode 0600) on first use.

    Only for the one-machine embedded default, so that `make run` needs no configuration; a scale-out
    deployment (several processes, several machines) must pass SECRET_KEY explicitly.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) < 32:
            raise ImproperlyConfigured(f"{path} holds no usable secret; delete it to make a new one.") from None
        return secret
    import secrets

    secret = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret
