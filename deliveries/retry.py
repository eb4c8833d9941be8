"""When to try a failed delivery again.

The default schedule (``POSTBACK_RETRY_SCHEDULE``, seconds after the
failed attempt): 30 s, 2 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h,
12 h, and 12 h for any attempt beyond. Each delay is spread by ±20 % of
jitter so that a partner coming back up is not hit by every retry at once.
A ``Retry-After`` from the partner replaces the scheduled delay, capped at
``POSTBACK_RETRY_AFTER_CAP_SECONDS`` (1 h by default).
"""

import random
from datetime import datetime, timedelta

from django.conf import settings

JITTER = 0.2


def retry_delay_seconds(*, failed_attempts: int, retry_after_seconds: float | None = None) -> float:
    """Seconds to wait after the ``failed_attempts``-th failed attempt in a row."""
    if retry_after_seconds is not None:
        return min(retry_after_seconds, settings.POSTBACK_RETRY_AFTER_CAP_SECONDS)
    schedule = settings.POSTBACK_RETRY_SCHEDULE
    base = schedule[min(failed_attempts, len(schedule)) - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - jitter, not security


def next_attempt_at(*, now: datetime, failed_attempts: int, retry_after_seconds: float | None = None) -> datetime:
    delay = retry_delay_seconds(failed_attempts=failed_attempts, retry_after_seconds=retry_after_seconds)
    return now + timedelta(seconds=delay)
