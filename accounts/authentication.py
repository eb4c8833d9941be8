"""``Authorization: Bearer <key>`` authentication for the REST API."""

from rest_framework import authentication, exceptions

from .selectors import api_key_get_active
from .services import api_key_mark_used


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
        api_key = api_key_get_active(plaintext=key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_mark_used(api_key=api_key)
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when no or a bad key is sent.
        return self.keyword
