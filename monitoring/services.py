"""Writes for alerts: evaluate the rules, open and resolve incidents, announce each change once."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

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
