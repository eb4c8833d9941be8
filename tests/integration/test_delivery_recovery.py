"""A worker killed mid-delivery: the lease runs out and another worker completes the delivery, once."""

import os
import signal
import threading
import time
import uuid

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from deliveries.models import Delivery
from events.models import EventType
from postback_platform.celery import app as celery_app
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.processes import celery_worker, child_env, stop_process_group, wait_until
from tests.support.services import child_database_url, redis_url, require_postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    # Messages go to real workers here; the unit tests' eager mode does not apply to send_task.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

LEASE_SECONDS = 3


@pytest.fixture
def partner_server():
    """A partner that holds the first request open (so its sender can be killed mid-send) and accepts the rest."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.first_arrived, server.release, server.seen = threading.Event(), threading.Event(), []

    def handler(request):
        server.seen.append(request.headers.get("webhook-id"))
        if len(server.seen) == 1:
            server.first_arrived.set()
            server.release.wait(timeout=30)
        return Response("OK")

    server.expect_request("/pb").respond_with_handler(handler)
    server.start()
    yield server
    server.release.set()
    server.stop()


def _wake(queue: str) -> None:
    celery_app.send_task("deliveries.tasks.send_due_deliveries", queue=queue)


def test_a_delivery_whose_worker_is_killed_mid_send_completes_once_after_the_lease(partner_server):
    require_postgres()
    queue = f"it-{uuid.uuid4().hex[:8]}"
    env = child_env(
        DATABASE_URL=child_database_url(),
        CELERY_BROKER_URL=redis_url(),
        POSTBACK_ALLOWED_NETWORKS="127.0.0.0/8",
        POSTBACK_LEASE_SECONDS=str(LEASE_SECONDS),
        DB_CONNECT_TIMEOUT="2",  # a lease this short is refused with the default connect timeout
        POSTBACK_SENDER_TIME_BUDGET_SECONDS="1",
    )
    # An earlier transactional test's flush may have removed the seeded types.
    EventType.objects.get_or_create(slug=EventType.REGISTRATION, defaults={"name": "Registration", "is_builtin": True})
    partner = PartnerFactory(slug="it-partner")
    endpoint = PostbackEndpointFactory(
        partner=partner, event_types=[EventType.REGISTRATION], url_template=f"http://127.0.0.1:{partner_server.port}/pb"
    )
    delivery = DeliveryFactory(event=EventFactory(partner=partner), endpoint=endpoint)

    # given: a worker holds the delivery, its request is at the partner, and the worker is SIGKILLed
    with celery_worker(queues=queue, env=env) as doomed:
        _wake(queue)
        if not partner_server.first_arrived.wait(timeout=60):
            stop_process_group(doomed)
            pytest.fail(f"the first worker never sent the postback: {doomed.stdout.read().decode()[-3000:]}")
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    partner_server.release.set()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.claimed_by != "") == ("pending", 1, True)

    # when: another worker is woken, as beat does every couple of seconds
    with celery_worker(queues=queue, env=env) as survivor:
        def delivered() -> bool:
            _wake(queue)
            return Delivery.objects.filter(pk=delivery.pk, status="delivered").exists() or survivor.poll() is not None

        wait_until(delivered, timeout=60, interval=1, message="the delivery to complete on the second worker")
        # More wake-ups after completion must not send it again.
        for _ in range(3):
            _wake(queue)
        time.sleep(1.5)

    # then: sent again only after the lease ran out, delivered once, the lost attempt on record
    delivery.refresh_from_db()
    assert delivery.status == "delivered", survivor.stdout.read().decode()[-3000:]
    assert delivery.attempt_count == 2
    assert list(delivery.attempts.values_list("outcome", "error_class")) == [
        ("retry", "worker_lost"), ("success", ""),
    ]
    assert partner_server.seen == [str(delivery.pk), str(delivery.pk)]
    second_attempt = delivery.attempts.get(number=2)
    first_attempt = delivery.attempts.get(number=1)
    assert (second_attempt.started_at - first_attempt.started_at).total_seconds() >= LEASE_SECONDS - 0.5
