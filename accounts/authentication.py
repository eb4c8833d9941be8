"""``Authorization: Bearer <key>`` authentication for the REST API.

Each request makes one round trip to the shared cache, which answers two
questions at once: has the client's address failed too often
(``auth_failures``; then 429 with ``Retry-After``, before any database
work), and is this process's copy of the accepted keys current
(``accepted_keys``; a revoked key is refused everywhere from the next
request on). A key that is not in the copy is read from the database; one
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

from .accepted_keys import VERSION_KEY, accepted_key_get, accepted_key_keep, api_keys_version_current
from .auth_failures import FailureWindow, failure_record, failure_window
from .models import ApiKey
from .selectors import api_key_get_active
from .services import api_key_digest, api_key_mark_used

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
        failures, version = _shared_state(window)
        if failures >= settings.API_AUTH_FAILURE_LIMIT:
            raise TooManyFailures(wait=window.seconds_left)
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not key.strip():
            failure_record(window=window)
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header. Send 'Authorization: Bearer <api key>'."
            )
        api_key = _active_key(key.strip(), version=version)
        if api_key is None:
            failure_record(window=window)
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_mark_used(api_key=api_key)
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when no or a bad key is sent.
        return self.keyword


def _shared_state(window: FailureWindow) -> tuple[int, str | None]:
    """The address's failures in ``window`` and the keys' version, in one round trip; (0, None) without the cache."""
    try:
        values = cache.get_many([window.key, VERSION_KEY])
    except Exception:  # noqa: BLE001 - whatever the cache backend raises when unreachable
        logger.warning("shared cache unreachable; API authentication neither throttled nor cached")
        return 0, None
    return int(values.get(window.key) or 0), api_keys_version_current(values.get(VERSION_KEY))


def _active_key(plaintext: str, *, version: str | None) -> ApiKey | None:
    digest = api_key_digest(plaintext)
    api_key = accepted_key_get(digest=digest, version=version)
    if api_key is None:
        api_key = api_key_get_active(plaintext=plaintext)
        if api_key is not None:
            accepted_key_keep(digest=digest, version=version, api_key=api_key)
    return api_key
