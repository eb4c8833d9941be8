"""The circuit breaker: a failing partner's deliveries are held and probed, and go out by themselves when it is back.

The sender runs in-process against a real local partner; the clock
(``django.utils.timezone.now``) is the test's, so the probe schedule is
checked to the second without waiting for it.
"""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from deliveries.models import Delivery
from deliveries.sender import deliveries_send_due
from deliveries.services import deliveries_create_for_events, endpoint_send_test
from partners.models import AUTO_PAUSE_REASON_PREFIX
from partners.services import endpoint_pause, endpoint_resume
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.partner import partner_server

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    clock = Clock(START)
    with mock.patch("django.utils.timezone.now", clock):
        yield clock


@pytest.fixture(autouse=True)
def _one_at_a_time(settings):
    """One transfer in flight per endpoint, so the run of failures is counted attempt by attempt."""
    settings.POSTBACK_ENDPOINT_CONCURRENCY = 1
    settings.POSTBACK_CIRCUIT_PROBE_MIN_SECONDS = 30
    settings.POSTBACK_CIRCUIT_PROBE_MAX_SECONDS = 120
    settings.POSTBACK_RETRY_SCHEDULE = [600]


@pytest.fixture
def partner():
    with partner_server(default="503") as server:
        yield server


def _open_circuit(partner, clock, *, deliveries: int = 5):
    """An endpoint that opens after three failures, five deliveries for it, and the sender run once."""
    acme = PartnerFactory(slug="acme")
    endpoint = PostbackEndpointFactory(partner=acme, url_template=partner.url + "/pb", circuit_failure_threshold=3)
    created = deliveries_create_for_events(events=[EventFactory(partner=acme) for _ in range(deliveries)])
    _send()
    endpoint.refresh_from_db()
    return endpoint, [delivery.pk for delivery in created]


def _send():
    deliveries_send_due(worker="circuit-test")


def _attempt_counts(ids) -> list[int]:
    counts = dict(Delivery.objects.filter(pk__in=ids).values_list("pk", "attempt_count"))
    return [counts[pk] for pk in ids]


def test_the_circuit_opens_after_the_threshold_and_holds_the_rest(partner, clock):
    endpoint, ids = _open_circuit(partner, clock)

    assert (endpoint.circuit_state, endpoint.circuit_opened_at, endpoint.consecutive_failures) == ("open", START, 3)
    assert endpoint.circuit_next_probe_at == START + timedelta(seconds=30)
    assert endpoint.is_active  # held, not paused: nobody has to act
    assert _attempt_counts(ids) == [1, 1, 1, 0, 0]
    held = Delivery.objects.select_related("endpoint", "partner").get(pk=ids[4])
    assert held.status == "pending" and "circuit is open" in held.held_reason
    assert len(partner.received) == 3


def test_nothing_is_attempted_before_the_probe_is_due(partner, clock):
    endpoint, ids = _open_circuit(partner, clock)

    clock.advance(29)
    _send()

    assert _attempt_counts(ids) == [1, 1, 1, 0, 0]
    assert len(partner.received) == 3


def test_one_held_delivery_probes_and_the_wait_doubles_up_to_the_max(partner, clock):
    endpoint, ids = _open_circuit(partner, clock)
    waits = []

    for _ in range(4):
        clock.now = endpoint.circuit_next_probe_at
        _send()
        endpoint.refresh_from_db()
        waits.append((endpoint.circuit_next_probe_at - clock.now).total_seconds())

    assert waits == [60, 120, 120, 120]
    # One attempt per probe, and failing probes fail no delivery.
    assert len(partner.received) == sum(_attempt_counts(ids)) == 3 + 4
    assert set(Delivery.objects.values_list("status", flat=True)) <= {"pending", "retrying"}


def test_a_successful_probe_closes_the_circuit_and_the_held_go_out_in_order(partner, clock):
    endpoint, ids = _open_circuit(partner, clock)
    partner.default = 200

    clock.now = endpoint.circuit_next_probe_at
    _send()

    endpoint.refresh_from_db()
    assert (endpoint.circuit_state, endpoint.consecutive_failures, endpoint.circuit_next_probe_at) == ("closed", 0, None)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    after_closing = partner.webhook_ids()[3:]
    assert after_closing == [str(ids[3]), str(ids[0]), str(ids[1]), str(ids[2]), str(ids[4])]


def test_sustained_failure_pauses_the_endpoint_for_a_manager(partner, clock, settings):
    settings.POSTBACK_DISABLE_AFTER_HOURS = 0.05  # three minutes
    endpoint, ids = _open_circuit(partner, clock)

    for _ in range(5):
        clock.now = endpoint.circuit_next_probe_at
        _send()
        endpoint.refresh_from_db()
        if not endpoint.is_active:
            break

    assert not endpoint.is_active
    assert endpoint.pause_reason.startswith(AUTO_PAUSE_REASON_PREFIX)
    assert clock.now - START >= timedelta(minutes=3)
    assert set(Delivery.objects.values_list("status", flat=True)) <= {"pending", "retrying"}


def test_a_managers_pause_stays_a_managers_pause_and_resuming_closes_the_circuit(partner, clock):
    endpoint, ids = _open_circuit(partner, clock)
    endpoint_pause(endpoint=endpoint, reason="Partner migrating servers")
    partner.default = 200

    clock.advance(3600)
    _send()
    endpoint.refresh_from_db()

    assert (endpoint.is_active, endpoint.pause_reason) == (False, "Partner migrating servers")
    assert len(partner.received) == 3

    endpoint_resume(endpoint=endpoint)
    _send()

    endpoint.refresh_from_db()
    assert endpoint.circuit_state == "closed"
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_permanent_answers_neither_open_nor_close_the_circuit(clock):
    with partner_server(default="404") as server:
        acme = PartnerFactory(slug="acme")
        endpoint = PostbackEndpointFactory(partner=acme, url_template=server.url + "/pb", circuit_failure_threshold=2)
        deliveries_create_for_events(events=[EventFactory(partner=acme) for _ in range(3)])
        _send()

    endpoint.refresh_from_db()
    assert (endpoint.circuit_state, endpoint.consecutive_failures) == ("closed", 0)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}


def test_failed_test_postbacks_add_nothing_to_the_failure_run(partner):
    endpoint = PostbackEndpointFactory(url_template=partner.url + "/pb", circuit_failure_threshold=2)

    outcomes = [endpoint_send_test(endpoint=endpoint).outcome for _ in range(3)]

    endpoint.refresh_from_db()
    assert outcomes == ["failure"] * 3  # one-off checks: never retried
    assert (endpoint.circuit_state, endpoint.consecutive_failures) == ("closed", 0)


def test_a_test_postback_is_no_probe_and_leaves_an_open_circuit_open(partner, clock):
    endpoint, ids = _open_circuit(partner, clock)
    partner.default = 200

    attempt = endpoint_send_test(endpoint=endpoint)

    endpoint.refresh_from_db()
    assert attempt.outcome == "success"
    assert endpoint.circuit_state == "open" and endpoint.circuit_next_probe_at > clock.now
    assert _attempt_counts(ids) == [1, 1, 1, 0, 0]  # the held deliveries still wait for a real probe
