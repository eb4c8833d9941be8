"""Write many rows' changed columns in one statement.

Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` expression per
row and column; at a sender's batch sizes that Python work, not the
database, was most of the time a postback took. One
``WITH v(…) AS (VALUES …) UPDATE … FROM v`` statement does the same, on
PostgreSQL and on SQLite (3.33+).
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def rows_update(objs: Sequence[Model], field_names: Sequence[str], *, where: dict | None = None) -> None:
    """Save ``field_names`` of every object (same model) in one UPDATE keyed by primary key.

    ``where`` adds column = value conditions: rows that no longer match are left alone.
    """
    if not objs:
        return
    meta = objs[0]._meta
    fields = [meta.get_field(name) for name in field_names]
    columns = ["id", *(field.column for field in fields)]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params = []
    for obj in objs:
        params.append(obj.pk)
        params.extend(field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields)
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    conditions = "".join(f" AND {table}.{quote(meta.get_field(name).column)} = %s" for name in where or {})
    params.extend((where or {}).values())
    assignments = ", ".join(f"{quote(field.column)} = {_typed(f'v.{quote(field.column)}', field)}" for field in fields)
    sql = (
        f"WITH v ({', '.join(quote(column) for column in columns)}) AS (VALUES {', '.join([row] * len(objs))}) "
        f"UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id{conditions}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _typed(expression: str, field) -> str:
    # PostgreSQL reads untyped VALUES as text; SQLite stores whatever it is given.
    if connection.vendor == "postgresql":
        return f"CAST({expression} AS {field.cast_db_type(connection)})"
    return expression
