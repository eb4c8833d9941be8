"""Per-endpoint request rate, shared by every worker through the Django cache (Redis in production).

A fixed one-second window: each sender adds what it wants to send to the
endpoint's counter for the current second and may send what still fits
under the limit. What does not fit waits for a later second; nothing is
dropped. One cache round trip per endpoint per batch.
"""

import math

from django.core.cache import cache

WINDOW_TTL_SECONDS = 5


def rate_limit_take(*, endpoint_id: int, limit: int, wanted: int, now: float) -> int:
    """How many of ``wanted`` requests to the endpoint may go out in the second ``now`` falls in."""
    key = f"postback-rate:{endpoint_id}:{int(now)}"
    cache.add(key, 0, timeout=WINDOW_TTL_SECONDS)
    try:
        total = cache.incr(key, wanted)
    except ValueError:  # the window expired between add and incr
        cache.set(key, wanted, timeout=WINDOW_TTL_SECONDS)
        total = wanted
    return max(0, min(wanted, limit - (total - wanted)))


def deferral_seconds(*, position: int, limit: int, now: float) -> float:
    """How long the ``position``-th request over the limit waits: spread over the coming seconds at the limit's pace."""
    next_window = math.floor(now) + 1 - now
    return next_window + position // limit
