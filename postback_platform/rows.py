"""Insert many rows from plain tuples, in as few statements as the database allows.

``bulk_create`` wants a model instance per row and passes every value of
every field through the field's preparation; for a batch of 1,000 events
and 2,000 deliveries that was a third of the request's CPU, more than the
database's own work. Here only the values that need it (times, decimals,
JSON) are prepared, fields the caller leaves out take their defaults once
per statement, and ids come back with ``RETURNING``, on PostgreSQL and
SQLite (3.35+) alike (figures: bench/RESULTS.md, "Bulk writes"). Events,
players, deliveries and attempts are inserted only through here.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import DateTimeField, DecimalField, JSONField, Model

_PREPARED = (DateTimeField, DecimalField, JSONField)


def rows_insert(
    model: type[Model], *, columns: Sequence[str], rows: Iterable[Sequence], shared: Mapping[str, Any] | None = None
) -> list:
    """Insert one row per item of ``rows`` and return their primary keys, in order.

    ``columns`` names the fields (attribute names, ``event_id`` for a foreign
    key) whose values each row gives; ``shared`` gives values common to all
    rows; every other field takes its default.
    """
    db = connections[DEFAULT_DB_ALIAS]  # looked up once: the proxy's per-thread look-up costs more than a value
    meta = model._meta
    given = {meta.get_field(name).attname: meta.get_field(name) for name in columns}
    shared = {meta.get_field(name).attname: value for name, value in (shared or {}).items()}
    rest = [field for field in meta.concrete_fields if field.attname not in given and not field.primary_key]
    constants = [field.get_db_prep_save(shared[field.attname] if field.attname in shared else field.get_default(), db)
                 for field in rest]
    prepared = [(index, field) for index, field in enumerate(given.values()) if isinstance(field, _PREPARED)]
    values = []
    for row in rows:
        row = list(row)
        for index, field in prepared:
            row[index] = field.get_db_prep_save(row[index], db)
        values.append((*row, *constants))
    return _insert(db, meta, [*given.values(), *rest], values)


def _insert(db, meta, fields: list, values: list[tuple]) -> list:
    if not values:
        return []
    quote = db.ops.quote_name
    head = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) VALUES "
    )
    tail = f" RETURNING {quote(meta.pk.column)}"
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = len(values)
    if db.features.max_query_params:
        per_statement = max(1, db.features.max_query_params // len(fields))
    keys = []
    with db.cursor() as cursor:
        for start in range(0, len(values), per_statement):
            chunk = values[start:start + per_statement]
            cursor.execute(head + ", ".join([row] * len(chunk)) + tail, [value for item in chunk for value in item])
            keys.extend(key for (key,) in cursor.fetchall())
    return keys
