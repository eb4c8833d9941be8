"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task

from .services import alerts_evaluate


@shared_task(name="monitoring.tasks.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> None:
    """Run by beat every ALERT_EVALUATION_INTERVAL_SECONDS."""
    alerts_evaluate()
