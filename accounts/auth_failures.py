"""Failed API authentication, counted per client address in the shared cache.

A fixed window per address: once ``API_AUTH_FAILURE_LIMIT`` keys have failed
from an address within ``API_AUTH_FAILURE_WINDOW_SECONDS``, its requests are
answered 429 until the window ends, before any database work. Counting in
the shared cache makes the limit hold across every web process. While that
cache is unreachable nothing is counted and nothing is refused, as for the
per-key throttle: the platform's events must keep coming in.
"""

import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailureWindow:
    """The current window of one client address: its counter's cache key and the seconds left in it."""

    key: str
    seconds_left: int


def failure_window(*, address: str, now: float) -> FailureWindow:
    period = settings.API_AUTH_FAILURE_WINDOW_SECONDS
    number = int(now // period)
    return FailureWindow(key=f"api-auth-failures:{address}:{number}",
                         seconds_left=max(1, math.ceil((number + 1) * period - now)))


def failure_record(*, window: FailureWindow) -> None:
    """Count one failed authentication in ``window``."""
    try:
        # The counter outlives its window a little, so a late reader still finds it.
        cache.add(window.key, 0, timeout=2 * settings.API_AUTH_FAILURE_WINDOW_SECONDS)
        cache.incr(window.key)
    except Exception:  # noqa: BLE001 - whatever the cache backend raises when unreachable
        logger.warning("shared cache unreachable; a failed API authentication was not counted")
