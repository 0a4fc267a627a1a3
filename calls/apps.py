from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Calls and agent time"

    def ready(self) -> None:
        from calls import counters, receivers  # noqa: F401  (counters registers the rollup sources)
        from crm import bot

        if receivers.agent_presence not in bot.presence_providers:
            bot.presence_providers.append(receivers.agent_presence)
