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
from typing import NamedTuple

from django.db.models import Model, QuerySet, TextField
from django.db.models.functions import Cast

from deliveries.filter_params import delivery_filters
from deliveries.selectors import delivery_list
from events.filter_params import event_filters
from events.selectors import event_list

from .csv_export import ROWS_PER_CHUNK, TEXT_FIELDS, Formatter, csv_chunks, field_formatter, formatted_pieces, with_clean
from .selectors import StatsRow

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Column:
    header: str
    source: str  # a ``values_list`` path
    # Text cleaning before the formula guard, for text columns that may quote a secret.
    clean: Callable[[str], str] | None = None


# Partners often put their own tokens in postback query strings, and
# connection errors quote the URL they failed on. A query string ends at
# white space, a quote or a closing parenthesis.
_QUERY_STRING = re.compile(r"\?[^\s'\")]+")


def without_query_strings(text: str) -> str:
    return _QUERY_STRING.sub("?…", text) if "?" in text else text


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
    Column("params", "params"),
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
    Column("last_error", "last_error", clean=without_query_strings),
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


def table_chunks(
    queryset: QuerySet, columns: Sequence[Column], *, bom: bool = False, progress: Callable[[int], object] | None = None
) -> Iterator[str]:
    """Stream ``queryset`` as CSV, oldest row first, without loading it; ``progress`` hears each chunk's row count.

    The rows come through one query (on PostgreSQL a server-side cursor, so the
    file is one snapshot), ``ROWS_PER_CHUNK`` per fetch and per chunk of text.
    """
    fields = [_field_of(queryset.model, column.source) for column in columns]
    values = [_fetched(column, field) for column, field in zip(columns, fields, strict=True)]
    formatters = [_formatter(column, field) for column, field in zip(columns, fields, strict=True)]
    rows = queryset.order_by("id").values_list(*values).iterator(chunk_size=ROWS_PER_CHUNK)
    for count, text in formatted_pieces(headers(columns), rows, formatters, bom=bom):
        if progress:
            progress(count)
        yield text


def _formatter(column: Column, field: "_Field") -> Formatter:
    if column.clean:
        if field.type not in TEXT_FIELDS:
            raise ValueError(f"{column.source} is cleaned but is no text ({field.type})")
        return with_clean(column.clean)
    try:
        return field_formatter(field.type, nullable=field.nullable)
    except KeyError:
        raise ValueError(f"no CSV format for {field.type} ({column.source})") from None


def _fetched(column: Column, field: "_Field") -> str | Cast:
    # A JSON value is fetched as the database's own text of it: decoding it into
    # Python objects and encoding it again cost more than the rest of the row.
    return Cast(column.source, TextField()) if field.type == "JSONField" else column.source


class _Field(NamedTuple):
    type: str  # Django's internal type of the field a column's path ends on
    nullable: bool  # a NULL on the way (an empty foreign key) counts


def _field_of(model: type[Model], path: str) -> _Field:
    *relations, name = path.split("__")
    nullable = False
    for relation in relations:
        field = model._meta.get_field(relation)
        nullable |= field.null
        model = field.related_model
    field = model._meta.get_field(name)
    return _Field((field.target_field if field.is_relation else field).get_internal_type(), nullable or field.null)


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
