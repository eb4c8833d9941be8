"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task

from .services import heartbeat_record


@shared_task(name="deliveries.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat(name: str = "scheduler") -> None:
    heartbeat_record(name=name)
