"""Failed API authentication is throttled per client address, cheaply, behind the proxy too."""

import pytest
import redis.connection
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import authentication
from accounts.auth_failures import failure_window
from accounts.models import ApiKey
from accounts.services import api_key_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/deliveries/"
# Addresses only ever written into REMOTE_ADDR or X-Forwarded-For: nothing connects to them.
CLIENT, OTHER_CLIENT, PROXY = "198.51.100.7", "198.51.100.8", "10.0.0.2"
NOW = 1_800_000_010.0  # ten seconds into a one-minute window
WRONG_KEY = "pbk_nope_" + "x" * 40


@pytest.fixture(autouse=True)
def _limits(settings, monkeypatch):
    settings.API_AUTH_FAILURE_LIMIT = 3
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 60
    monkeypatch.setattr(authentication.time, "time", lambda: NOW)
    counters = [failure_window(address=address, now=NOW + shift).key
                for address in (CLIENT, OTHER_CLIENT, PROXY) for shift in (0, 60)]
    cache.delete_many(counters)
    yield
    cache.delete_many(counters)


def _get(key: str | None = WRONG_KEY, **meta: str) -> object:
    client = APIClient(REMOTE_ADDR=meta.pop("REMOTE_ADDR", CLIENT), **meta)
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client.get(URL)


def test_past_the_limit_an_address_is_answered_429_with_retry_after():
    assert [_get().status_code for _ in range(3)] == [401, 401, 401]

    refused = _get()

    assert refused.status_code == 429
    assert refused["Retry-After"] == "50"  # the rest of the window
    assert "Too many failed authentication attempts" in refused.json()["detail"]


def test_a_throttled_attempt_costs_no_database_query(django_assert_num_queries):
    for _ in range(3):
        _get()

    with django_assert_num_queries(0):
        assert _get().status_code == 429


def test_a_throttled_address_is_refused_even_with_a_valid_key():
    valid = api_key_create(name="p", role=ApiKey.Role.PLATFORM).plaintext
    for _ in range(3):
        _get()

    assert _get(valid).status_code == 429


def test_other_addresses_are_not_affected():
    for _ in range(4):
        _get()

    assert _get(REMOTE_ADDR=OTHER_CLIENT).status_code == 401


def test_malformed_headers_count_and_requests_without_a_key_do_not():
    assert [_get(None).status_code for _ in range(5)] == [401] * 5
    client = APIClient(REMOTE_ADDR=CLIENT)
    client.credentials(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert [client.get(URL).status_code for _ in range(4)] == [401, 401, 401, 429]


def test_the_address_is_let_in_again_when_the_window_ends(monkeypatch):
    valid = api_key_create(name="p", role=ApiKey.Role.PLATFORM).plaintext
    for _ in range(4):
        _get()

    monkeypatch.setattr(authentication.time, "time", lambda: NOW + 50)

    assert _get(valid).status_code == 200


def test_behind_the_proxy_each_client_is_counted_by_its_own_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(3):
        _get(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT)

    assert _get(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT).status_code == 429
    assert _get(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=OTHER_CLIENT).status_code == 401


def test_a_client_forging_x_forwarded_for_is_still_counted_by_its_real_address(settings):
    # given: the proxy appends the real client's address to whatever the client sent
    settings.TRUSTED_PROXY_COUNT = 1
    forged = [f"203.0.113.{n}, {CLIENT}" for n in range(4)]

    statuses = [_get(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=value).status_code for value in forged]

    assert statuses == [401, 401, 401, 429]


def test_while_the_cache_is_unreachable_keys_are_checked_without_throttling(monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    valid = api_key_create(name="p", role=ApiKey.Role.PLATFORM).plaintext
    with monkeypatch.context() as down:  # up again before the fixtures clean the cache
        down.setattr(cache, "get_many", unreachable)
        down.setattr(cache, "add", unreachable)
        down.setattr(redis.connection.Connection, "send_packed_command", unreachable)  # pipelined reads on Redis

        assert [_get().status_code for _ in range(5)] == [401] * 5
        assert _get(valid).status_code == 200
