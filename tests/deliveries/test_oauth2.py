"""OAuth2 endpoints: the token is fetched through the guarded outbound path, cached, and refreshed once on a 401."""

import logging
import socket
import threading
import time
from urllib.parse import parse_qs

import pytest
from werkzeug import Response

from deliveries import oauth2
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import deliveries_send_due
from deliveries.services import deliveries_create_for_events
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


@pytest.fixture
def partner(db):
    return PartnerFactory(slug="netref")


@pytest.fixture
def token_server(httpserver):
    """A token URL handing out at-1, at-2 … (each valid for an hour) and remembering each form it got."""
    forms = []

    def answer(request):
        forms.append(parse_qs(request.get_data(as_text=True)))
        return Response(f'{{"access_token": "at-{len(forms)}", "token_type": "Bearer", "expires_in": 3600}}',
                        content_type="application/json")

    httpserver.expect_request("/token", method="POST").respond_with_handler(answer)
    return forms


@pytest.fixture
def endpoint(partner, partner_url):
    return PostbackEndpointFactory(
        partner=partner, url_template=partner_url("/pb?click={click_id}"), auth_type="oauth2_client_credentials",
        oauth_token_url=partner_url("/token"), oauth_scope="postbacks",
        credentials={"client_id": "cid", "client_secret": "csecret-SECRET"},
    )


def _partner_accepts(httpserver, *tokens):
    seen = []

    def answer(request):
        seen.append(request.headers.get("Authorization"))
        accepted = request.headers.get("Authorization") in {f"Bearer {token}" for token in tokens}
        return Response("OK" if accepted else "unauthorized", status=200 if accepted else 401)

    httpserver.expect_request("/pb").respond_with_handler(answer)
    return seen


def _deliver(partner, click="clk-1"):
    event = EventFactory(partner=partner, click_id=click)
    (delivery,) = deliveries_create_for_events(events=[event])
    deliveries_send_due(worker="test-worker")
    delivery.refresh_from_db()
    return delivery


def test_the_token_is_fetched_once_and_used_as_bearer(httpserver, partner, endpoint, token_server, caplog):
    caplog.set_level(logging.DEBUG)
    seen = _partner_accepts(httpserver, "at-1")

    first, second = _deliver(partner, "c-1"), _deliver(partner, "c-2")

    assert (first.status, second.status) == ("delivered", "delivered")
    assert seen == ["Bearer at-1", "Bearer at-1"]
    assert token_server == [{"grant_type": ["client_credentials"], "client_id": ["cid"],
                             "client_secret": ["csecret-SECRET"], "scope": ["postbacks"]}]
    for attempt in DeliveryAttempt.objects.all():
        assert "at-1" not in str(attempt.request_headers)
    assert "at-1" not in caplog.text and "csecret" not in caplog.text


def test_a_401_to_a_cached_token_fetches_a_new_one_and_retries_once(httpserver, partner, endpoint, token_server):
    _partner_accepts(httpserver, "at-1")
    _deliver(partner, "c-1")  # caches at-1
    httpserver.clear()
    httpserver.expect_request("/token", method="POST").respond_with_handler(
        lambda request: Response('{"access_token": "at-2", "expires_in": 3600}', content_type="application/json")
    )
    seen = _partner_accepts(httpserver, "at-2")  # the partner has revoked at-1

    delivery = _deliver(partner, "c-2")

    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.status_code, a.outcome, a.error_class) for a in attempts] == [
        (401, "retry", "token_refused"), (200, "success", ""),
    ]
    assert delivery.status == "delivered"
    assert seen == ["Bearer at-1", "Bearer at-2"]


def test_a_401_to_a_fresh_token_fails_without_retrying(httpserver, partner, endpoint, token_server):
    _partner_accepts(httpserver)  # accepts no token

    delivery = _deliver(partner)

    assert (delivery.status, delivery.last_status_code) == ("failed", 401)
    assert len(token_server) == 1


@pytest.mark.parametrize(("status", "delivery_status", "error_class"), [
    (503, "retrying", "token_http_5xx"),
    (400, "failed", "token_http_4xx"),
])
def test_a_token_url_failure_is_a_recorded_classified_error(httpserver, partner, endpoint, status, delivery_status,
                                                             error_class):
    httpserver.expect_request("/token").respond_with_data('{"error": "invalid_client"}', status=status)

    delivery = _deliver(partner)

    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert delivery.status == delivery_status
    assert attempt.error_class == error_class
    assert attempt.error.startswith("OAuth2 token URL:")
    assert "csecret" not in attempt.error + attempt.request_url + str(attempt.request_headers)


