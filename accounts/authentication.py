"""``Authorization: Bearer <key>`` authentication for the REST API.

Each process remembers the keys it has accepted for ``KEY_CACHE_SECONDS``,
which saves a statement on nearly every request: a revoked key is therefore
refused everywhere within that time, not at once. A key that is not found
is looked up again on every request.
"""

import time

from rest_framework import authentication, exceptions

from .models import ApiKey
from .selectors import api_key_get_active
from .services import api_key_digest, api_key_mark_used

KEY_CACHE_SECONDS = 5
# digest of the plaintext -> (when it was read, the key); only accepted keys, so it holds at most one entry per key.
_accepted: dict[str, tuple[float, ApiKey]] = {}


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


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not key.strip():
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header. Send 'Authorization: Bearer <api key>'."
            )
        api_key = _active_key(key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_mark_used(api_key=api_key)
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when no or a bad key is sent.
        return self.keyword


def _active_key(plaintext: str) -> ApiKey | None:
    digest, now = api_key_digest(plaintext), time.monotonic()
    seen = _accepted.get(digest)
    if seen is not None and now - seen[0] < KEY_CACHE_SECONDS:
        return seen[1]
    api_key = api_key_get_active(plaintext=plaintext)
    if api_key is None:
        _accepted.pop(digest, None)
    else:
        _accepted[digest] = (now, api_key)
    return api_key
