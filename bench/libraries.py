"""Maintained libraries against what they replace, in CPU time per postback or per event.

    .venv/bin/python -m bench.run --only libraries

Runs in the orchestrating process on the bench's database and Redis cache,
with no server of its own. Three jobs, each timed through the product's own
function and through the alternative on the same input:

- the Standard Webhooks signature of a postback: ``partners.signing`` (the
  ``standardwebhooks`` package) against the same HMAC-SHA256 written with
  ``hmac`` and ``base64``;
- the API key throttle of an ingest request: ``accounts.throttling`` (one
  Redis round trip) against DRF's stock ``SimpleRateThrottle`` counting (the
  list of request times, read and written whole), on the same Redis cache,
  with that list held at a steady length;
- the routing configuration an ingest reads: the per-process copy of
  ``partners.config_cache`` against fetching the whole configuration from
  Django's cache on every request (LocMem and Redis), at about 20 and 100
  partners.

Each figure is ``time.process_time()`` over a fixed number of calls, the
median of ``ROUNDS`` rounds after one warm-up call; wall time is kept beside
it, since a Redis round trip waits more than it computes. Everything it
writes (partners, endpoints, cache keys) is removed before it returns.
"""

import base64
import hashlib
import hmac
import pickle
import statistics
import time
from collections.abc import Callable

ROUNDS = 5
SIGNING_CALLS = 2_000
THROTTLE_CALLS = 200
CONFIG_CALLS = 200
# Lengths of DRF's list of request times: a platform sending 10 events/s, and one at 100 events/s, which is
# what the product's default budget (6,000/min) lets through.
THROTTLE_HISTORIES = (600, 6_000)
CONFIG_PARTNERS = (20, 100)
ENDPOINTS_PER_PARTNER = 2
PREFIX = "bench-libraries"
SECRET = "whsec_" + base64.b64encode(b"bench-libraries-signing-secret!!").decode()
# A deposit postback as a partner's JSON template renders it.
PAYLOAD = (
    '{"event":"deposit","event_id":"ev-20261123-000417","player_id":"p-1001","click_id":"abc123def456",'
    '"partner":"partner-slug","amount":"25.00","currency":"EUR","payout":"7.50",'
    '"occurred_at":"2026-11-23T10:00:00+00:00","sub1":"campaign-7","country":"DE"}'
)


def per_call(call: Callable[[], object], *, calls: int) -> dict:
    """Median CPU and wall microseconds per call over ``ROUNDS`` rounds of ``calls`` calls."""
    call()  # connections, imports and first-use caches are not what is measured
    cpu, wall = [], []
    for _ in range(ROUNDS):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(calls):
            call()
        cpu.append(time.process_time() - cpu_start)
        wall.append(time.perf_counter() - wall_start)
    return {"cpu_us": round(statistics.median(cpu) / calls * 1e6, 2),
            "wall_us": round(statistics.median(wall) / calls * 1e6, 2), "calls": calls, "rounds": ROUNDS}


def measure() -> dict:
    return {"status": "measured", "pairs": {**signing_pair(), **throttle_pairs(), **config_pairs()}}


# --- signing ------------------------------------------------------------------------


