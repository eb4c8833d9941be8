"""The listening sender: NOTIFY on commit wakes it, and ingest uses it only while it says it is up.

These run the listener's loop on a thread of the test process against the
test's PostgreSQL and Redis; ``tests/faults/test_listening_sender.py``
runs it as its own process beside gunicorn and Celery and kills it.
"""

import ipaddress
import select
import threading
import time
from contextlib import contextmanager

import pytest
from django.core.cache import cache
from django.db import connection, transaction

from deliveries import listener
from deliveries.models import Delivery
from deliveries.services import deliveries_create_for_events
from deliveries.tasks import celery_senders_wake, sender_wake_on_commit
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.partner import partner_server
from tests.support.processes import wait_until
from tests.support.services import require_postgres, require_shared_cache

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shared_postgres():
    require_postgres()
    require_shared_cache()
    cache.delete(listener.ADVERTISEMENT_KEY)
    yield
    cache.delete(listener.ADVERTISEMENT_KEY)


@pytest.fixture
def advertised(shared_postgres):
    cache.set(listener.ADVERTISEMENT_KEY, "a test's listener", timeout=60)


@pytest.fixture
def listening_connection(shared_postgres):
    """A connection of the test's own, listening on the channel, as a sender's would."""
    conn = connection.get_new_connection(connection.get_connection_params())
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f"LISTEN {listener.CHANNEL}")
    yield conn
    conn.close()


def _notified(conn, timeout: float) -> bool:
    select.select([conn], [], [], timeout)
    conn.poll()
    arrived = bool(conn.notifies)
    conn.notifies.clear()
    return arrived


def test_the_notification_arrives_when_the_transaction_commits_and_never_for_a_rolled_back_one(
    advertised, listening_connection
):
    with transaction.atomic():
        sender_wake_on_commit()
        assert not _notified(listening_connection, 0.3), "not before the rows are visible"
    assert _notified(listening_connection, 5)

    with pytest.raises(RuntimeError), transaction.atomic():
        sender_wake_on_commit()
        raise RuntimeError("the ingest failed")
    assert not _notified(listening_connection, 0.5)


def test_while_a_listener_is_up_a_commit_publishes_no_celery_wake_up(advertised, listening_connection, monkeypatch):
    published = []
    monkeypatch.setattr("deliveries.tasks._SenderWakeUp.apply_async", lambda self, **kw: published.append(1))
    with transaction.atomic():
        sender_wake_on_commit()

    assert _notified(listening_connection, 5)
    assert published == []


def test_without_a_listener_a_commit_publishes_the_celery_wake_up_and_notifies_no_one(
    shared_postgres, listening_connection, monkeypatch
):
    published = []
    monkeypatch.setattr("deliveries.tasks._SenderWakeUp.apply_async", lambda self, **kw: published.append(1))
    with transaction.atomic():
        sender_wake_on_commit()

    assert published == [1]
    assert not _notified(listening_connection, 0.3)


@contextmanager
def _serving():
    """The listener's loop on a thread, waiting as long as the test lasts unless woken."""
    stop = listener.Stop()
    thread = threading.Thread(target=listener.listener_serve, kwargs={"stop": stop, "worker": "test:listener"})
    thread.start()
    try:
        wait_until(lambda: cache.get(listener.ADVERTISEMENT_KEY) is not None, timeout=10,
                   message="the listening sender to advertise itself")
        yield stop
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the listener must stop when asked"


def _deliveries_committed(endpoint, count: int = 1) -> set[str]:
    """Events and their deliveries stored as ingest stores them: one transaction, then the wake-up."""
    with transaction.atomic():
        events = [EventFactory(partner=endpoint.partner) for _ in range(count)]
        deliveries_create_for_events(events=events)
    return {event.event_id for event in events}


def test_a_commit_wakes_the_listening_sender_at_once(shared_postgres, monkeypatch, settings):
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    # Without the notification nothing would look for due work within the test's wait.
    monkeypatch.setattr(listener, "IDLE_SECONDS", 120.0)
    with partner_server() as partner, _serving():
        endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="l"), url_template=partner.url + "/pb?e={event_id}")
        first = _deliveries_committed(endpoint)
        wait_until(lambda: len(partner.received) == 1, timeout=10, message="the first postback")
        second = _deliveries_committed(endpoint, count=3)  # the sender has gone back to waiting since
        wait_until(lambda: len(partner.received) == 4, timeout=10, message="the next three postbacks")

    assert {request["path"].split("e=")[1] for request in partner.received} == first | second
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}
    assert cache.get(listener.ADVERTISEMENT_KEY) is None, "a stopped listener withdraws its advertisement"


def test_a_dropped_listening_connection_is_replaced_and_the_next_commit_still_wakes_the_sender(
    shared_postgres, monkeypatch, settings
):
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    monkeypatch.setattr(listener, "IDLE_SECONDS", 120.0)
    with partner_server() as partner, _serving():
        endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="l"), url_template=partner.url + "/pb?e={event_id}")
        with connection.cursor() as cursor:  # as a database restart or an administrator would
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE query = %s AND pid <> pg_backend_pid()", [f"LISTEN {listener.CHANNEL}"])
            assert cursor.fetchone() is not None
        # Its loop was woken by the broken connection, looked, and listens again before waiting long.
        wait_until(lambda: _listening_backends() == 1, timeout=10, message="the sender to listen again")
        _deliveries_committed(endpoint)
        wait_until(lambda: len(partner.received) == 1, timeout=10, message="the postback after the reconnect")


def _listening_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE query = %s", [f"LISTEN {listener.CHANNEL}"])
        return cursor.fetchone()[0]


def test_a_notification_that_fails_costs_only_the_wake_up(advertised, monkeypatch, caplog):
    monkeypatch.setattr(listener, "CHANNEL", "not a channel name")  # PostgreSQL refuses the statement

    with transaction.atomic():
        EventFactory()
        sender_wake_on_commit()

    assert "could not wake the listening sender" in caplog.text
    with connection.cursor() as cursor:  # the connection is still good for the next request
        cursor.execute("SELECT 1")


def test_the_listening_sender_calls_the_celery_senders_in_whoever_is_advertised(advertised, monkeypatch):
    published = []
    monkeypatch.setattr("deliveries.tasks._SenderWakeUp.apply_async", lambda self, **kw: published.append(1))

    celery_senders_wake()  # what send_postbacks does when more is due than it can take at once

    assert published == [1]


def test_a_wait_while_not_listening_ends_when_listening_can_be_tried_again(shared_postgres):
    """A connection lost within a second of opening is not retried at once; the wait must not outlast that."""
    channel = listener._Channel(listener.Stop(), wanted=True)
    channel.opened_at = time.monotonic()  # as if the last try had just been made, and failed
    started = time.monotonic()
    try:
        channel.wait(120.0)
        assert time.monotonic() - started < listener.REOPEN_EVERY_SECONDS + 1.0
        channel.wait(0.0)  # the next wait is allowed to listen again
        assert channel.listening
    finally:
        channel.close()
