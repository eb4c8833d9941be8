"""Ingest keeps the routing configuration per process, and sees every committed change at its next request."""

import textwrap

import pytest
from django.core.cache.backends.redis import RedisCache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from deliveries.models import Delivery
from events.models import EventType
from partners.config_cache import VERSION_KEY, routing_config
from partners.models import Partner, PostbackEndpoint
from tests.factories import PartnerFactory, PostbackEndpointFactory
from tests.support.fresh_process import run_python
from tests.support.services import child_database_url, redis_url, require_postgres

# Changes reach ingest through commits, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/events/"
CONFIG_TABLES = ("partners_postbackendpoint", "partners_partner", "events_eventtype", "partners_qualificationrule")


@pytest.fixture(autouse=True)
def _config_cache_on(settings, sender_asleep):
    settings.POSTBACK_CONFIG_CACHE = True


def deposit(event_id: str, **fields) -> dict:
    return {"event_id": event_id, "type": "deposit", "player_id": "p-1", "amount": "25.00", "currency": "EUR",
            "partner": "acme", **fields}


def deliveries_of(response) -> int:
    assert response.status_code == 201, response.content
    return len(response.json()["deliveries"])


def shared_cache_url(settings) -> str:
    redis_url()  # skips locally, fails in CI, without Redis
    assert settings.REDIS_URL, "REDIS_URL must name the shared cache for this test"
    return settings.REDIS_URL


def config_reads(queries) -> list[str]:
    return [query["sql"] for query in queries if any(f'FROM "{table}"' in query["sql"] for table in CONFIG_TABLES)]


def test_ingest_reads_the_configuration_once_while_its_version_is_current(platform_client):
    PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), event_types=["deposit"])
    platform_client.post(URL, deposit("e-1"), format="json")

    with CaptureQueriesContext(connection) as queries:
        response = platform_client.post(URL, deposit("e-2"), format="json")

    assert deliveries_of(response) == 1
    assert config_reads(queries) == []


def test_a_qualification_rule_added_through_the_api_is_applied_by_the_next_ingest(platform_client, admin_client_api):
    # given: the configuration is cached without any rule
    PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), event_types=[EventType.QUALIFIED])
    platform_client.post(URL, {"event_id": "reg", "type": "registration", "player_id": "p-1", "partner": "acme"},
                         format="json")
    platform_client.post(URL, deposit("e-1"), format="json")

    # when
    admin_client_api.post("/api/v1/partners/acme/qualification-rules/",
                          {"name": "two deposits", "min_deposit_count": 2, "currency": "EUR"}, format="json")
    platform_client.post(URL, deposit("e-2"), format="json")

    # then
    assert Delivery.objects.filter(event_type_id=EventType.QUALIFIED).count() == 1


def test_an_endpoint_edited_through_the_api_is_seen_by_the_next_ingest(platform_client, admin_client_api):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), event_types=["deposit"])
    assert deliveries_of(platform_client.post(URL, deposit("e-1"), format="json")) == 1

    edited = admin_client_api.patch(
        f"/api/v1/partners/acme/endpoints/{endpoint.pk}/", {"event_types": ["registration"]}, format="json"
    )

    assert edited.status_code == 200, edited.content
    assert deliveries_of(platform_client.post(URL, deposit("e-2"), format="json")) == 0


def test_a_partner_added_in_the_admin_is_accepted_by_the_next_ingest(platform_client, admin_client):
    assert platform_client.post(URL, deposit("e-1"), format="json").status_code == 400  # no partner acme yet

    added = admin_client.post(
        "/admin/partners/partner/add/",
        {
            "slug": "acme", "name": "Acme", "scope": "attributed", "is_active": "on",
            "endpoints-TOTAL_FORMS": "0", "endpoints-INITIAL_FORMS": "0",
            "payout_rules-TOTAL_FORMS": "0", "payout_rules-INITIAL_FORMS": "0",
            "qualification_rules-TOTAL_FORMS": "0", "qualification_rules-INITIAL_FORMS": "0",
        },
    )

    assert added.status_code == 302, added.content
    assert platform_client.post(URL, deposit("e-1"), format="json").status_code == 201


def test_an_event_type_edited_in_the_admin_is_seen_by_the_next_ingest(platform_client, admin_client):
    game = {"event_id": "g-1", "type": "game_activity", "player_id": "p-1"}
    assert platform_client.post(URL, game, format="json").status_code == 201
    event_type = EventType.objects.get(slug="game_activity")

    edited = admin_client.post(
        f"/admin/events/eventtype/{event_type.pk}/change/",
        {"slug": "game_activity", "name": "Game activity", "requires_amount": "on"},
    )

    assert edited.status_code == 302, edited.content
    refused = platform_client.post(URL, {**game, "event_id": "g-2"}, format="json")
    assert refused.status_code == 400
    assert "amount" in refused.json()["errors"]


def test_a_version_replaced_from_another_connection_is_seen_by_the_next_ingest(platform_client, settings):
    """What another host does: it commits a change the way this process cannot see, then replaces the version."""
    require_postgres()
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), event_types=["deposit"])
    assert deliveries_of(platform_client.post(URL, deposit("e-1"), format="json")) == 1
    with connection.cursor() as cursor:  # no signal: the row changes behind this process's back
        cursor.execute(
            "DELETE FROM partners_postbackendpoint_event_types WHERE postbackendpoint_id = %s", [endpoint.pk]
        )
    assert deliveries_of(platform_client.post(URL, deposit("e-2"), format="json")) == 1  # the copy is still used

    RedisCache(shared_cache_url(settings), {}).set(VERSION_KEY, "another-host", timeout=None)

    assert deliveries_of(platform_client.post(URL, deposit("e-3"), format="json")) == 0


def test_an_endpoint_added_by_another_process_is_seen_by_the_next_ingest(platform_client, settings, tmp_path):
    require_postgres()
    PartnerFactory(slug="acme")
    assert deliveries_of(platform_client.post(URL, deposit("e-1"), format="json")) == 0
    script = textwrap.dedent("""
        import django; django.setup()
        from events.models import EventType
        from partners.models import Partner, PostbackEndpoint
        from partners.services import endpoint_save
        endpoint = PostbackEndpoint(partner=Partner.objects.get(slug="acme"), name="other host",
                                    url_template="https://partner.example/pb?e={event_id}")
        endpoint_save(endpoint=endpoint, fields={}, event_types=EventType.objects.filter(slug="deposit"))
    """)

    child = run_python(tmp_path, "-c", script, DATABASE_URL=child_database_url(), REDIS_URL=shared_cache_url(settings),
                       SECRET_KEY="config-cache-test-child-process", DEBUG="true")

    assert child.returncode == 0, child.stderr
    assert PostbackEndpoint.objects.filter(name="other host").exists()
    assert deliveries_of(platform_client.post(URL, deposit("e-2"), format="json")) == 1


def test_a_change_inside_a_transaction_is_not_cached_before_it_commits(platform_client):
    PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), event_types=["deposit"])
    assert len(routing_config().routes) == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        Partner.objects.filter(slug="acme").delete()
        assert routing_config().routes == ()  # seen by the transaction that made it ...
        raise RuntimeError("rolled back")

    assert len(routing_config().routes) == 1  # ... and by no one once it is rolled back
    assert deliveries_of(platform_client.post(URL, deposit("e-1"), format="json")) == 1
