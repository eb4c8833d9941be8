import json
import socket
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from werkzeug import Response

from deliveries import sender
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import deliveries_claim_due, deliveries_send_due
from deliveries.services import deliveries_create_for_events
from partners.signing import secret_generate
from tests.factories import (
    DeliveryFactory,
    EventFactory,
    PartnerFactory,
    PayoutRuleFactory,
    PostbackEndpointFactory,
)
from tests.support.network import resolve_to
from tests.support.partner import partner_server

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


@pytest.fixture
def partner(db):
    return PartnerFactory(slug="acme")


@pytest.fixture
def make_endpoint(partner, partner_url):
    def make(path="/pb?click={click_id}&event={event_type}", **fields):
        return PostbackEndpointFactory(partner=partner, url_template=partner_url(path), **fields)

    return make


def _deliver(partner, **event_fields) -> Delivery:
    event = EventFactory(partner=partner, click_id="clk-1", **event_fields)
    (delivery,) = deliveries_create_for_events(events=[event])
    deliveries_send_due(worker="test-worker")
    delivery.refresh_from_db()
    return delivery


def _due_now(delivery):
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_get_postback_is_delivered_and_recorded(httpserver, partner, make_endpoint):
    make_endpoint()
    httpserver.expect_request("/pb", query_string="click=clk-1&event=registration").respond_with_data("OK")

    delivery = _deliver(partner)

    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    (attempt,) = delivery.attempts.all()
    assert (attempt.number, attempt.outcome, attempt.status_code, attempt.response_excerpt) == (1, "success", 200, "OK")
    assert attempt.duration_ms is not None and attempt.finished_at is not None
    assert attempt.request_url.endswith("/pb?click=clk-1&event=registration")


def test_post_json_signature_verifies_with_standardwebhooks(httpserver, partner, make_endpoint):
    secret = secret_generate()
    make_endpoint(
        path="/hook", method="POST", signing_secret=secret,
        body_template='{"click": "{click_id}", "payout": "{payout}"}',
    )
    PayoutRuleFactory(partner=partner, event_type_id="registration", value="12.5")
    httpserver.expect_request("/hook", method="POST").respond_with_data("OK")

    delivery = _deliver(partner)

    request = httpserver.log[0][0]
    payload = Webhook(secret).verify(request.get_data(as_text=True), dict(request.headers))
    assert payload == {"click": "clk-1", "payout": "12.50"}
    assert request.headers["webhook-id"] == str(delivery.pk)
    assert request.headers["Content-Type"] == "application/json"


