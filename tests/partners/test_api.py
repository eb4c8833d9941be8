import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from deliveries.models import Delivery
from partners.models import Partner, PostbackEndpoint
from partners.signing import secret_generate
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

ENDPOINT = {
    "name": "ACME FTD",
    "url_template": "https://track.acme.example/pb?click={click_id}&payout={payout}",
    "method": "GET",
    "event_types": ["registration", "first_deposit"],
    "max_attempts": 5,
    "timeout_seconds": "3.5",
}


STORED_UNSENDABLE_BODIES = ['{"a": ' + "9" * 4301 + "}", '{"a": NaN}', '{"a": 1e999}', '{"{click_id}": "x"}']


def test_partners_need_an_admin_key(platform_client, anonymous_client):
    assert platform_client.get("/api/v1/partners/").status_code == 403
    assert anonymous_client.get("/api/v1/partners/").status_code == 401


def test_create_and_read_a_partner(admin_client_api):
    response = admin_client_api.post(
        "/api/v1/partners/", {"slug": "acme", "name": "ACME", "scope": "attributed"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = admin_client_api.get("/api/v1/partners/acme/").json()
    assert (body["slug"], body["name"], body["scope"], body["is_active"]) == ("acme", "ACME", "attributed", True)


def test_bad_partner_gets_field_errors(admin_client_api):
    response = admin_client_api.post("/api/v1/partners/", {"slug": "no spaces", "scope": "everyone"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"slug", "name", "scope"}


@pytest.mark.parametrize("value", [0, 1.5, True, ["x"], {"a": "b"}])
def test_a_text_field_given_something_else_is_a_400_naming_it(admin_client_api, value):
    body = {"slug": "acme", "name": "ACME", "notes": value}

    response = admin_client_api.post("/api/v1/partners/", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"notes": ["Not a string: send text, in quotes."]}
    assert not Partner.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("name", 7), ("max_attempts", "5"), ("max_attempts", True),
                                              ("is_active", 0), ("timeout_seconds", 3.5)])
def test_an_endpoint_field_of_another_json_type_is_a_400_naming_it(admin_client_api, field, value):
    partner = PartnerFactory()

    response = admin_client_api.post(f"/api/v1/partners/{partner.slug}/endpoints/", {**ENDPOINT, field: value},
                                     format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert not PostbackEndpoint.objects.exists()


def test_a_payout_value_as_a_json_number_is_a_400(admin_client_api):
    partner = PartnerFactory()
    body = {"event_type": "deposit", "kind": "fixed", "value": 10, "currency": "EUR"}

    response = admin_client_api.post(f"/api/v1/partners/{partner.slug}/payouts/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["value"]


@pytest.mark.parametrize("write", ["create", "update", "partial_update"])
def test_a_slug_another_partner_holds_is_a_409_naming_it(admin_client_api, write):
    PartnerFactory(slug="acme")
    PartnerFactory(slug="globex")
    body = {"slug": "acme", "name": "Renamed"}
    requests = {
        "create": lambda: admin_client_api.post("/api/v1/partners/", body, format="json"),
        "update": lambda: admin_client_api.put("/api/v1/partners/globex/", body, format="json"),
        "partial_update": lambda: admin_client_api.patch("/api/v1/partners/globex/", {"slug": "acme"}, format="json"),
    }

    response = requests[write]()

    assert response.status_code == 409, response.json()
    assert "'acme' exists already" in response.json()["errors"]["slug"][0]
    assert set(Partner.objects.values_list("slug", "name")) == {("acme", "Acme"), ("globex", "Globex")}


def test_a_partner_keeps_its_own_slug_on_update(admin_client_api):
    PartnerFactory(slug="acme")

    response = admin_client_api.put("/api/v1/partners/acme/", {"slug": "acme", "name": "ACME"}, format="json")

    assert response.status_code == 200, response.json()


def test_a_bad_body_with_a_taken_slug_is_a_400_for_its_fields(admin_client_api):
    PartnerFactory(slug="acme")

    response = admin_client_api.post("/api/v1/partners/", {"slug": "acme", "scope": "everyone"}, format="json")

    assert response.status_code == 400 and set(response.json()["errors"]) == {"name", "scope"}


def test_partners_are_not_deleted(admin_client_api):
    PartnerFactory(slug="acme")

    assert admin_client_api.delete("/api/v1/partners/acme/").status_code == 405


def test_create_an_endpoint_and_the_secret_stays_write_only(admin_client_api):
    PartnerFactory(slug="acme")
    secret = secret_generate()

    response = admin_client_api.post(
        "/api/v1/partners/acme/endpoints/", ENDPOINT | {"signing_secret": secret}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["has_signing_secret"] is True and "signing_secret" not in body
    assert secret not in json.dumps(admin_client_api.get(f"/api/v1/partners/acme/endpoints/{body['id']}/").json())
    assert sorted(body["event_types"]) == ["first_deposit", "registration"]
    assert PostbackEndpoint.objects.get().signing_secret == secret


@pytest.mark.parametrize(
    "change, field, reason",
    [
        ({"url_template": "https://p.example/?c={clickid}"}, "url_template", "Unknown macro {clickid}"),
        ({"url_template": "gopher://p.example/"}, "url_template", "http:// or https://"),
        ({"url_template": "http://10.0.0.1/pb"}, "url_template", "private"),
        ({"method": "POST", "body_template": "{bad json"}, "body_template", "not valid JSON"),
        ({"headers": {"Host": "x"}}, "headers", "set by the platform"),
        ({"filters": [{"field": "amount", "op": "gte", "value": "lots"}]}, "filters", "not a number"),
        ({"signing_secret": "hunter2"}, "signing_secret", "whsec_"),
        ({"event_types": ["nope"]}, "event_types", "nope"),
        ({"event_types": []}, "event_types", "at least one"),
    ],
)
def test_bad_endpoint_is_refused_with_the_reason(admin_client_api, change, field, reason):
    PartnerFactory(slug="acme")

    response = admin_client_api.post("/api/v1/partners/acme/endpoints/", ENDPOINT | change, format="json")

    assert response.status_code == 400
    assert reason in " ".join(response.json()["errors"][field])
    assert not PostbackEndpoint.objects.exists()


def test_partial_update_is_validated_against_the_stored_values(admin_client_api):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), method="GET")

    response = admin_client_api.patch(
        f"/api/v1/partners/acme/endpoints/{endpoint.pk}/", {"body_template": '{"a": "b"}'}, format="json"
    )

    assert response.status_code == 400
    assert "GET requests have no body" in response.json()["errors"]["body_template"][0]


def test_a_new_secret_rotates_with_a_grace_period(admin_client_api):
    old, new = secret_generate(), secret_generate()
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), signing_secret=old)

    response = admin_client_api.patch(
        f"/api/v1/partners/acme/endpoints/{endpoint.pk}/",
        {"signing_secret": new, "rotation_grace_hours": 2},
        format="json",
    )

    assert response.status_code == 200, response.json()
    endpoint.refresh_from_db()
    assert (endpoint.signing_secret, endpoint.previous_signing_secret) == (new, old)
    expected = timezone.now() + timedelta(hours=2)
    assert abs((endpoint.previous_secret_expires_at - expected).total_seconds()) < 60
    assert old not in response.content.decode() and new not in response.content.decode()


