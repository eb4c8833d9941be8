"""Changelist filters shared by the events and deliveries admins."""

from datetime import timedelta

from django.contrib import admin
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
