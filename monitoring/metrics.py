"""Prometheus metrics for GET /metrics.

Two kinds:

- counters and a histogram that the code increments as things happen
  (events stored, attempts finished, deliveries finished). Under gunicorn
  and Celery prefork each process counts for itself: with
  ``PROMETHEUS_MULTIPROC_DIR`` set in the environment before the process
  starts, prometheus-client keeps every process's values in files there and
  a scrape adds them up. Without it (development, tests) a scrape sees the
  serving process only.
- gauges read from the database at scrape time (backlog, oldest due
  delivery, paused endpoints, open circuits, open alerts, scheduler
  heartbeat), so they are
  right whichever process answers.
"""

import os
from collections import Counter as Tally
from collections.abc import Iterable

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from deliveries import selectors as delivery_reads

from . import selectors

# The platform's own series, apart from prometheus-client's default registry,
# whose process and GC collectors do not add up across processes.
REGISTRY = CollectorRegistry()

EVENTS_INGESTED = Counter(
    "postback_events_ingested", "Events stored (not duplicates), by event type.", ["type"], registry=REGISTRY
)
DELIVERY_ATTEMPTS = Counter(
    "postback_delivery_attempts",
    "Delivery attempts finished, by outcome (success, retry, failure) and error class.",
    ["outcome", "error_class"],
    registry=REGISTRY,
)
ATTEMPT_DURATION = Histogram(
    "postback_delivery_attempt_duration_seconds",
    "Time from sending a postback to having the partner's answer (or giving up on it).",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
DELIVERIES_FINISHED = Counter(
    "postback_deliveries_finished",
    "Real (not test) deliveries that reached a final status (delivered, failed), by partner.",
    ["partner", "status"],
    registry=REGISTRY,
)


def events_ingested(*, type_ids: Iterable[str]) -> None:
    for type_id, count in Tally(type_ids).items():
        EVENTS_INGESTED.labels(type=type_id).inc(count)


def attempt_finished(*, outcome: str, error_class: str, duration_ms: int | None, count: int = 1) -> None:
    DELIVERY_ATTEMPTS.labels(outcome=outcome, error_class=error_class or "none").inc(count)
    if duration_ms is not None:
        ATTEMPT_DURATION.observe(duration_ms / 1000)


def delivery_finished(*, partner: str, status: str) -> None:
    DELIVERIES_FINISHED.labels(partner=partner, status=status).inc()


class DatabaseCollector:
    """Gauges read from the database at each scrape."""

    def collect(self):
        now = timezone.now()
        try:
            backlog = delivery_reads.sendable_backlog(now=now)
            paused = delivery_reads.paused_endpoint_count()
            circuits = delivery_reads.open_circuits()
            alerts = selectors.open_alert_counts()
            heartbeat = selectors.scheduler_heartbeat_at()
        except DatabaseError:
            yield GaugeMetricFamily("postback_database_up", "1 when the scrape could read the database.", value=0)
            return
        yield GaugeMetricFamily("postback_database_up", "1 when the scrape could read the database.", value=1)
        yield GaugeMetricFamily(
            "postback_deliveries_due",
            "Deliveries due now whose endpoint and partner are active (the backlog; held deliveries excluded).",
            value=backlog.due,
        )
        yield GaugeMetricFamily(
            "postback_deliveries_due_oldest_age_seconds",
            "How long the oldest due delivery has waited since it became due; 0 when none is due.",
            value=backlog.oldest_age_seconds(now),
        )
        yield GaugeMetricFamily(
            "postback_endpoints_paused", "Endpoints holding their deliveries (paused, or partner paused).", value=paused
        )
        yield from _circuit_gauges(circuits, now)
        open_alerts = GaugeMetricFamily("postback_alerts_open", "Open alerts by kind.", labels=["kind"])
        for kind, count in alerts.items():
            open_alerts.add_metric([kind], count)
        yield open_alerts
        if heartbeat is not None:
            yield GaugeMetricFamily(
                "postback_scheduler_heartbeat_age_seconds",
                "Seconds since Celery beat and a worker last recorded the scheduler heartbeat.",
                value=max((now - heartbeat).total_seconds(), 0.0),
            )


def _circuit_gauges(circuits, now):
    labels = ["endpoint_id", "partner"]
    opened = GaugeMetricFamily(
        "postback_endpoint_circuit_open_seconds",
        "Seconds since the endpoint's circuit opened (its deliveries are held); only open circuits are listed.",
        labels=labels,
    )
    probe = GaugeMetricFamily(
        "postback_endpoint_circuit_next_probe_seconds",
        "Seconds until the open circuit's next probe (0 when it is due).", labels=labels,
    )
    for endpoint in circuits:
        names = [str(endpoint.pk), endpoint.partner.slug]
        opened.add_metric(names, max((now - endpoint.circuit_opened_at).total_seconds(), 0.0))
        next_probe = endpoint.circuit_next_probe_at or now
        probe.add_metric(names, max((next_probe - now).total_seconds(), 0.0))
    yield GaugeMetricFamily("postback_endpoint_circuits_open", "Endpoints whose circuit is open.", value=len(circuits))
    yield opened
    yield probe


class _ThisProcess:
    def collect(self):
        return REGISTRY.collect()


def exposition() -> bytes:
    """The Prometheus text format of every series: all processes' counters plus the database gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return generate_latest(registry)
