"""Which of a request's event_ids are stored already, without probing every month of events.

On PostgreSQL events are partitioned by month (``lib.partitioning``), and a
look-up by ``event_id`` probes each month's index: most of a single event's
SQL time went there. The key table holds every stored event_id under one
unique index, so it answers for a whole request in one probe per id, and a
request of new events (the usual case) reads no events at all.
"""

from django.db import connection

from lib.partitioning import EVENT_KEY_TABLE

from .models import EventIdRelease


def event_ids_maybe_stored(event_ids: list[str]) -> list[str]:
    """Those of ``event_ids`` to look up among the stored events: every one that may be stored.

    On PostgreSQL, the ids the key table holds; all of them while retention is
    freeing a period's keys (``EventIdRelease``), since a freed id's event is
    stored until its period is dropped. Elsewhere events are one table with a
    unique index on ``event_id``, and the look-up itself is the cheap probe.
    """
    if connection.vendor != "postgresql" or not event_ids:
        return event_ids
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT event_id FROM {EVENT_KEY_TABLE} WHERE event_id = ANY(%s)"  # noqa: S608 - constant table names
            f" UNION ALL (SELECT NULL FROM {EventIdRelease._meta.db_table} LIMIT 1)",
            [event_ids],
        )
        found = [event_id for (event_id,) in cursor.fetchall()]
    return event_ids if None in found else found
