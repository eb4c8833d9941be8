"""A slow partner costs only its own share: another partner's rate holds while it answers at its timeout.

A real Celery worker sends to two local partners. The fast one's delivery
rate is measured alone, then again while the slow one (answering just
inside its one-second timeout) has a backlog of its own; the slow one may
only ever hold its endpoint's slots, never the worker's.
"""

import uuid

import pytest

from deliveries.models import Delivery
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

FAST_DELIVERIES = 300
SLOW_DELIVERIES = 40
ENDPOINT_CONCURRENCY = 8


def _endpoint(slug: str, url: str, *, timeout: float = 5):
    return PostbackEndpointFactory(partner=PartnerFactory(slug=slug), url_template=url + "/pb", timeout_seconds=timeout)


def _backlog(endpoint, count: int) -> list[int]:
    return [DeliveryFactory(endpoint=endpoint, event=EventFactory(partner=endpoint.partner)).pk for _ in range(count)]


def _rate(partner, ids: list[int]) -> float:
    """Postbacks per second the partner received for ``ids``, from the first arrival to the last."""
    wanted = {str(pk) for pk in ids}
    arrivals = sorted(request["at"] for request in partner.received if request["webhook-id"] in wanted)
    return (len(arrivals) - 1) / max(arrivals[-1] - arrivals[0], 1e-3)


def _send_until_delivered(queue: str, ids: list[int], worker) -> None:
    def delivered() -> bool:
        celery_app.send_task("deliveries.tasks.send_due_deliveries", queue=queue)
        return Delivery.objects.filter(pk__in=ids, status="delivered").count() == len(ids) or worker.poll() is not None

    wait_until(delivered, timeout=60, interval=0.5, message="the fast partner's postbacks")


def test_a_partner_answering_at_its_timeout_leaves_another_partners_rate_at_least_80_percent(tmp_path):
    require_postgres()
    queue = f"it-{uuid.uuid4().hex[:8]}"
    env = child_env(
        DATABASE_URL=child_database_url(), CELERY_BROKER_URL=redis_url(), POSTBACK_ALLOWED_NETWORKS="127.0.0.0/8",
        POSTBACK_ENDPOINT_CONCURRENCY=str(ENDPOINT_CONCURRENCY), POSTBACK_SENDER_TIME_BUDGET_SECONDS="5",
        LOG_LEVEL="WARNING",
    )
    with partner_server() as fast_partner, partner_server(delay=0.9) as slow_partner, \
            celery_worker_logging_to(tmp_path / "worker.log", queues=queue, env=env) as worker:
        fast = _endpoint("fast", fast_partner.url)
        slow = _endpoint("slow", slow_partner.url, timeout=1)

        # given: the fast partner's rate alone (the worker warmed up by the same run)
        alone = _backlog(fast, FAST_DELIVERIES)
        _send_until_delivered(queue, alone, worker)
        rate_alone = _rate(fast_partner, alone)

        # when: the slow partner has a backlog of its own, due first
        _backlog(slow, SLOW_DELIVERIES)
        beside_slow = _backlog(fast, FAST_DELIVERIES)
        _send_until_delivered(queue, beside_slow, worker)
        rate_beside_slow = _rate(fast_partner, beside_slow)
        slow_meanwhile = len(slow_partner.received)

    # then
    print(f"fast partner alone {rate_alone:.0f}/s, beside the slow one {rate_beside_slow:.0f}/s; "
          f"the slow one received {slow_meanwhile}")
    assert slow_meanwhile > 0, "the slow partner was never sent to while the fast one was measured"
    assert rate_beside_slow >= 0.8 * rate_alone
