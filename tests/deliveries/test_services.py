import time
from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from deliveries import ratelimit, retry
from deliveries.housekeeping import attempt_bodies_prune
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import deliveries_send_due
from deliveries.services import (
    DeliveryStateError,
    deliveries_create_for_events,
    deliveries_resend,
    delivery_cancel,
    delivery_resend,
    endpoint_send_test,
)
from partners.services import endpoint_resume
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


@pytest.fixture
def partner(db):
    return PartnerFactory(slug="acme")


def _create(partner, count=1):
    return deliveries_create_for_events(events=[EventFactory(partner=partner) for _ in range(count)])


def _send():
    deliveries_send_due(worker="test-worker")


def test_rate_limit_spreads_requests_and_drops_nothing(httpserver, partner, partner_url, settings):
    settings.POSTBACK_SENDER_TIME_BUDGET_SECONDS = 6
    PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb"), rate_limit_per_second=2)
    arrivals = []
    httpserver.expect_request("/pb").respond_with_handler(
        lambda request: arrivals.append(time.time()) or Response("OK")
    )
    _create(partner, count=5)

    _send()

    assert Delivery.objects.filter(status="delivered").count() == 5
    per_second = {}
    for moment in arrivals:
        per_second[int(moment)] = per_second.get(int(moment), 0) + 1
    assert max(per_second.values()) <= 2 and len(arrivals) == 5
    assert set(Delivery.objects.values_list("attempt_count", flat=True)) == {1}  # waiting used no attempt


def test_rate_limit_window_is_shared_by_every_sender():
    now = time.time()

    first = ratelimit.rate_limit_take(endpoint_id=991, limit=3, wanted=2, now=now)
    second = ratelimit.rate_limit_take(endpoint_id=991, limit=3, wanted=2, now=now)
    other_endpoint = ratelimit.rate_limit_take(endpoint_id=992, limit=3, wanted=2, now=now)

    assert (first, second, other_endpoint) == (2, 1, 2)


def test_retry_delays_follow_the_schedule_with_jitter_and_the_last_repeats(settings):
    settings.POSTBACK_RETRY_SCHEDULE = [10, 100]

    assert 8 <= retry.retry_delay_seconds(failed_attempts=1) <= 12
    assert 80 <= retry.retry_delay_seconds(failed_attempts=2) <= 120
    assert 80 <= retry.retry_delay_seconds(failed_attempts=7) <= 120
    assert retry.retry_delay_seconds(failed_attempts=1, retry_after_seconds=5) == 5


def test_resuming_sends_what_was_held(httpserver, partner, partner_url, django_capture_on_commit_callbacks):
    endpoint = PostbackEndpointFactory(
        partner=partner, url_template=partner_url("/pb"), is_active=False, pause_reason="maintenance"
    )
    httpserver.expect_request("/pb").respond_with_data("OK")
    _create(partner, count=2)
    _send()
    assert httpserver.log == []

    with django_capture_on_commit_callbacks(execute=True):
        endpoint_resume(endpoint=endpoint)

    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.pause_reason, endpoint.consecutive_failures) == (True, "", 0)


def test_a_success_ends_the_failure_run(httpserver, partner, partner_url):
    endpoint = PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb"), consecutive_failures=7)
    httpserver.expect_request("/pb").respond_with_data("OK")
    _create(partner)

    _send()

    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_failed_delivery_is_resent_with_a_fresh_budget_and_the_same_webhook_id(httpserver, partner, partner_url):
    PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb"), max_attempts=1)
    httpserver.expect_ordered_request("/pb").respond_with_data("", status=500)
    httpserver.expect_ordered_request("/pb").respond_with_data("OK")
    (delivery,) = _create(partner)
    _send()
    delivery.refresh_from_db()
    assert delivery.status == "failed"

    delivery_resend(delivery=delivery)
    assert (delivery.status, delivery.retry_base) == ("pending", 1)
    _send()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("delivered", 2)
    ids = {entry[0].headers["webhook-id"] for entry in httpserver.log}
    assert ids == {str(delivery.pk)}


def test_a_delivery_in_flight_cannot_be_resent():
    delivery = DeliveryFactory(claimed_by="w", claimed_until=timezone.now() + timedelta(minutes=1))

    with pytest.raises(DeliveryStateError, match="being sent right now"):
        delivery_resend(delivery=delivery)


