from datetime import UTC, datetime

import pytest

from deliveries.models import DeliveryAttempt
from tests.factories import DeliveryFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/deliveries/"


def _retried_delivery():
    delivery = DeliveryFactory(endpoint__partner=PartnerFactory(slug="acme"), status="retrying", attempt_count=1)
    DeliveryAttempt.objects.create(
        delivery=delivery, number=1, outcome="retry", request_method="GET",
        request_url="https://partner.example/postback?click=c-1", request_headers={"Authorization": "Bearer s3cret"},
        status_code=503, duration_ms=120, response_excerpt="busy", error="HTTP 503", error_class="http_5xx",
        started_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
    )
    return delivery


def test_a_delivery_is_shown_with_every_attempt_and_no_request_headers(admin_client_api):
    delivery = _retried_delivery()

    response = admin_client_api.get(f"{URL}{delivery.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["partner"] == "acme"
    assert body["status"] == "retrying"
    assert body["attempt_count"] == 1
    (attempt,) = body["attempts"]
    assert attempt["number"] == 1
    assert attempt["started_at"] == "2026-11-23T10:00:00Z"
    assert (attempt["status_code"], attempt["duration_ms"], attempt["error_class"]) == (503, 120, "http_5xx")
    assert attempt["request_url"] == "https://partner.example/postback?click=c-1"
    assert attempt["response_excerpt"] == "busy"
    assert "s3cret" not in response.content.decode()


def test_a_platform_key_sees_the_attempts_but_not_the_request_url_or_the_partners_answer(platform_client):
    delivery = _retried_delivery()

    body = platform_client.get(f"{URL}{delivery.pk}/").json()

    (attempt,) = body["attempts"]
    assert (attempt["status_code"], attempt["error"]) == (503, "HTTP 503")
    assert (body["request_url"], attempt["request_url"], attempt["response_excerpt"]) == (None, None, None)


def test_an_unknown_delivery_is_a_404(platform_client):
    assert platform_client.get(f"{URL}424242/").status_code == 404


def test_deliveries_filter_by_status_partner_endpoint_and_event_type(platform_client):
    acme = PartnerFactory(slug="acme")
    endpoint = PostbackEndpointFactory(partner=acme)
    match = DeliveryFactory(endpoint=endpoint, status="failed", event__type_id="registration")
    DeliveryFactory(endpoint=endpoint, status="delivered", event__type_id="registration")
    DeliveryFactory(endpoint=PostbackEndpointFactory(partner=acme), status="failed", event__type_id="registration")
    DeliveryFactory(endpoint=endpoint, status="failed", event__type_id="game_activity")

    response = platform_client.get(
        URL, {"status": "failed", "partner": "acme", "endpoint": endpoint.pk, "event_type": "registration"}
    )

    assert [delivery["id"] for delivery in response.json()["results"]] == [match.pk]
    assert response.json()["results"][0]["attempts"] == 0


def test_deliveries_filter_by_creation_time(platform_client):
    DeliveryFactory(created_at=datetime(2026, 11, 22, 23, 59, tzinfo=UTC))
    inside = DeliveryFactory(created_at=datetime(2026, 11, 23, 0, 0, tzinfo=UTC))

    response = platform_client.get(URL, {"from": "2026-11-23", "to": "2026-11-23T23:59:59Z"})

    assert [delivery["id"] for delivery in response.json()["results"]] == [inside.pk]


def test_a_bad_delivery_filter_is_a_400_naming_it(platform_client):
    response = platform_client.get(URL, {"status": "sent"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["status"]


def test_admin_keys_read_deliveries_too(admin_client_api):
    assert admin_client_api.get(URL).status_code == 200


@pytest.mark.parametrize("body", [{"partner": False}, {"partner": 0}, {"status": ["failed"]}, {"endpoint": 1.5}, {"from": {}}])
def test_bulk_resend_refuses_a_filter_that_is_neither_text_nor_a_whole_number(admin_client_api, body):
    DeliveryFactory(status="failed", endpoint__partner=PartnerFactory(slug="False"))

    response = admin_client_api.post("/api/v1/deliveries/resend/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == list(body)


def test_reversal_by_event_id_refuses_a_number_for_the_id(admin_client_api):
    response = admin_client_api.post("/api/v1/events/reverse/", {"event_id": 0, "reason": "chargeback"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["event_id"]
