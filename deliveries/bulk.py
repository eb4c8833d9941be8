"""Update many rows in one statement, from plain tuples.

Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` expression per
row and column, and wants a model instance per row; at a sender's rates that
Python work, not the database, was most of the time a postback took
(bench/RESULTS.md, "Bulk writes"). It cannot say "only the rows still leased
to this sender, and which were they" either. This takes tuples of values
ready for the database (``db_datetime`` for timestamps, a field's
``get_db_prep_save`` for JSON) and writes them with one ``WITH v(…) AS
(VALUES …) UPDATE … FROM v``, on PostgreSQL and on SQLite (3.35+). It is the
product's only way of updating many rows with values of their own; inserts:
``postback_platform.rows``.
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


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
    """Set ``field_names`` on the rows matching ``keys``: each tuple is the key values, then the field values.

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
    params = [value for values in rows for value in values] + list((where or {}).values())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [found for (found,) in cursor.fetchall()] if returning else []


def _typed(field) -> str:
    expression = f"v.{connection.ops.quote_name(field.column)}"
    # PostgreSQL reads untyped VALUES as text; SQLite stores whatever it is given.
    if connection.vendor == "postgresql":
        return f"CAST({expression} AS {field.cast_db_type(connection)})"
    return expression
