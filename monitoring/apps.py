from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from . import signals  # noqa: F401  (opens and resolves circuit alerts as deliveries announce them)
