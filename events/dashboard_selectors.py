"""Reads of events for the admin console: partner activity and the dashboard's daily series."""

from datetime import date, datetime

from django.db.models import Count, OuterRef
from django.db.models.functions import Coalesce, TruncDate

from postback_platform.subqueries import count_subquery

from .models import Event


def events_since_for_partner(*, since: datetime) -> Coalesce:
    """An annotation: the partner's real (non-test) events since ``since``.

    Walks the (partner, occurred_at) index for one partner per row shown.
    """
    events = Event.objects.filter(partner=OuterRef("pk"), occurred_at__gte=since, is_test=False)
    return count_subquery(events, outer_field="partner")


def events_per_day_by_type(*, since: datetime, tzinfo) -> dict[tuple[date, str], int]:
    """Real events per (day, type) from ``since``, days cut in ``tzinfo``; range on the occurred_at index."""
    rows = (
        Event.objects.filter(occurred_at__gte=since, is_test=False)
        .annotate(day=TruncDate("occurred_at", tzinfo=tzinfo))
        .values("day", "type")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["day"], row["type"]): row["n"] for row in rows}
