"""Reads behind /metrics, the alert rules, the dashboard's alert block and ``postback_status``.

Each one is cheap enough to run at every scrape: it walks an index over a
bounded range (``attempt_started`` over a short window) or a small table
(alerts). The backlog and the endpoints holding deliveries are read by
``deliveries.selectors``.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from deliveries.models import DeliveryAttempt, Heartbeat

from .models import Alert

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
