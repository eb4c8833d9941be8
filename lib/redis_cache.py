"""Django's Redis cache backend, keeping one client object per connection pool.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for
every cache call, and that constructor copies some 200 response callbacks:
on an ingest request (configuration version, throttle, sender wake-up) it
cost more CPU than the round trips themselves. A ``redis.Redis`` borrows a
connection from its pool for each command, so one object per pool serves
every call.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.connection import ConnectionProxy


class _ReusedClients(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusedClients

    def client(self):
        """The ``redis.Redis`` writes go to, for what the cache API cannot do in one round trip."""
        return self._cache.get_client(write=True)

    def queue_get_many(self, pipeline, keys: list[str]) -> None:
        """Queue on ``pipeline`` what ``get_many(keys)`` reads; ``decode_many`` turns its reply into the same dict."""
        pipeline.mget([self.make_and_validate_key(key) for key in keys])

    def decode_many(self, keys: list[str], reply: list) -> dict:
        loads = self._cache._serializer.loads
        return {key: loads(value) for key, value in zip(keys, reply, strict=True) if value is not None}


def redis_backend_of(cache) -> RedisCache | None:
    """``cache`` (a backend, or ``django.core.cache.cache``) when it is this backend, else None."""
    backend = cache._connections[cache._alias] if isinstance(cache, ConnectionProxy) else cache
    return backend if isinstance(backend, RedisCache) else None


def redis_client_of(cache):
    """The client behind ``cache``; None when it is not this backend."""
    backend = redis_backend_of(cache)
    return backend.client() if backend is not None else None
