"""Celery workers SIGKILLed at random while they deliver: every delivery still ends delivered.

Two worker processes send a backlog to a slow local partner while the test
kills one of them (the whole process group: no warm shutdown, no ack) every
second or so and starts a replacement. The database is the source of truth:
claims of a dead worker lapse with their lease and beat starts senders again.
Duplicates at the partner are bounded by what the killed workers had in
flight, and a duplicate carries the same ``webhook-id``.
"""

import collections
import time
from unittest import mock

import pytest

from deliveries.models import Delivery
from deliveries.services import deliveries_create_for_events
from deliveries.wakeup import SENDER_WAKE_UP
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.partner import partner_server
from tests.support.processes import stop_process_group, wait_until
from tests.support.stack import celery_beat, kill_group, start_worker, tail

from .conftest import FAST_RECOVERY

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DELIVERIES = 480
KILLS = 5
WORKER_CONCURRENCY = 2


def test_every_delivery_ends_delivered_when_workers_are_killed_repeatedly(stack_env, workdir, rng):
    with partner_server(delay=0.4) as partner:
        endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="k"), url_template=partner.url + "/pb?e={event_id}")
        events = [EventFactory(partner=endpoint.partner) for _ in range(DELIVERIES)]
        # The wake-up would run the sender here, in the test process (tasks are eager in tests):
        # the workers, woken by beat, must do all of the sending.
        with mock.patch.object(SENDER_WAKE_UP, "apply_async"):
            ids = {str(d.pk) for d in deliveries_create_for_events(events=events)}
        workers = [start_worker(stack_env, workdir, name=f"w{n}", concurrency=WORKER_CONCURRENCY) for n in range(2)]
        try:
            with celery_beat(stack_env, workdir):
                outstanding_at_kills = _kill_at_random(workers, stack_env, workdir, rng, partner=partner, total=len(ids))
                wait_until(
                    lambda: not Delivery.objects.exclude(status="delivered").exists(), timeout=90,
                    message=f"every delivery to be delivered\n{tail(workdir / 'worker-w0.log')}",
                )
        finally:
            for worker in workers:
                stop_process_group(worker, grace_seconds=2)
        received = partner.webhook_ids()

    counts = collections.Counter(received)
    duplicates = len(received) - len(counts)
    in_flight_per_kill = WORKER_CONCURRENCY * int(FAST_RECOVERY["POSTBACK_SENDER_BATCH_SIZE"])
    kills = len(outstanding_at_kills)
    print(f"ingested {len(ids)}, partner received {len(received)}, {duplicates} duplicates after {kills} kills; "
          f"deliveries outstanding at each kill: {outstanding_at_kills}")
    assert sum(1 for outstanding in outstanding_at_kills if outstanding > 0) >= 3, "kills must land mid-run"
    assert set(counts) == ids, "the partner must receive every delivery, and only those"
    assert duplicates <= kills * in_flight_per_kill
    assert Delivery.objects.filter(status="delivered").count() == len(ids)


def _kill_at_random(workers, env, workdir, rng, *, partner, total: int) -> list[int]:
    """SIGKILL a random worker KILLS times, 0.3–0.9 s apart, starting a fresh one each time.

    Returns how many deliveries the partner had not yet received at each kill.
    """
    wait_until(lambda: len(partner.received) > 0, timeout=30, message=f"a first postback\n{tail(workdir / 'beat.log')}")
    outstanding = []
    for kill in range(KILLS):
        time.sleep(rng.uniform(0.3, 0.9))
        victim = rng.randrange(len(workers))
        outstanding.append(total - len(set(partner.webhook_ids())))
        kill_group(workers[victim])
        workers[victim] = start_worker(env, workdir, name=f"w{victim}-{kill}", concurrency=WORKER_CONCURRENCY)
    return outstanding
