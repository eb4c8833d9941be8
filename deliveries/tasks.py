"""Celery tasks: thin wrappers that call a service; and the sender's wake-up, published once deliveries commit.

A wake-up goes through ``enqueue_on_commit`` without one broker message per
event: when a shared cache is configured (``POSTBACK_COALESCE_WAKE_UPS``), it
is published only if none is waiting. The flag is set on publish and cleared
by the sender as it starts, before its first claim, so a commit that finds
the flag set committed before that claim and the waiting sender will see its
rows. A busy system publishes one message per sender start instead of one per
event; a quiet one still gets its message within milliseconds. If a message
is lost, the flag expires and the beat scheduler sends anyway.

While a listening sender (``listener``, ``manage.py send_postbacks``) says
it is up, a commit wakes it with PostgreSQL's NOTIFY instead: no message, no
flag, and no prefork child in between.
"""

import os
import socket
import uuid

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from lib.queue import enqueue_on_commit

from .housekeeping import attempt_bodies_prune, heartbeat_record
from .listener import listener_advertised, listeners_notify_on_commit
from .sender import deliveries_send_due

WAKE_FLAG = "postback-sender-wake-pending"
WAKE_FLAG_TTL_SECONDS = 5


@shared_task(name="deliveries.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat(name: str = "scheduler") -> None:
    heartbeat_record(name=name)


@shared_task(name="deliveries.tasks.send_due_deliveries", ignore_result=True)
def send_due_deliveries() -> int:
    """Woken after ingestion commits, and by beat every couple of seconds as the recovery path."""
    sender_woken()
    return deliveries_send_due(worker=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")


@shared_task(name="deliveries.tasks.prune_attempt_bodies", ignore_result=True)
def prune_attempt_bodies() -> int:
    return attempt_bodies_prune()


class _SenderWakeUp:
    """Publishes ``send_due_deliveries`` unless a published one has not started yet."""

    name = send_due_deliveries.name

    def apply_async(self, args=(), kwargs=None):
        coalesce = settings.POSTBACK_COALESCE_WAKE_UPS
        if coalesce and not cache.add(WAKE_FLAG, 1, timeout=WAKE_FLAG_TTL_SECONDS):
            return
        try:
            send_due_deliveries.apply_async()
        except Exception:
            if coalesce:
                cache.delete(WAKE_FLAG)  # let the next commit try again
            raise


SENDER_WAKE_UP = _SenderWakeUp()


def sender_wake_on_commit() -> None:
    """Wake a sender once the current transaction commits (at once outside one)."""
    if listener_advertised():
        listeners_notify_on_commit()
    else:
        celery_senders_wake()


def celery_senders_wake() -> None:
    """Publish a Celery wake-up whoever else is listening: more is due than the listening sender can take."""
    enqueue_on_commit(SENDER_WAKE_UP)


def sender_woken() -> None:
    """Called by a sender as it starts: from now on, new commits need a new wake-up."""
    if settings.POSTBACK_COALESCE_WAKE_UPS:
        cache.delete(WAKE_FLAG)
