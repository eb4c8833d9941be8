"""Reads behind /metrics, the alert rules, the dashboard's alert block and ``postback_status``.

Each one is cheap enough to run at every scrape: it walks an index over a
bounded range (the partial ``delivery_due`` index, ``attempt_started`` over
a short window) or a small table (endpoints, alerts).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from deliveries.models import Delivery, DeliveryAttempt, Heartbeat
from deliveries.selectors import behind_an_earlier_one
from partners.models import PostbackEndpoint

from .models import Alert

# Counting stops here, so a huge backlog costs a bounded scan at every scrape.
BACKLOG_COUNT_CAP = 100_000


@dataclass(frozen=True)
class Backlog:
    """Deliveries due now: how many (counted up to the cap) and when the oldest became due."""

    due: int  # capped at BACKLOG_COUNT_CAP + 1
    oldest_due_at: datetime | None

    @property
    def is_capped(self) -> bool:
        return self.due > BACKLOG_COUNT_CAP

    def oldest_age_seconds(self, now: datetime) -> float:
        return max((now - self.oldest_due_at).total_seconds(), 0.0) if self.oldest_due_at else 0.0


def backlog_of(due: QuerySet) -> Backlog:
    due = due.order_by()
    oldest = due.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    return Backlog(due=due.values("pk")[: BACKLOG_COUNT_CAP + 1].count(), oldest_due_at=oldest)


def sendable_backlog(*, now: datetime | None = None) -> Backlog:
    """What the sender has yet to send. Held deliveries (a paused endpoint, an open circuit) wait on purpose
    and are left out, as are those waiting behind an earlier postback of their player (not due before it is).

    The partial ``delivery_due`` index serves both the count and the oldest, as it does the sender's claim.
    """
    now = now or timezone.now()
    return backlog_of(
        Delivery.objects.filter(
            status__in=Delivery.OPEN_STATUSES,
            next_attempt_at__lte=now,
            endpoint__is_active=True,
            endpoint__circuit_opened_at__isnull=True,
            partner__is_active=True,
        ).exclude(behind_an_earlier_one(now))
    )


def paused_endpoints() -> QuerySet:
    """Endpoints holding their deliveries: paused themselves or through their partner."""
    return PostbackEndpoint.objects.filter(Q(is_active=False) | Q(partner__is_active=False))


def paused_endpoint_count() -> int:
    return paused_endpoints().count()


def open_circuits() -> list[PostbackEndpoint]:
    """Endpoints whose circuit is open (a small set: only partners failing right now)."""
    return list(PostbackEndpoint.objects.filter(circuit_opened_at__isnull=False).select_related("partner"))


@dataclass(frozen=True)
class EndpointFailureRate:
    endpoint_id: int
    attempts: int
    failed: int

    @property
    def rate(self) -> float:
        return self.failed / self.attempts if self.attempts else 0.0


def endpoint_failure_rates(*, since: datetime) -> dict[int, EndpointFailureRate]:
    """Finished attempts of real (not test) deliveries since ``since``, per endpoint.

    The attempt_started index bounds the scan to the window.
    """
    rows = (
        DeliveryAttempt.objects.filter(started_at__gte=since, delivery__is_test=False)
        .exclude(outcome=DeliveryAttempt.Outcome.IN_FLIGHT)
        .values("delivery__endpoint_id")
        .annotate(attempts=Count("pk"), failed=Count("pk", filter=~Q(outcome=DeliveryAttempt.Outcome.SUCCESS)))
        .order_by()
    )
    return {
        row["delivery__endpoint_id"]: EndpointFailureRate(
            endpoint_id=row["delivery__endpoint_id"], attempts=row["attempts"], failed=row["failed"]
        )
        for row in rows
    }


def attempt_outcomes_since(*, since: datetime) -> dict[str, int]:
    """Finished attempts since ``since`` by outcome (success, retry, failure), for the delivery rate."""
    rows = (
        DeliveryAttempt.objects.filter(started_at__gte=since)
        .exclude(outcome=DeliveryAttempt.Outcome.IN_FLIGHT)
        .values("outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    finished = (DeliveryAttempt.Outcome.SUCCESS, DeliveryAttempt.Outcome.RETRY, DeliveryAttempt.Outcome.FAILURE)
    counts = dict.fromkeys(finished, 0)
    counts.update({row["outcome"]: row["n"] for row in rows})
    return counts


def alerts_open() -> list[Alert]:
    return list(Alert.objects.filter(resolved_at__isnull=True).select_related("endpoint", "partner"))


def alerts_recently_resolved(*, since: datetime) -> list[Alert]:
    alerts = Alert.objects.filter(resolved_at__gte=since).select_related("endpoint", "partner")
    return list(alerts.order_by("-resolved_at"))


def open_alert_counts() -> dict[str, int]:
    rows = Alert.objects.filter(resolved_at__isnull=True).values("kind").annotate(n=Count("pk")).order_by()
    counts = dict.fromkeys(Alert.Kind.values, 0)
    counts.update({row["kind"]: row["n"] for row in rows})
    return counts


def scheduler_heartbeat_at() -> datetime | None:
    return Heartbeat.objects.filter(name="scheduler").values_list("last_seen_at", flat=True).first()
