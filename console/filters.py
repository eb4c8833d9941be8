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

# A short prefix may match millions of ids: the rows of the first ones (alphabetically) are looked up, no more.
PREFIX_MATCHES_MAX = 1000


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
    """Changelist search by case-sensitive equality, then by prefix, tier by tier.

    The admin's own ``=field`` search compares ``UPPER()`` of both sides and its
    ``^field`` search uses ``ILIKE``, which no plain index serves, so on a big
    table every search would scan it. Here each tier is an OR of look-ups on
    indexed columns, tried in turn until one finds something: first the exact
    tiers, then the prefix tiers, then the late exact tiers: columns without
    an index of their own, whose look-up scans the table, so it runs only
    when no indexed tier found anything. A prefix look-up is a case-sensitive ``LIKE 'term%'``, which
    PostgreSQL answers from a ``varchar_pattern_ops`` index: Django makes one
    beside every unique or indexed ``CharField`` (``<table>_<column>_…_like``),
    and ``prefix_q`` may route a column through a table that has it.
    """

    exact_search_tiers: tuple[tuple[str, ...], ...] = ()
    prefix_search_tiers: tuple[tuple[str, ...], ...] = ()
    late_exact_search_tiers: tuple[tuple[str, ...], ...] = ()

    def get_search_fields(self, request):
        return [field for tier in (*self.exact_search_tiers, *self.late_exact_search_tiers) for field in tier]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        tiers = [
            *(reduce(operator.or_, (Q(**{field: term}) for field in tier)) for tier in self.exact_search_tiers),
            *(reduce(operator.or_, (self.prefix_q(field, term) for field in tier)) for tier in self.prefix_search_tiers),
            *(reduce(operator.or_, (Q(**{field: term}) for field in tier)) for tier in self.late_exact_search_tiers),
        ]
        for position, matches in enumerate(tiers, start=1):
            found = queryset.filter(matches)
            if position == len(tiers) or found.exists():
                return found, False
        return queryset, False

    def prefix_q(self, field: str, term: str) -> Q:
        return Q(**{f"{field}__startswith": term})
