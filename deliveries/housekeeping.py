"""Housekeeping the beat scheduler runs: the scheduler's heartbeat and the pruning of old attempt bodies."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import DeliveryAttempt, Heartbeat

PRUNE_CHUNK = 5000


def attempt_bodies_prune(*, older_than_days: int | None = None) -> int:
    """Clear request and response bodies of old attempts, in bounded chunks; returns how many were cleared."""
    days = settings.POSTBACK_ATTEMPT_BODY_RETENTION_DAYS if older_than_days is None else older_than_days
    stale = DeliveryAttempt.objects.filter(started_at__lt=timezone.now() - timedelta(days=days)).exclude(
        request_body="", response_excerpt=""
    )
    cleared = 0
    while ids := list(stale.values_list("id", flat=True)[:PRUNE_CHUNK]):
        cleared += DeliveryAttempt.objects.filter(id__in=ids).update(request_body="", response_excerpt="")
    return cleared


def heartbeat_record(*, name: str) -> Heartbeat:
    heartbeat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"last_seen_at": timezone.now()})
    return heartbeat
