"""The one CSV writer behind every export: API views, management commands and the admin.

Every file has the same format:

- UTF-8, optionally preceded by a byte-order mark so Excel picks the encoding;
- a header row, then the columns in their documented, fixed order;
- times in ISO 8601, UTC (``2026-11-23T10:00:00Z``); decimals as plain strings
  (``25.0000``, never an exponent); booleans ``true``/``false``; missing values empty;
- a text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading single quote, so a spreadsheet shows it as text
  instead of evaluating it as a formula. Numbers, times and booleans are
  written by this module and never begin with anything but a digit or, for a
  negative number, a minus sign that spreadsheets read as a number.

Rows are written in chunks, so a file of any size streams with flat memory.
"""

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal

BOM = "\ufeff"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 500


def neutralise(text: str) -> str:
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


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
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return neutralise(str(value))


def csv_chunks(header: Iterable[str], rows: Iterable[Iterable], *, bom: bool = False) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, ``ROWS_PER_CHUNK`` rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if bom:
        buffer.write(BOM)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(value) for value in row])
        if count % ROWS_PER_CHUNK == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
