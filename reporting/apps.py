from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting"

    def ready(self):
        from . import checks, signals  # noqa: F401  (registers the system checks and the roll-up's signals)
