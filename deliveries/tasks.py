"""Celery tasks: thin wrappers that call a service."""

import os
import socket
import uuid

from celery import shared_task

from .sender import deliveries_send_due
from .services import attempt_bodies_prune, heartbeat_record
from .wakeup import sender_woken


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
