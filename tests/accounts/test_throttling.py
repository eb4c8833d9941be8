"""The per-key budget on Redis: a sliding window of counters, shared by every process."""

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from accounts.models import ApiKey
from accounts.throttling import ApiKeyRateThrottle
from lib.redis_cache import redis_client_of

pytestmark = pytest.mark.django_db

START = 1_800_000_000.0  # the start of a one-minute window


@pytest.fixture
def throttle_at(monkeypatch):
    if redis_client_of(cache) is None:
        pytest.skip("the sliding-window budget is kept on Redis (REDIS_URL)")
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "10/min"})
    cache.clear()
    api_key = ApiKey.objects.create(name="k", prefix="p1", digest="d" * 64)
    request = SimpleNamespace(auth=api_key)

    def allowed(at: float, count: int = 1) -> list[bool]:
        answers = []
        for _ in range(count):
            throttle = ApiKeyRateThrottle()
            throttle.timer = lambda: at
            answers.append(throttle.allow_request(request, None))
        return answers

    yield allowed
    cache.clear()


def test_a_key_gets_its_rate_then_is_refused_until_the_window_moves_on(throttle_at):
    assert throttle_at(START + 5, 10) == [True] * 10
    assert throttle_at(START + 50) == [False]
    # Half-way through the next minute, half of the previous one still counts: 5 of 10 are free.
    assert throttle_at(START + 90, 6) == [True] * 5 + [False]
    assert throttle_at(START + 185, 10) == [True] * 10  # a minute without requests in between


def test_refused_requests_do_not_spend_the_budget(throttle_at):
    throttle_at(START + 1, 10)
    throttle_at(START + 2, 50)

    # Only the ten accepted requests weigh on the next window: at its 3/4 a quarter of them (2.5) still counts.
    assert throttle_at(START + 105, 8) == [True] * 7 + [False]


def test_the_refusal_says_when_to_retry(throttle_at):
    throttle_at(START + 20, 10)
    throttle = ApiKeyRateThrottle()
    throttle.timer = lambda: START + 45

    assert throttle.allow_request(SimpleNamespace(auth=ApiKey.objects.get()), None) is False
    assert throttle.wait() == pytest.approx(15)