def test_endpoints_of_an_unknown_partner_are_a_clear_404(admin_client_api):
    response = admin_client_api.get("/api/v1/partners/ghost/endpoints/")

    assert response.status_code == 404
    assert "No partner with slug 'ghost'" in response.json()["detail"]


def test_pausing_and_resuming_an_endpoint_through_the_api(admin_client_api, django_capture_on_commit_callbacks):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"))
    url = f"/api/v1/partners/acme/endpoints/{endpoint.pk}/"

    paused = admin_client_api.patch(url, {"is_active": False}, format="json").json()
    assert (paused["is_active"], paused["pause_reason"]) == (False, "paused by a manager")
    assert paused["paused_at"] is not None

    with django_capture_on_commit_callbacks() as callbacks:
        resumed = admin_client_api.patch(url, {"is_active": True}, format="json").json()
    assert (resumed["is_active"], resumed["paused_at"], resumed["pause_reason"]) == (True, None, "")
    assert len(callbacks) == 1  # the sender is woken to send what was held


def test_payout_rules_crud_and_one_per_event_type(admin_client_api):
    PartnerFactory(slug="acme")
    url = "/api/v1/partners/acme/payouts/"

    created = admin_client_api.post(
        url, {"event_type": "first_deposit", "kind": "percent", "value": "25", "currency": "eur"}, format="json"
    )
    duplicate = admin_client_api.post(
        url, {"event_type": "first_deposit", "kind": "fixed", "value": "5", "currency": "EUR"}, format="json"
    )
    bad = admin_client_api.post(url, {"event_type": "deposit", "kind": "cpa", "value": "-1", "currency": "XX"},
                                format="json")

    assert created.status_code == 201, created.json()
    assert created.json() | {"id": 0} == {
        "id": 0, "event_type": "first_deposit", "kind": "percent", "value": "25.0000", "currency": "EUR",
    }
    assert duplicate.status_code == 409 and "already has a payout rule" in duplicate.json()["errors"]["event_type"][0]
    assert bad.status_code == 400 and {"kind", "value", "currency"} <= set(bad.json()["errors"])
    assert admin_client_api.delete(f"{url}{created.json()['id']}/").status_code == 204


