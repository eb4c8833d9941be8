"""A player's postbacks reach the partner in the order of its events, across retries, with real workers.

Two Celery worker processes send to a local partner that refuses every third
request; each of many players has a registration and two deposits. Whatever
is retried, the partner never receives a player's later event before an
earlier one has been answered with success, and every postback arrives.
"""

import uuid
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from deliveries.models import Delivery
from deliveries.services import deliveries_create_for_events
from events.models import EventType
from postback_platform.celery import app as celery_app
from tests.factories import EventFactory, PartnerFactory, PlayerFactory, PostbackEndpointFactory
from tests.support.partner import partner_server
from tests.support.processes import celery_worker_logging_to, child_env, wait_until
from tests.support.services import child_database_url, redis_url, require_postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]

PLAYERS = 30
KINDS = (EventType.REGISTRATION, EventType.DEPOSIT, EventType.DEPOSIT)


def _wake(queue: str) -> None:
    celery_app.send_task("deliveries.tasks.send_due_deliveries", queue=queue)


def test_each_players_postbacks_arrive_in_order_through_retries(tmp_path, sender_asleep):
    require_postgres()
    queue = f"it-{uuid.uuid4().hex[:8]}"
    env = child_env(
        DATABASE_URL=child_database_url(), CELERY_BROKER_URL=redis_url(), POSTBACK_ALLOWED_NETWORKS="127.0.0.0/8",
        POSTBACK_RETRY_SCHEDULE="0.3", LOG_LEVEL="WARNING",
    )
    refusing_every_third = ["503", 200, 200] * (PLAYERS * len(KINDS))
    with partner_server(script=refusing_every_third) as partner, \
            celery_worker_logging_to(tmp_path / "one.log", queues=queue, env=env), \
            celery_worker_logging_to(tmp_path / "two.log", queues=queue, env=env):
        acme = PartnerFactory(slug="acme")
        PostbackEndpointFactory(partner=acme, url_template=partner.url + "/pb", circuit_failure_threshold=0,
                                event_types=[EventType.REGISTRATION, EventType.DEPOSIT])
        # given: each player's events, stored as ingest stores them
        started = timezone.now() - timedelta(minutes=1)
        order: dict[str, tuple[str, int]] = {}
        for p in range(PLAYERS):
            player = PlayerFactory()
            events = [
                EventFactory(partner=acme, player=player, type_id=kind, occurred_at=started + timedelta(seconds=n),
                             amount=Decimal("10.00") if kind == EventType.DEPOSIT else None,
                             currency="EUR" if kind == EventType.DEPOSIT else "")
                for n, kind in enumerate(KINDS)
            ]
            for n, delivery in enumerate(sorted(deliveries_create_for_events(events=events), key=lambda d: d.pk)):
                order[str(delivery.pk)] = (player.pk, n)

        # when
        def all_delivered() -> bool:
            _wake(queue)
            return not Delivery.objects.exclude(status="delivered").exists()

        wait_until(all_delivered, timeout=90, interval=0.3, message="every postback delivered")
        received = partner.webhook_ids()

    # then: per player, arrivals never step back to an earlier event, and some were retried
    arrivals: dict[str, list[int]] = defaultdict(list)
    for webhook_id in received:
        player, n = order[webhook_id]
        arrivals[player].append(n)
    assert len(arrivals) == PLAYERS
    assert all(sequence == sorted(sequence) and set(sequence) == {0, 1, 2} for sequence in arrivals.values()), arrivals
    assert len(received) > len(order), "no postback was refused and retried"
