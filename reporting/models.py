from django.db import models


class Statistics(models.Model):
    """The admin's statistics page.

    There is no table: the numbers are aggregated from events and
    deliveries on every request. The model exists so the page gets its
    place on the admin index and a ``view`` permission that can be granted
    to marketing staff without giving them the event or delivery tables.
    """

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "statistics"
        verbose_name_plural = "statistics"
