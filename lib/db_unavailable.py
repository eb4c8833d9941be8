"""Answer 503 with Retry-After, not a 500 page, while the database cannot be reached.

A PostgreSQL restart or fail-over makes queries fail for a few seconds.
Clients should retry (ingestion is idempotent by ``event_id``) and load
balancers should see "unavailable", not a crash. Django reconnects by
itself once the database is back (``CONN_HEALTH_CHECKS``).
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # OperationalError also covers serialisation failures and deadlocks: retrying is right for those too.
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable, answered 503: %s", exception.__class__.__name__)
        response = JsonResponse(
            {"detail": "The database is unavailable for a moment. Retry the request shortly; sending an event "
             "again with the same event_id is safe.", "errors": {}},
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
