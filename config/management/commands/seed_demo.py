import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from config.demo import database_has_data, seed_demo
from config.env import env_str


class Command(BaseCommand):
    help = (
        "Fill an EMPTY database with realistic, deterministic demo data: users, teams, campaigns, contacts, "
        "calls, agent timelines and WhatsApp conversations over the last --days days, ending at a live "
        "'now'. It only ever seeds an empty database and refuses otherwise (it never deletes anything; "
        "run `manage.py flush` first if you want to start over). With --if-empty it instead does nothing "
        "when there is data, which is how `make run` calls it on every start. All users get the password "
        "from DEMO_PASSWORD (default 'demo')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42); same seed, same data.")
        parser.add_argument("--days", type=int, default=30, help="Days of history up to today (default 30).")
        parser.add_argument("--agents", type=int, default=12, help="Number of agents (default 12).")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (successfully) when the database already has data.",
        )

    def handle(self, *args, **options) -> None:
        if options["days"] < 1 or options["days"] > 366:
            raise CommandError("--days must be between 1 and 366.")
        if options["agents"] < 1 or options["agents"] > 500:
            raise CommandError("--agents must be between 1 and 500.")
        if database_has_data():
            if options["if_empty"]:
                self.stdout.write("The database already has data; not seeding the demo.")
                return
            raise CommandError(
                "seed_demo only seeds an empty database, and this one already has data. "
                "Use a fresh database (or `manage.py flush`) first, or pass --if-empty to skip quietly."
            )
        password = env_str("DEMO_PASSWORD", "demo")
        began = time.monotonic()

        def progress(days):
            return tqdm(days, desc="Seeding demo days", unit="day", file=sys.stderr, disable=not self.stderr.isatty())

        result = seed_demo(
            seed=options["seed"],
            days=options["days"],
            agents=options["agents"],
            password=password,
            progress=progress,
        )
        elapsed = time.monotonic() - began
        summary = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in result.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data created in {elapsed:.1f} s: {summary}."))
        self.stdout.write(f"Log in as any of: {', '.join(result.usernames)}")
        self.stdout.write(f"Password for all of them: {result.password}")
