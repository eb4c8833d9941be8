"""The circuit breaker: a partner that keeps failing is probed, not hammered, and heals by itself.

Closed (the normal state), an endpoint's deliveries go out as they come due
and its run of consecutive failed attempts is kept. When the run reaches the
endpoint's ``circuit_failure_threshold`` the circuit opens: its deliveries
are held (not attempted, not failed, no attempt spent) and one of them goes
out as a probe, first after ``POSTBACK_CIRCUIT_PROBE_MIN_SECONDS``, the wait
doubling after each failed probe up to ``POSTBACK_CIRCUIT_PROBE_MAX_SECONDS``.
The first probe that succeeds closes the circuit and the held deliveries go
out in the order they were created. Only when the circuit has been open for
``POSTBACK_DISABLE_AFTER_HOURS`` is the endpoint paused for a manager.

Answers that are the delivery's own business (other 4xx, a refused target,
a template error) neither add to the run nor end it; a fault on this side
(``internal``) says nothing about the partner either.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from lib import http
from partners.models import AUTO_PAUSE_REASON_PREFIX, PostbackEndpoint

from .models import Delivery
from .records import Postback
from .signals import circuit_closed, circuit_opened

NOT_ABOUT_THE_PARTNER = {"internal", "lease_lost"}


def probes_sent(*, endpoints: list[PostbackEndpoint], now: datetime) -> None:
    """A probe is out: the next one waits a full interval, even if this one's sender dies."""
    for endpoint in endpoints:
        PostbackEndpoint.objects.filter(pk=endpoint.pk, circuit_opened_at__isnull=False).update(
            circuit_next_probe_at=now + timedelta(seconds=_interval(endpoint))
        )


def outcomes_record(*, postbacks: list[Postback], now: datetime) -> None:
    """Move each endpoint's failure run and circuit on by its deliveries' outcomes, in the order they finished."""
    by_endpoint: dict[int, list[Postback]] = defaultdict(list)
    for postback in postbacks:
        result = postback.result
        if result.error_class not in NOT_ABOUT_THE_PARTNER and result.verdict != http.Verdict.PERMANENT:
            by_endpoint[postback.endpoint_id].append(postback)
    for group in by_endpoint.values():
        _record(group[0].endpoint, group, now)


def _record(endpoint: PostbackEndpoint, postbacks: list[Postback], now: datetime) -> None:
    verdicts = [postback.result.verdict for postback in postbacks]
    if http.Verdict.SUCCESS in verdicts:
        trailing = verdicts[::-1].index(http.Verdict.SUCCESS)
        if endpoint.circuit_opened_at is not None:
            circuit_close(endpoint=endpoint, now=now, failures=trailing)
        elif endpoint.consecutive_failures != trailing:  # a healthy endpoint costs no statement
            PostbackEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=trailing)
        return
    rows = PostbackEndpoint.objects.filter(pk=endpoint.pk)
    rows.update(consecutive_failures=F("consecutive_failures") + len(verdicts))
    last_error = postbacks[-1].result.error
    opened = rows.filter(
        circuit_opened_at__isnull=True, circuit_failure_threshold__gt=0,
        consecutive_failures__gte=F("circuit_failure_threshold"),
    ).update(
        circuit_opened_at=now, circuit_probe_seconds=round(settings.POSTBACK_CIRCUIT_PROBE_MIN_SECONDS),
        circuit_next_probe_at=now + timedelta(seconds=settings.POSTBACK_CIRCUIT_PROBE_MIN_SECONDS),
    )
    if opened:
        _announce_on_commit(circuit_opened, endpoint_id=endpoint.pk, last_error=last_error, now=now)
    elif any(postback.is_probe for postback in postbacks):
        _probe_failed(endpoint, now, last_error)


def _probe_failed(endpoint: PostbackEndpoint, now: datetime, last_error: str) -> None:
    wait = min(2 * _interval(endpoint), settings.POSTBACK_CIRCUIT_PROBE_MAX_SECONDS)
    rows = PostbackEndpoint.objects.filter(pk=endpoint.pk, circuit_opened_at__isnull=False)
    rows.update(circuit_probe_seconds=round(wait), circuit_next_probe_at=now + timedelta(seconds=wait))
    opened_at = endpoint.circuit_opened_at
    if now - opened_at < timedelta(hours=settings.POSTBACK_DISABLE_AFTER_HOURS):
        return
    # The circuit stays open on record beside the pause: the manager's resume closes both.
    rows.filter(is_active=True).update(
        is_active=False, paused_at=now,
        pause_reason=(
            f"{AUTO_PAUSE_REASON_PREFIX}: every probe has failed since its circuit opened at "
            f"{opened_at:%Y-%m-%d %H:%M} UTC; last error: {last_error[:300]}"
        )[:500],
    )


def circuit_close(*, endpoint: PostbackEndpoint, now: datetime, failures: int = 0) -> None:
    """The partner answers again: end the circuit and send the held deliveries in the order they were created."""
    closed = PostbackEndpoint.objects.filter(pk=endpoint.pk, circuit_opened_at__isnull=False).update(
        circuit_opened_at=None, circuit_next_probe_at=None, circuit_probe_seconds=0, consecutive_failures=failures,
    )
    if not closed:
        return
    held = Delivery.objects.filter(endpoint_id=endpoint.pk, status__in=Delivery.OPEN_STATUSES)
    # Retries scheduled before the circuit opened need not wait any longer: they are due from when they were made.
    held.filter(next_attempt_at__gt=F("created_at")).update(next_attempt_at=F("created_at"))
    _announce_on_commit(circuit_closed, endpoint_id=endpoint.pk, held=held.count(), now=now)


def _interval(endpoint: PostbackEndpoint) -> float:
    return max(endpoint.circuit_probe_seconds, settings.POSTBACK_CIRCUIT_PROBE_MIN_SECONDS)


def _announce_on_commit(signal, **kwargs) -> None:
    # Monitoring listens and opens or resolves the alert; a rolled-back change announces nothing.
    transaction.on_commit(lambda: signal.send(sender=PostbackEndpoint, **kwargs))
