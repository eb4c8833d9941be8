"""Credentials reach the partner and no one else: every request shown or stored carries the mask."""

import json
import logging

import pytest
from django.contrib.admin.models import LogEntry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug import Response

from accounts.roles import MARKETING
from deliveries.models import DeliveryAttempt
from deliveries.rendering import render_request
from deliveries.sender import deliveries_send_due
from deliveries.services import deliveries_create_for_events, template_preview
from partners.models import PostbackEndpoint
from partners.signing import MASK
from partners.templating import SECRET_MASK
from tests.admin.conftest import member_of
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

TOKEN, PASS, KEY = "tok-SECRET-1", "pass-SECRET-2", "key/SECRET 3"
CREDENTIALS = {"token": TOKEN, "pass": PASS, "key": KEY}


@pytest.fixture
def partner(db):
    return PartnerFactory(slug="acme")


@pytest.fixture
def endpoint(partner, partner_url):
    return PostbackEndpointFactory(
        partner=partner, url_template=partner_url("/pb?click={click_id}&token={secret.token}"), method="POST",
        body_template='{"key": "{secret.key}", "click": "{click_id}"}', headers={"X-Pass": "{secret.pass}"},
        credentials=CREDENTIALS,
    )


def _deliver(partner):
    event = EventFactory(partner=partner, click_id="clk-1")
    (delivery,) = deliveries_create_for_events(events=[event])
    deliveries_send_due(worker="test-worker")
    delivery.refresh_from_db()
    return delivery


def _assert_masked(text: str) -> None:
    assert "SECRET" not in text
    assert "SECRET" not in text.replace("%20", " ").replace("%2F", "/")


@pytest.fixture
def sent(httpserver, partner, endpoint, caplog):
    """One delivery sent to a partner that echoes the token back."""
    received = []

    def answer(request):
        received.append(request)
        return Response(f"ok, you sent {TOKEN} and {KEY}", status=200)

    httpserver.expect_request("/pb").respond_with_handler(answer)
    caplog.set_level(logging.DEBUG)
    delivery = _deliver(partner)
    return delivery, received


def test_the_partner_receives_the_real_values(sent):
    delivery, (request,) = sent

    assert delivery.status == "delivered"
    assert request.args["token"] == TOKEN
    assert request.headers["X-Pass"] == PASS
    assert json.loads(request.get_data()) == {"key": KEY, "click": "clk-1"}


def test_attempt_and_delivery_rows_hold_the_mask(sent):
    delivery, _ = sent
    attempt = DeliveryAttempt.objects.get(delivery=delivery)

    assert attempt.request_url.endswith(f"token={SECRET_MASK}")
    assert attempt.request_headers["X-Pass"] == SECRET_MASK
    assert json.loads(attempt.request_body)["key"] == SECRET_MASK
    assert attempt.response_excerpt == f"ok, you sent {SECRET_MASK} and {SECRET_MASK}"
    for text in (attempt.request_url, json.dumps(attempt.request_headers), attempt.request_body,
                 attempt.response_excerpt, delivery.request_url, delivery.request_body, delivery.last_error):
        _assert_masked(text)


def test_the_delivery_api_shows_the_mask_to_platform_and_admin_keys(sent, platform_client, admin_client_api):
    delivery, _ = sent

    for client in (platform_client, admin_client_api):
        response = client.get(f"/api/v1/deliveries/{delivery.pk}/")
        assert response.status_code == 200
        _assert_masked(response.content.decode())


def test_admin_pages_and_preview_show_a_marketing_user_the_mask(sent, client, endpoint):
    delivery, _ = sent
    client.force_login(member_of(MARKETING))

    pages = [
        client.get(f"/admin/deliveries/delivery/{delivery.pk}/change/"),
        client.get(f"/admin/partners/postbackendpoint/{endpoint.pk}/change/"),
        client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/preview/", {}),
    ]

    for page in pages:
        assert page.status_code == 200
        _assert_masked(page.content.decode())
    assert SECRET_MASK in pages[2].content.decode("unicode_escape")


def test_csv_export_and_logs_hold_no_credential(sent, admin_client_api, caplog):
    response = admin_client_api.get("/api/v1/export/deliveries.csv")

    _assert_masked(b"".join(response.streaming_content).decode())
    _assert_masked(caplog.text)


def test_endpoint_api_never_returns_credentials(sent, admin_client_api, endpoint):
    response = admin_client_api.get(f"/api/v1/partners/acme/endpoints/{endpoint.pk}/")

    assert response.json()["credential_names"] == ["key", "pass", "token"]
    assert "credentials" not in response.json()
    _assert_masked(response.content.decode())


def test_an_error_message_that_echoes_a_credential_is_scrubbed(httpserver, partner, endpoint):
    httpserver.expect_request("/pb").respond_with_data(f"bad token {TOKEN}", status=500)

    delivery = _deliver(partner)

    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert attempt.response_excerpt == f"bad token {SECRET_MASK}"


def test_basic_authentication_sends_the_encoded_pair_and_stores_the_mask(httpserver, partner, partner_url):
    PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb"), auth_type="basic",
                            credentials={"username": "acme-user", "password": "pw-SECRET"})
    httpserver.expect_request("/pb", headers={"Authorization": "Basic YWNtZS11c2VyOnB3LVNFQ1JFVA=="}) \
        .respond_with_data("OK")

    delivery = _deliver(partner)

    assert delivery.status == "delivered"
    assert DeliveryAttempt.objects.get(delivery=delivery).request_headers["Authorization"] == MASK


