from django.apps import AppConfig


class DeliveriesConfig(AppConfig):
    name = "deliveries"
    verbose_name = "Postback deliveries"

    def ready(self):
        from . import receivers  # noqa: F401  (connects the sender's wake-up to resumed partners and endpoints)
