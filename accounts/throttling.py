import logging
from dataclasses import dataclass

from rest_framework.throttling import SimpleRateThrottle

from lib.redis_cache import redis_client_of

from .models import ApiKey

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyCount:
    """One request counted against an API key's budget, as the counters read back after the increment."""

    api_key_pk: int
    at: float
    count: int  # this window's requests, this one included
    before: int  # the previous window's requests


class ApiKeyRateThrottle(SimpleRateThrottle):
    """One budget per API key (rate in ``API_THROTTLE_RATE``); DRF adds ``Retry-After`` to the 429.

    On Redis the budget is a sliding-window counter: this window's count plus
    the previous window's, weighted by how much of it still lies within the
    last ``duration`` seconds. That is three commands of a few bytes per
    request, whatever the rate, and they ride in the round trip the API
    authentication makes anyway (``queue_count``; the request then carries
    its ``KeyCount``). So a request its key's role does not permit counts
    too; one that authentication refuses gives its count back. DRF's own
    throttle (kept for other caches) reads and writes the time of every
    request in the window as one list: 6,000 floats per request at the
    default rate.
    """

    scope = "api_key"
    _retry_after: float | None = None

    def get_cache_key(self, request, view):
        api_key = getattr(request, "auth", None)
        if not isinstance(api_key, ApiKey):
            return None
        return self._key_of(api_key.pk)

    def _key_of(self, api_key_pk: int) -> str:
        return self.cache_format % {"scope": self.scope, "ident": api_key_pk}

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

    def queue_count(self, pipeline, *, api_key_pk: int, at: float):
        """Queue this request's count on ``pipeline``; the returned function makes a ``KeyCount`` of the replies.

        The replies are the last three of the pipeline's: pass them in order.
        """
        current, previous = self._counters(api_key_pk, at)
        pipeline.incr(current)
        pipeline.expire(current, 2 * self.duration)
        pipeline.get(previous)
        return lambda count, _expired, before: KeyCount(api_key_pk, at, count, int(before or 0))

    def uncount(self, counted: KeyCount) -> None:
        """Give back a counted request that is refused (a refused request spends nothing)."""
        redis_client_of(self.cache).decr(self._counters(counted.api_key_pk, counted.at)[0])

    def _counters(self, api_key_pk: int, at: float) -> tuple[str, str]:
        window, key = int(at // self.duration), self._key_of(api_key_pk)
        return tuple(self.cache.make_and_validate_key(f"{key}:{number}") for number in (window, window - 1))

    def _allow_counted(self, client, request, view) -> bool:
        api_key = getattr(request, "auth", None)
        if self.rate is None or not isinstance(api_key, ApiKey):
            return True
        counted = getattr(request, "api_key_count", None)
        if counted is None or counted.api_key_pk != api_key.pk:
            pipeline = client.pipeline(transaction=False)
            counted_of = self.queue_count(pipeline, api_key_pk=api_key.pk, at=self.timer())
            counted = counted_of(*pipeline.execute())
        left_in_window = (int(counted.at // self.duration) + 1) * self.duration - counted.at
        if counted.before * left_in_window / self.duration + counted.count <= self.num_requests:
            return True
        self.uncount(counted)
        self._retry_after = left_in_window
        return False

    def wait(self) -> float | None:
        return self._retry_after if self._retry_after is not None else super().wait()