def test_bulk_resend_touches_only_the_filtered_deliveries():
    failed = DeliveryFactory(status="failed")
    DeliveryFactory(status="delivered")

    assert deliveries_resend(queryset=Delivery.objects.filter(status="failed")) == 1
    failed.refresh_from_db()
    assert failed.status == "pending"


def test_cancel_stops_an_open_delivery_and_refuses_a_finished_one():
    open_one, done = DeliveryFactory(status="retrying"), DeliveryFactory(status="delivered")

    assert delivery_cancel(delivery=open_one).status == "cancelled"
    with pytest.raises(DeliveryStateError, match="this one is delivered"):
        delivery_cancel(delivery=done)


def test_test_postback_is_sent_even_to_a_paused_endpoint_and_not_retried(httpserver, partner, partner_url):
    endpoint = PostbackEndpointFactory(
        partner=partner, url_template=partner_url("/pb?c={click_id}"), is_active=False, event_types=["deposit"]
    )
    httpserver.expect_request("/pb").respond_with_data("nope", status=503)

    attempt = endpoint_send_test(endpoint=endpoint)

    assert (attempt.status_code, attempt.response_excerpt) == (503, "nope")
    assert httpserver.log[0][0].args["c"] == "sample-click-1"
    delivery = attempt.delivery
    delivery.refresh_from_db()
    assert (delivery.is_test, delivery.event.is_test, delivery.status) == (True, True, "failed")


def test_retention_clears_old_bodies_and_keeps_the_record():
    delivery = DeliveryFactory()
    old = DeliveryAttempt.objects.create(
        delivery=delivery, number=1, request_method="POST", request_url="u", request_body="b", response_excerpt="r",
        started_at=timezone.now() - timedelta(days=31), status_code=200,
    )
    recent = DeliveryAttempt.objects.create(
        delivery=delivery, number=2, request_method="POST", request_url="u", request_body="b", response_excerpt="r",
    )

    assert attempt_bodies_prune(older_than_days=30) == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.request_body, old.response_excerpt, old.status_code) == ("", "", 200)
    assert (recent.request_body, recent.response_excerpt) == ("b", "r")


def test_resend_api_needs_an_admin_key_and_queues_again(admin_client_api, platform_client):
    delivery = DeliveryFactory(status="failed", attempt_count=3)

    assert platform_client.post(f"/api/v1/deliveries/{delivery.pk}/resend/").status_code == 403
    response = admin_client_api.post(f"/api/v1/deliveries/{delivery.pk}/resend/")

    assert response.status_code == 202, response.json()
    assert (response.json()["status"], response.json()["held_reason"]) == ("pending", "")
    assert admin_client_api.post("/api/v1/deliveries/99999/resend/").status_code == 404


def test_resend_api_answers_409_while_in_flight(admin_client_api):
    delivery = DeliveryFactory(claimed_by="w", claimed_until=timezone.now() + timedelta(minutes=1))

    response = admin_client_api.post(f"/api/v1/deliveries/{delivery.pk}/resend/")

    assert response.status_code == 409 and "being sent right now" in response.json()["detail"]


def test_bulk_resend_api_by_filter(admin_client_api):
    endpoint = PostbackEndpointFactory()
    DeliveryFactory(status="failed", endpoint=endpoint)
    DeliveryFactory(status="failed")

    response = admin_client_api.post(
        "/api/v1/deliveries/resend/", {"status": "failed", "endpoint": endpoint.pk}, format="json"
    )
    unfiltered = admin_client_api.post("/api/v1/deliveries/resend/", {}, format="json")
    bad = admin_client_api.post("/api/v1/deliveries/resend/", {"status": "lost"}, format="json")

    assert (response.status_code, response.json()) == (202, {"resent": 1})
    assert unfiltered.status_code == 400 and "at least one filter" in unfiltered.json()["errors"]["non_field_errors"][0]
    assert bad.status_code == 400 and "status" in bad.json()["errors"]


def test_test_postback_api_answers_with_the_attempt(admin_client_api, httpserver, partner_url):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), url_template=partner_url("/pb"))
    httpserver.expect_request("/pb").respond_with_data("OK")

    response = admin_client_api.post(f"/api/v1/partners/acme/endpoints/{endpoint.pk}/test/", {}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["status_code"], response.json()["outcome"]) == (200, "success")
