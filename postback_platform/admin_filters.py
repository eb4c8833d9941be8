"""Changelist filters shared by the events and deliveries admins."""

import operator
from datetime import timedelta
from functools import reduce

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

RECENT_WINDOWS = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 h", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "14d": ("Last 14 days", timedelta(days=14)),
    "30d": ("Last 30 days", timedelta(days=30)),
}


class RecentListFilter(admin.SimpleListFilter):
    """A time window as a range on an indexed timestamp column.

    Subclasses name the column in ``field_name``. A range (``>=``) lets the
    database walk the index; date parts (``__date``, ``__year``) would not.
    """

    title = "time"
    parameter_name = "recent"
    field_name = ""

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in RECENT_WINDOWS.items()]

    def queryset(self, request, queryset):
        window = RECENT_WINDOWS.get(self.value())
        if window is None:
            return queryset
        return queryset.filter(**{f"{self.field_name}__gte": timezone.now() - window[1]})


class ExactSearchMixin:
    """Changelist search by case-sensitive equality, tier by tier.

    The admin's own ``=field`` search compares ``UPPER()`` of both sides, which
    no plain index serves, so on a big table every search would scan it. Here
    each tier is an OR of equalities on indexed columns; a later tier (a column
    without an index of its own) is only searched when the earlier ones found nothing.
    """

    exact_search_tiers: tuple[tuple[str, ...], ...] = ()

    def get_search_fields(self, request):
        return [field for tier in self.exact_search_tiers for field in tier]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        for position, tier in enumerate(self.exact_search_tiers, start=1):
            found = queryset.filter(reduce(operator.or_, (Q(**{field: term}) for field in tier)))
            if position == len(self.exact_search_tiers) or found.exists():
                return found, False
        return queryset, False
