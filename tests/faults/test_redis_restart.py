"""Redis stopped and started again during ingestion and delivery.

The web app (real gunicorn) keeps answering 201: the event and its
deliveries are in PostgreSQL before any message is published, and a
broker that is down only costs the wake-up. Once Redis is back, beat and
the worker pick the backlog up from the database; every delivery goes out.

The worker runs under a supervisor that starts it again if it exits, as
production does: Celery's Redis transport can stop a worker for good on a
lost connection ("Unrecoverable error: AttributeError ... 'hostname'",
celery/kombu#582), so a worker without one would not come back.
"""

import threading
from unittest import mock

import pytest

from accounts.throttling import ApiKeyRateThrottle
from deliveries.models import Delivery
from events.models import Event
from tests.factories import PartnerFactory, PostbackEndpointFactory
from tests.support.partner import partner_server
from tests.support.processes import wait_until
from tests.support.stack import SupervisedWorker, celery_beat, gunicorn, tail

from .clients import post_continuously, stop_posting, through_an_outage, wait_until_every_event_is_delivered, warm_up

pytestmark = pytest.mark.faults


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_api_answers_201_while_redis_is_down_and_everything_is_delivered_after(
    stack_env, own_redis, workdir, platform_key
):
    with (
        partner_server() as partner,
        gunicorn(stack_env, workdir) as base_url,
        SupervisedWorker(stack_env, workdir, name="w", concurrency=2) as worker,
        celery_beat(stack_env, workdir),
    ):
        PostbackEndpointFactory(partner=PartnerFactory(slug="r"), url_template=partner.url + "/pb?e={event_id}")
        warm_up(base_url=base_url, key=platform_key, partner="r")
        wait_until(lambda: partner.received, timeout=30, message=f"a first delivery\n{tail(workdir / 'beat.log')}")
        stop = threading.Event()
        answers, clients = post_continuously(base_url=base_url, key=platform_key, partner="r", clients=3, stop=stop)
        down_answers, _ = through_an_outage(answers, stop_service=own_redis.stop, start_service=own_redis.start)
        stop_posting(stop, clients)
        wait_until_every_event_is_delivered(log=workdir / "worker-w.log")
        received = set(partner.webhook_ids())

    statuses = answers.all_statuses()
    print(f"{len(statuses)} posts, {len(down_answers)} while Redis was down; partner received {len(received)}; "
          f"worker restarted {worker.restarts} time(s) by its supervisor")
    assert len(down_answers) >= 10, "the clients must have posted while Redis was down"
    assert set(statuses) == {201}, f"answers other than 201: {sorted(set(statuses))}\n{tail(workdir / 'gunicorn.log')}"
    assert set(Event.objects.exclude(event_id__startswith="warm-up").values_list("event_id", flat=True)) == answers.stored()
    assert received == {str(pk) for pk in Delivery.objects.values_list("pk", flat=True)}


@pytest.mark.django_db
def test_the_rate_limit_lets_events_through_while_its_cache_is_unreachable(platform_client):
    # The in-process twin of the test above: the throttle's cache raises as Django's Redis cache does when down.
    broken = mock.Mock(**{"get.side_effect": ConnectionError("Error 111 connecting to 127.0.0.1:6379")})
    body = {"event_id": "e-1", "type": "registration", "player_id": "p-1"}

    with mock.patch.object(ApiKeyRateThrottle, "cache", broken):
        response = platform_client.post("/api/v1/events/", body, format="json")

    assert response.status_code == 201
    assert broken.get.called
