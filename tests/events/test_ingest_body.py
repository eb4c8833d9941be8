"""The ingest answer is built without a serializer, and stays the body the schema documents."""

import json

import pytest
from rest_framework.renderers import JSONRenderer

from events.selectors import event_get
from events.serializers import IngestedEventSerializer
from tests.factories import PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def documented_body(event_pk: int, warnings: list[str]) -> dict:
    event = event_get(pk=event_pk)
    event.warnings = warnings
    return json.loads(JSONRenderer().render(IngestedEventSerializer(event).data))


@pytest.fixture
def acme():
    partner = PartnerFactory(slug="acme")
    PostbackEndpointFactory(partner=partner, event_types=["deposit", "first_deposit"])
    PostbackEndpointFactory(partner=PartnerFactory(slug="analytics", scope="all"), event_types=["deposit"])
    return partner


def test_a_new_event_is_answered_with_the_serializers_body(platform_client, acme):
    sent = {
        "event_id": "dep-1", "type": "deposit", "player_id": "p-1", "partner": "acme", "click_id": "c-1",
        "occurred_at": "2026-11-23T12:00:00.123456+02:00", "amount": "25", "currency": "EUR",
        "params": {"sub1": "campaign-7", "n": 3, "ok": True},
    }

    response = platform_client.post(URL, sent, format="json")

    assert response.status_code == 201
    body = response.json()
    assert [delivery["partner"] for delivery in body["deliveries"]] == ["acme", "analytics"]
    assert body["occurred_at"] == "2026-11-23T10:00:00.123456Z"
    assert body == documented_body(body["id"], [])


def test_a_replay_and_a_warning_are_answered_with_the_serializers_body(platform_client, acme):
    PartnerFactory(slug="other")
    first = {"event_id": "reg-1", "type": "registration", "player_id": "p-1", "partner": "acme"}
    platform_client.post(URL, first, format="json")

    replay = platform_client.post(URL, first, format="json")
    switched = platform_client.post(URL, {**first, "event_id": "reg-2", "partner": "other"}, format="json")

    assert replay.status_code == 200
    assert replay.json() == documented_body(replay.json()["id"], [])
    assert switched.status_code == 201
    assert switched.json()["warnings"]
    assert switched.json() == documented_body(switched.json()["id"], switched.json()["warnings"])


def test_the_body_has_exactly_the_documented_fields(platform_client, client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    documented = schema["components"]["schemas"]["IngestedEvent"]["properties"]
    delivery_documented = schema["components"]["schemas"]["Delivery"]["properties"]
    PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), event_types=["registration"])

    body = platform_client.post(
        URL, {"event_id": "reg-1", "type": "registration", "player_id": "p-1", "partner": "acme"}, format="json"
    ).json()

    assert set(body) == set(documented)
    assert set(body["deliveries"][0]) == set(delivery_documented)
