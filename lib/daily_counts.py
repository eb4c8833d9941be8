"""Rows counted per (local day, key) over a time range: the dashboard's daily series."""

from datetime import date, datetime

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate


def counts_per_day(
    rows: QuerySet, *, time_field: str, key: str, since: datetime, until: datetime | None, tzinfo
) -> dict[tuple[date, str], int]:
    """Rows per (day, ``key``) with ``time_field`` from ``since`` (until ``until``), days cut in ``tzinfo``."""
    rows = rows.filter(**{f"{time_field}__gte": since})
    if until is not None:
        rows = rows.filter(**{f"{time_field}__lt": until})
    grouped = (
        rows.annotate(day=TruncDate(time_field, tzinfo=tzinfo))
        .values("day", key)
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["day"], row[key]): row["n"] for row in grouped}