@pytest.mark.parametrize("echo", [
    "invalid Authorization: Basic YWNtZS11c2VyOnB3LVNFQ1JFVA==",
    "invalid credentials YWNtZS11c2VyOnB3LVNFQ1JFVA",  # the padding dropped
    "invalid credentials YWNtZS11c2VyOnB3LVNFQ1JFVA%3D%3D",  # percent-encoded
])
def test_an_echoed_basic_header_is_scrubbed(httpserver, partner, partner_url, echo):
    PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb"), auth_type="basic",
                            credentials={"username": "acme-user", "password": "pw-SECRET"})
    httpserver.expect_request("/pb").respond_with_data(echo, status=401)

    delivery = _deliver(partner)

    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert "YWNtZS11c2VyOnB3LVNFQ1JFVA" not in attempt.response_excerpt + attempt.error + delivery.last_error
    assert SECRET_MASK in attempt.response_excerpt


def test_the_admin_history_of_a_test_postback_holds_no_response_text(httpserver, admin_client, partner, partner_url):
    endpoint = PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb"), auth_type="basic",
                                       credentials={"username": "acme-user", "password": "pw-SECRET"})
    httpserver.expect_request("/pb").respond_with_data("invalid login for acme-user, account 4711", status=401)

    admin_client.post(f"/admin/partners/postbackendpoint/{endpoint.pk}/send-test/", {"confirmed": "yes"})

    (entry,) = LogEntry.objects.filter(object_id=str(endpoint.pk))
    assert entry.change_message.startswith("Sent a test postback. Test postback sent: failure, HTTP 401 in ")
    assert "acme-user" not in entry.change_message and "4711" not in entry.change_message


def test_bearer_authentication_sends_the_token_and_stores_the_mask(httpserver, partner, partner_url):
    PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb"), auth_type="bearer",
                            credentials={"token": "bearer-SECRET"})
    httpserver.expect_request("/pb", headers={"Authorization": "Bearer bearer-SECRET"}).respond_with_data("OK")

    delivery = _deliver(partner)

    assert delivery.status == "delivered"
    assert DeliveryAttempt.objects.get(delivery=delivery).request_headers["Authorization"] == MASK


def test_an_answer_with_the_refused_text_fails_at_once(httpserver, partner, partner_url):
    PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb"), refused_body_contains="REJECTED",
                            success_body_contains="OK")
    httpserver.expect_request("/pb").respond_with_data("OK but REJECTED: duplicate", status=200)

    delivery = _deliver(partner)

    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    assert (attempt.outcome, attempt.error_class) == ("failure", "refused")


def test_the_preview_masks_secrets_in_a_form_body_and_through_filters(partner):
    endpoint = PostbackEndpointFactory(
        partner=partner, url_template="https://partner.example/pb/{secret.token|upper}", method="POST",
        body_format="form", body_template="k={secret.key}&c={click_id}", credentials=CREDENTIALS,
    )

    rendered = template_preview(endpoint=endpoint)

    assert rendered.url == f"https://partner.example/pb/{SECRET_MASK}"
    assert rendered.body == f"k={SECRET_MASK}&c=sample-click-1"


@given(secret=st.text(min_size=1, max_size=40).filter(str.isprintable))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_shown_request_does_not_depend_on_the_secret_values(secret):
    """Masking is a rendering of its own: whatever the values, what is shown is the same text."""
    endpoint = PostbackEndpoint(
        url_template="https://partner.example/pb/{secret.a}?t={secret.a|trim}&c={click_id}", method="POST",
        body_template='{"k": "{secret.a}", "n": "{secret.a|number}"}', headers={"X-A": "x {secret.a}"},
        credentials={"a": secret},
    )
    values = {"click_id": "c-1"}

    shown = render_request(endpoint=endpoint, values=values)
    other = render_request(endpoint=PostbackEndpoint(**{
        name: getattr(endpoint, name) for name in ("url_template", "method", "body_template", "headers")
    }, credentials={"a": "something else"}), values=values)

    assert shown == other
    assert shown.url == f"https://partner.example/pb/{SECRET_MASK}?t={SECRET_MASK}&c=c-1"


def test_a_test_postback_sends_the_values_and_reports_only_the_mask(httpserver, admin_client, endpoint):
    received = []
    httpserver.expect_request("/pb").respond_with_handler(
        lambda request: received.append(request) or Response(f"got {TOKEN}")
    )

    page = admin_client.post(
        f"/admin/partners/postbackendpoint/{endpoint.pk}/send-test/", {"confirmed": "yes"}, follow=True
    )

    assert received[0].args["token"] == TOKEN
    assert f"got {SECRET_MASK}" in page.content.decode()
    _assert_masked(page.content.decode())


def test_the_api_preview_and_test_send_show_an_admin_key_only_the_mask(httpserver, admin_client_api, endpoint):
    received = []
    httpserver.expect_request("/pb").respond_with_handler(
        lambda request: received.append(request) or Response(f"got {TOKEN}")
    )
    base = f"/api/v1/partners/acme/endpoints/{endpoint.pk}"

    preview = admin_client_api.post(f"{base}/preview/", {}, format="json")
    test = admin_client_api.post(f"{base}/test/", {}, format="json")

    assert preview.json()["url"].endswith(f"token={SECRET_MASK}")
    assert received[0].args["token"] == TOKEN
    for response in (preview, test):
        assert response.status_code == 200
        _assert_masked(response.content.decode())
