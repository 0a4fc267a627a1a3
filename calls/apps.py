from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Calls and agent time"

    def ready(self) -> None:
        from calls import receivers  # noqa: F401 - connects the login/logout receivers
