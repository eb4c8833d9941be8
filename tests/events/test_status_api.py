from datetime import UTC, datetime

import pytest

from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PlayerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_an_event_is_shown_with_its_deliveries_and_their_statuses(platform_client):
    partner = PartnerFactory(slug="acme")
    event = EventFactory(partner=partner, type_id="deposit", amount="25", currency="EUR", click_id="c-1")
    delivery = DeliveryFactory(event=event, endpoint__partner=partner, status="retrying", attempt_count=2,
                               last_status_code=503, last_error="HTTP 503")

    response = platform_client.get(f"{URL}{event.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["event_id"] == event.event_id
    assert body["partner"] == "acme"
    assert body["amount"] == "25.00"
    assert body["deliveries"] == [
        {
            "id": delivery.pk, "event": event.pk, "endpoint": delivery.endpoint_id, "partner": "acme",
            "event_type": "deposit", "status": "retrying", "attempts": 2,
            "next_attempt_at": body["deliveries"][0]["next_attempt_at"], "held_until": None, "delivered_at": None,
            "last_status_code": 503, "last_error": "HTTP 503",
            "created_at": body["deliveries"][0]["created_at"],
        }
    ]


def test_an_unknown_id_is_a_404_that_points_to_the_event_id_lookup(platform_client):
    response = platform_client.get(f"{URL}99999999/")

    assert response.status_code == 404
    assert "?event_id=" in response.json()["detail"]


def test_an_id_beyond_64_bits_is_a_404_not_a_server_error(platform_client):
    assert platform_client.get(f"{URL}{'9' * 30}/").status_code == 404


def test_an_event_is_found_by_the_platforms_event_id(platform_client):
    EventFactory(event_id="other")
    wanted = EventFactory(event_id="dep-42")

    response = platform_client.get(URL, {"event_id": "dep-42"})

    assert [event["id"] for event in response.json()["results"]] == [wanted.pk]


def test_lists_filter_by_type_player_partner_and_time_range(platform_client):
    acme = PartnerFactory(slug="acme")
    player = PlayerFactory(player_id="vip-7")
    match = EventFactory(type_id="deposit", player=player, partner=acme, amount=5, currency="EUR", occurred_at=at(23))
    EventFactory(type_id="registration", player=player, partner=acme, occurred_at=at(23))
    EventFactory(type_id="deposit", partner=acme, amount=5, currency="EUR", occurred_at=at(23))
    EventFactory(type_id="deposit", player=player, amount=5, currency="EUR", occurred_at=at(23))
    EventFactory(type_id="deposit", player=player, partner=acme, amount=5, currency="EUR", occurred_at=at(24))

    response = platform_client.get(
        URL, {"type": "deposit", "player_id": "vip-7", "partner": "acme", "from": "2026-11-23", "to": "2026-11-23"}
    )

    assert response.status_code == 200
    assert [event["id"] for event in response.json()["results"]] == [match.pk]


def test_lists_are_newest_first_and_paged_with_a_cursor(platform_client):
    events = [EventFactory() for _ in range(5)]

    first = platform_client.get(URL, {"page_size": 2}).json()
    second = platform_client.get(first["next"]).json()

    assert [event["id"] for event in first["results"]] == [events[4].pk, events[3].pk]
    assert [event["id"] for event in second["results"]] == [events[2].pk, events[1].pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "deposite"}, "type"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-11-23T10:00:00"}, "to"),
        ({"from": "2026-11-24", "to": "2026-11-23"}, "to"),
        ({"partner": "not a slug"}, "partner"),
        ({"player_id": "p\x00"}, "player_id"),
        ({"to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01T00:00:00+01:00"}, "from"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(platform_client, params, field):
    response = platform_client.get(URL, params)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_a_list_page_costs_a_fixed_number_of_queries(platform_client, django_assert_max_num_queries):
    for _ in range(20):
        DeliveryFactory(event=EventFactory())

    # Key look-up and its last-used stamp, events with their partners, their deliveries.
    with django_assert_max_num_queries(4):
        response = platform_client.get(URL)

    assert len(response.json()["results"]) == 20


def test_an_event_shows_the_params_it_inherits_from_its_player(platform_client, admin_client):
    player = PlayerFactory(tracking_params={"sub1": "first", "sub2": "campaign-7"})
    event = EventFactory(player=player, type_id="deposit", params={"sub1": "own"})

    body = platform_client.get(f"{URL}{event.pk}/").json()
    listed = platform_client.get(URL, {"player_id": player.player_id}).json()["results"][0]
    page = admin_client.get(f"/admin/events/event/{event.pk}/change/").content.decode()

    assert (body["params"], body["inherited_params"]) == ({"sub1": "own"}, {"sub2": "campaign-7"})
    assert listed["inherited_params"] == {"sub2": "campaign-7"}
    assert "Inherited params" in page and "campaign-7" in page
