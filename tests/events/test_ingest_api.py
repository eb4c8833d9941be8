import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deliveries.models import Delivery
from events.models import Event, Player
from tests.factories import PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def deposit(**overrides):
    body = {
        "event_id": "dep-1",
        "type": "deposit",
        "player_id": "p-1",
        "occurred_at": "2026-11-23T10:00:00Z",
        "amount": "25.00",
        "currency": "EUR",
        "params": {"sub1": "campaign-7", "country": "DE"},
    }
    return {**body, **overrides}


def test_a_new_event_is_stored_and_answered_with_201(platform_client):
    response = platform_client.post(URL, deposit(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["event_id"] == "dep-1"
    assert body["type"] == "deposit"
    assert body["player_id"] == "p-1"
    assert body["amount"] == "25.00"
    assert body["currency"] == "EUR"
    assert body["params"] == {"sub1": "campaign-7", "country": "DE"}
    assert body["occurred_at"] == "2026-11-23T10:00:00Z"
    assert body["is_first_deposit"] is True
    assert body["partner"] is None
    assert body["deliveries"] == []
    assert body["warnings"] == []
    assert Event.objects.get(pk=body["id"]).player_id == "p-1"


def test_the_same_event_again_answers_200_with_the_stored_event(platform_client):
    first = platform_client.post(URL, deposit(), format="json")

    # Same content written differently: other key order, offset and trailing zeros.
    again = platform_client.post(
        URL,
        deposit(occurred_at="2026-11-23T12:00:00+02:00", amount="25.0", params={"country": "DE", "sub1": "campaign-7"}),
        format="json",
    )

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Event.objects.count() == 1


def test_reusing_an_event_id_with_other_content_is_a_409_naming_the_fields(platform_client):
    platform_client.post(URL, deposit(), format="json")

    response = platform_client.post(URL, deposit(amount="30.00", params={}), format="json")

    assert response.status_code == 409
    body = response.json()
    assert "differs in: amount, params" in body["detail"]
    assert body["errors"]["event_id"] == [body["detail"]]
    assert Event.objects.get().amount == 25


def test_the_answer_to_a_new_event_reads_as_the_stored_one(platform_client):
    PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), event_types=["deposit", "first_deposit"])
    body = deposit(occurred_at="2026-11-23T12:00:00.5+02:00", amount="7", partner="acme", click_id="c-1")

    created = platform_client.post(URL, body, format="json").json()
    stored = platform_client.get(f"{URL}{created['id']}/").json()

    assert created.pop("warnings") == []
    assert created == stored
    assert created["occurred_at"] == "2026-11-23T10:00:00.500000Z"
    assert created["amount"] == "7.00"


def test_any_rfc3339_offset_is_stored_as_the_same_moment(platform_client):
    # PostgreSQL refuses offsets beyond ±15:59, RFC 3339 allows up to ±23:59.
    response = platform_client.post(URL, deposit(occurred_at="2022-10-08T00:56:29.695530-21:09"), format="json")

    assert response.status_code == 201
    assert response.json()["occurred_at"] == "2022-10-08T22:05:29.695530Z"


def test_occurred_at_defaults_to_the_time_of_receipt(platform_client):
    response = platform_client.post(URL, deposit(occurred_at=None), format="json")

    body = response.json()
    assert response.status_code == 201
    assert body["occurred_at"] == body["received_at"]


def test_every_bad_field_is_named_with_its_reason(platform_client):
    response = platform_client.post(
        URL,
        {
            "event_id": "e-1",
            "type": "deposite",
            "player_id": "",
            "occurred_at": "2026-11-23 10:00:00",
            "amount": "-5",
            "currency": "EUR",
            "params": {"nested": {"a": 1}},
            "colour": "red",
        },
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"type", "player_id", "occurred_at", "params", "colour", "amount"}
    assert "Allowed types: conversion, deposit, first_deposit" in errors["type"][0]
    assert "RFC 3339" in errors["occurred_at"][0]
    assert "flat value" in errors["params"][0]
    assert "greater than zero" in errors["amount"][0]
    assert "Unknown field" in errors["colour"][0]
    assert not Event.objects.exists()
    assert not Player.objects.exists()


def test_amount_beyond_the_currency_precision_is_refused(platform_client):
    response = platform_client.post(URL, deposit(amount="10.5", currency="JPY"), format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["amount"] == ["JPY has 0 decimal places; 10.5 has more."]


def test_a_deposit_needs_an_amount_and_an_iso_currency(platform_client):
    response = platform_client.post(URL, deposit(amount=None, currency="EURO"), format="json")

    errors = response.json()["errors"]
    assert response.status_code == 400
    assert errors["amount"] == ['Required for deposit events, e.g. "25.00".']
    assert "ISO 4217" in errors["currency"][0]


def test_an_unknown_partner_is_a_400_on_the_partner_field(platform_client):
    response = platform_client.post(URL, deposit(partner="nobody"), format="json")

    assert response.status_code == 400
    assert "Unknown partner 'nobody'" in response.json()["errors"]["partner"][0]
    assert not Player.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(platform_client):
    response = platform_client.post(URL, [deposit()], format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": ["Each event must be a JSON object, not an array."]}


def test_deliveries_are_created_with_the_event_and_shown_with_it(platform_client):
    partner = PartnerFactory(slug="acme")
    endpoint = PostbackEndpointFactory(partner=partner, event_types=["registration"])

    response = platform_client.post(
        URL, {"event_id": "r-1", "type": "registration", "player_id": "p-9", "partner": "acme"}, format="json"
    )

    (delivery,) = response.json()["deliveries"]
    assert delivery["endpoint"] == endpoint.pk
    assert delivery["partner"] == "acme"
    assert delivery["event_type"] == "registration"
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 0
    assert Delivery.objects.get().event_id == response.json()["id"]


def test_an_event_without_endpoints_is_still_stored(platform_client):
    response = platform_client.post(URL, {"event_id": "g-1", "type": "game_activity", "player_id": "p-1"},
                                    format="json")

    assert response.status_code == 201
    assert Event.objects.filter(event_id="g-1").exists()


@pytest.mark.django_db(transaction=True)
def test_single_ingest_stays_within_a_small_number_of_queries(
    platform_client, django_assert_max_num_queries, settings, sender_asleep
):
    settings.POSTBACK_CONFIG_CACHE = True
    PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), event_types=["deposit", "first_deposit"])
    platform_client.post(URL, deposit(event_id="warm-up", player_id="p-0"), format="json")

    # Key and routing configuration are known from the first request; the answer needs no read-back.
    # BEGIN, stored event ids, player lock, player, event and delivery inserts, COMMIT (see ingest.services).
    with django_assert_max_num_queries(7):
        response = platform_client.post(URL, deposit(partner="acme", click_id="c-1"), format="json")

    assert response.status_code == 201
    assert len(response.json()["deliveries"]) == 1


def test_new_events_are_told_from_stored_ones_without_reading_the_events(platform_client):
    platform_client.post(URL, deposit(), format="json")

    with CaptureQueriesContext(connection) as queries:
        new = platform_client.post(URL, deposit(event_id="dep-2"), format="json")
    again = platform_client.post(URL, deposit(), format="json")

    assert (new.status_code, again.status_code) == (201, 200)
    event_reads = [query["sql"] for query in queries if query["sql"].startswith('SELECT "events_event"."id"')]
    # PostgreSQL asks the key table; elsewhere the events' unique index on event_id is the cheap probe.
    assert len(event_reads) == (0 if connection.vendor == "postgresql" else 1)
