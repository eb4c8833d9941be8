"""The ingest answer is the stored event as the status API shows it, with the notes of its ingest."""

import pytest

from tests.factories import PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


@pytest.fixture
def acme():
    partner = PartnerFactory(slug="acme")
    PostbackEndpointFactory(partner=partner, event_types=["deposit", "first_deposit"])
    PostbackEndpointFactory(partner=PartnerFactory(slug="analytics", scope="all"), event_types=["deposit"])
    return partner


def test_a_new_event_is_answered_with_its_deliveries_as_stored(platform_client, acme):
    sent = {
        "event_id": "dep-1", "type": "deposit", "player_id": "p-1", "partner": "acme", "click_id": "c-1",
        "occurred_at": "2026-11-23T12:00:00.123456+02:00", "amount": "25", "currency": "EUR",
        "params": {"sub1": "campaign-7", "n": 3, "ok": True},
    }

    response = platform_client.post(URL, sent, format="json")

    assert response.status_code == 201
    body = response.json()
    assert [delivery["partner"] for delivery in body["deliveries"]] == ["acme", "analytics"]
    assert {delivery["status"] for delivery in body["deliveries"]} == {"pending"}
    assert (body["occurred_at"], body["amount"], body["warnings"]) == ("2026-11-23T10:00:00.123456Z", "25.00", [])
    # given without a read-back, the answer is still what the status API reads from the database
    assert body == {**platform_client.get(f"{URL}{body['id']}/").json(), "warnings": []}


def test_a_replay_and_a_warning_are_answered_with_the_stored_event(platform_client, acme):
    PartnerFactory(slug="other")
    first = {"event_id": "reg-1", "type": "registration", "player_id": "p-1", "partner": "acme"}
    created = platform_client.post(URL, first, format="json").json()

    replay = platform_client.post(URL, first, format="json")
    switched = platform_client.post(URL, {**first, "event_id": "reg-2", "partner": "other"}, format="json")

    assert replay.status_code == 200
    assert replay.json() == created
    assert switched.status_code == 201
    assert switched.json()["partner"] == "acme"
    assert switched.json()["warnings"] == [
        "partner 'other' was not applied: player 'p-1' is attributed to 'acme' (first touch wins); the event is "
        "attributed to 'acme'."
    ]
