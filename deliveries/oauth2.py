"""OAuth2 access tokens for endpoints that authenticate with one (client credentials or password grant).

The token is fetched from the partner's token URL through the same hardened
path as postbacks (``lib.http``: the address guard, no redirects, a
deadline) and kept in the shared cache until shortly before it expires, so
every worker uses it. It never reaches a log line or a record: a failure is
described by the token URL's status, never its body. A failure is a
``TokenError`` carrying the result to record on the delivery.

A sender waits for the token URL on the thread that drives its transfers, so the wait is short:
the request's timeout is at most ``TOKEN_TIMEOUT_SECONDS`` (and a sixth of the
lease, so it never delays a lease renewal by much), and a failure is kept in
the same cache for ``FAILURE_CACHE_SECONDS``: until then every sender records
it again without asking the token URL.
"""

import hashlib
import json
import threading
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache

from lib import http
from partners.models import PostbackEndpoint

AuthType = PostbackEndpoint.AuthType
# A token is dropped this long before it expires (at most a tenth of its life), so none goes out stale.
EXPIRY_MARGIN_SECONDS = 60
# When the token URL does not say how long a token lasts.
DEFAULT_LIFETIME_SECONDS = 300
TOKEN_TIMEOUT_SECONDS = 5.0
# A token URL that failed is not asked again for this long (by any sender).
FAILURE_CACHE_SECONDS = 30


class TokenError(Exception):
    """The token could not be had; ``result`` is what the delivery records (classified like any answer)."""

    def __init__(self, result: http.HttpResult):
        super().__init__(result.error)
        self.result = result


def access_token(endpoint: PostbackEndpoint, *, fresh: bool = False) -> tuple[str, bool]:
    """The endpoint's access token and whether it was fetched just now; ``fresh`` skips the cached one.

    A fetch that failed within ``FAILURE_CACHE_SECONDS`` is not tried again: its ``TokenError`` is raised
    once more, classified as it was.
    """
    key = _cache_key(endpoint)
    if not fresh and (token := cache.get(key)):
        return token, False
    if failed := cache.get(_failure_key(key)):
        raise TokenError(_remembered(failed))
    try:
        token, lifetime = _fetch(endpoint)
    except TokenError as exc:
        cache.set(_failure_key(key), _remember(exc.result), timeout=FAILURE_CACHE_SECONDS)
        raise
    cache.set(key, token, timeout=max(1, lifetime - min(EXPIRY_MARGIN_SECONDS, lifetime // 10)))
    return token, True


def access_token_forget(endpoint: PostbackEndpoint) -> None:
    """Drop the cached token (the partner refused it): the next request fetches a new one."""
    cache.delete(_cache_key(endpoint))


def _failure_key(key: str) -> str:
    return f"{key}:failed"


def _remember(result: http.HttpResult) -> dict:
    # Plain values (the cache may be shared by processes of another version): what the record needs.
    return {"verdict": result.verdict.value, "error": result.error, "error_class": result.error_class}


def _remembered(failed: dict) -> http.HttpResult:
    return http.HttpResult(
        verdict=http.Verdict(failed["verdict"]), duration_ms=0, error_class=failed["error_class"],
        error=f"{failed['error']} (failed within the last {FAILURE_CACHE_SECONDS} s; not asked again yet)",
    )


def _cache_key(endpoint: PostbackEndpoint) -> str:
    # The configuration is part of the key: new credentials or a new token URL never reuse an old token.
    config = json.dumps(
        [endpoint.auth_type, endpoint.oauth_token_url, endpoint.oauth_scope, endpoint.credentials], sort_keys=True
    )
    return f"oauth2-token:{endpoint.pk}:{hashlib.sha256(config.encode()).hexdigest()[:32]}"


def token_request(endpoint: PostbackEndpoint) -> http.OutboundRequest:
    """The token request (RFC 6749 §4.3, §4.4), the client authenticating with its id and secret in the body."""
    credentials = endpoint.credentials or {}
    form = {"grant_type": "client_credentials"}
    if endpoint.auth_type == AuthType.OAUTH2_PASSWORD:
        form = {"grant_type": "password", "username": credentials["username"], "password": credentials["password"]}
    form["client_id"] = credentials["client_id"]
    if credentials.get("client_secret"):
        form["client_secret"] = credentials["client_secret"]
    if endpoint.oauth_scope:
        form["scope"] = endpoint.oauth_scope
    return http.OutboundRequest(
        method="POST", url=endpoint.oauth_token_url, body=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        timeout_seconds=token_timeout_seconds(endpoint), keep_body=True,
    )


def token_timeout_seconds(endpoint: PostbackEndpoint) -> float:
    """The endpoint's own timeout, capped: a sender waits for the token URL before its other transfers go on."""
    return min(float(endpoint.timeout_seconds), TOKEN_TIMEOUT_SECONDS, settings.POSTBACK_LEASE_SECONDS / 6)


_local = threading.local()


def _transfers() -> http.Transfers:
    # Apart from the sender's postback transfers: waiting for a token must not take their results.
    if getattr(_local, "transfers", None) is None:
        _local.transfers = http.Transfers()
    return _local.transfers


def _fetch(endpoint: PostbackEndpoint) -> tuple[str, int]:
    result, body = _exchange(token_request(endpoint))
    if result.verdict != http.Verdict.SUCCESS:
        raise TokenError(_failure(result, result.error or "no token"))
    try:
        answer = json.loads(body)
    except ValueError:
        # A page instead of JSON (maintenance, a proxy's error page) passes: tried again later.
        raise TokenError(_failure(
            result, "the answer is not JSON", "token_invalid", verdict=http.Verdict.TRANSIENT
        )) from None
    try:
        token, lifetime = answer["access_token"], _lifetime(answer.get("expires_in"))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        raise TokenError(_failure(result, "the answer is not JSON with an access_token", "token_invalid")) from None
    if not isinstance(token, str) or not token or not token.isprintable():
        raise TokenError(_failure(result, "the access_token is not text", "token_invalid"))
    return token, max(lifetime, 1)


def _lifetime(expires_in) -> int:
    """Seconds the token lasts: ``expires_in`` as a whole number (3600, 3599.5 or "3600"), or the default."""
    if isinstance(expires_in, bool):
        raise TypeError("expires_in is not a number")
    return int(float(expires_in)) if expires_in else DEFAULT_LIFETIME_SECONDS


def _exchange(request: http.OutboundRequest) -> tuple[http.HttpResult, str]:
    result = http.send(request, running=_transfers())
    # The body is read here and goes no further: a token URL's answer holds the token itself.
    return result, result.body


def _failure(
    result: http.HttpResult, reason: str, error_class: str = "", *, verdict: http.Verdict | None = None
) -> http.HttpResult:
    if verdict is None:
        verdict = http.Verdict.TRANSIENT if result.verdict == http.Verdict.TRANSIENT else http.Verdict.PERMANENT
    return http.HttpResult(
        verdict=verdict,
        duration_ms=result.duration_ms,
        error=f"OAuth2 token URL: {reason}",
        error_class=error_class or f"token_{result.error_class or 'error'}",
    )
