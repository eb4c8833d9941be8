"""The operations dashboard at /admin/dashboard/: what is flowing, what is failing, what is waiting."""

from datetime import date, datetime, time, timedelta

from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from deliveries import dashboard_selectors as delivery_reads
from deliveries.models import Delivery
from events import dashboard_selectors as event_reads
from monitoring import selectors as monitoring_reads
from reporting.selectors import reporting_time_zone

DAYS = 14
# The daily series scan two weeks of rows; a minute-old chart is fresh enough for a dashboard.
SERIES_CACHE_SECONDS = 60
SERIES_CACHE_KEY = "console:dashboard-series"
# Events arriving late for a past day show up within this time.
PAST_DAYS_CACHE_SECONDS = 600
VIEW_PERMISSIONS = ("deliveries.view_delivery", "events.view_event")


def dashboard(request):
    if not request.user.has_perms(VIEW_PERMISSIONS):
        raise PermissionDenied
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        "charts": cache.get_or_set(SERIES_CACHE_KEY, _daily_series, SERIES_CACHE_SECONDS),
        "failing": delivery_reads.endpoints_failing_now(),
        "paused": delivery_reads.endpoints_paused(),
        "backlog": delivery_reads.delivery_backlog(),
        "held": delivery_reads.held_count(),
        "can_resume": request.user.has_perm("partners.change_postbackendpoint"),
        "backlog_cap": delivery_reads.BACKLOG_COUNT_CAP,
        "alerts": monitoring_reads.alerts_open(),
        "alerts_resolved": monitoring_reads.alerts_recently_resolved(since=timezone.now() - timedelta(hours=24)),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)


def _days(tzinfo) -> list[date]:
    today = timezone.now().astimezone(tzinfo).date()
    return [today - timedelta(days=offset) for offset in range(DAYS - 1, -1, -1)]


def _daily_series() -> dict:
    """Chart data: one label per day, one series per event type / delivery outcome."""
    tzinfo = reporting_time_zone()
    days = _days(tzinfo)
    events, deliveries = _counts_before_today(days, tzinfo)
    today = datetime.combine(days[-1], time.min, tzinfo=tzinfo)
    events.update(event_reads.events_per_day_by_type(since=today, tzinfo=tzinfo))
    deliveries.update(delivery_reads.deliveries_per_day_by_outcome(since=today, tzinfo=tzinfo))
    event_types = sorted({event_type for _, event_type in events})
    return {
        "events": {
            "labels": [day.isoformat() for day in days],
            "series": [{"name": name, "values": [events.get((day, name), 0) for day in days]} for name in event_types],
        },
        "deliveries": {
            "labels": [day.isoformat() for day in days],
            "series": [
                {"name": status.label, "values": [deliveries.get((day, status.value), 0) for day in days]}
                for status in (Delivery.Status.DELIVERED, Delivery.Status.FAILED)
            ],
        },
    }


def _counts_before_today(days: list[date], tzinfo) -> tuple[dict, dict]:
    """The 13 days before today: nearly all of the scan, and they hardly change, so they are kept longer."""
    since = datetime.combine(days[0], time.min, tzinfo=tzinfo)
    until = datetime.combine(days[-1], time.min, tzinfo=tzinfo)

    def counts():
        return (
            event_reads.events_per_day_by_type(since=since, until=until, tzinfo=tzinfo),
            delivery_reads.deliveries_per_day_by_outcome(since=since, until=until, tzinfo=tzinfo),
        )

    events, deliveries = cache.get_or_set(f"{SERIES_CACHE_KEY}:{days[0]}", counts, PAST_DAYS_CACHE_SECONDS)
    return dict(events), dict(deliveries)
