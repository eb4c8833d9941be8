"""What ingestion and the sender report as they go: metrics, and one log line per delivery attempt.

Ingestion calls ``events_stored``; the sender's signals reach the other two
(``monitoring.signals``). They run after the rows are written and never touch
the database, so a metrics or logging hiccup cannot undo a stored event or attempt.
"""

import logging
from collections.abc import Iterable

from django.db import transaction

from deliveries.models import Delivery, DeliveryAttempt
from deliveries.records import Postback

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


def attempts_recorded(*, postbacks: Iterable[Postback]) -> None:
    """Metrics and a log line for each attempt the sender has just written back."""
    for postback in postbacks:
        metrics.attempt_finished(
            outcome=postback.outcome, error_class=postback.error_class, duration_ms=postback.duration_ms
        )
        if postback.status in _FINAL_STATUSES and not postback.is_test:
            metrics.delivery_finished(partner=postback.partner.slug, status=postback.status)
        level, message = _LINES[postback.outcome]
        logger.log(level, "%s: %s in %s ms", message, _answer(postback), postback.duration_ms,
                   extra=log_context(postback))


def lost_attempts_closed(*, count: int) -> None:
    """Attempts a dead worker left in flight, closed as retries once the closing commits; no duration is known."""
    if count:
        transaction.on_commit(
            lambda: metrics.attempt_finished(
                outcome=DeliveryAttempt.Outcome.RETRY, error_class="worker_lost", duration_ms=None, count=count
            )
        )


def log_context(postback: Postback) -> dict:
    """The fields every delivery log line carries; the URL, headers and bodies stay out (they may hold secrets)."""
    return {
        "event_id": postback.event.event_id,
        "delivery_id": postback.id,
        "endpoint_id": postback.endpoint_id,
        "partner": postback.partner.slug,
        "attempt": postback.number,
        "status_code": postback.status_code,
        "outcome": postback.outcome,
    }


def _answer(postback: Postback) -> str:
    if postback.status_code is not None:
        return f"HTTP {postback.status_code}" + (f" ({postback.error_class})" if postback.error_class else "")
    return postback.error_class or "no answer"
