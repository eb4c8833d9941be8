"""After ingesting through the API and delivering to a local partner, /metrics says what the database says."""

from collections import Counter

import pytest
from django.db.models import Count
from werkzeug import Response

from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import deliveries_send_due
from events.models import Event
from tests.factories import DeliveryFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

EVENTS = [
    {"event_id": "reg-1", "type": "registration", "player_id": "p-1", "partner": "acme", "click_id": "c-1"},
    {"event_id": "reg-2", "type": "registration", "player_id": "p-2", "partner": "acme", "click_id": "c-2"},
    {"event_id": "dep-1", "type": "deposit", "player_id": "p-1", "amount": "25.00", "currency": "EUR"},
    {"event_id": "bad-1", "type": "deposit", "player_id": "p-3"},  # refused: no amount
]


@pytest.fixture
def partners(httpserver):
    """acme answers 200 on /ok, 500 on /down (retried), 404 on /gone (fails at once); beta always 503, one try."""
    acme, beta = PartnerFactory(slug="acme"), PartnerFactory(slug="beta", scope="all")
    base = f"http://127.0.0.1:{httpserver.port}"
    PostbackEndpointFactory(partner=acme, url_template=base + "/ok?c={click_id}")
    PostbackEndpointFactory(partner=acme, url_template=base + "/down?c={click_id}", event_types=["deposit"])
    PostbackEndpointFactory(partner=acme, url_template=base + "/gone?c={click_id}", event_types=["registration"])
    PostbackEndpointFactory(partner=beta, url_template=base + "/busy", max_attempts=1)
    httpserver.expect_request("/ok").respond_with_data("OK")
    httpserver.expect_request("/down").respond_with_response(Response("oops", status=500))
    httpserver.expect_request("/gone").respond_with_response(Response("no", status=404))
    httpserver.expect_request("/busy").respond_with_response(Response("later", status=503))


def _delta(after: dict, before: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0) - before.get(key, 0)


def test_metrics_match_the_database_after_ingest_and_delivery(
    partners, platform_client, scrape, django_capture_on_commit_callbacks
):
    before = scrape()

    # The commit wakes the sender, which runs inline here (Celery is eager in tests).
    with django_capture_on_commit_callbacks(execute=True):
        response = platform_client.post("/api/v1/events/batch/", {"events": EVENTS}, format="json")

    assert response.json()["created"] == 3
    after = scrape()
    for row in Event.objects.values("type").annotate(n=Count("pk")):
        assert _delta(after, before, "postback_events_ingested_total", type=row["type"]) == row["n"]
    attempts = dict(DeliveryAttempt.objects.values_list("outcome").annotate(n=Count("pk")))
    assert attempts == {"success": 3, "retry": 1, "failure": 5}
    for outcome, count in attempts.items():
        assert sum(
            value - before.get(key, 0)
            for key, value in after.items()
            if key[0] == "postback_delivery_attempts_total" and dict(key[1])["outcome"] == outcome
        ) == count
    assert _delta(after, before, "postback_delivery_attempts_total", outcome="retry", error_class="http_5xx") == 1
    assert _delta(after, before, "postback_delivery_attempt_duration_seconds_count") == sum(attempts.values())
    finished = Delivery.objects.filter(status__in=["delivered", "failed"]).values_list("partner__slug", "status")
    for (partner, status), count in Counter(finished).items():
        assert _delta(after, before, "postback_deliveries_finished_total", partner=partner, status=status) == count
    assert after[("postback_deliveries_due", ())] == Delivery.objects.filter(status="pending").count() == 0


def test_an_attempt_lost_with_its_worker_is_counted_as_a_retry(
    httpserver, scrape, django_capture_on_commit_callbacks
):
    endpoint = PostbackEndpointFactory(url_template=f"http://127.0.0.1:{httpserver.port}/pb")
    httpserver.expect_request("/pb").respond_with_data("OK")
    delivery = DeliveryFactory(endpoint=endpoint, attempt_count=1)
    # A worker wrote its attempt and died before recording the answer; its lease has run out.
    DeliveryAttempt.objects.create(delivery=delivery, number=1, request_method="GET", request_url="x")
    before = scrape()

    with django_capture_on_commit_callbacks(execute=True):
        deliveries_send_due(worker="alive")

    after = scrape()
    assert _delta(after, before, "postback_delivery_attempts_total", outcome="retry", error_class="worker_lost") == 1
    assert _delta(after, before, "postback_delivery_attempts_total", outcome="success", error_class="none") == 1
    assert DeliveryAttempt.objects.filter(error_class="worker_lost").count() == 1
