"""Version tokens in the shared cache: a process keeps its copy of some rows while their token stands.

A commit that changes the rows puts a new token under the key; every process
that finds a token other than the one it copied under reads the rows again.
"""

import logging
import uuid

from django.core.cache import cache

logger = logging.getLogger(__name__)


def version_seed(key: str) -> None:
    """After a cache flush, have every process agree on one token (the first to write it wins)."""
    cache.add(key, uuid.uuid4().hex, timeout=None)


def version_replace(key: str, *, what: str, max_age_seconds: int) -> None:
    """Put a new token under ``key``; if the cache cannot take it, copies still expire after ``max_age_seconds``."""
    try:
        cache.set(key, uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001 - the change is committed; whatever the cache backend raises when unreachable
        logger.error("shared cache unreachable; other processes see this %s within %s s", what, max_age_seconds)
