"""Settings come from the environment and fail loudly on values they do not understand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_optional, env_str, generated_secret

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("false", False), ("TRUE", True), (" False ", False)])
def test_env_bool_reads_true_and_false(raw, expected):
    assert env_bool("X", default=not expected, environ={"X": raw}) is expected


@pytest.mark.parametrize("raw", ["yes", "1", "0", "on", "no", "ture"])
def test_env_bool_rejects_anything_else(raw):
    with pytest.raises(ImproperlyConfigured, match="X must be 'true' or 'false'"):
        env_bool("X", default=False, environ={"X": raw})


def test_env_bool_default_when_unset_or_empty():
    assert env_bool("X", default=True, environ={}) is True
    assert env_bool("X", default=False, environ={"X": ""}) is False


def test_env_int_parses_and_checks_bounds():
    assert env_int("N", 5, environ={"N": " 42 "}) == 42
    assert env_int("N", 5, environ={}) == 5
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("N", 5, environ={"N": "5m"})
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("N", 5, minimum=1, environ={"N": "0"})
    with pytest.raises(ImproperlyConfigured, match="at most 10"):
        env_int("N", 5, maximum=10, environ={"N": "11"})


def test_env_str_required_and_default():
    assert env_str("S", "d", environ={}) == "d"
    assert env_str("S", environ={"S": "v"}) == "v"
    with pytest.raises(ImproperlyConfigured, match="S is required"):
        env_str("S", environ={})
    assert env_optional("S", environ={"S": ""}) is None


def test_env_list_splits_and_rejects_empty_items():
    assert env_list("L", ["a"], environ={"L": "x, y ,z"}) == ["x", "y", "z"]
    assert env_list("L", ["a"], environ={}) == ["a"]
    with pytest.raises(ImproperlyConfigured, match="empty item"):
        env_list("L", [], environ={"L": "x,,y"})


def test_env_choice():
    assert env_choice("C", "a", ["a", "b"], environ={"C": "b"}) == "b"
    with pytest.raises(ImproperlyConfigured, match="one of a, b"):
        env_choice("C", "a", ["a", "b"], environ={"C": "c"})


def test_file_variant_reads_a_secret_file(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    assert env_str("TOKEN", environ={"TOKEN_FILE": str(secret)}) == "s3cret"
    with pytest.raises(ImproperlyConfigured, match="either TOKEN or TOKEN_FILE"):
        env_str("TOKEN", environ={"TOKEN": "a", "TOKEN_FILE": str(secret)})
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str("TOKEN", environ={"TOKEN_FILE": str(tmp_path / "missing")})


def test_generated_secret_is_made_once_and_kept(tmp_path):
    path = tmp_path / "var" / "secret_key"
    first = generated_secret(path)
    assert len(first) >= 32
    assert generated_secret(path) == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def _settings_in_subprocess(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import the real settings module with a given environment, as `manage.py` would."""
    # Only the process basics: none of the test run's own configuration (DATABASE_URL, REDIS_URL,
    # CELERY_TASK_ALWAYS_EAGER in the PostgreSQL run) may leak into what is being tested.
    clean = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    clean.update({"CALLBOARD_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings", **env})
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({'db': settings.DATABASES['default']['ENGINE'], 'cache': settings.CACHES['default']['BACKEND'],"
        " 'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], 'eager': settings.CELERY_TASK_ALWAYS_EAGER,"
        " 'broker': settings.CELERY_BROKER_URL, 'beat': settings.EMBEDDED_BEAT, 'tz': settings.TIME_ZONE,"
        " 'sla': settings.SLA_FIRST_RESPONSE_SECONDS, 'init': settings.DATABASES['default'].get('OPTIONS', {}).get('init_command', '')}))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def test_embedded_default_without_configuration(tmp_path):
    result = _settings_in_subprocess(tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["db"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in loaded["init"]
    assert loaded["cache"].endswith("LocMemCache")
    assert loaded["layer"] == "channels.layers.InMemoryChannelLayer"
    assert loaded["eager"] is True
    assert loaded["beat"] is True
    assert loaded["broker"] == "memory://"
    assert loaded["tz"] == "UTC"
    assert loaded["sla"] == 300
    assert (tmp_path / "secret_key").exists(), "the embedded default keeps a generated SECRET_KEY in var/"


def test_scale_out_with_database_and_redis_urls(tmp_path):
    result = _settings_in_subprocess(
        tmp_path,
        DATABASE_URL="postgres://u@db.example:5432/cb",
        REDIS_URL="redis://cache.example:6379/0",
        SECRET_KEY="x" * 40,
        TIME_ZONE="Europe/Warsaw",
        SLA_FIRST_RESPONSE_SECONDS="120",
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["db"] == "django.db.backends.postgresql"
    assert loaded["cache"] == "config.cache.RedisCache"
    assert loaded["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"  # chosen by measurement
    assert loaded["eager"] is False
    assert loaded["beat"] is False
    assert loaded["broker"] == "redis://cache.example:6379/0"
    assert (loaded["tz"], loaded["sla"]) == ("Europe/Warsaw", 120)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "yes"}, "DEBUG must be 'true' or 'false'"),
        ({"TIME_ZONE": "Mars/Olympus"}, "not a known IANA time zone"),
        ({"SLA_FIRST_RESPONSE_SECONDS": "5m"}, "SLA_FIRST_RESPONSE_SECONDS must be a whole number"),
        (
            {"DATABASE_URL": "mysql://root@localhost/cb"},
            "DATABASE_URL must start with sqlite:// or postgres://",
        ),
        ({"REDIS_URL": "redis://localhost:6379/0"}, "SECRET_KEY is required"),
        ({"REDIS_URL": "redis://localhost:6379/0", "SECRET_KEY": "short"}, "at least 32 characters"),
        ({"PUBLIC_BASE_URL": "callboard.example.com"}, "PUBLIC_BASE_URL must be an http(s) URL"),
        ({"EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"}, "mutually exclusive"),
    ],
)
def test_bad_configuration_stops_start_up_with_a_clear_message(tmp_path, env, message):
    result = _settings_in_subprocess(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_the_core_channel_layer_can_be_chosen_and_a_wrong_name_is_explained(tmp_path):
    scale_out = {"REDIS_URL": "redis://cache.example:6379/0", "SECRET_KEY": "x" * 40}
    result = _settings_in_subprocess(tmp_path, CHANNELS_LAYER="core", **scale_out)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["layer"] == "channels_redis.core.RedisChannelLayer"
    result = _settings_in_subprocess(tmp_path, CHANNELS_LAYER="fast", **scale_out)
    assert result.returncode != 0
    assert "CHANNELS_LAYER must be one of pubsub, core, not 'fast'" in result.stderr
