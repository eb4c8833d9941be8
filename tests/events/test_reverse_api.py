from decimal import Decimal

import pytest

from deliveries.models import Delivery
from events.models import EventType
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deposit(db):
    return EventFactory(
        event_id="dep-7", partner=PartnerFactory(slug="acme"), type_id=EventType.DEPOSIT,
        amount=Decimal("25.00"), currency="EUR",
    )


def test_reversing_an_event_answers_201_with_the_reversal(platform_client, deposit, sender_asleep):
    # given: the partner received the deposit
    DeliveryFactory(event=deposit, status=Delivery.Status.DELIVERED)

    # when
    response = platform_client.post(f"/api/v1/events/{deposit.pk}/reverse/", {"reason": "chargeback"}, format="json")

    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["type"], body["reason"], body["cancelled"]) == ("reversal", "chargeback", 0)
    assert body["reverses"]["event_id"] == "dep-7" and body["reverses"]["reversed_at"]
    assert [item["event_type"] for item in body["deliveries"]] == ["reversal"]


def test_reversing_again_answers_200_with_nothing_new(platform_client, deposit, sender_asleep):
    first = platform_client.post(f"/api/v1/events/{deposit.pk}/reverse/", {"reason": "fraud"}, format="json")

    again = platform_client.post(f"/api/v1/events/{deposit.pk}/reverse/", {"reason": "fraud"}, format="json")

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_an_event_is_reversed_by_the_platforms_event_id(platform_client, deposit, sender_asleep):
    response = platform_client.post(
        "/api/v1/events/reverse/", {"event_id": "dep-7", "reason": "cancelled"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["reverses"]["id"] == deposit.pk


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/events/999999/reverse/", {"reason": "chargeback"}),
    ("/api/v1/events/reverse/", {"event_id": "no-such-event", "reason": "chargeback"}),
])
def test_reversing_an_unknown_event_is_a_404(platform_client, path, body):
    assert platform_client.post(path, body, format="json").status_code == 404


def test_an_unknown_reason_is_a_400_that_lists_the_reasons(platform_client, deposit):
    response = platform_client.post(f"/api/v1/events/{deposit.pk}/reverse/", {"reason": "refund"}, format="json")

    assert response.status_code == 400
    assert "reason" in response.json()["errors"]


def test_a_reversal_cannot_be_reversed_over_the_api(platform_client, deposit, sender_asleep):
    reversal = platform_client.post(f"/api/v1/events/{deposit.pk}/reverse/", {"reason": "fraud"}, format="json")

    response = platform_client.post(
        f"/api/v1/events/{reversal.json()['id']}/reverse/", {"reason": "fraud"}, format="json"
    )

    assert response.status_code == 400
    assert "itself a reversal" in str(response.json())


def test_reversing_needs_an_api_key(anonymous_client, deposit):
    assert anonymous_client.post(
        f"/api/v1/events/{deposit.pk}/reverse/", {"reason": "fraud"}, format="json"
    ).status_code == 401


def test_the_platform_cannot_ingest_a_reversal_directly(platform_client):
    response = platform_client.post("/api/v1/events/", {
        "event_id": "r-1", "type": "reversal", "player_id": "p-1",
    }, format="json")

    assert response.status_code == 400
    assert "/reverse/" in str(response.json()["errors"]["type"])
