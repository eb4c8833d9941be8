"""The Redis cache backend keeps one client object per connection pool."""

from django.conf import settings

from lib.redis_cache import RedisCache, redis_client_of
from tests.support.services import redis_url


def test_every_call_goes_through_one_client_and_still_round_trips():
    redis_url()  # skips locally, fails in CI, without Redis
    backend = RedisCache(settings.REDIS_URL, {})
    first = backend._cache.get_client("k", write=True)

    backend.set("redis-cache-test", {"n": 1}, timeout=5)

    assert backend._cache.get_client("k") is first
    assert redis_client_of(backend) is first
    assert backend.get("redis-cache-test") == {"n": 1}
    assert backend.add("redis-cache-test", 2, timeout=5) is False
    backend.delete("redis-cache-test")


def test_other_caches_have_no_redis_client():
    from django.core.cache.backends.locmem import LocMemCache

    assert redis_client_of(LocMemCache("x", {})) is None
