"""`manage.py create_api_key USERNAME [--name NAME] [--expires-days N]` (API.md "Auth")."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from calls.models import ApiKey
from crm.models import User

NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length or 100


class Command(BaseCommand):
    help = (
        "Create an API key for a user and print it once: the key goes to standard output, "
        "so `KEY=$(manage.py create_api_key alice)` captures it. It is stored hashed and cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user the key acts as (its role decides what it may see).")
        parser.add_argument("--name", default="", help="What the key is for, e.g. 'softphone on desk 12'.")
        parser.add_argument("--expires-days", type=int, help="The key stops working after this many days.")

    def handle(self, *args, **options):
        username: str = options["username"]
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"There is no user named {username!r}; create the user first.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive, so a key for them would not work.")
        name = (options["name"] or "").strip() or f"created with manage.py on {timezone.localdate():%Y-%m-%d}"
        if len(name) > NAME_MAX_LENGTH:
            raise CommandError(f"--name may be at most {NAME_MAX_LENGTH} characters long.")
        expires_days = options["expires_days"]
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days is not None else None

        key, raw = ApiKey.objects.create_key(user, name, expires_at=expires_at)

        self.stdout.write(raw)
        until = f", expires {timezone.localtime(expires_at):%Y-%m-%d %H:%M %Z}" if expires_at else ""
        self.stderr.write(
            self.style.WARNING(
                f"API key {key.prefix}… ({name}) for {user.username}{until}. "
                "Copy it now: it is stored hashed and will not be shown again."
            )
        )
