"""The listening sender SIGKILLed while the platform posts events: nothing is lost, and ingest notices.

Real gunicorn, a Celery worker and beat, and ``manage.py send_postbacks``
run against this test's PostgreSQL and a Redis of its own. While the
listener is up, ingest wakes it with NOTIFY and publishes no Celery
wake-up. Once it is killed its advertisement lapses within its TTL, and
ingest goes back to waking Celery workers; what was committed in between
is sent by beat's claim. Started again, it advertises itself again.
"""

import threading
import time

import pytest
import redis

from deliveries.listener import ADVERTISEMENT_KEY, ADVERTISEMENT_TTL_SECONDS
from deliveries.models import Delivery
from events.models import Event
from tests.factories import PartnerFactory, PostbackEndpointFactory
from tests.support.partner import partner_server
from tests.support.processes import stop_process_group, wait_until
from tests.support.stack import celery_beat, gunicorn, kill_group, start_listening_sender, start_worker, tail

from .clients import post_continuously, stop_posting, wait_until_every_event_is_delivered, warm_up

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_killed_listening_sender_loses_nothing_and_ingest_falls_back_to_celery_until_it_is_back(
    stack_env, own_redis, workdir, platform_key
):
    shared_cache = redis.Redis.from_url(stack_env["REDIS_URL"])

    def advertised() -> bool:
        return bool(shared_cache.keys(f"*{ADVERTISEMENT_KEY}"))

    with (
        partner_server() as partner,
        gunicorn(stack_env, workdir) as base_url,
        celery_beat(stack_env, workdir),
    ):
        PostbackEndpointFactory(partner=PartnerFactory(slug="s"), url_template=partner.url + "/pb?e={event_id}")
        sender = start_listening_sender(stack_env, workdir, name="first")
        worker = start_worker(stack_env, workdir, name="w")
        try:
            wait_until(advertised, timeout=30, message=f"the sender to advertise\n{tail(workdir / 'sender-first.log')}")
            warm_up(base_url=base_url, key=platform_key, partner="s")
            stop = threading.Event()
            answers, clients = post_continuously(base_url=base_url, key=platform_key, partner="s", clients=2, stop=stop)
            time.sleep(1.5)
            kill_group(sender)
            killed_at = time.monotonic()
            wait_until(lambda: not advertised(), timeout=ADVERTISEMENT_TTL_SECONDS + 5,
                       message="the dead sender's advertisement to lapse")
            lapsed_after = time.monotonic() - killed_at
            time.sleep(1.5)  # ingest wakes the Celery worker meanwhile
            sender = start_listening_sender(stack_env, workdir, name="second")
            wait_until(advertised, timeout=30, message=f"the new sender to advertise\n{tail(workdir / 'sender-second.log')}")
            time.sleep(1.5)
            stop_posting(stop, clients)
            wait_until_every_event_is_delivered(log=workdir / "worker-w.log")
        finally:
            stop_process_group(sender, grace_seconds=5)
            stop_process_group(worker, grace_seconds=2)
        received = set(partner.webhook_ids())

    statuses = answers.all_statuses()
    stored = answers.stored()
    print(f"{len(statuses)} posts; advertisement lapsed {lapsed_after:.1f} s after the kill; "
          f"partner received {len(received)} distinct postbacks")
    assert set(statuses) == {201}
    assert lapsed_after <= ADVERTISEMENT_TTL_SECONDS + 1
    assert Event.objects.filter(event_id__in=stored).count() == len(stored)
    assert len(received) == Delivery.objects.count()
    assert "Stopped." in (workdir / "sender-second.log").read_text(), "a SIGTERM stops the sender cleanly"
