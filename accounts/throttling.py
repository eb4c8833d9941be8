import logging

from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """One budget per API key (rate in ``API_THROTTLE_RATE``); DRF adds ``Retry-After`` to the 429."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        api_key = getattr(request, "auth", None)
        if not isinstance(api_key, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": api_key.pk}

    def allow_request(self, request, view) -> bool:
        # The budget lives in the shared cache (Redis). While that is down, events are
        # let through unthrottled: refusing them would lose what the platform reports.
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - whatever the cache backend raises when unreachable
            logger.warning("throttle cache unreachable; request let through without a rate check")
            return True
