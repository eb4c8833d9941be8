"""The sender's lease: renewed while transfers are out, so a slow partner is never sent to twice, and given up when lost."""

import contextlib
import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from deliveries import sender
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import deliveries_claim_due, deliveries_lease_renew, deliveries_send_due
from deliveries.services import delivery_cancel
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.fresh_process import DJANGO_SETUP, django_setup, run_python
from tests.support.partner import partner_server
from tests.support.processes import wait_until

pytestmark = pytest.mark.usefixtures("loopback_allowed")


@contextlib.contextmanager
def batch_in_flight(settings, *, deliveries: int, lease: float, partner_delay: float):
    """One sender sending ``deliveries`` to a slow partner in the background, its first request arrived."""
    settings.POSTBACK_LEASE_SECONDS = lease
    with partner_server(delay=partner_delay) as partner:
        endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="slow"), url_template=partner.url + "/pb?d={delivery_id}")
        ids = [DeliveryFactory(endpoint=endpoint, event=EventFactory(partner=endpoint.partner)).pk for _ in range(deliveries)]

        def send():
            try:
                deliveries_send_due(worker="slow-sender")
            finally:
                connection.close()

        thread = threading.Thread(target=send)
        thread.start()
        wait_until(lambda: partner.received, timeout=10, message="the first request")
        yield partner, ids, thread
        thread.join(timeout=30)


@pytest.mark.django_db
def test_a_renewal_keeps_what_the_sender_still_holds_and_reports_the_rest_lost():
    # given: two deliveries leased to one sender, one of them cancelled since
    first, second = (DeliveryFactory() for _ in range(2))
    assert sorted(deliveries_claim_due(worker="a", limit=10)) == sorted([first.pk, second.pk])
    delivery_cancel(delivery=second)

    # when
    held = deliveries_lease_renew(ids=[first.pk, second.pk], worker="a")

    # then
    assert held == {first.pk}
    assert deliveries_lease_renew(ids=[first.pk], worker="b") == set()


@pytest.mark.django_db(transaction=True)
def test_transfers_that_outlive_their_lease_are_renewed_and_sent_once(settings):
    # given: a one-second lease and a partner taking 2.4 s to answer each of four requests sent at once
    with batch_in_flight(settings, deliveries=4, lease=1, partner_delay=2.4) as (partner, ids, thread):
        # when: another sender keeps trying to claim while the transfers are out (bounded by the sender's end)
        taken = []
        for _ in range(100):
            if not thread.is_alive():
                break
            taken += deliveries_claim_due(worker="other", limit=10)
            time.sleep(0.1)

    # then: the renewals kept every delivery with the first sender, and each was sent once
    assert taken == []
    assert sorted(request["path"] for request in partner.received) == sorted(f"/pb?d={pk}" for pk in ids)
    assert set(Delivery.objects.values_list("status", "attempt_count")) == {("delivered", 1)}


@pytest.mark.django_db(transaction=True)
def test_a_delivery_cancelled_while_out_keeps_its_cancellation(settings):
    # given: three requests out at once, answered after 1.5 s, the lease renewed every 0.4 s
    with batch_in_flight(settings, deliveries=3, lease=1.2, partner_delay=1.5) as (partner, ids, _thread):
        wait_until(lambda: len(partner.received) == 3, timeout=10, message="every request")
        # when: a manager cancels one while its request is out
        cancelled = ids[-1]
        delivery_cancel(delivery=Delivery.objects.get(pk=cancelled))

    # then: the renewal let it go, its outcome is not written over the cancellation, its attempt says why
    delivery = Delivery.objects.get(pk=cancelled)
    assert (delivery.status, delivery.claimed_by) == ("cancelled", "")
    assert list(delivery.attempts.values_list("outcome", "error_class")) == [("retry", "lease_lost")]
    assert set(Delivery.objects.exclude(pk=cancelled).values_list("status", flat=True)) == {"delivered"}


@pytest.mark.django_db(transaction=True)
def test_a_sender_that_cannot_renew_lets_go_before_its_lease_can_pass_on(settings, monkeypatch):
    # given: the database refuses every renewal; six requests out to a partner answering after 4 s, a 1.5 s lease
    def database_gone(**_kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(sender, "deliveries_lease_renew", database_gone)
    with batch_in_flight(settings, deliveries=6, lease=1.5, partner_delay=4) as (partner, ids, thread):
        thread.join(timeout=10)
        # then: the sender dropped its transfers before the partner answered, so no second sender can
        # ever record alongside this one; each attempt says so, and the deliveries stay due
        assert not thread.is_alive()
        assert len(partner.received) == 6
    attempts = dict(DeliveryAttempt.objects.values_list("delivery_id", "error_class"))
    assert sorted(attempts.values()) == ["lease_lost"] * 6
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_a_lease_too_short_for_the_database_wait_is_refused(tmp_path):
    result = django_setup(
        tmp_path, DEBUG="true", DATABASE_URL="postgres://u@127.0.0.1:1/x", DB_CONNECT_TIMEOUT="5",
        POSTBACK_LEASE_SECONDS="6",
    )

    assert result.returncode != 0
    assert "POSTBACK_LEASE_SECONDS=6 is too short" in result.stderr
    assert "DB_CONNECT_TIMEOUT" in result.stderr


def test_the_default_lease_is_half_a_minute(tmp_path):
    show = DJANGO_SETUP + "; from django.conf import settings; print(settings.POSTBACK_LEASE_SECONDS)"
    result = run_python(tmp_path, "-c", show, DEBUG="true", DATABASE_URL="postgres://u@127.0.0.1:1/x")

    assert (result.returncode, result.stdout.strip()) == (0, "30"), result.stderr


@pytest.mark.django_db
def test_the_next_due_time_skips_what_senders_hold_and_endpoints_that_take_nothing():
    now = timezone.now()
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"))

    def due_in(seconds, **fields):
        return DeliveryFactory(endpoint=endpoint, event=EventFactory(partner=endpoint.partner),
                               next_attempt_at=now + timedelta(seconds=seconds), **fields)

    held = due_in(10, claimed_by="other-sender", claimed_until=now + timedelta(minutes=1))
    due_in(20)
    assert 15 < sender.seconds_until_next_due() <= 20

    # A lease that has run out is due again; an endpoint with its circuit open, or a paused partner, takes nothing.
    Delivery.objects.filter(pk=held.pk).update(claimed_until=now - timedelta(seconds=1))
    assert 5 < sender.seconds_until_next_due() <= 10
    endpoint.partner.is_active = False
    endpoint.partner.save()
    assert sender.seconds_until_next_due() is None
