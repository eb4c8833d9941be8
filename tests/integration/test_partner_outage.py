"""A partner's outage heals by itself: its circuit opens, probes find it back, and every postback arrives once.

A real Celery worker sends to a local partner that answers 503 for the first
few seconds while deliveries keep coming; nobody resumes anything. Probe
intervals are configured short so the whole outage fits in seconds.
"""

import time
import uuid
from collections import Counter

import pytest
from django.db.models import Count, Q

from deliveries.models import Delivery
from monitoring.models import Alert
from postback_platform.celery import app as celery_app
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.partner import partner_server
from tests.support.processes import celery_worker_logging_to, child_env, wait_until
from tests.support.services import child_database_url, redis_url, require_postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

OUTAGE_SECONDS = 3
FLOW_SECONDS = 5
PER_TICK = 2  # deliveries every 0.1 s: 20 a second


def _wake(queue: str) -> None:
    """What beat does every couple of seconds."""
    celery_app.send_task("deliveries.tasks.send_due_deliveries", queue=queue)


def test_a_partner_down_for_seconds_gets_every_postback_once_without_anyone_acting(tmp_path):
    require_postgres()
    queue = f"it-{uuid.uuid4().hex[:8]}"
    env = child_env(
        DATABASE_URL=child_database_url(), CELERY_BROKER_URL=redis_url(), POSTBACK_ALLOWED_NETWORKS="127.0.0.0/8",
        POSTBACK_CIRCUIT_PROBE_MIN_SECONDS="0.5", POSTBACK_CIRCUIT_PROBE_MAX_SECONDS="2",
        POSTBACK_RETRY_SCHEDULE="1", POSTBACK_SENDER_TIME_BUDGET_SECONDS="2", LOG_LEVEL="WARNING",
    )
    with partner_server(default="503") as partner, \
            celery_worker_logging_to(tmp_path / "worker.log", queues=queue, env=env):
        endpoint = PostbackEndpointFactory(
            partner=PartnerFactory(slug="flaky"), url_template=partner.url + "/pb", circuit_failure_threshold=5,
        )
        # given: deliveries keep coming at a steady rate while the partner is down, then after it is back
        ids, started = [], time.monotonic()
        for _ in range(int(FLOW_SECONDS * 10)):
            if time.monotonic() - started >= OUTAGE_SECONDS:
                partner.default = 200
            ids += [DeliveryFactory(endpoint=endpoint, event=EventFactory(partner=endpoint.partner)).pk
                    for _ in range(PER_TICK)]
            _wake(queue)
            time.sleep(0.1)
        partner.default = 200

        # when: the worker goes on as beat would wake it, and no one touches the endpoint
        def all_delivered() -> bool:
            _wake(queue)
            return not Delivery.objects.filter(pk__in=ids).exclude(status="delivered").exists()

        wait_until(all_delivered, timeout=60, interval=0.5, message="every postback delivered after the outage")

    # then: the circuit opened and closed by itself, and the partner saw no request that is not on record
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.circuit_state) == (True, "closed")
    assert Alert.objects.filter(kind="circuit_open", endpoint=endpoint, resolved_at__isnull=False).count() == 1
    attempts = dict(
        Delivery.objects.filter(pk__in=ids).annotate(
            successes=Count("attempts", filter=Q(attempts__outcome="success")),
        ).values_list("pk", "successes")
    )
    tries = dict(Delivery.objects.filter(pk__in=ids).values_list("pk", "attempt_count"))
    received = Counter(partner.webhook_ids())
    assert set(attempts.values()) == {1}  # delivered exactly once each
    assert {str(pk): tries[pk] for pk in ids} == {str(pk): received[str(pk)] for pk in ids}
    held_untried = sum(1 for pk in ids if tries[pk] == 1)
    print(f"{len(ids)} postbacks, {sum(received.values())} requests, {held_untried} went out once (held, never tried)")
