"""Reads of events for the admin console: partner activity and the dashboard's daily series."""

from datetime import date, datetime

from django.db.models import Count

from lib.daily_counts import counts_per_day

from .models import Event


def event_counts_by_partner(*, partner_ids: list[int], since: datetime) -> dict[int, int]:
    """Events since ``since`` for a page of partners, from the (partner, occurred_at) index alone.

    Test postbacks' events carry no partner, so no is_test condition (and no
    visit to the table's rows) is needed to leave them out.
    """
    rows = (
        Event.objects.filter(partner_id__in=partner_ids, occurred_at__gte=since)
        .order_by()
        .values_list("partner_id")
        .annotate(n=Count("pk"))
    )
    return dict(rows)


def events_per_day_by_type(*, since: datetime, until: datetime | None = None, tzinfo) -> dict[tuple[date, str], int]:
    """Real events per (day, type) from ``since`` (until ``until``), days cut in ``tzinfo``.

    A range on the occurred_at index.
    """
    events = Event.objects.filter(is_test=False)
    return counts_per_day(events, time_field="occurred_at", key="type", since=since, until=until, tzinfo=tzinfo)
