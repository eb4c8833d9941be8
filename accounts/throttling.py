import logging

from rest_framework.throttling import SimpleRateThrottle

from lib.redis_cache import redis_client_of

from .models import ApiKey

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """One budget per API key (rate in ``API_THROTTLE_RATE``); DRF adds ``Retry-After`` to the 429.

    On Redis the budget is a sliding-window counter: this window's count plus
    the previous window's, weighted by how much of it still lies within the
    last ``duration`` seconds. That is one round trip of a few bytes per
    request, whatever the rate; DRF's own throttle (kept for other caches)
    reads and writes the time of every request in the window as one list:
    6,000 floats per request at the default rate.
    """

    scope = "api_key"
    _retry_after: float | None = None

    def get_cache_key(self, request, view):
        api_key = getattr(request, "auth", None)
        if not isinstance(api_key, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": api_key.pk}

    def allow_request(self, request, view) -> bool:
        # The budget lives in the shared cache (Redis). While that is down, events are
        # let through unthrottled: refusing them would lose what the platform reports.
        try:
            client = redis_client_of(self.cache)
            if client is not None:
                return self._allow_counted(client, request, view)
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - whatever the cache backend raises when unreachable
            logger.warning("throttle cache unreachable; request let through without a rate check")
            return True

    def _allow_counted(self, client, request, view) -> bool:
        key = self.get_cache_key(request, view) if self.rate is not None else None
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        current, previous = (self.cache.make_and_validate_key(f"{key}:{number}") for number in (window, window - 1))
        pipeline = client.pipeline(transaction=False)
        pipeline.incr(current)
        pipeline.expire(current, 2 * self.duration)
        pipeline.get(previous)
        count, _, before = pipeline.execute()
        left_in_window = (window + 1) * self.duration - now
        if int(before or 0) * left_in_window / self.duration + count <= self.num_requests:
            return True
        client.decr(current)  # a refused request does not spend the budget
        self._retry_after = left_in_window
        return False

    def wait(self) -> float | None:
        return self._retry_after if self._retry_after is not None else super().wait()
