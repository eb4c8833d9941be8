"""This process's copy of the API keys it has accepted, valid while the keys' shared version stands.

Reading the key on every request would cost a database round trip on every
API call, several times a Redis read (the round trips of one ingest request
are counted in ``bench/RESULTS.md``). Instead every commit
that saves or deletes a key (creation, revocation, a role change in the
admin) replaces a version token in the shared cache, and a copy made under
another version is not used: a revoked key is refused by every process from
the next request on. The version is read in the same round trip as the
client's failure count (``authentication``).

Without a cache every process shares (``API_KEY_CACHE`` off, the default
without ``REDIS_URL``) nothing is kept and each request reads its key. If the
cache cannot be written when a key changes, copies are dropped after
``MAX_AGE_SECONDS`` at the latest.
"""

import logging
import time

from django.conf import settings
from django.db import transaction

from lib.versions import version_replace, version_seed

from .models import ApiKey

logger = logging.getLogger(__name__)

VERSION_KEY = "api-keys-version"
MAX_AGE_SECONDS = 60

# digest of the plaintext -> (version it was read under, when, the key); accepted keys only, at most one entry each.
_accepted: dict[str, tuple[str, float, ApiKey]] = {}


def accepted_key_get(*, digest: str, version: str | None) -> ApiKey | None:
    """The key copied under ``version``, or None (then it must be read from the database)."""
    seen = _accepted.get(digest)
    if version is None or seen is None:
        return None
    seen_version, read_at, api_key = seen
    if seen_version != version or time.monotonic() - read_at > MAX_AGE_SECONDS:
        _accepted.pop(digest, None)  # another thread may have dropped it first
        return None
    return api_key


def accepted_key_candidate(*, digest: str) -> ApiKey | None:
    """The key copied for ``digest`` under any version: whose budget to count before the version is known."""
    seen = _accepted.get(digest)
    return seen[2] if seen is not None else None


def accepted_key_keep(*, digest: str, version: str | None, api_key: ApiKey) -> None:
    """Keep ``api_key`` under ``version``; nothing is kept without one (no shared cache, or none reachable)."""
    if version is not None:
        _accepted[digest] = (version, time.monotonic(), api_key)


def accepted_keys_forget() -> None:
    """Drop this process's copies (tests, whose rolled-back keys never commit a new version)."""
    _accepted.clear()


def api_keys_version_current(value: str | None) -> str | None:
    """The version token to copy keys under, given what the shared cache held (None: copy nothing)."""
    if not settings.API_KEY_CACHE:
        return None
    if value is None:
        # First reader after a cache flush: one token for every process, and nothing copied before it counts.
        try:
            version_seed(VERSION_KEY)
        except Exception:  # noqa: BLE001 - whatever the cache backend raises when unreachable
            logger.warning("shared cache unreachable; API keys read from the database")
    return value


def api_keys_changed() -> None:
    """Replace the version when the current transaction commits: every process drops its copies."""
    transaction.on_commit(lambda: version_replace(VERSION_KEY, what="API key change", max_age_seconds=MAX_AGE_SECONDS))
