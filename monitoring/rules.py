"""The alert rules: which incidents hold at this moment.

Each rule returns the conditions true now; ``services.alerts_evaluate``
opens an alert when a condition starts to hold and resolves it when it
stops, so managers hear once per incident, not once per failure.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.timesince import timesince

from deliveries import selectors as delivery_reads
from lib.partitioning import months_ahead
from partners.models import AUTO_PAUSE_REASON_PREFIX, PostbackEndpoint

from . import selectors
from .models import Alert


@dataclass(frozen=True)
class Condition:
    kind: str
    key: str
    summary: str
    endpoint: PostbackEndpoint | None = None


def conditions_now(*, now: datetime) -> list[Condition]:
    return [*_auto_paused_endpoints(), *_open_circuits(), *_failing_endpoints(now), *_old_backlog(now),
            *_partitions_running_out(now)]


def circuit_condition(endpoint: PostbackEndpoint) -> Condition:
    """An endpoint whose circuit is open: its deliveries are held while one probe at a time tests the partner."""
    return Condition(
        kind=Alert.Kind.CIRCUIT_OPEN,
        key=f"circuit_open:{endpoint.pk}",
        summary=(
            f"{endpoint}: circuit opened at {endpoint.circuit_opened_at:%Y-%m-%d %H:%M:%S} UTC after "
            f"{endpoint.consecutive_failures} consecutive failed attempts"
        ),
        endpoint=endpoint,
    )


def _open_circuits() -> list[Condition]:
    opened = PostbackEndpoint.objects.filter(circuit_opened_at__isnull=False).select_related("partner")
    return [circuit_condition(endpoint) for endpoint in opened]


def _auto_paused_endpoints() -> list[Condition]:
    paused = PostbackEndpoint.objects.filter(is_active=False, pause_reason__startswith=AUTO_PAUSE_REASON_PREFIX)
    return [
        Condition(
            kind=Alert.Kind.ENDPOINT_PAUSED,
            key=f"endpoint_paused:{endpoint.pk}",
            summary=f"{endpoint}: {endpoint.pause_reason}",
            endpoint=endpoint,
        )
        for endpoint in paused.select_related("partner")
    ]


def _failing_endpoints(now: datetime) -> list[Condition]:
    minutes = settings.ALERT_FAILURE_RATE_WINDOW_MINUTES
    threshold = settings.ALERT_FAILURE_RATE_THRESHOLD
    rates = selectors.endpoint_failure_rates(since=now - timedelta(minutes=minutes))
    over = {
        pk: rate for pk, rate in rates.items()
        if rate.attempts >= settings.ALERT_FAILURE_RATE_MIN_ATTEMPTS and rate.rate >= threshold
    }
    endpoints = PostbackEndpoint.objects.filter(pk__in=over, is_active=True).select_related("partner")
    failing = [
        Condition(
            kind=Alert.Kind.FAILURE_RATE,
            key=f"failure_rate:{endpoint.pk}",
            summary=(
                f"{endpoint}: {over[endpoint.pk].failed} of {over[endpoint.pk].attempts} attempts failed in the "
                f"last {minutes} min ({over[endpoint.pk].rate:.0%}; the threshold is {threshold:.0%})"
            ),
            endpoint=endpoint,
        )
        for endpoint in endpoints
    ]
    return failing + _held_while_paused()


def _held_while_paused() -> list[Condition]:
    """A paused endpoint sends nothing, so its rate says nothing new: its open alert stays open, not "resolved"."""
    held = Alert.objects.filter(kind=Alert.Kind.FAILURE_RATE, resolved_at__isnull=True, endpoint__is_active=False)
    return [Condition(kind=alert.kind, key=alert.key, summary=alert.summary) for alert in held]


def _old_backlog(now: datetime) -> list[Condition]:
    backlog = delivery_reads.sendable_backlog(now=now)
    if backlog.oldest_age_seconds(now) <= settings.ALERT_BACKLOG_AGE_SECONDS:
        return []
    limit = timesince(now - timedelta(seconds=settings.ALERT_BACKLOG_AGE_SECONDS), now)
    summary = (
        f"{backlog.due} deliveries are due; the oldest has waited {timesince(backlog.oldest_due_at, now)} "
        f"(the threshold is {limit})"
    )
    return [Condition(kind=Alert.Kind.BACKLOG_AGE, key="backlog_age", summary=summary)]


def _partitions_running_out(now: datetime) -> list[Condition]:
    """Fewer months ahead have partitions than the periodic task keeps: it has stopped making them.

    Once the newest partition's month is over, no event can be stored, so
    this says so while there is a month or more left to act.
    """
    ahead = months_ahead(now=now)
    wanted = max(1, settings.POSTBACK_PARTITIONS_AHEAD_MONTHS - 1)
    if ahead is None or ahead >= wanted:
        return []
    kept = settings.POSTBACK_PARTITIONS_AHEAD_MONTHS
    summary = (
        f"Partitions exist for {ahead} month(s) after this one, fewer than the {kept} "
        "kept ahead: events cannot be stored once they run out. Run manage.py partitions --create-ahead."
    )
    return [Condition(kind=Alert.Kind.PARTITIONS_AHEAD, key="partitions_ahead", summary=summary)]
