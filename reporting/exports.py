"""What each CSV export contains: its columns, in their documented order, and its rows.

The column lists are part of the contract with spreadsheet users: add new
columns at the end, never reorder or rename. Nothing secret is exported:
no signing secrets, no request headers, no rendered request URL or body
(partners often put their own tokens in postback URLs), and query strings
quoted in error messages are cut.
"""

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections
from django.db.models import QuerySet

from deliveries.filter_params import delivery_filters
from deliveries.selectors import delivery_list
from events.filter_params import event_filters
from events.selectors import event_list

from .copy_export import copy_pieces
from .csv_export import csv_chunks, csv_pieces, jsonb_text
from .selectors import StatsRow

# Rows fetched per round trip by the Python writer (SQLite), so memory stays
# flat however many rows match.
FETCH_SIZE = 2000
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Column:
    header: str
    source: str  # a ``values_list`` path
    clean: Callable[[object], str] | None = None
    # ``clean`` in SQL: the expression and its parameters, given the cell's
    # text. None where PostgreSQL's own text form already is what ``clean``
    # makes (``jsonb_text``).
    clean_sql: Callable[[str], tuple[str, list]] | None = None


# Partners often put their own tokens in postback query strings, and
# connection errors quote the URL they failed on. A query string ends at
# whitespace (Python's \s, spelled out: PostgreSQL's \s depends on the
# locale), a quote or a closing parenthesis.
QUERY_STRING_END = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000'\")"
QUERY_STRING = f"\\?[^{QUERY_STRING_END}]+"
_QUERY_STRING = re.compile(QUERY_STRING)


def without_query_strings(text: str) -> str:
    return _QUERY_STRING.sub("?…", text)


def without_query_strings_sql(text: str) -> tuple[str, list]:
    return f"CASE WHEN strpos({text}, '?') > 0 THEN regexp_replace({text}, %s, '?…', 'g') ELSE {text} END", [
        QUERY_STRING
    ]


EVENT_COLUMNS = (
    Column("id", "id"),
    Column("event_id", "event_id"),
    Column("type", "type_id"),
    Column("player_id", "player_id"),
    Column("partner", "partner__slug"),
    Column("click_id", "click_id"),
    Column("amount", "amount"),
    Column("currency", "currency"),
    Column("occurred_at", "occurred_at"),
    Column("received_at", "received_at"),
    Column("is_first_deposit", "is_first_deposit"),
    Column("is_test", "is_test"),
    Column("params", "params", clean=jsonb_text),
)

DELIVERY_COLUMNS = (
    Column("id", "id"),
    Column("event", "event_id"),
    Column("event_id", "event__event_id"),
    Column("event_type", "event_type_id"),
    Column("partner", "partner__slug"),
    Column("endpoint", "endpoint_id"),
    Column("endpoint_name", "endpoint__name"),
    Column("status", "status"),
    Column("is_test", "is_test"),
    Column("attempts", "attempt_count"),
    Column("created_at", "created_at"),
    Column("next_attempt_at", "next_attempt_at"),
    Column("delivered_at", "delivered_at"),
    Column("last_status_code", "last_status_code"),
    Column("last_error", "last_error", clean=without_query_strings, clean_sql=without_query_strings_sql),
)

STATS_MEASURES = (
    "events",
    "unique_players",
    "registrations",
    "first_deposits",
    "qualified",
    "deliveries_delivered",
    "deliveries_failed",
    "deliveries_pending",
    "conversion_rate",
)


def events_matching(params) -> QuerySet:
    """The events the event list would show for these query parameters (a bad one raises a 400 error)."""
    return event_list(**event_filters(params))


def deliveries_matching(params) -> QuerySet:
    """The deliveries the delivery list would show for these query parameters."""
    return delivery_list(**delivery_filters(params))


def table_rows(queryset: QuerySet, columns: Sequence[Column]) -> Iterator[tuple]:
    """The columns' values of ``queryset``, oldest row first, fetched ``FETCH_SIZE`` at a time."""
    rows = queryset.order_by("id").values_list(*(column.source for column in columns))
    rows = rows.iterator(chunk_size=FETCH_SIZE)
    cleaners = [(position, column.clean) for position, column in enumerate(columns) if column.clean]
    return (_cleaned(row, cleaners) for row in rows) if cleaners else rows


def _cleaned(row: tuple, cleaners: list) -> list:
    values = list(row)
    for position, clean in cleaners:
        if values[position] is not None:
            values[position] = clean(values[position])
    return values


def table_chunks(
    queryset: QuerySet, columns: Sequence[Column], *, bom: bool = False, progress: Callable[[int], object] | None = None
) -> Iterator[str]:
    """Stream ``queryset`` as CSV without loading it into memory; ``progress`` hears each chunk's row count.

    PostgreSQL writes the file itself (``COPY``, see ``copy_export``);
    elsewhere the Python writer does, to the same bytes.
    """
    if connections[queryset.db].vendor == "postgresql":
        pieces = copy_pieces(queryset, columns, bom=bom)
    else:
        pieces = csv_pieces(headers(columns), table_rows(queryset, columns), bom=bom)
    for rows, text in pieces:
        if progress:
            progress(rows)
        yield text


def headers(columns: Sequence[Column]) -> list[str]:
    return [column.header for column in columns]


def stats_table(rows: Sequence[StatsRow], group_by: Sequence[str]) -> tuple[list[str], list[list]]:
    """Header and rows of the statistics CSV.

    The group columns come first (those asked for, in the order day,
    partner, event_type), then ``STATS_MEASURES``, then one
    ``deposit_sum_<CUR>`` column per currency and one ``payout_sum_<CUR>``
    per currency, currencies in alphabetical order.
    """
    deposit_currencies = sorted({currency for row in rows for currency in row.deposit_sum})
    payout_currencies = sorted({currency for row in rows for currency in row.payout_sum})
    header = [
        *group_by,
        *STATS_MEASURES,
        *(f"deposit_sum_{currency}" for currency in deposit_currencies),
        *(f"payout_sum_{currency}" for currency in payout_currencies),
    ]
    body = [
        [
            *(getattr(row, name) for name in (*group_by, *STATS_MEASURES)),
            *(row.deposit_sum.get(currency, ZERO) for currency in deposit_currencies),
            *(row.payout_sum.get(currency, ZERO) for currency in payout_currencies),
        ]
        for row in rows
    ]
    return header, body


def stats_chunks(rows: Sequence[StatsRow], group_by: Sequence[str], *, bom: bool = False) -> Iterator[str]:
    header, body = stats_table(rows, group_by)
    return csv_chunks(header, body, bom=bom)
