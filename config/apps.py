from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Project-wide wiring: serving, backups, demo data (commands that span every app)."""

    name = "config"
    verbose_name = "Callboard"
