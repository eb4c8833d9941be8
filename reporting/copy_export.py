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
clause. One COPY statement sends every row, so the file is one snapshot; it
runs in a thread a few pieces ahead of the response (``_CopyProducer``), so
memory stays flat and PostgreSQL works while Python sends.
"""

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from django.db import connections, transaction
from django.db.models import Model, QuerySet

from .csv_export import BOM
from .formula_guard import FORMULA_PREFIX_PATTERN

if TYPE_CHECKING:
    from .exports import Column

# Rows per piece handed to the response, and how many pieces the COPY may run
# ahead of it: about 300 KiB each, so at most a few MiB wait in memory.
ROWS_PER_PIECE = 2000
PIECES_AHEAD = 4
# Every wait is bounded: the consumer checks the producer is alive this often,
# and gives it this long to end once cancelled.
POLL_SECONDS = 0.5
STOP_TIMEOUT_SECONDS = 10

# The pattern is ASCII escapes and brackets. An E'' literal reads its backslashes the
# same whatever standard_conforming_strings says, and needs no query parameter, which
# a cleaning expression that repeats the cell's SQL could not keep in step.
_FORMULA_PREFIX_SQL = "E'" + FORMULA_PREFIX_PATTERN.replace("\\", "\\\\") + "'"
_INTEGER_FIELDS = {
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField",
}
_TEXT_FIELDS = {"CharField", "SlugField", "TextField"}
_END = object()


def copy_pieces(queryset: QuerySet, columns: Sequence["Column"], *, bom: bool = False) -> Iterator[tuple[int, str]]:
    """The CSV of ``queryset``'s ``columns``, oldest row first, as (rows, text) pieces.

    The first column must be the id: it orders the rows.
    """
    if columns[0].source != "id":
        raise ValueError("the first column of a COPY export is the id")
    connection = connections[queryset.db]
    (head, tail), cell_params = _select(connection, queryset.model, columns)
    rows = queryset.order_by().values_list(*(column.source for column in columns))
    rows_sql, rows_params = rows.query.get_compiler(using=queryset.db).as_sql()
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION READ ONLY")
        select = cursor.mogrify(head + rows_sql + tail, [*cell_params, *rows_params])
        producer = _CopyProducer(connection, cursor, b"COPY (%s) TO STDOUT WITH (FORMAT csv, HEADER)" % select)
        try:
            prefix, header = BOM if bom else "", 1
            for lines in producer.pieces():
                yield len(lines) - header, prefix + _csv_text(lines)
                prefix, header = "", 0
        finally:
            producer.stop()


class _CopyProducer:
    """One COPY run in a thread, its rows handed over in pieces through a bounded queue.

    With the COPY in the request's own thread, PostgreSQL and Python would
    take turns; here PostgreSQL formats the next rows while Python sends the
    last ones. The thread borrows the request's connection (psycopg2 allows
    it while no one else uses it), so it sees the request's transaction.
    """

    def __init__(self, connection, cursor, statement: bytes):
        self._connection = connection
        self._queue: queue.Queue = queue.Queue(maxsize=PIECES_AHEAD)
        self._stopped = threading.Event()
        # A cancel must reach the COPY, never a statement the connection runs after it.
        self._copying_lock = threading.Lock()
        self._copying = True
        self._lines: list[bytes] = []
        self._piece_size = ROWS_PER_PIECE + 1  # the header comes with the first rows
        self._thread = threading.Thread(target=self._run, args=(cursor, statement), name="csv-copy", daemon=True)
        self._thread.start()

    def pieces(self) -> Iterator[list[bytes]]:
        """Each piece's lines as COPY sent them; an error of the COPY is raised here."""
        while (piece := self._next()) is not _END:
            if isinstance(piece, BaseException):
                with self._connection.wrap_database_errors:
                    raise piece
            yield piece

    def stop(self) -> None:
        """End the COPY if it still runs, and wait for the thread to let go of the connection."""
        self._stopped.set()
        # A producer waiting for room puts its piece at once, then sees the stop.
        while not self._queue.empty():
            self._queue.get_nowait()
        with self._copying_lock:
            if self._copying:
                self._connection.connection.cancel()
        self._thread.join(STOP_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            raise RuntimeError(f"the export's COPY did not end within {STOP_TIMEOUT_SECONDS} s of its cancel")

    def write(self, line: bytes) -> None:
        """Take one row from psycopg2 (COPY sends each row in a message of its own)."""
        self._lines.append(line)
        if len(self._lines) == self._piece_size:
            self._put(self._lines)
            self._lines, self._piece_size = [], ROWS_PER_PIECE

    def _run(self, cursor, statement: bytes) -> None:
        try:
            try:
                cursor.copy_expert(statement, self)
            finally:
                with self._copying_lock:
                    self._copying = False
            if self._lines:
                self._put(self._lines)
            self._put(_END)
        except BaseException as error:  # handed to the consumer, which raises it
            self._put(error)

    def _put(self, item) -> None:
        # Once the consumer has stopped, what is left of the COPY is dropped.
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _next(self):
        while True:
            try:
                return self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("the export's COPY ended without its last piece") from None


def _csv_text(lines: list[bytes]) -> str:
    """COPY's rows (each ending in LF) ending in CRLF."""
    data = b"".join(lines)
    if data.count(b"\n") == len(lines):  # no cell holds a line feed: each one ends a row
        return data.replace(b"\n", b"\r\n").decode()
    return b"".join(line[:-1] + b"\r\n" for line in lines).decode()


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
        # Python's isoformat() prints six digits of microseconds when there
        # are some; the ISO DateStyle (psycopg2 sets it) drops their trailing
        # zeros. Casting twice costs PostgreSQL less than to_char: 0.32 s
        # against 0.45 s per million cells.
        text = f"({value} AT TIME ZONE 'UTC')::text"
        return f"replace(CASE WHEN length({text}) = 19 THEN {text} ELSE rpad({text}, 26, '0') END, ' ', 'T') || 'Z'", []
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
    # Most cells start with an ASCII letter or digit, which neither starts a
    # formula nor hides one: two comparisons settle them, and only the rest
    # meet the regular expression (``formula_guard``; on a million cells of
    # ids, hex digests and names this costs what the single-character test
    # before it did, within the noise of a shared machine). The guard and
    # ``clean`` commute (cutting query strings keeps the start of a cell), so
    # the guard comes first, as it costs least.
    first = f"ascii({value})"
    text = (
        f"CASE WHEN {first} BETWEEN 65 AND 126 OR {first} BETWEEN 48 AND 57 THEN {value} "
        f"WHEN {value} = '' THEN NULL WHEN {value} ~ {_FORMULA_PREFIX_SQL} THEN '''' || {value} ELSE {value} END"
    )
    params = []
    if column.clean_sql:
        text, params = column.clean_sql(text)
    elif column.clean:
        raise ValueError(f"{column.source} is cleaned in Python but not in SQL")
    return text, params
