import pytest

from deliveries.models import Delivery
from events.models import Event, Player
from tests.factories import PartnerFactory, PostbackEndpointFactory
from tests.support.services import require_postgres

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/batch/"


def registration(n: int, **overrides):
    return {"event_id": f"reg-{n}", "type": "registration", "player_id": f"p-{n}", **overrides}


def test_each_item_gets_its_result_in_order_and_a_bad_one_rejects_nothing_else(platform_client):
    platform_client.post("/api/v1/events/", registration(1), format="json")
    items = [
        registration(0),
        registration(1),
        {**registration(1), "player_id": "someone-else"},
        {"event_id": "bad", "type": "deposit", "player_id": "p-3", "amount": "abc", "currency": "EUR"},
        registration(4),
    ]

    response = platform_client.post(URL, {"events": items}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert [item["status"] for item in body["results"]] == ["created", "duplicate", "conflict", "error", "created"]
    assert [item["index"] for item in body["results"]] == [0, 1, 2, 3, 4]
    assert [item["event_id"] for item in body["results"]] == ["reg-0", "reg-1", "reg-1", "bad", "reg-4"]
    assert {"created": 2, "duplicate": 1, "conflict": 1, "error": 1}.items() <= body.items()
    assert "differs in: player_id" in body["results"][2]["detail"]
    assert body["results"][3]["errors"] == {
        "amount": ['\'abc\' is not a number. Send a positive decimal, preferably as a string such as "25.00".']
    }
    assert set(Event.objects.values_list("event_id", flat=True)) == {"reg-0", "reg-1", "reg-4"}


def test_a_repeat_inside_one_batch_is_a_duplicate_of_the_first(platform_client):
    response = platform_client.post(URL, {"events": [registration(1), registration(1)]}, format="json")

    first, second = response.json()["results"]
    assert (first["status"], second["status"]) == ("created", "duplicate")
    assert first["id"] == second["id"]


def test_more_than_a_thousand_events_is_a_400(platform_client):
    response = platform_client.post(URL, {"events": [registration(n) for n in range(1001)]}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["events"] == ["At most 1,000 events per batch; this one has 1,001. Split it."]
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", [[], {"events": []}, {"events": {}}, {"items": []}])
def test_a_body_without_a_list_of_events_is_a_400(platform_client, body):
    response = platform_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert "events" in response.json()["errors"]


def _mixed_batch(size: int) -> list[dict]:
    """Half registrations with a partner, half first deposits of the same players."""
    players = range(size // 2)
    registrations = [registration(n, partner="acme", click_id=f"c-{n}") for n in players]
    deposits = [
        {"event_id": f"dep-{n}", "type": "deposit", "player_id": f"p-{n}", "amount": "10.00", "currency": "EUR"}
        for n in players
    ]
    return registrations + deposits


def _store_and_check(client, size: int, max_queries: int, django_assert_max_num_queries) -> None:
    partner = PartnerFactory(slug="acme")
    PostbackEndpointFactory(partner=partner, event_types=["registration", "deposit", "first_deposit"])
    # Key and routing configuration are then known: what is counted is the batch's own work, BEGIN,
    # stored event ids, player lock, player, event and delivery inserts, COMMIT (see ingest.services).
    client.post(URL, {"events": [registration(-1)]}, format="json")

    with django_assert_max_num_queries(max_queries):
        response = client.post(URL, {"events": _mixed_batch(size)}, format="json")

    assert response.json()["created"] == size
    assert Event.objects.filter(is_first_deposit=True).count() == size // 2
    assert Player.objects.filter(partner=partner).count() == size // 2
    # Each registration goes to the endpoint, and each deposit as a first deposit.
    assert Delivery.objects.filter(event_type_id="registration").count() == size // 2
    assert Delivery.objects.filter(event_type_id="first_deposit").count() == size // 2


@pytest.mark.django_db(transaction=True)
def test_a_batch_costs_a_handful_of_queries_not_one_per_event(
    platform_client, django_assert_max_num_queries, settings, sender_asleep
):
    settings.POSTBACK_CONFIG_CACHE = True
    # 40 events stay under SQLite's 999 bound parameters per statement, so nothing is split.
    _store_and_check(platform_client, 40, 7, django_assert_max_num_queries)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_full_batch_of_a_thousand_is_stored_with_a_handful_of_queries(
    platform_client, django_assert_max_num_queries, settings, sender_asleep
):
    # SQLite splits big inserts by its bound-parameter limit; PostgreSQL sends each as one statement.
    require_postgres()
    settings.POSTBACK_CONFIG_CACHE = True
    _store_and_check(platform_client, 1000, 7, django_assert_max_num_queries)


def test_resending_a_whole_batch_stores_nothing_twice(platform_client):
    items = [registration(n) for n in range(20)]
    platform_client.post(URL, {"events": items}, format="json")

    response = platform_client.post(URL, {"events": items}, format="json")

    assert response.json()["duplicate"] == 20
    assert Event.objects.count() == 20
