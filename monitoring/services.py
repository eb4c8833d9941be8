"""Writes for alerts: evaluate the rules, open and resolve incidents, announce each change once."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.timesince import timesince

from partners.models import PostbackEndpoint

from . import notify, rules
from .models import Alert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    opened: int
    resolved: int
    announced: int


def alerts_evaluate(*, now: datetime | None = None) -> Evaluation:
    """Open an alert for each condition that has started to hold, resolve those that stopped, then announce."""
    now = now or timezone.now()
    holding = {condition.key: condition for condition in rules.conditions_now(now=now)}
    open_alerts = dict(Alert.objects.filter(resolved_at__isnull=True).values_list("key", "pk"))
    opened = sum(alert_open(condition=c, now=now) for key, c in holding.items() if key not in open_alerts)
    stopped = [pk for key, pk in open_alerts.items() if key not in holding]
    resolved = Alert.objects.filter(pk__in=stopped, resolved_at__isnull=True).update(resolved_at=now)
    if resolved:
        logger.info("alerts resolved: %s", ", ".join(key for key in open_alerts if key not in holding))
    return Evaluation(opened=opened, resolved=resolved, announced=alerts_announce_pending(now=now))


def alert_open(*, condition: rules.Condition, now: datetime) -> bool:
    """Open an alert for ``condition``; False when one is open already (a concurrent evaluation got there first)."""
    endpoint = condition.endpoint
    try:
        with transaction.atomic():
            Alert.objects.create(
                kind=condition.kind,
                key=condition.key,
                endpoint=endpoint,
                partner_id=endpoint.partner_id if endpoint else None,
                summary=condition.summary[:500],
                opened_at=now,
            )
    except IntegrityError:
        return False
    logger.warning("alert opened: %s", condition.summary)
    return True


def circuit_alert_open(*, endpoint_id: int, last_error: str, now: datetime) -> None:
    """Open the endpoint's circuit alert as the circuit opens, so even a short outage is announced once."""
    endpoint = PostbackEndpoint.objects.select_related("partner").filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.circuit_opened_at is None:
        return
    condition = rules.circuit_condition(endpoint)
    summary = f"{condition.summary}; last error: {last_error[:200]}"
    alert_open(condition=rules.Condition(kind=condition.kind, key=condition.key, summary=summary,
                                         endpoint=endpoint), now=now)


def circuit_alert_resolve(*, endpoint_id: int, held: int, now: datetime) -> None:
    """Resolve the circuit alert as the circuit closes, saying how long it was open and how many deliveries it held."""
    alert = Alert.objects.filter(key=f"circuit_open:{endpoint_id}", resolved_at__isnull=True).first()
    if alert is None:
        return
    closing = f" — closed after {timesince(alert.opened_at, now)}; {held} held deliveries are going out."
    alert.summary = (alert.summary[: 500 - len(closing)] + closing)
    alert.resolved_at = now
    alert.save(update_fields=["summary", "resolved_at"])


def alerts_announce_pending(*, now: datetime) -> int:
    """Announce openings, then recoveries, not yet announced; each is claimed first so it goes out once."""
    announced = 0
    for alert in Alert.objects.filter(opened_notified_at__isnull=True).select_related("endpoint__partner"):
        announced += _announce(alert, "opened_notified_at", recovered=False, now=now)
    resolved = Alert.objects.filter(resolved_at__isnull=False, resolved_notified_at__isnull=True)
    for alert in resolved.select_related("endpoint__partner"):
        announced += _announce(alert, "resolved_notified_at", recovered=True, now=now)
    return announced


def _announce(alert: Alert, stamp: str, *, recovered: bool, now: datetime) -> bool:
    if not Alert.objects.filter(pk=alert.pk, **{f"{stamp}__isnull": True}).update(**{stamp: now}):
        return False
    errors = notify.alert_announce(alert=alert, recovered=recovered)
    Alert.objects.filter(pk=alert.pk).update(notification_error="; ".join(errors)[:500])
    return True
