"""Insert and update many rows from plain tuples, in as few statements as the database allows.

``bulk_create`` wants a model instance per row and passes every value of
every field through the field's preparation; for a batch of 1,000 events
and 2,000 deliveries that was a third of the request's CPU, more than the
database's own work. ``rows_insert`` prepares only the values that need it
(times, decimals, JSON), lets fields the caller leaves out take their
defaults once per statement, and gets ids back with ``RETURNING``.

``bulk_update`` builds a ``CASE WHEN id = … THEN …`` expression per row and
column, and wants a model instance per row; at a sender's rates that Python
work, not the database, was most of the time a postback took. It cannot say
"only the rows still leased to this sender, and which were they" either.
``rows_update`` prepares the same few values and writes them with one
``WITH v(…) AS (VALUES …) UPDATE … FROM v``.

Both take values as the model holds them (datetimes, decimals, dicts).

Both work on PostgreSQL and SQLite (3.35+); figures in bench/RESULTS.md,
"Bulk writes". Events, players, deliveries and attempts are written in bulk
only through here.
"""


from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
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
    values = [(*row, *constants) for row in _prepared(rows, list(given.values()), db)]
    return _insert(db, meta, [*given.values(), *rest], values)


def _prepared(rows: Iterable[Sequence], fields: list, db) -> Iterable[Sequence]:
    """``rows`` with the values of times, decimals and JSON prepared by their fields; the rest as they are."""
    prepared = [(index, field) for index, field in enumerate(fields) if isinstance(field, _PREPARED)]
    if not prepared:
        yield from rows
        return
    for row in rows:
        row = list(row)
        for index, field in prepared:
            row[index] = field.get_db_prep_save(row[index], db)
        yield row


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


def db_datetime(value):
    """A timestamp as the database driver wants it (SQLite stores text)."""
    return connection.ops.adapt_datetimefield_value(value)


def rows_update(
    model: type[Model],
    keys: Sequence[str],
    field_names: Sequence[str],
    rows: Sequence[tuple],
    *,
    where: dict | None = None,
    returning: str | None = None,
) -> list:
    """Set ``field_names`` on the rows matching ``keys``: each row is the key values, then the field values.

    ``where`` adds column = value conditions: rows that no longer match are
    left alone. With ``returning``, that column of the rows updated comes back.
    """
    if not rows:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    fields = [meta.get_field(name) for name in [*keys, *field_names]]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    matches = [f"{table}.{quote(field.column)} = {_typed(field)}" for field in fields[: len(keys)]]
    matches += [f"{table}.{quote(meta.get_field(name).column)} = %s" for name in where or {}]
    assignments = ", ".join(f"{quote(field.column)} = {_typed(field)}" for field in fields[len(keys) :])
    sql = (
        f"WITH v ({', '.join(quote(field.column) for field in fields)}) AS (VALUES {', '.join([row] * len(rows))}) "
        f"UPDATE {table} SET {assignments} FROM v WHERE {' AND '.join(matches)}"
    )
    if returning:
        sql += f" RETURNING {table}.{quote(returning)}"
    params = [value for values in _prepared(rows, fields, connection) for value in values]
    params += list((where or {}).values())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [found for (found,) in cursor.fetchall()] if returning else []


def _typed(field) -> str:
    expression = f"v.{connection.ops.quote_name(field.column)}"
    # PostgreSQL reads untyped VALUES as text; SQLite stores whatever it is given.
    if connection.vendor == "postgresql":
        return f"CAST({expression} AS {field.cast_db_type(connection)})"
    return expression
