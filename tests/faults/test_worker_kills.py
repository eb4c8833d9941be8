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
from deliveries.tasks import SENDER_WAKE_UP
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
    in_flight_per_kill = WORKER_CONCURRENCY * int(FAST_RECOVERY["POSTBACK_SENDER_MAX_IN_FLIGHT"])
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


SHIPPED_LEASE_SECONDS = 30


def test_a_killed_workers_claims_are_sent_again_within_a_minute_with_the_shipped_lease(stack_env, workdir):
    # given: the shipped lease and connect timeout, one worker holding a batch in flight at a slow partner
    env = {name: value for name, value in stack_env.items() if name not in ("POSTBACK_LEASE_SECONDS", "DB_CONNECT_TIMEOUT")}
    with partner_server(delay=0.5) as partner:
        endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="k"), url_template=partner.url + "/pb?e={event_id}")
        events = [EventFactory(partner=endpoint.partner) for _ in range(40)]
        with mock.patch.object(SENDER_WAKE_UP, "apply_async"):
            ids = {str(d.pk) for d in deliveries_create_for_events(events=events)}
        doomed = start_worker(env, workdir, name="doomed")
        survivor = None
        try:
            with celery_beat(env, workdir):
                wait_until(lambda: partner.received, timeout=30, message=f"a first postback\n{tail(workdir / 'beat.log')}")

                # when: it is SIGKILLed, and another worker takes over
                kill_group(doomed)
                killed_at = time.time()
                held = {str(pk) for pk in Delivery.objects.filter(status__in=Delivery.OPEN_STATUSES)
                        .exclude(claimed_by="").values_list("pk", flat=True)}
                survivor = start_worker(env, workdir, name="survivor")
                wait_until(
                    lambda: not Delivery.objects.exclude(status="delivered").exists(), timeout=SHIPPED_LEASE_SECONDS + 45,
                    message=f"every delivery to be delivered\n{tail(workdir / 'worker-survivor.log')}",
                )
        finally:
            for worker in (doomed, survivor):
                if worker is not None:
                    stop_process_group(worker, grace_seconds=2)
        sent_last = {}
        for request in partner.received:
            sent_last[request["webhook-id"]] = request["at"]

    # then: what the dead worker held went out again once its lease ended, within a minute of the kill; none lost
    assert held, "the kill must land while the worker holds claims"
    delays = [sent_last[pk] - killed_at for pk in held]
    print(f"{len(held)} held by the killed worker, sent again {min(delays):.1f}-{max(delays):.1f} s after the kill")
    assert set(sent_last) == ids
    assert SHIPPED_LEASE_SECONDS - 5 < min(delays) and max(delays) < 60
