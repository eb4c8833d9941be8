from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "API access"

    def ready(self):
        from . import signals  # noqa: F401 - connects the receivers
        from .roles import connect_signals

        connect_signals()
