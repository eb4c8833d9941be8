"""``Authorization: Bearer <key>`` authentication for the REST API.

Each request makes one round trip to the shared cache, which answers
every question the request has of it: has the client's address failed too
often (``auth_failures``; then 429 with ``Retry-After``, before any database
work), is this process's copy of the accepted keys current
(``accepted_keys``; a revoked key is refused everywhere from the next
request on), what the keys other apps registered hold (``lib.shared_reads``:
the routing configuration's version), and, on Redis, the request counted
against its key's budget (``throttling``) when this process has accepted
the key before. A key that is not in the copy is read from the database; one
that is not found there, or a malformed header, counts as a failure of the
client's address. Requests without any key get a 401 and count for nothing:
they cannot guess a key.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import authentication, exceptions

from lib.client_address import client_address
from lib.redis_cache import redis_backend_of
from lib.shared_reads import shared_read_keys, shared_reads_keep

from .accepted_keys import (
    VERSION_KEY,
    accepted_key_candidate,
    accepted_key_get,
    accepted_key_keep,
    api_keys_version_current,
)
from .auth_failures import FailureWindow, failure_record, failure_window
from .models import ApiKey
from .selectors import api_key_get_active
from .services import api_key_digest, api_key_mark_used
from .throttling import ApiKeyRateThrottle

logger = logging.getLogger(__name__)


class ApiKeyPrincipal:
    """What ``request.user`` is for an API-key request: the key's role, no Django user."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key):
        self.api_key = api_key

    @property
    def role(self) -> str:
        return self.api_key.role

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class TooManyFailures(exceptions.Throttled):
    default_detail = "Too many failed authentication attempts from this address."
    extra_detail_singular = extra_detail_plural = "Retry in {wait} seconds, with a valid API key."


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        window = failure_window(address=client_address(request), now=time.time())
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, key = header.partition(" ")
        key = key.strip() if scheme.lower() == self.keyword.lower() else ""
        digest = api_key_digest(key) if key else None
        failures, version = _shared_state(window, request=request, digest=digest)
        try:
            if failures >= settings.API_AUTH_FAILURE_LIMIT:
                raise TooManyFailures(wait=window.seconds_left)
            if not header:
                return None
            if not key:
                failure_record(window=window)
                raise exceptions.AuthenticationFailed(
                    "Malformed Authorization header. Send 'Authorization: Bearer <api key>'."
                )
            api_key = _active_key(key, digest=digest, version=version)
            if api_key is None:
                failure_record(window=window)
                raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        except exceptions.APIException:
            _uncount(request)
            raise
        api_key_mark_used(api_key=api_key)
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when no or a bad key is sent.
        return self.keyword


def _shared_state(window: FailureWindow, *, request, digest: str | None) -> tuple[int, str | None]:
    """The address's failures in ``window`` and the keys' version, in one round trip; (0, None) without the cache."""
    keys = [window.key, VERSION_KEY, *shared_read_keys()]
    backend = redis_backend_of(cache)
    try:
        values = cache.get_many(keys) if backend is None else _read_and_count(backend, keys, request, digest)
    except Exception:  # noqa: BLE001 - whatever the cache backend raises when unreachable
        logger.warning("shared cache unreachable; API authentication neither throttled nor cached")
        return 0, None
    shared_reads_keep(values)
    return int(values.get(window.key) or 0), api_keys_version_current(values.get(VERSION_KEY))


def _read_and_count(backend, keys: list[str], request, digest: str | None) -> dict:
    """Read ``keys`` and count the request against the budget of the key this process accepted for ``digest``.

    The count is made before the key is known to be current: the same key
    read again from the database keeps its primary key, so the count stands;
    any refusal gives it back (``_uncount``).
    """
    pipeline = backend.client().pipeline(transaction=False)
    backend.queue_get_many(pipeline, keys)
    throttle = _key_throttle(request)
    candidate = accepted_key_candidate(digest=digest) if digest and throttle else None
    counted_of = throttle.queue_count(pipeline, api_key_pk=candidate.pk, at=throttle.timer()) if candidate else None
    reply = pipeline.execute()
    if counted_of is not None:
        request.api_key_count = counted_of(*reply[1:])
        request.api_key_throttle = throttle
    return backend.decode_many(keys, reply[0])


def _key_throttle(request) -> ApiKeyRateThrottle | None:
    """The view's per-key throttle, when it has one with a rate."""
    view = (getattr(request, "parser_context", None) or {}).get("view")
    throttles = view.get_throttles() if view is not None else ()
    return next((throttle for throttle in throttles
                 if isinstance(throttle, ApiKeyRateThrottle) and throttle.rate is not None), None)


def _uncount(request) -> None:
    counted = getattr(request, "api_key_count", None)
    if counted is None:
        return
    request.api_key_count = None
    try:
        request.api_key_throttle.uncount(counted)
    except Exception:  # noqa: BLE001 - whatever the cache backend raises when unreachable
        logger.warning("shared cache unreachable; a refused request stays counted against its key")


def _active_key(plaintext: str, *, digest: str, version: str | None) -> ApiKey | None:
    api_key = accepted_key_get(digest=digest, version=version)
    if api_key is None:
        api_key = api_key_get_active(plaintext=plaintext)
        if api_key is not None:
            accepted_key_keep(digest=digest, version=version, api_key=api_key)
    return api_key
