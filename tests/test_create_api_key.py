"""`manage.py create_api_key` (API.md "Auth")."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from calls.models import ApiKey, hash_api_key


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_a_working_key_once_with_a_warning(agent_a1):
    out, err = run("agent_a1", "--name", "softphone on desk 12")

    raw = out.strip()
    key = ApiKey.objects.get()
    assert (key.user, key.name, key.expires_at, key.key_hash) == (
        agent_a1,
        "softphone on desk 12",
        None,
        hash_api_key(raw),
    )
    assert raw not in err and "will not be shown again" in err
    assert key.prefix in err
    response = Client(headers={"authorization": f"Bearer {raw}"}).get("/api/calls/log")
    assert response.status_code == 200


def test_each_run_creates_another_key(agent_a1):
    first, _ = run("agent_a1")
    second, _ = run("agent_a1")
    assert first != second
    assert ApiKey.objects.filter(user=agent_a1).count() == 2
    assert ApiKey.objects.first().name.startswith("created with manage.py")  # type: ignore[union-attr]


def test_expires_days(agent_a1):
    _, err = run("agent_a1", "--expires-days", "30")
    key = ApiKey.objects.get()
    assert key.expires_at is not None
    assert abs(key.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert "expires" in err


def test_unknown_user(db):
    with pytest.raises(CommandError, match="There is no user named 'nobody'"):
        run("nobody")
    assert not ApiKey.objects.exists()


def test_inactive_user(agent_a1):
    agent_a1.is_active = False
    agent_a1.save()
    with pytest.raises(CommandError, match="inactive"):
        run("agent_a1")
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"), [(["--expires-days", "0"], "at least 1"), (["--name", "x" * 101], "at most 100")]
)
def test_bad_options(agent_a1, args, message):
    with pytest.raises(CommandError, match=message):
        run("agent_a1", *args)
    assert not ApiKey.objects.exists()


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
