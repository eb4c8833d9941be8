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


class EventIdRelease(models.Model):
    """A period whose event_ids retention is freeing ahead of dropping its events.

    Ingest asks the key table which event_ids are stored (``ingest.event_keys``).
    Retention frees a period's keys before the transaction that drops it, so
    for that while a freed id's event is still stored: this row, written before
    the first key goes and deleted by the drop's own transaction, sends ingest
    to the events themselves meanwhile, and a resent id is still a replay. A
    run that stops half-way leaves it, and ingest keeps looking until a later
    run has dropped the period.
    """

    partition = models.CharField(max_length=63, unique=True, help_text="The events partition being dropped.")
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
