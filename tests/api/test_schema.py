import re

import pytest
from drf_spectacular.validation import validate_schema

from deliveries import api_docs as delivery_docs
from deliveries.serializers import DeliveryAttemptSerializer
from events.models import EventType
from ingest import api_docs as event_docs
from tests.factories import DeliveryFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

OPERATIONS = [
    ("/api/v1/events/", "post"),
    ("/api/v1/events/", "get"),
    ("/api/v1/events/{id}/", "get"),
    ("/api/v1/events/batch/", "post"),
    ("/api/v1/deliveries/", "get"),
    ("/api/v1/deliveries/{id}/", "get"),
]


@pytest.fixture
def openapi(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_served_schema_is_valid_openapi_3(openapi):
    validate_schema(openapi)

    assert openapi["openapi"].startswith("3.")
    scheme = openapi["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_the_docs_page_is_served(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_the_docs_page_loads_every_script_and_style_from_this_host(client):
    # given
    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)

    # then: nothing comes from another host, and what it names is served here
    assert any(url.startswith("/static/") for url in assets), assets
    assert not [url for url in assets if re.match(r"(https?:)?//", url)], assets
    for url in assets:
        if url.startswith("/static/"):
            response = client.get(url)
            response.close()
            assert response.status_code == 200, url


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_route_documents_its_answers_with_examples(openapi, path, method):
    operation = openapi["paths"][path][method]

    success = next(code for code in ("200", "201") if code in operation["responses"])
    assert operation["responses"][success]["content"]["application/json"]["examples"]
    assert {"401", "403", "429"} <= set(operation["responses"])
    if method == "post":
        assert operation["requestBody"]["content"]["application/json"]["examples"]


def test_the_ingest_example_matches_a_real_answer(platform_client):
    partner = PartnerFactory(slug="acme-affiliates")
    PostbackEndpointFactory(partner=partner, event_types=["first_deposit"])

    body = platform_client.post("/api/v1/events/", event_docs.DEPOSIT, format="json").json()

    assert set(body) == set(event_docs.STORED_DEPOSIT) | {"warnings"}
    assert set(body["deliveries"][0]) == set(event_docs.DELIVERY)
    assert {key: body[key] for key in ("amount", "is_first_deposit", "partner")} == {
        key: event_docs.STORED_DEPOSIT[key] for key in ("amount", "is_first_deposit", "partner")
    }


def test_the_delivery_examples_match_real_answers(platform_client):
    delivery = DeliveryFactory()

    listed = platform_client.get("/api/v1/deliveries/").json()["results"][0]
    detail = platform_client.get(f"/api/v1/deliveries/{delivery.pk}/").json()

    assert set(listed) == set(delivery_docs.DELIVERY)
    assert set(detail) >= set(delivery_docs.DELIVERY) | {"attempt_count", "request_method", "request_url"}
    assert set(delivery_docs.ATTEMPT) == set(DeliveryAttemptSerializer.Meta.fields)


def test_a_created_partner_and_endpoint_link_to_the_operations_below_them(openapi):
    partner_links = openapi["paths"]["/api/v1/partners/"]["post"]["responses"]["201"]["links"]
    endpoint_links = openapi["paths"]["/api/v1/partners/{partner_slug}/endpoints/"]["post"]["responses"]["201"]["links"]

    assert partner_links["endpoints_create"]["parameters"] == {"partner_slug": "$response.body#/slug"}
    assert {link["operationId"] for link in endpoint_links.values()} >= {
        "v1_partners_endpoints_retrieve", "v1_partners_endpoints_update", "v1_partners_endpoints_preview_create",
        "v1_partners_endpoints_test_create",
    }
    assert endpoint_links["endpoints_test_create"]["parameters"]["id"] == "$response.body#/id"


def enum_of(schemas: dict, prop: dict) -> list:
    """A property's choices, inline or in the enum component drf-spectacular moved them to."""
    if "enum" in prop:
        return prop["enum"]
    refs = [part["$ref"] for part in prop.get("allOf", prop.get("oneOf", [])) if "$ref" in part]
    return [choice for ref in refs for choice in schemas[ref.rsplit("/", 1)[1]]["enum"]]


def test_the_schema_offers_the_configured_event_types_and_states_what_validation_enforces(openapi):
    schemas = openapi["components"]["schemas"]
    event = schemas["EventInputRequest"]

    assert "registration" in enum_of(schemas, event["properties"]["type"])
    assert "reversal" not in enum_of(schemas, event["properties"]["type"])
    assert {"EUR", None} <= set(enum_of(schemas, event["properties"]["currency"]))
    assert event["additionalProperties"] is False
    assert event["required"] == ["event_id", "type", "player_id"]
    assert event["properties"]["event_id"]["maxLength"] == 128
    assert event["anyOf"] == [
        {"not": {"properties": {"type": {"enum": ["deposit", "first_deposit", "withdrawal"]}}}},
        {"required": ["amount", "currency"]},
    ]
    assert schemas["EventBatchInputRequest"]["properties"]["events"]["maxItems"] == 1000
    assert "EUR" in schemas["PayoutRuleRequest"]["properties"]["currency"]["enum"]
    assert schemas["EndpointRequest"]["properties"]["headers"]["maxProperties"] == 20
    assert re.fullmatch(schemas["EndpointRequest"]["properties"]["url_template"]["pattern"].strip("^$"),
                        "https://p.example/pb?c={click_id}&e={params.email|trim|lower|sha256}")


def test_a_custom_event_type_is_offered_once_it_exists(client):
    EventType.objects.create(slug="vip_upgrade", name="VIP upgrade")

    schemas = client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]

    assert "vip_upgrade" in enum_of(schemas, schemas["EventInputRequest"]["properties"]["type"])
    assert "vip_upgrade" in schemas["EndpointRequest"]["properties"]["event_types"]["items"]["enum"]
