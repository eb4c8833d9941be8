"""A partner that flaps: the retry schedule is followed and the final state and last error are right.

The sender runs in-process against a real local partner server; the clock
(``django.utils.timezone.now``) is the test's, so hours of schedule take
milliseconds and every ``next_attempt_at`` is checked against the
documented schedule with its ±20 % jitter, or against ``Retry-After``.
"""

import ipaddress
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from deliveries.models import Delivery
from deliveries.retry import JITTER
from deliveries.sender import deliveries_send_due
from deliveries.services import deliveries_create_for_events
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.partner import partner_server

pytestmark = [pytest.mark.faults, pytest.mark.django_db]

SCHEDULE = [30.0, 120.0, 300.0, 900.0]
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postbacks_may_reach_loopback(settings):
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    settings.POSTBACK_RETRY_SCHEDULE = SCHEDULE
    settings.POSTBACK_RETRY_AFTER_CAP_SECONDS = 3600


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    clock = Clock(START)
    with mock.patch("django.utils.timezone.now", clock):
        yield clock


def _delivery(partner, **endpoint_fields) -> Delivery:
    PostbackEndpointFactory(partner=partner, url_template=partner.url + "/pb?click={click_id}", **endpoint_fields)
    (delivery,) = deliveries_create_for_events(events=[EventFactory(partner=partner, click_id="c-1")])
    return delivery


def _attempt(delivery: Delivery, clock: Clock) -> Delivery:
    """Move the clock to when the delivery is due and let the sender run once."""
    if delivery.next_attempt_at is not None:
        clock.now = max(clock.now, delivery.next_attempt_at)
    deliveries_send_due(worker="flap-test")
    delivery.refresh_from_db()
    return delivery


def _waited(delivery: Delivery, clock: Clock) -> float:
    return (delivery.next_attempt_at - clock.now).total_seconds()


def _within_jitter(waited: float, base: float) -> bool:
    return base * (1 - JITTER) <= waited <= base * (1 + JITTER)


def test_5xx_timeout_reset_and_429_follow_the_schedule_then_deliver(clock):
    script = ["500", "timeout", "reset", ("429", 7), ("slow", 0.2)]
    with partner_server(script=script, timeout_seconds=1.0) as server:
        partner = PartnerFactory(slug="flappy")
        partner.url = server.url
        delivery = _delivery(partner, timeout_seconds=1, max_attempts=10)

        seen = []
        for base, error_class, status, error in [
            (SCHEDULE[0], "http_5xx", 500, "HTTP 500"),
            (SCHEDULE[1], "timeout", None, "timed out"),
            (SCHEDULE[2], "connection", None, ""),
            (7.0, "http_4xx", 429, "HTTP 429"),
        ]:
            delivery = _attempt(delivery, clock)
            waited = _waited(delivery, clock)
            seen.append((delivery.status, delivery.last_status_code, round(waited)))
            assert delivery.status == "retrying"
            assert delivery.last_status_code == status
            assert error in delivery.last_error
            assert delivery.attempts.order_by("-number").first().error_class == error_class
            assert _within_jitter(waited, base) if base != 7.0 else waited == 7.0, seen

        delivery = _attempt(delivery, clock)

    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("delivered", 200, "")
    assert delivery.attempt_count == 5 and delivery.next_attempt_at is None
    assert server.webhook_ids() == [str(delivery.pk)] * 5


def test_attempts_run_out_and_the_last_error_says_so(clock):
    with partner_server(default="503") as server:
        partner = PartnerFactory(slug="down")
        partner.url = server.url
        delivery = _delivery(partner, max_attempts=3)

        for _ in range(3):
            delivery = _attempt(delivery, clock)

    assert (delivery.status, delivery.last_status_code, delivery.next_attempt_at) == ("failed", 503, None)
    assert delivery.last_error == "HTTP 503 (attempts exhausted: 3)"
    assert [a.outcome for a in delivery.attempts.order_by("number")] == ["retry", "retry", "failure"]
    assert len(server.received) == 3


def test_retry_after_beyond_the_cap_is_capped(clock, settings):
    settings.POSTBACK_RETRY_AFTER_CAP_SECONDS = 600
    with partner_server(script=[("429", 86_400)]) as server:
        partner = PartnerFactory(slug="slowdown")
        partner.url = server.url
        delivery = _attempt(_delivery(partner), clock)

    assert delivery.status == "retrying" and _waited(delivery, clock) == 600


def test_a_4xx_fails_at_once_without_retrying(clock):
    with partner_server(default="404") as server:
        partner = PartnerFactory(slug="gone")
        partner.url = server.url
        delivery = _attempt(_delivery(partner), clock)
        clock.now += timedelta(days=2)
        deliveries_send_due(worker="flap-test")

    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("failed", 404, "HTTP 404")
    assert len(server.received) == 1


def test_a_delivery_is_not_sent_before_its_time(clock):
    with partner_server(script=["500"]) as server:
        partner = PartnerFactory(slug="patient")
        partner.url = server.url
        delivery = _attempt(_delivery(partner), clock)
        clock.now = delivery.next_attempt_at - timedelta(seconds=5)
        deliveries_send_due(worker="flap-test")
        early = len(server.received)
        delivery = _attempt(delivery, clock)

    assert early == 1
    assert delivery.status == "delivered" and len(server.received) == 2
