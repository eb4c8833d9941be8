"""Event and delivery CSV written by PostgreSQL: ``COPY (SELECT ...) TO STDOUT``.

The bytes are those of the Python writer (``csv_export``): each cell is
formatted in SQL as ``csv_cell`` formats it, and COPY quotes the cells that
Python's csv module quotes (those holding a comma, a double quote, CR or LF).
Two habits of COPY are undone:

- it ends rows with LF, the files with CRLF. COPY sends each row as one
  message and libpq hands them over one at a time, so the last byte of each
  is the row's end, whatever line feeds the cells hold;
- it writes an empty string as ``""`` to tell it from NULL: text cells send
  NULL instead, written empty like Python's ``None`` and ``""``.

The SELECT wraps the queryset's own SQL, so its filters stay the only WHERE
clause. Rows come in keyset pages (``id > last ORDER BY id LIMIT n``), one
COPY each, inside one REPEATABLE READ read-only transaction: memory stays
flat and the whole file is one snapshot.
"""

from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING

from django.db import connections, transaction
from django.db.models import Model, QuerySet

from .csv_export import BOM, FORMULA_TRIGGERS

if TYPE_CHECKING:
    from .exports import Column

# Rows per COPY. A page is held whole, in a few copies, while it is sent:
# 10,000 rows exported 12% faster (fewer statements) but peaked 7 MiB higher.
ROWS_PER_COPY = 5000

_TRIGGER_CODES = ", ".join(str(ord(trigger)) for trigger in FORMULA_TRIGGERS)
_LAST_TRIGGER_CODE = max(map(ord, FORMULA_TRIGGERS))
_INTEGER_FIELDS = {
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField",
}
_TEXT_FIELDS = {"CharField", "SlugField", "TextField"}


def copy_pieces(queryset: QuerySet, columns: Sequence["Column"], *, bom: bool = False) -> Iterator[tuple[int, str]]:
    """The CSV of ``queryset``'s ``columns``, oldest row first, as (rows, text) pieces.

    The first column must be the id: it orders the rows and pages through them.
    """
    if columns[0].source != "id":
        raise ValueError("the first column of a COPY export is the id")
    connection = connections[queryset.db]
    (head, tail), cell_params = _select(connection, queryset.model, columns)
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        last_id, prefix = None, BOM if bom else ""
        while True:
            page, page_params = _page(queryset, columns, after=last_id)
            select = cursor.mogrify(head + page + tail, [*cell_params, *page_params])
            header = b"true" if last_id is None else b"false"
            lines: list[bytes] = []
            # One append per row. The sink must not be the list itself: a list holding
            # its own append is a cycle, and pages would stay in memory until the
            # garbage collector ran.
            sink = SimpleNamespace(write=lines.append)
            with connection.wrap_database_errors:
                cursor.copy_expert(b"COPY (%s) TO STDOUT WITH (FORMAT csv, HEADER %s)" % (select, header), sink)
            rows = len(lines) - (last_id is None)
            yield rows, prefix + _csv_text(lines)
            if rows < ROWS_PER_COPY:
                return
            last_id, prefix = int(lines[-1].split(b",", 1)[0]), ""


def _csv_text(lines: list[bytes]) -> str:
    """COPY's rows (each ending in LF) ending in CRLF."""
    data = b"".join(lines)
    if data.count(b"\n") == len(lines):  # no cell holds a line feed: each one ends a row
        return data.replace(b"\n", b"\r\n").decode()
    return b"".join(line[:-1] + b"\r\n" for line in lines).decode()


def _page(queryset: QuerySet, columns: Sequence["Column"], *, after: int | None) -> tuple[str, tuple]:
    if after is not None:
        queryset = queryset.filter(id__gt=after)
    page = queryset.order_by("id").values_list(*(column.source for column in columns))[:ROWS_PER_COPY]
    return page.query.get_compiler(using=queryset.db).as_sql()


def _select(connection, model: type[Model], columns: Sequence["Column"]) -> tuple[tuple[str, str], list]:
    """The SQL before and after a page's SELECT that formats its cells, and its parameters."""
    quote = connection.ops.quote_name
    cells, params = [], []
    for position, column in enumerate(columns):
        cell, cell_params = _cell(f"t.c{position}", _field_type(model, column.source), column)
        cells.append(f"{cell} AS {quote(column.header)}")
        params += cell_params
    names = ", ".join(f"c{position}" for position in range(len(columns)))
    return (f"SELECT {', '.join(cells)} FROM (", f") AS t ({names}) ORDER BY t.c0"), params


def _field_type(model: type[Model], path: str) -> str:
    *relations, name = path.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    field = model._meta.get_field(name)
    return (field.target_field if field.is_relation else field).get_internal_type()


def _cell(value: str, field_type: str, column: "Column") -> tuple[str, list]:
    """``value`` as ``csv_cell`` writes it (after ``column.clean``), in SQL."""
    if field_type in _INTEGER_FIELDS or field_type == "DecimalField":
        return value, []  # numeric's text never has an exponent, like format(Decimal, "f")
    if field_type == "BooleanField":
        return f"{value}::text", []
    if field_type == "DateTimeField":
        # Python's isoformat() prints microseconds only when there are some.
        iso = f"""to_char({value} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
        return f"replace({iso}, '.000000Z', 'Z')", []
    if field_type == "JSONField":
        # jsonb's text is jsonb_text(); of all JSON values only a negative
        # number's text starts with a formula trigger.
        sign = f"CASE WHEN {value} < '0' THEN '''' ELSE '' END"
        by_type = f"WHEN 'null' THEN NULL WHEN 'number' THEN {sign} || {value}::text ELSE {value}::text"
        return f"CASE jsonb_typeof({value}) {by_type} END", []
    if field_type in _TEXT_FIELDS:
        return _text_cell(value, column)
    raise ValueError(f"no CSV format for {field_type} ({column.source})")


def _text_cell(value: str, column: "Column") -> tuple[str, list]:
    # Most cells start with a letter, above every trigger: one test settles
    # them (NULLIF and the IN list on every cell cost a third of the SELECT).
    # The guard and ``clean`` commute (cutting query strings keeps the first
    # character), so the guard comes first, as it costs least.
    text = (
        f"CASE WHEN ascii({value}) > {_LAST_TRIGGER_CODE} THEN {value} WHEN {value} = '' THEN NULL "
        f"WHEN ascii({value}) IN ({_TRIGGER_CODES}) THEN '''' || {value} ELSE {value} END"
    )
    params = []
    if column.clean_sql:
        text, params = column.clean_sql(text)
    elif column.clean:
        raise ValueError(f"{column.source} is cleaned in Python but not in SQL")
    return text, params
