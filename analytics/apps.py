from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from analytics import audit, call_metrics, chat_metrics, realtime  # noqa: F401  (register the metrics)
        from analytics.cache import connect_receivers, data_changed
        from crm import rollups

        connect_receivers()
        audit.connect_receivers()

        if data_changed not in rollups.on_counters_changed:
            rollups.on_counters_changed.append(data_changed)
        realtime.connect_receivers()  # after data_changed: pushes read the bumped cache version
