"""Health checks for load balancers and orchestrators.

- ``/healthz/live``: the process answers (restart it when this fails).
- ``/healthz``: the database and the broker are reachable (route traffic here).
- ``/healthz/ready``: as ``/healthz``, and the scheduler's heartbeat is fresh,
  which proves that Celery beat and at least one worker are running.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from .celery import app as celery_app

logger = logging.getLogger(__name__)


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("health check: database unreachable", exc_info=True)
        return False


def broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        logger.warning("health check: broker unreachable", exc_info=True)
        return False


def scheduler_ok() -> bool:
    from deliveries.models import Heartbeat

    try:
        last_seen = Heartbeat.objects.filter(name="scheduler").values_list("last_seen_at", flat=True).first()
    except Exception:  # noqa: BLE001
        return False
    max_age = timedelta(seconds=settings.SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS)
    return last_seen is not None and timezone.now() - last_seen <= max_age


def _report(checks: dict[str, bool]) -> JsonResponse:
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable"}
    body.update({name: "ok" if ok else "unreachable" for name, ok in checks.items()})
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
def healthz(request):
    return _report({"database": database_ok(), "broker": broker_ok()})


@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request):
    database = database_ok()
    return _report({"database": database, "broker": broker_ok(), "scheduler": database and scheduler_ok()})
