import io
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.exceptions import NotAuthenticated, PermissionDenied

from accounts.services import api_key_revoke
from accounts.throttling import ApiKeyRateThrottle
from events.models import Event
from lib.api_errors import PayloadTooLarge, api_exception_handler, field_errors
from lib.parsers import SizeLimitedJSONParser
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db

EVENT = {"event_id": "r-1", "type": "registration", "player_id": "p-1"}


def test_no_key_is_a_401_in_the_error_format(anonymous_client):
    response = anonymous_client.post("/api/v1/events/", EVENT, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided.", "errors": {}}
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_is_a_401(platform_client):
    api_key_revoke(api_key=platform_client.api_key)

    response = platform_client.get("/api/v1/deliveries/")

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API key."


def test_a_platform_key_on_an_admin_route_is_a_403_not_a_401(platform_client):
    response = platform_client.post(f"/api/v1/deliveries/{DeliveryFactory().pk}/resend/")

    assert response.status_code == 403
    assert response.json() == {"detail": "This route needs an API key with the admin role.", "errors": {}}


def test_the_handler_keeps_401_and_403_apart():
    forbidden = api_exception_handler(PermissionDenied("This route needs an API key with the admin role."), {})
    unauthenticated = api_exception_handler(NotAuthenticated(), {})

    assert (forbidden.status_code, unauthenticated.status_code) == (403, 401)


def test_an_oversized_body_is_a_413_and_stores_nothing(platform_client):
    body = {"events": [{**EVENT, "event_id": f"r-{n}", "params": {"pad": "x" * 200}} for n in range(20)]}

    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000):
        response = platform_client.post("/api/v1/events/batch/", body, format="json")

    assert response.status_code == 413
    assert "larger than 2000 bytes" in response.json()["detail"]
    assert not Event.objects.exists()


def test_malformed_json_is_a_400_in_the_error_format(platform_client):
    response = platform_client.generic("POST", "/api/v1/events/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_a_throttled_key_gets_429_with_retry_after(platform_client, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    cache.clear()

    statuses = [platform_client.get("/api/v1/events/").status_code for _ in range(3)]
    response = platform_client.get("/api/v1/events/")

    assert statuses == [200, 200, 429]
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["detail"].startswith("Request was throttled.")
    cache.clear()


def test_nested_field_errors_are_named_with_dots():
    assert field_errors({"events": [{}, {"amount": ["Too large."]}], "partner": "Unknown."}) == {
        "events.1.amount": ["Too large."],
        "partner": ["Unknown."],
    }


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
@pytest.mark.parametrize("declared_length", ["", "5000"])
def test_the_json_parser_refuses_a_body_beyond_the_limit_whatever_its_declared_length(declared_length):
    request = SimpleNamespace(META={"CONTENT_LENGTH": declared_length})
    stream = io.BytesIO(b'{"pad": "' + b"x" * 200 + b'"}')

    with pytest.raises(PayloadTooLarge):
        SizeLimitedJSONParser().parse(stream, "application/json", {"request": request})


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_the_json_parser_reads_a_body_within_the_limit():
    request = SimpleNamespace(META={"CONTENT_LENGTH": "12"})

    assert SizeLimitedJSONParser().parse(io.BytesIO(b'{"a": "b"}'), "application/json", {"request": request}) == {
        "a": "b"
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"event_id": "a\\ud800", "type": "registration", "player_id": "p"}', "lone surrogate"),
        ('{"event_id": "a", "type": "registration", "player_id": "p", "params": {"x": "\\udc00"}}', "lone surrogate"),
        ("[" * 50_000, "nested too deeply"),
    ],
)
def test_json_that_cannot_be_stored_is_a_400_not_a_server_error(platform_client, body, reason):
    response = platform_client.generic("POST", "/api/v1/events/", body, content_type="application/json")

    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert not Event.objects.exists()


def test_a_valid_surrogate_pair_is_an_ordinary_character(platform_client):
    body = '{"event_id": "smile-\\ud83d\\ude00", "type": "registration", "player_id": "p"}'

    response = platform_client.generic("POST", "/api/v1/events/", body, content_type="application/json")

    assert response.status_code == 201
    assert response.json()["event_id"] == "smile-\N{GRINNING FACE}"


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/events/null,null/"), ("DELETE", "/api/v1/partners//payouts/0/"),
     ("POST", "/api/v1/partners//endpoints/"), ("GET", "/api/v1/no-such-route/"),
     ("PATCH", "/api/v1/partners/9/endpoints/a%0Ab/")],
)
def test_a_path_no_api_route_takes_is_a_json_404_with_debug_on_or_off(admin_client_api, settings, debug, method, path):
    settings.DEBUG = debug

    response = admin_client_api.generic(method, path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"] == {}
