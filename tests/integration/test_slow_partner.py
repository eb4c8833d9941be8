"""A slow partner costs only its own share: another partner's rate holds while it answers at its timeout.

A real Celery worker sends to two local partners. The fast one's delivery
rate and the delay from a delivery's creation to the partner's receipt (new
deliveries at a steady rate, the sender woken at each as ingest wakes it)
are measured alone, then again while the slow one (answering just inside its
one-second timeout) has a backlog of its own; the slow one may only ever
hold its endpoint's slots, never the worker's.
"""

import statistics
import time
import uuid
from dataclasses import dataclass

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
STEADY_TICKS = 40  # one delivery every 50 ms: 20 a second for two seconds
SLOW_ANSWER_SECONDS = 0.9
ROUNDS = 3


def _endpoint(slug: str, url: str, *, timeout: float = 5):
    return PostbackEndpointFactory(partner=PartnerFactory(slug=slug), url_template=url + "/pb", timeout_seconds=timeout)


def _backlog(endpoint, count: int) -> list[int]:
    return [DeliveryFactory(endpoint=endpoint, event=EventFactory(partner=endpoint.partner)).pk for _ in range(count)]


def _rate(partner, ids: list[int]) -> float:
    """Postbacks per second the partner received for ``ids``, from the first arrival to the last."""
    wanted = {str(pk) for pk in ids}
    arrivals = sorted(request["at"] for request in partner.received if request["webhook-id"] in wanted)
    return (len(arrivals) - 1) / max(arrivals[-1] - arrivals[0], 1e-3)


def _wake(queue: str) -> None:
    celery_app.send_task("deliveries.tasks.send_due_deliveries", queue=queue)


def _steady_delays(queue: str, endpoint, partner, worker) -> list[float]:
    """Seconds from each delivery's creation to the partner's receipt, for deliveries made at a steady rate."""
    ids = []
    for _ in range(STEADY_TICKS):
        ids.append(DeliveryFactory(endpoint=endpoint, event=EventFactory(partner=endpoint.partner)).pk)
        _wake(queue)
        time.sleep(0.05)
    _send_until_delivered(queue, ids, worker)
    created = {str(pk): at.timestamp() for pk, at in Delivery.objects.filter(pk__in=ids).values_list("pk", "created_at")}
    return [request["at"] - created[request["webhook-id"]]
            for request in partner.received if request["webhook-id"] in created]


def _p99(delays: list[float]) -> float:
    return statistics.quantiles(delays, n=100, method="inclusive")[98]


def _send_until_delivered(queue: str, ids: list[int], worker) -> None:
    def delivered() -> bool:
        _wake(queue)
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
    rounds = []
    with partner_server() as fast_partner, partner_server(delay=SLOW_ANSWER_SECONDS) as slow_partner, \
            celery_worker_logging_to(tmp_path / "worker.log", queues=queue, env=env) as worker:
        fast = _endpoint("fast", fast_partner.url)
        slow = _endpoint("slow", slow_partner.url, timeout=1)
        # A round measures the fast partner alone, then beside the slow one. Another process loading this
        # machine can slow one half of a round; a slow partner that holds up the others slows every round
        # (to about a sixth of the rate). So up to three rounds are measured, and one that holds is enough.
        for _ in range(ROUNDS):
            rounds.append(_round(queue, fast, slow, fast_partner, slow_partner, worker))
            if rounds[-1].holds:
                break

    # then
    for number, measured in enumerate(rounds, 1):
        print(f"round {number}: {measured}")
    last = rounds[-1]
    assert last.slow_meanwhile > 0, "the slow partner was never sent to while the fast one was measured"
    assert len(last.delays_alone) == len(last.delays_beside_slow) == STEADY_TICKS
    assert last.rate_beside_slow >= 0.8 * last.rate_alone
    # Well inside "the usual figure plus one scheduler interval" (2 s): no new delivery waits for a slow answer.
    assert last.p99_beside_slow <= last.p99_alone + SLOW_ANSWER_SECONDS / 2


@dataclass
class Round:
    rate_alone: float
    delays_alone: list[float]
    rate_beside_slow: float
    delays_beside_slow: list[float]
    slow_meanwhile: int

    @property
    def p99_alone(self) -> float:
        return _p99(self.delays_alone)

    @property
    def p99_beside_slow(self) -> float:
        return _p99(self.delays_beside_slow)

    @property
    def holds(self) -> bool:
        return (self.slow_meanwhile > 0 and self.rate_beside_slow >= 0.8 * self.rate_alone
                and self.p99_beside_slow <= self.p99_alone + SLOW_ANSWER_SECONDS / 2)

    def __str__(self) -> str:
        return (f"fast partner alone {self.rate_alone:.0f}/s, p99 {self.p99_alone * 1000:.0f} ms; beside the slow "
                f"one {self.rate_beside_slow:.0f}/s, p99 {self.p99_beside_slow * 1000:.0f} ms; the slow one "
                f"received {self.slow_meanwhile}")


def _round(queue, fast, slow, fast_partner, slow_partner, worker) -> Round:
    # given: the fast partner's rate alone (the worker warmed up by the same run)
    alone = _backlog(fast, FAST_DELIVERIES)
    _send_until_delivered(queue, alone, worker)
    rate_alone = _rate(fast_partner, alone)
    delays_alone = _steady_delays(queue, fast, fast_partner, worker)
    _wait_for_the_slow_backlog(queue, slow, worker)
    received_before = len(slow_partner.received)

    # when: the slow partner has a backlog of its own, due first
    _backlog(slow, SLOW_DELIVERIES)
    beside_slow = _backlog(fast, FAST_DELIVERIES)
    _send_until_delivered(queue, beside_slow, worker)
    rate_beside_slow = _rate(fast_partner, beside_slow)
    _backlog(slow, SLOW_DELIVERIES)  # busy again for the steady run: 40 at 8 at a time take ~4.5 s
    delays_beside_slow = _steady_delays(queue, fast, fast_partner, worker)
    return Round(rate_alone, delays_alone, rate_beside_slow, delays_beside_slow,
                 len(slow_partner.received) - received_before)


def _wait_for_the_slow_backlog(queue: str, slow, worker) -> None:
    """A round measures "alone" only once the slow partner's backlog of the round before has gone out."""
    def drained() -> bool:
        _wake(queue)
        return not Delivery.objects.filter(endpoint=slow, status__in=Delivery.OPEN_STATUSES).exists()

    wait_until(drained, timeout=60, interval=0.5, message="the slow partner's backlog")
