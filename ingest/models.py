from django.db import models


class Storage(models.Model):
    """The admin's storage page: partitions, their sizes and what retention drops next.

    There is no table: the page reads PostgreSQL's catalogue
    (``lib.partitioning``) and retention's plan (``ingest.retention``). The
    model gives the page its place on the admin index and a ``view``
    permission; no role has it, so it is the superusers' page.
    """

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "storage"
        verbose_name_plural = "storage"
