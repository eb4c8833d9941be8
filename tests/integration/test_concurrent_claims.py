"""Many senders claiming at once on PostgreSQL: every due delivery goes to exactly one of them."""

import threading
import time

import pytest
from django.db import connection

from deliveries.models import Delivery
from deliveries.sender import deliveries_claim_due
from events.models import Event, EventType
from tests.factories import EventFactory, PartnerFactory, PlayerFactory, PostbackEndpointFactory
from tests.support.services import require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SENDERS, DELIVERIES, BATCH = 6, 300, 7


def test_concurrent_claims_never_hand_a_delivery_to_two_senders(settings):
    require_postgres()
    # Every delivery may be out at once here: the endpoint's own cap is not what this test is about.
    settings.POSTBACK_ENDPOINT_CONCURRENCY = DELIVERIES
    # An earlier transactional test's flush may have removed the seeded types.
    EventType.objects.get_or_create(slug=EventType.REGISTRATION, defaults={"name": "Registration", "is_builtin": True})
    partner = PartnerFactory()
    endpoint = PostbackEndpointFactory(partner=partner, event_types=[EventType.REGISTRATION])
    player = PlayerFactory()
    events = Event.objects.bulk_create(
        EventFactory.build(partner=partner, player=player, type_id=EventType.REGISTRATION) for _ in range(DELIVERIES)
    )
    Delivery.objects.bulk_create(
        Delivery(event=event, endpoint=endpoint, partner=partner, event_type_id=EventType.REGISTRATION)
        for event in events
    )
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(SENDERS)

    def sender(name: str) -> None:
        mine = claimed.setdefault(name, [])
        try:
            start.wait(timeout=30)
            deadline = time.monotonic() + 30
            # An empty claim is no end: another sender may hold the endpoint's row for a moment (SKIP LOCKED).
            # Each goes on until every delivery is claimed, bounded in time and in claims.
            for _ in range(DELIVERIES * 20):
                if sum(map(len, claimed.values())) >= DELIVERIES or time.monotonic() > deadline:
                    break
                batch = deliveries_claim_due(worker=name, limit=BATCH)
                mine.extend(batch)
                if not batch:
                    time.sleep(0.002)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, args=(f"sender-{n}",)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    every_claim = [pk for batch in claimed.values() for pk in batch]
    assert len(every_claim) == len(set(every_claim)) == DELIVERIES
    assert sum(1 for batch in claimed.values() if batch) > 1, "the senders did not actually overlap"
    holders = dict(Delivery.objects.values_list("id", "claimed_by"))
    assert all(holders[pk] == name for name, batch in claimed.items() for pk in batch)