def signature_by_hand(*, secret: str, msg_id: str, timestamp: int, payload: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{payload}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_pair() -> dict:
    from partners.signing import signature

    arguments = {"secret": SECRET, "msg_id": "918273", "timestamp": 1_795_000_000, "payload": PAYLOAD}
    if signature(**arguments) != signature_by_hand(**arguments):
        raise RuntimeError("the hand-written signature differs from the library's: the comparison would be unfair")
    return {"signing": {
        "unit": "postback", "payload_bytes": len(PAYLOAD),
        "library": per_call(lambda: signature(**arguments), calls=SIGNING_CALLS),
        "alternative": per_call(lambda: signature_by_hand(**arguments), calls=SIGNING_CALLS),
    }}


# --- throttle -----------------------------------------------------------------------


def throttle_pairs() -> dict:
    from django.core.cache import cache

    from lib.redis_cache import redis_client_of

    if redis_client_of(cache) is None:
        return {"throttle": {"status": "not available", "reason": "the default cache is not Redis"}}
    return {f"throttle_{history}": _throttle_pair(history) for history in THROTTLE_HISTORIES}


def _throttle_pair(history: int) -> dict:
    from rest_framework.throttling import SimpleRateThrottle

    from accounts.models import ApiKey
    from accounts.throttling import ApiKeyRateThrottle

    class _Clock:
        """Steady traffic: each request comes window/history seconds after the last, so the stock throttle drops
        one expired time from its list per request and the list stays ``history`` long."""

        def __init__(self) -> None:
            self.now = time.time()

        def __call__(self) -> float:
            self.now += 60 / history
            return self.now

    class _Throttle(ApiKeyRateThrottle):
        rate = f"{100 * history}/min"  # never refuses: the check itself is what is timed

    class _StockCounting(_Throttle):
        allow_request = SimpleRateThrottle.allow_request

    class _Request:
        auth = ApiKey(pk=-history)  # a key no database holds: its budget keys are this bench's alone

    clock, request = _Clock(), _Request()
    _Throttle.timer = staticmethod(clock)
    key = _StockCounting().get_cache_key(request, None)
    _StockCounting.cache.set(key, [clock.now - second * 60 / history for second in range(history)], 120)
    try:
        return {
            "unit": "event", "history": history,
            "library": per_call(lambda: _StockCounting().allow_request(request, None), calls=THROTTLE_CALLS),
            "alternative": per_call(lambda: _Throttle().allow_request(request, None), calls=THROTTLE_CALLS),
            "history_after": len(_StockCounting.cache.get(key)),
        }
    finally:
        _throttle_forget(key)


def _throttle_forget(key: str) -> None:
    from django.core.cache import cache

    from lib.redis_cache import redis_client_of

    client, stored = redis_client_of(cache), cache.make_and_validate_key(key)
    client.delete(stored, *client.keys(f"{stored}:*"))


# --- routing configuration ----------------------------------------------------------


def config_pairs() -> dict:
    from django.conf import settings

    if not settings.POSTBACK_CONFIG_CACHE:
        return {"config": {"status": "not available", "reason": "POSTBACK_CONFIG_CACHE is off"}}
    pairs, made = {}, 0
    try:
        for partners in CONFIG_PARTNERS:
            made = _partners_create(first=made, count=partners - made)
            pairs[f"config_{partners}"] = _config_pair()
    finally:
        _partners_delete()
    return pairs


def _config_pair() -> dict:
    from django.core.cache import cache
    from django.core.cache.backends.locmem import LocMemCache

    from partners.config_cache import routing_config

    config = routing_config()
    locmem, key = LocMemCache(PREFIX, {}), f"{PREFIX}-routing-config"
    locmem.set(key, config, None)
    cache.set(key, config, 300)
    try:
        return {
            "unit": "event", "partners": len(config.partners), "endpoints": len(config.routes),
            "pickled_bytes": len(pickle.dumps(config, pickle.HIGHEST_PROTOCOL)),
            "alternative": per_call(routing_config, calls=CONFIG_CALLS),
            "library_locmem": per_call(lambda: locmem.get(key), calls=CONFIG_CALLS),
            "library_redis": per_call(lambda: cache.get(key), calls=CONFIG_CALLS),
        }
    finally:
        cache.delete(key)


def _partners_create(*, first: int, count: int) -> int:
    """Partners ``first`` .. ``first + count - 1``, each with endpoints for every built-in event type."""
    from django.db import transaction

    from events.models import EventType
    from partners.config_cache import routing_config_changed
    from partners.models import Partner, PostbackEndpoint

    with transaction.atomic():
        partners = Partner.objects.bulk_create(
            Partner(slug=f"{PREFIX}-{number}", name=f"{PREFIX} {number}") for number in range(first, first + count))
        endpoints = PostbackEndpoint.objects.bulk_create(
            PostbackEndpoint(partner=partner, name=f"{PREFIX} {number}",
                             url_template="https://partner.example/pb?click={click_id}&amount={amount}")
            for partner in partners for number in range(ENDPOINTS_PER_PARTNER))
        types = list(EventType.objects.filter(slug__in=EventType.BUILTIN).values_list("pk", flat=True))
        through = PostbackEndpoint.event_types.through
        through.objects.bulk_create(through(postbackendpoint_id=endpoint.pk, eventtype_id=type_id)
                                    for endpoint in endpoints for type_id in types)
        routing_config_changed()  # bulk_create sends no signal
    return first + count


def _partners_delete() -> None:
    from partners.models import Partner

    Partner.objects.filter(slug__startswith=f"{PREFIX}-").delete()