@pytest.mark.parametrize("write", ["create", "update", "partial_update"])
def test_a_second_payout_rule_for_an_event_type_is_a_409_naming_it(admin_client_api, write):
    # given: acme pays for deposits and for registrations
    partner = PartnerFactory(slug="acme")
    PayoutRuleFactory(partner=partner, event_type_id="deposit", kind="fixed", value="5")
    other = PayoutRuleFactory(partner=partner, event_type_id="registration", kind="fixed", value="1")
    url = "/api/v1/partners/acme/payouts/"
    body = {"event_type": "deposit", "kind": "percent", "value": "10", "currency": "EUR"}
    requests = {
        "create": lambda: admin_client_api.post(url, body, format="json"),
        "update": lambda: admin_client_api.put(f"{url}{other.pk}/", body, format="json"),
        "partial_update": lambda: admin_client_api.patch(f"{url}{other.pk}/", {"event_type": "deposit"}, format="json"),
    }

    # when: a write would give deposits a second rule
    response = requests[write]()

    # then
    assert response.status_code == 409, response.json()
    assert response.json()["errors"] == {
        "event_type": ["acme already has a payout rule for deposit; change that one instead."]
    }
    assert set(partner.payout_rules.values_list("event_type", "value")) == {
        ("deposit", Decimal("5")), ("registration", Decimal("1")),
    }


def test_preview_renders_a_sample_without_sending(admin_client_api):
    partner = PartnerFactory(slug="acme")
    endpoint = PostbackEndpointFactory(
        partner=partner, url_template="https://p.example/pb?c={click_id}&p={payout}&t={event_type}",
        signing_secret=secret_generate(), event_types=["deposit"],
    )
    PayoutRuleFactory(partner=partner, event_type_id="deposit", kind="percent", value="10")

    response = admin_client_api.post(f"/api/v1/partners/acme/endpoints/{endpoint.pk}/preview/", {}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["url"] == "https://p.example/pb?c=sample-click-1&p=2.50&t=deposit"
    assert body["headers"]["webhook-signature"] == "********"
    assert not Delivery.objects.exists()


def test_preview_of_a_stored_event_with_unsaved_changes(admin_client_api):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"))
    event = EventFactory(click_id="real-click")

    response = admin_client_api.post(
        f"/api/v1/partners/acme/endpoints/{endpoint.pk}/preview/",
        {"event": event.pk, "method": "POST", "body_template": '{"click": "{click_id}"}'},
        format="json",
    )

    assert json.loads(response.json()["body"]) == {"click": "real-click"}
    endpoint.refresh_from_db()
    assert endpoint.method == "GET" and endpoint.body_template == ""


def test_preview_of_an_event_that_does_not_exist_is_a_400_naming_the_field(admin_client_api):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"))

    response = admin_client_api.post(
        f"/api/v1/partners/acme/endpoints/{endpoint.pk}/preview/", {"event": 727494}, format="json"
    )

    assert response.status_code == 400 and "No event with id 727494" in response.json()["errors"]["event"][0]


def test_preview_refuses_invalid_changes(admin_client_api):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"))

    response = admin_client_api.post(
        f"/api/v1/partners/acme/endpoints/{endpoint.pk}/preview/", {"url_template": "https://x/{nope}"}, format="json"
    )

    assert response.status_code == 400 and "Unknown macro {nope}" in response.json()["errors"]["url_template"][0]


def test_endpoint_list_is_per_partner(admin_client_api):
    PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), name="mine")
    PostbackEndpointFactory(partner=PartnerFactory(slug="other"), name="theirs")

    names = [item["name"] for item in admin_client_api.get("/api/v1/partners/acme/endpoints/").json()["results"]]

    assert names == ["mine"]


def test_held_delivery_reason_follows_partner_pause():
    partner = PartnerFactory(is_active=False, slug="sleepy")
    delivery = DeliveryFactory(endpoint=PostbackEndpointFactory(partner=partner))

    assert delivery.held_reason == "partner sleepy is paused"
    Partner.objects.filter(pk=partner.pk).update(is_active=True)
    delivery.partner.refresh_from_db()
    assert delivery.held_reason == "" and not delivery.is_held


