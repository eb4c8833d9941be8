"""What ingestion and the sender report as they go: metrics, and one log line per delivery attempt.

The two hooks are called after the rows are written; they never touch the
database, so a metrics or logging hiccup cannot undo a stored event or attempt.
"""

import logging
from collections.abc import Iterable

from django.db import transaction

from deliveries.models import Delivery, DeliveryAttempt

from . import metrics

# One line per finished attempt, with the context fields lib.logs lifts into JSON keys.
logger = logging.getLogger("deliveries.attempts")

_FINAL_STATUSES = (Delivery.Status.DELIVERED, Delivery.Status.FAILED)
_LINES = {
    DeliveryAttempt.Outcome.SUCCESS: (logging.INFO, "postback delivered"),
    DeliveryAttempt.Outcome.RETRY: (logging.WARNING, "postback attempt failed, will retry"),
    DeliveryAttempt.Outcome.FAILURE: (logging.WARNING, "postback failed for good"),
}


def events_stored(*, events: Iterable) -> None:
    """Count newly stored events once their transaction has committed (a rollback stores nothing)."""
    type_ids = [event.type_id for event in events]
    if type_ids:
        transaction.on_commit(lambda: metrics.events_ingested(type_ids=type_ids))


def attempts_recorded(*, attempts: Iterable[DeliveryAttempt]) -> None:
    """Metrics and a log line for each attempt the sender has just written back."""
    for attempt in attempts:
        delivery = attempt.delivery
        metrics.attempt_finished(
            outcome=attempt.outcome, error_class=attempt.error_class, duration_ms=attempt.duration_ms
        )
        if delivery.status in _FINAL_STATUSES and not delivery.is_test:
            metrics.delivery_finished(partner=delivery.partner.slug, status=delivery.status)
        level, message = _LINES[attempt.outcome]
        logger.log(level, "%s: %s in %s ms", message, _answer(attempt), attempt.duration_ms, extra=log_context(attempt))


def lost_attempts_closed(*, count: int) -> None:
    """Attempts a dead worker left in flight, closed as retries once the closing commits; no duration is known."""
    if count:
        transaction.on_commit(
            lambda: metrics.attempt_finished(
                outcome=DeliveryAttempt.Outcome.RETRY, error_class="worker_lost", duration_ms=None, count=count
            )
        )


def log_context(attempt: DeliveryAttempt) -> dict:
    """The fields every delivery log line carries; the URL, headers and bodies stay out (they may hold secrets)."""
    delivery = attempt.delivery
    return {
        "event_id": delivery.event.event_id,
        "delivery_id": delivery.pk,
        "endpoint_id": delivery.endpoint_id,
        "partner": delivery.partner.slug,
        "attempt": attempt.number,
        "status_code": attempt.status_code,
        "outcome": attempt.outcome,
    }


def _answer(attempt: DeliveryAttempt) -> str:
    if attempt.status_code is not None:
        return f"HTTP {attempt.status_code}" + (f" ({attempt.error_class})" if attempt.error_class else "")
    return attempt.error_class or "no answer"