def test_get_signature_covers_the_query_string(httpserver, partner, make_endpoint):
    secret = secret_generate()
    make_endpoint(signing_secret=secret)
    httpserver.expect_request("/pb").respond_with_data("OK")

    _deliver(partner)

    request = httpserver.log[0][0]
    query = request.query_string.decode()
    Webhook(secret).verify(query, dict(request.headers), json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(query + "&extra=1", dict(request.headers), json_parse=False)


def test_rotated_secret_signs_with_both_during_the_grace_period(httpserver, partner, make_endpoint):
    old, new = secret_generate(), secret_generate()
    make_endpoint(
        path="/hook", method="POST", body_template='{"a": "b"}', signing_secret=new,
        previous_signing_secret=old, previous_secret_expires_at=timezone.now() + timedelta(hours=1),
    )
    httpserver.expect_request("/hook").respond_with_data("OK")

    _deliver(partner)

    request = httpserver.log[0][0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(request.get_data(as_text=True), dict(request.headers)) == {"a": "b"}


def test_unsigned_endpoint_still_gets_id_and_timestamp(httpserver, partner, make_endpoint):
    make_endpoint()
    httpserver.expect_request("/pb").respond_with_data("OK")

    delivery = _deliver(partner)

    headers = httpserver.log[0][0].headers
    assert headers["webhook-id"] == str(delivery.pk)
    assert abs(int(headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    assert "webhook-signature" not in headers


def test_5xx_is_retried_with_backoff_and_the_same_webhook_id(httpserver, partner, make_endpoint):
    make_endpoint()
    httpserver.expect_ordered_request("/pb").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/pb").respond_with_data("OK")

    delivery = _deliver(partner)

    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("retrying", 503, "HTTP 503")
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 23 <= wait <= 36  # 30 s ± 20 % jitter
    _due_now(delivery)
    deliveries_send_due(worker="test-worker")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("delivered", 2)
    first, second = (entry[0].headers["webhook-id"] for entry in httpserver.log)
    assert first == second == str(delivery.pk)
    assert list(delivery.attempts.values_list("outcome", flat=True)) == ["retry", "success"]


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_other_4xx_fail_at_once(httpserver, partner, make_endpoint, status):
    make_endpoint()
    httpserver.expect_request("/pb").respond_with_data("no", status=status)

    delivery = _deliver(partner)

    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    assert delivery.attempts.get().outcome == "failure"


@pytest.mark.parametrize("status", [408, 429, 500, 502])
def test_retryable_statuses_retry(httpserver, partner, make_endpoint, status):
    make_endpoint()
    httpserver.expect_request("/pb").respond_with_data("", status=status)

    assert _deliver(partner).status == "retrying"


def test_timeout_is_retried(httpserver, partner, make_endpoint):
    make_endpoint(timeout_seconds="0.5")
    httpserver.expect_request("/pb").respond_with_handler(lambda request: __import__("time").sleep(1.2) or Response())

    delivery = _deliver(partner)

    assert delivery.status == "retrying"
    assert delivery.attempts.get().error_class == "timeout"


def test_retry_after_is_honoured_up_to_the_cap(httpserver, partner, make_endpoint, settings):
    settings.POSTBACK_RETRY_AFTER_CAP_SECONDS = 600
    make_endpoint()
    httpserver.expect_ordered_request("/pb").respond_with_data("", status=429, headers={"Retry-After": "120"})
    httpserver.expect_ordered_request("/pb").respond_with_data("", status=503, headers={"Retry-After": "86400"})

    delivery = _deliver(partner)
    assert 118 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 121

    _due_now(delivery)
    deliveries_send_due(worker="test-worker")
    delivery.refresh_from_db()
    assert 598 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 601


def test_attempts_run_out_and_the_delivery_fails_but_is_kept(httpserver, partner, make_endpoint):
    make_endpoint(max_attempts=2)
    httpserver.expect_request("/pb").respond_with_data("", status=500)

    delivery = _deliver(partner)
    _due_now(delivery)
    deliveries_send_due(worker="test-worker")
    delivery.refresh_from_db()

    assert (delivery.status, delivery.attempt_count) == ("failed", 2)
    assert "attempts exhausted" in delivery.last_error
    assert list(delivery.attempts.values_list("outcome", flat=True)) == ["retry", "failure"]


def test_body_match_is_required_when_configured(httpserver, partner, make_endpoint):
    make_endpoint(success_body_contains="ACCEPTED")
    httpserver.expect_request("/pb").respond_with_data("ERROR")

    delivery = _deliver(partner)

    assert delivery.status == "retrying"
    assert delivery.attempts.get().error_class == "body_mismatch"


def test_name_resolving_to_a_private_address_fails_permanently_without_connecting(partner):
    PostbackEndpointFactory(partner=partner, url_template="http://internal.example/pb")

    with (
        resolve_to({"internal.example": "10.0.0.5"}),
        mock.patch.object(socket.socket, "connect", side_effect=AssertionError("must not connect")),
    ):
        delivery = _deliver(partner)

    assert delivery.status == "failed"
    attempt = delivery.attempts.get()
    assert attempt.error_class == "refused_address" and "10.0.0.5" in attempt.error


def test_recorded_headers_mask_signatures_and_credentials(httpserver, partner, make_endpoint):
    make_endpoint(signing_secret=secret_generate(), headers={"Authorization": "Bearer s3cret", "X-Campaign": "7"})
    httpserver.expect_request("/pb", headers={"Authorization": "Bearer s3cret"}).respond_with_data("OK")

    delivery = _deliver(partner)

    headers = delivery.attempts.get().request_headers
    assert headers["Authorization"] == headers["webhook-signature"] == "********"
    assert headers["X-Campaign"] == "7" and headers["webhook-id"] == str(delivery.pk)
    assert "s3cret" not in json.dumps(headers)


def test_paused_endpoint_holds_its_deliveries(httpserver, partner, make_endpoint):
    make_endpoint(is_active=False, pause_reason="maintenance")

    delivery = _deliver(partner)

    assert (delivery.status, delivery.attempt_count) == ("pending", 0)
    assert delivery.held_reason == "endpoint is paused: maintenance"
    assert httpserver.log == []


def test_a_claimed_delivery_is_not_claimed_twice_until_its_lease_expires(partner, make_endpoint):
    make_endpoint()
    (delivery,) = deliveries_create_for_events(events=[EventFactory(partner=partner)])

    assert deliveries_claim_due(worker="a", limit=10) == [delivery.pk]
    assert deliveries_claim_due(worker="b", limit=10) == []
    later = timezone.now() + timedelta(seconds=301)
    assert deliveries_claim_due(worker="b", limit=10, now=later) == [delivery.pk]


def test_a_delivery_lost_with_its_worker_is_sent_again_after_the_lease(httpserver, partner, make_endpoint):
    make_endpoint()
    httpserver.expect_request("/pb").respond_with_data("OK")
    (delivery,) = deliveries_create_for_events(events=[EventFactory(partner=partner)])
    # A worker claimed it, wrote its attempt and died before recording the response.
    deliveries_claim_due(worker="dead", limit=10)
    Delivery.objects.filter(pk=delivery.pk).update(attempt_count=1, claimed_until=timezone.now() - timedelta(seconds=1))
    DeliveryAttempt.objects.create(delivery=delivery, number=1, request_method="GET", request_url="x")

    deliveries_send_due(worker="alive")

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("delivered", 2)
    assert list(delivery.attempts.values_list("error_class", "outcome")) == [
        ("worker_lost", "retry"), ("", "success"),
    ]


def test_ingest_commit_wakes_the_sender_once(httpserver, partner, make_endpoint, django_capture_on_commit_callbacks):
    make_endpoint()
    httpserver.expect_request("/pb").respond_with_data("OK")
    events = [EventFactory(partner=partner) for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        deliveries_create_for_events(events=events)

    assert len(callbacks) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert len(httpserver.log) == 3


def test_a_claim_takes_turns_between_endpoints_up_to_each_ones_free_slots(settings):
    # given: a long backlog for one endpoint, due first, and a short one for another
    settings.POSTBACK_ENDPOINT_CONCURRENCY = 2
    now = timezone.now()
    busy, quiet = (PostbackEndpointFactory(partner=PartnerFactory(slug=slug)) for slug in ("busy", "quiet"))
    backlog = [
        DeliveryFactory(endpoint=busy, next_attempt_at=now - timedelta(minutes=10 - n)).pk for n in range(6)
    ]
    newer = [DeliveryFactory(endpoint=quiet, next_attempt_at=now - timedelta(seconds=10 - n)).pk for n in range(3)]

    # when
    first = deliveries_claim_due(worker="a", limit=10)
    second = deliveries_claim_due(worker="b", limit=10)

    # then: each endpoint's two oldest, and nothing more while those are out
    assert sorted(first) == sorted(backlog[:2] + newer[:2])
    assert second == []


def test_a_claim_of_one_takes_the_oldest_of_the_endpoint_whose_turn_it_is(settings):
    now = timezone.now()
    busy, quiet = (PostbackEndpointFactory(partner=PartnerFactory(slug=slug)) for slug in ("busy", "quiet"))
    older = DeliveryFactory(endpoint=busy, next_attempt_at=now - timedelta(minutes=5)).pk
    DeliveryFactory(endpoint=busy, next_attempt_at=now - timedelta(minutes=4))
    DeliveryFactory(endpoint=quiet, next_attempt_at=now - timedelta(minutes=1))

    assert deliveries_claim_due(worker="a", limit=1) == [older]


def test_a_claim_can_leave_out_endpoints():
    left_out, taken = (PostbackEndpointFactory(partner=PartnerFactory(slug=slug)) for slug in ("left-out", "taken"))
    due = {endpoint: DeliveryFactory(endpoint=endpoint).pk for endpoint in (left_out, taken)}

    assert deliveries_claim_due(worker="a", limit=10, exclude_endpoints=[left_out.pk]) == [due[taken]]
    assert deliveries_claim_due(worker="b", limit=10, exclude_endpoints=[]) == [due[left_out]]


def test_after_its_budget_a_sender_waiting_for_a_slow_answer_still_sends_for_other_endpoints(settings):
    # given: a slow partner's transfer out past the sender's budget, and two deliveries that fall due
    # meanwhile: one of another endpoint, one more of the slow one
    settings.POSTBACK_SENDER_TIME_BUDGET_SECONDS = 0.2
    with partner_server(delay=1.5) as slow_partner, partner_server() as fast_partner:
        slow = PostbackEndpointFactory(partner=PartnerFactory(slug="slow"), url_template=slow_partner.url + "/pb",
                                       timeout_seconds=3)
        fast = PostbackEndpointFactory(partner=PartnerFactory(slug="fast"), url_template=fast_partner.url + "/pb")
        soon = timezone.now() + timedelta(seconds=0.6)
        slow_first = DeliveryFactory(endpoint=slow)
        slow_second = DeliveryFactory(endpoint=slow, next_attempt_at=soon)
        fast_one = DeliveryFactory(endpoint=fast, next_attempt_at=soon)

        # when
        attempted = deliveries_send_due(worker="test-worker")

    # then: the other endpoint's went out while the slow answer was awaited; the slow endpoint's second
    # waits for the next sender instead of holding this one up for another slow answer
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert attempted == 2
    assert (statuses[slow_first.pk], statuses[fast_one.pk], statuses[slow_second.pk]) == (
        "delivered", "delivered", "pending")
    assert len(fast_partner.received) == 1 and len(slow_partner.received) == 1


@pytest.mark.parametrize("breaking", ["_render", "_finish"])
def test_a_fault_in_preparing_or_judging_one_delivery_is_its_own_recorded_error(
    httpserver, partner, make_endpoint, breaking
):
    # given: two deliveries in one batch, and a bug that strikes only the first of them, once
    make_endpoint()
    httpserver.expect_request("/pb").respond_with_data("OK")
    broken, healthy = deliveries_create_for_events(
        events=[EventFactory(partner=partner, click_id=f"clk-{n}") for n in range(2)]
    )
    real = getattr(sender, breaking)
    struck = []

    def bug(postback, *args):
        if postback.id == broken.pk and not struck:
            struck.append(postback.id)
            raise RuntimeError("a bug")
        return real(postback, *args)

    # when
    with mock.patch.object(sender, breaking, bug):
        deliveries_send_due(worker="test-worker")

    # then: the other is delivered; the struck one has one attempt, an internal error, and a retry ahead
    broken.refresh_from_db()
    healthy.refresh_from_db()
    assert healthy.status == "delivered"
    assert struck == [broken.pk]
    assert (broken.status, broken.claimed_by) == ("retrying", "")
    assert list(broken.attempts.values_list("outcome", "error_class")) == [("retry", "internal")]


@pytest.mark.parametrize(
    ("due", "in_flight", "endpoint_slots", "called"),
    [
        (5, 2, 32, 1),  # the sender's room cut the claim: other senders could take the rest now
        (1, 2, 32, 0),  # everything due was claimed
        (5, 4, 1, 0),  # the endpoint's one slot cut it: another sender could not take more either
    ],
)
def test_a_sender_asks_for_help_once_when_its_own_room_cuts_a_claim(
    make_endpoint, partner, httpserver, settings, due, in_flight, endpoint_slots, called
):
    settings.POSTBACK_SENDER_MAX_IN_FLIGHT = in_flight
    settings.POSTBACK_ENDPOINT_CONCURRENCY = endpoint_slots
    httpserver.expect_request("/pb").respond_with_data("ok")
    make_endpoint(path="/pb")
    deliveries_create_for_events(events=[EventFactory(partner=partner) for _ in range(due)])
    calls = []

    deliveries_send_due(worker="test-worker", on_more_due=lambda: calls.append(1))

    assert len(calls) == called
    assert Delivery.objects.filter(status="delivered").count() == due