def test_credential_headers_are_masked_on_read_and_kept_on_a_masked_write(admin_client_api):
    endpoint = PostbackEndpointFactory(
        partner=PartnerFactory(slug="acme"), headers={"Authorization": "Bearer partner-token", "X-Campaign": "7"}
    )
    url = f"/api/v1/partners/acme/endpoints/{endpoint.pk}/"

    shown = admin_client_api.get(url).json()["headers"]
    written_back = admin_client_api.patch(url, {"headers": shown | {"X-Campaign": "8"}}, format="json")

    assert shown == {"Authorization": "********", "X-Campaign": "7"}
    assert written_back.status_code == 200 and "partner-token" not in written_back.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.headers == {"Authorization": "Bearer partner-token", "X-Campaign": "8"}


def test_read_only_admin_visitors_see_credential_headers_masked(client):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), headers={"Authorization": "Bearer tok-123"})
    marketing = User.objects.create_user("marketing", password="pw-for-tests-only", is_staff=True)
    marketing.groups.set(Group.objects.filter(name="Marketing"))
    client.force_login(marketing)

    page = client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/")

    assert page.status_code == 200
    assert "tok-123" not in page.content.decode() and "********" in page.content.decode()


@pytest.mark.parametrize(
    "change, field, reason",
    [
        ({"url_template": "https://p.example/pb?e={params.email|md5}"}, "url_template", "Unknown filter |md5"),
        ({"url_template": "https://p.example/pb?t={occurred_at|date:%c}"}, "url_template", "%c is not supported"),
        ({"method": "POST", "body_template": '{"a": ' + "7" * 5000 + "}"}, "body_template", "beyond ±2^53"),
        ({"method": "POST", "body_template": '{"a": NaN}'}, "body_template", "NaN is not a JSON number"),
        ({"method": "POST", "body_template": '{"a": [Infinity]}'}, "body_template", "Infinity is not a JSON number"),
        ({"method": "POST", "body_template": '{"a": {"b": 1e999}}'}, "body_template", "out of range"),
        ({"method": "POST", "body_template": '{"a": -' + "1" * 4301 + "}"}, "body_template", "beyond ±2^53"),
        ({"method": "POST", "body_template": '{"{click_id}": "x"}'}, "body_template", "a macro cannot be a JSON key"),
        ({"event_names": {"registration": 7}}, "event_names", "must be text"),
    ],
)
def test_templates_that_cannot_be_sent_are_a_400_naming_the_reason(admin_client_api, change, field, reason):
    PartnerFactory(slug="acme")
    body = {"name": "pb", "url_template": "https://p.example/pb", "event_types": ["registration"]} | change

    response = admin_client_api.post("/api/v1/partners/acme/endpoints/", body, format="json")

    assert response.status_code == 400 and reason in response.json()["errors"][field][0]


def test_event_names_are_saved_and_read_back(admin_client_api):
    PartnerFactory(slug="acme")
    body = {"name": "pb", "url_template": "https://p.example/pb?s={event_name}", "event_types": ["registration"],
            "event_names": {"registration": "lead"}}

    created = admin_client_api.post("/api/v1/partners/acme/endpoints/", body, format="json")

    assert created.status_code == 201 and created.json()["event_names"] == {"registration": "lead"}


def test_preview_with_an_oversized_integer_is_a_400(admin_client_api):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), method="POST")

    response = admin_client_api.post(
        f"/api/v1/partners/acme/endpoints/{endpoint.pk}/preview/", {"body_template": '{"a": ' + "9" * 4301 + "}"},
        format="json",
    )

    assert response.status_code == 400 and "beyond ±2^53" in response.json()["errors"]["body_template"][0]


def test_preview_of_an_event_whose_value_would_move_the_path_is_a_400(admin_client_api):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), url_template="https://p.example/{click_id}/x")
    event = EventFactory(click_id="..")

    response = admin_client_api.post(
        f"/api/v1/partners/acme/endpoints/{endpoint.pk}/preview/", {"event": event.pk}, format="json"
    )

    assert response.status_code == 400 and "path segment '..'" in response.json()["errors"]["event"][0]


@pytest.mark.parametrize("body_template", STORED_UNSENDABLE_BODIES)
def test_preview_of_a_stored_body_that_cannot_be_sent_is_a_400_naming_it(admin_client_api, body_template):
    # given: saved before these bodies were refused at save
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), method="POST", body_template=body_template)

    response = admin_client_api.post(f"/api/v1/partners/acme/endpoints/{endpoint.pk}/preview/", {}, format="json")

    assert response.status_code == 400 and "body_template" in response.json()["errors"]