def test_an_answer_without_a_token_is_recorded(httpserver, partner, endpoint):
    httpserver.expect_request("/token").respond_with_json({"token_type": "Bearer"})

    delivery = _deliver(partner)

    assert DeliveryAttempt.objects.get(delivery=delivery).error_class == "token_invalid"
    assert delivery.status == "failed"


def test_a_page_instead_of_json_is_retried(httpserver, partner, endpoint):
    httpserver.expect_request("/token").respond_with_data("<html>down for maintenance</html>", status=200)

    delivery = _deliver(partner)

    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.outcome, attempt.error_class) == ("retry", "token_invalid")
    assert delivery.status == "retrying"


@pytest.mark.parametrize("expires_in", [3599.5, "3599.5", "3600"])
def test_a_fractional_expires_in_is_accepted(httpserver, partner, endpoint, expires_in):
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "at-1", "token_type": "Bearer", "expires_in": expires_in}
    )
    _partner_accepts(httpserver, "at-1")

    assert _deliver(partner).status == "delivered"


def test_the_token_url_goes_through_the_address_guard(httpserver, partner, endpoint, settings):
    settings.POSTBACK_ALLOWED_NETWORKS = []

    delivery = _deliver(partner)

    assert delivery.status == "failed"
    assert DeliveryAttempt.objects.get(delivery=delivery).error_class in ("token_refused_address", "refused_address")
    assert not httpserver.log


def test_the_password_grant_sends_username_and_password(httpserver, partner, partner_url, token_server):
    PostbackEndpointFactory(
        partner=partner, url_template=partner_url("/pb"), auth_type="oauth2_password",
        oauth_token_url=partner_url("/token"), credentials={"client_id": "cid", "username": "u", "password": "p"},
    )
    _partner_accepts(httpserver, "at-1")

    assert _deliver(partner).status == "delivered"
    assert token_server == [{"grant_type": ["password"], "username": ["u"], "password": ["p"], "client_id": ["cid"]}]


@pytest.fixture
def silent_token_url():
    """A token URL that accepts connections and never answers; yields its URL and the connections it got."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    listener.settimeout(0.05)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/token", accepted
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    listener.close()


def _send_batch(partner, count):
    events = [EventFactory(partner=partner, click_id=f"clk-{number}") for number in range(count)]
    deliveries = deliveries_create_for_events(events=events)
    began = time.monotonic()
    deliveries_send_due(worker="test-worker")
    return deliveries, time.monotonic() - began


def test_a_hanging_token_url_is_asked_once_per_batch_and_its_failure_kept(partner, silent_token_url, settings):
    settings.POSTBACK_ENDPOINT_CONCURRENCY = settings.POSTBACK_SENDER_MAX_IN_FLIGHT = 32
    token_url, connections = silent_token_url
    endpoint = PostbackEndpointFactory(
        partner=partner, url_template="http://127.0.0.1:9/pb?click={click_id}", auth_type="oauth2_client_credentials",
        oauth_token_url=token_url, credentials={"client_id": "cid", "client_secret": "csecret-SECRET"},
        timeout_seconds=1,
    )
    assert oauth2.token_timeout_seconds(endpoint) == 1

    deliveries, took = _send_batch(partner, 6)

    assert len(connections) == 1
    assert took < 3.5  # one token timeout (1 s), not one per delivery
    attempts = DeliveryAttempt.objects.filter(delivery__in=deliveries)
    assert {(a.outcome, a.error_class) for a in attempts} == {("retry", "token_timeout")}
    assert attempts.count() == 6
    assert set(Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).values_list("status", flat=True)) == {
        "retrying"
    }

    more, took = _send_batch(partner, 4)  # within the failure window: the token URL is not asked

    assert len(connections) == 1
    assert took < 1
    later = DeliveryAttempt.objects.filter(delivery__in=more)
    assert {(a.outcome, a.error_class) for a in later} == {("retry", "token_timeout")}
    assert all("not asked again yet" in attempt.error for attempt in later)


def test_the_token_timeout_stays_well_below_a_lease_renewal(partner, settings):
    settings.POSTBACK_LEASE_SECONDS = 30
    endpoint = PostbackEndpointFactory(partner=partner, timeout_seconds=30)

    assert oauth2.token_timeout_seconds(endpoint) == 5
    settings.POSTBACK_LEASE_SECONDS = 12
    assert oauth2.token_timeout_seconds(endpoint) == 2
