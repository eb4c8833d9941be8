"""An API request makes one round trip to the shared cache (Redis) before its own work.

Its authentication reads the client's failure count, the API keys' version
and the routing configuration's version, and counts the request against its
key's budget, in one pipeline; the throttle and the ingest then ask Redis
nothing more. Round trips are counted at the socket layer of redis-py: a
pipeline is one packed send, a single command another.
"""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.connection import Connection

from accounts import accepted_keys
from accounts.throttling import ApiKeyRateThrottle
from deliveries.listener import ADVERTISEMENT_KEY, CHANNEL
from lib import shared_reads
from lib.redis_cache import redis_client_of
from partners.config_cache import VERSION_KEY as CONFIG_VERSION_KEY
from tests.factories import PartnerFactory, PostbackEndpointFactory
from tests.support.services import require_postgres, require_shared_cache

pytestmark = pytest.mark.django_db


@pytest.fixture
def round_trips(monkeypatch, settings):
    require_shared_cache()
    settings.POSTBACK_CONFIG_CACHE = settings.API_KEY_CACHE = True
    # No counts left by earlier tests (keys' ids repeat), and versions in place, as after any first request.
    cache.clear()
    cache.set_many({accepted_keys.VERSION_KEY: "keys", CONFIG_VERSION_KEY: "configuration"}, timeout=None)
    sent = []
    original = Connection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counted)
    yield sent
    cache.clear()


def _event(number: int) -> dict:
    return {"event_id": f"rt-{number}", "type": "registration", "player_id": f"p-{number}",
            "partner": "acme", "click_id": f"c-{number}"}


def _budget_used(api_key) -> int:
    throttle = ApiKeyRateThrottle()
    client = redis_client_of(cache)
    return sum(int(client.get(key) or 0) for key in throttle._counters(api_key.pk, throttle.timer()))


@pytest.mark.django_db(transaction=True)
def test_an_ingest_request_makes_one_round_trip_to_the_shared_cache(platform_client, round_trips, settings,
                                                                     sender_asleep):
    # Committed, so the routing configuration is kept between requests; the wake-up is left out of the count.
    settings.POSTBACK_COALESCE_WAKE_UPS = False
    PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), url_template="https://acme.example/pb?c={click_id}")
    platform_client.post("/api/v1/events/", _event(0), format="json")  # this process now knows the key and routes
    round_trips.clear()

    response = platform_client.post("/api/v1/events/", _event(1), format="json")

    assert response.status_code == 201, response.content
    assert len(response.json()["deliveries"]) == 1
    assert len(round_trips) == 1
    assert _budget_used(platform_client.api_key) == 2  # both requests were counted, once each


@pytest.mark.django_db(transaction=True)
def test_with_a_listening_sender_up_the_wake_up_adds_no_round_trip_to_the_shared_cache(
    platform_client, round_trips, settings, sender_asleep
):
    settings.POSTBACK_COALESCE_WAKE_UPS = True
    require_postgres()
    cache.set(ADVERTISEMENT_KEY, "a listening sender", timeout=60)
    PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), url_template="https://acme.example/pb?c={click_id}")
    platform_client.post("/api/v1/events/", _event(0), format="json")
    round_trips.clear()

    with CaptureQueriesContext(connection) as queries:
        response = platform_client.post("/api/v1/events/", _event(1), format="json")

    assert response.status_code == 201, response.content
    assert len(round_trips) == 1  # the reads, the advertisement among them; no wake-up flag, no broker message
    assert [query["sql"] for query in queries if "NOTIFY" in query["sql"]] == [f"NOTIFY {CHANNEL}"]


def test_a_key_this_process_has_not_seen_is_counted_by_the_throttle_itself(platform_client, round_trips):
    response = platform_client.get("/api/v1/events/")

    assert response.status_code == 200
    assert len(round_trips) == 2  # the reads, then the throttle's count: the key was read from the database
    assert _budget_used(platform_client.api_key) == 1


def test_a_key_read_again_after_a_version_change_is_counted_once(platform_client, round_trips):
    platform_client.get("/api/v1/events/")
    cache.set(accepted_keys.VERSION_KEY, "another version", timeout=None)  # as a committed key change does
    round_trips.clear()

    platform_client.get("/api/v1/events/")

    assert len(round_trips) == 1
    assert _budget_used(platform_client.api_key) == 2


def test_a_request_refused_by_authentication_gives_its_count_back(platform_client, settings, round_trips):
    platform_client.get("/api/v1/events/")
    settings.API_AUTH_FAILURE_LIMIT = 0  # the address is over its failure limit: every request is refused

    response = platform_client.get("/api/v1/events/")

    assert response.status_code == 429
    assert _budget_used(platform_client.api_key) == 1


def test_the_configuration_version_read_for_a_request_is_not_used_after_it(platform_client, round_trips):
    cache.set(CONFIG_VERSION_KEY, "version read by the request", timeout=None)
    platform_client.get("/api/v1/events/")
    cache.set(CONFIG_VERSION_KEY, "version after the request", timeout=None)

    assert shared_reads.prefetched(CONFIG_VERSION_KEY) is shared_reads.NOT_READ


def test_a_request_its_role_does_not_permit_still_counts(platform_client, round_trips):
    platform_client.get("/api/v1/events/")

    response = platform_client.get("/api/v1/partners/")

    assert response.status_code == 403
    assert _budget_used(platform_client.api_key) == 2
