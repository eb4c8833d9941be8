"""The format of every CSV export (API views, management commands, the admin) and its Python writer.

On PostgreSQL the event and delivery files are written by the database
(``copy_export``) in exactly this format; this writer makes the statistics
file, and every file on SQLite. Every file has the same format:

- UTF-8, optionally preceded by a byte-order mark so Excel picks the encoding;
- a header row, then the columns in their documented, fixed order;
- times in ISO 8601, UTC (``2026-11-23T10:00:00Z``, or ``2026-11-23T10:00:00.250000Z``
  with microseconds); decimals as plain strings (``25.0000``, never an exponent);
  booleans ``true``/``false``; missing values empty;
- JSON as PostgreSQL prints ``jsonb`` (``{"a": 1, "sub1": "x"}``): keys shortest
  first, then in byte order; ``", "`` and ``": "`` between items; numbers in plain
  decimal notation;
- a text cell that a spreadsheet could read as a formula (one starting with
  ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a full-width form
  of them, after any white space or invisible characters: ``formula_guard``)
  gets a leading single quote, so a spreadsheet shows it as text instead of
  evaluating it. Numbers, times and booleans are written by this module and
  never begin with anything but a digit or, for a negative number, a minus
  sign that spreadsheets read as a number.

Rows are written in chunks, so a file of any size streams with flat memory.
"""

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal

from .formula_guard import neutralise

BOM = "\ufeff"
ROWS_PER_CHUNK = 500


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, (dt.date, int)):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dict, list)):
        value = jsonb_text(value)
    return neutralise(str(value))


def jsonb_text(value) -> str:
    """A JSON value as PostgreSQL's ``jsonb`` output function prints it."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=_jsonb_key_order)
        return "{" + ", ".join(f"{_json_string(key)}: {jsonb_text(item)}" for key, item in items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(jsonb_text, value)) + "]"
    if isinstance(value, float):
        return _numeric_text(value)
    return json.dumps(value, ensure_ascii=False)


def _jsonb_key_order(item: tuple[str, object]) -> tuple[int, bytes]:
    key = item[0].encode()
    return len(key), key


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _numeric_text(number: float) -> str:
    # jsonb keeps a number as ``numeric``, parsed from the text json.dumps
    # wrote (1e-07), and prints it in plain notation (0.0000001) with no
    # negative zero.
    decimal = Decimal(repr(number))
    return format(abs(decimal) if decimal.is_zero() else decimal, "f")


def csv_chunks(header: Iterable[str], rows: Iterable[Iterable], *, bom: bool = False) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, ``ROWS_PER_CHUNK`` rows at a time."""
    return (text for _, text in csv_pieces(header, rows, bom=bom))


def csv_pieces(header: Iterable[str], rows: Iterable[Iterable], *, bom: bool = False) -> Iterator[tuple[int, str]]:
    """``csv_chunks``, each chunk with the number of rows it holds."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if bom:
        buffer.write(BOM)
    writer.writerow(header)
    count = 0
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(value) for value in row])
        if count % ROWS_PER_CHUNK == 0:
            yield ROWS_PER_CHUNK, _drain(buffer)
    yield count % ROWS_PER_CHUNK, _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
