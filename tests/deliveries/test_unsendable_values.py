"""Values a request cannot carry as they are: encoded when they can be, refused at once when they cannot."""

import pytest

from deliveries.sender import deliveries_send_due
from deliveries.services import deliveries_create_for_events
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


@pytest.fixture
def partner():
    return PartnerFactory(slug="acme")


def _send(partner, **event_fields):
    (delivery,) = deliveries_create_for_events(events=[EventFactory(partner=partner, **event_fields)])
    deliveries_send_due(worker="test-worker")
    delivery.refresh_from_db()
    return delivery


def test_a_value_that_would_move_the_path_fails_at_once_with_the_reason(httpserver, partner, partner_url):
    PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb/{click_id}/confirm"))

    delivery = _send(partner, click_id="..")

    (attempt,) = delivery.attempts.all()
    assert (delivery.status, delivery.next_attempt_at, attempt.error_class) == ("failed", None, "template")
    assert "path segment '..'" in attempt.error
    assert httpserver.log == []


def test_header_values_outside_ascii_are_sent_percent_encoded(httpserver, partner, partner_url):
    PostbackEndpointFactory(partner=partner, url_template=partner_url("/pb"), headers={"X-Click": "c={click_id}"})
    httpserver.expect_request("/pb").respond_with_data("OK")

    delivery = _send(partner, click_id="日本\x7f")

    assert delivery.status == "delivered"
    ((request, _),) = httpserver.log
    assert request.headers["X-Click"] == "c=%E6%97%A5%E6%9C%AC%7F"
