"""One player's postbacks reach an endpoint in turn, in the order of their events; other players never wait."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from deliveries.models import Delivery
from deliveries.ordering import player_order_key
from deliveries.selectors import sendable_backlog
from deliveries.sender import deliveries_claim_due, deliveries_send_due, seconds_until_next_due
from deliveries.services import deliveries_create_for_events
from events.models import EventType
from ingest.erasure import player_erase
from ingest.reversals import event_reverse
from tests.factories import EventFactory, PartnerFactory, PlayerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

@pytest.fixture
def partner(db):
    return PartnerFactory(slug="acme")


@pytest.fixture
def endpoint(partner):
    return PostbackEndpointFactory(partner=partner, event_types=[EventType.REGISTRATION, EventType.DEPOSIT])


def _events(partner, player, *kinds, start=None):
    start = start or timezone.now() - timedelta(minutes=5)
    return [
        EventFactory(partner=partner, player=player, type_id=kind, occurred_at=start + timedelta(seconds=n),
                     amount=Decimal("10.00") if kind == EventType.DEPOSIT else None,
                     currency="EUR" if kind == EventType.DEPOSIT else "")
        for n, kind in enumerate(kinds)
    ]


def _claim(**kwargs) -> list[int]:
    return sorted(deliveries_claim_due(worker="w", limit=100, **kwargs))


def test_a_players_later_postback_waits_while_an_earlier_one_is_open(partner, endpoint):
    # given: two players with a registration and a deposit each
    one, two = PlayerFactory(), PlayerFactory()
    first, second = deliveries_create_for_events(events=_events(partner, one, "registration", "deposit"))
    other = deliveries_create_for_events(events=_events(partner, two, "registration"))

    # when / then: each player's first goes; the second of the first player waits for it
    assert _claim() == sorted([first.pk, other[0].pk])
    assert _claim() == []
    Delivery.objects.filter(pk=first.pk).update(status="delivered", claimed_by="", claimed_until=None)
    assert _claim() == [second.pk]


def test_a_retry_in_backoff_holds_back_the_players_later_postbacks(partner, endpoint):
    first, second = deliveries_create_for_events(events=_events(partner, PlayerFactory(), "registration", "deposit"))
    Delivery.objects.filter(pk=first.pk).update(status="retrying", next_attempt_at=timezone.now() + timedelta(minutes=1))

    assert _claim() == []
    assert _claim(now=timezone.now() + timedelta(minutes=2)) == [first.pk]
    assert second.pk not in _claim(now=timezone.now() + timedelta(minutes=2))


def test_a_postback_waiting_behind_a_retry_is_not_due_so_an_idle_sender_hands_over(partner, endpoint, settings):
    # given: the player's first postback retries in a minute; its second is due now but must wait for it
    first, second = deliveries_create_for_events(events=_events(partner, PlayerFactory(), "registration", "deposit"))
    Delivery.objects.filter(pk=first.pk).update(status="retrying", next_attempt_at=timezone.now() + timedelta(minutes=1))
    settings.POSTBACK_SENDER_TIME_BUDGET_SECONDS = 30

    # then: the next due time is the retry's, and a sender finds nothing to wait for (not polling out its budget)
    assert 50 < seconds_until_next_due() <= 60
    assert deliveries_send_due(worker="w") == 0
    assert Delivery.objects.get(pk=second.pk).attempt_count == 0


def test_a_failed_or_cancelled_earlier_postback_no_longer_holds_back(partner, endpoint):
    first, second = deliveries_create_for_events(events=_events(partner, PlayerFactory(), "registration", "deposit"))
    Delivery.objects.filter(pk=first.pk).update(status="failed", next_attempt_at=None)

    assert _claim() == [second.pk]


def test_a_batch_listing_a_players_events_out_of_order_is_sent_in_the_order_they_happened(partner, endpoint):
    player = PlayerFactory()
    deposit, registration = _events(partner, player, "deposit", "registration", start=timezone.now() - timedelta(minutes=5))
    registration.occurred_at = deposit.occurred_at - timedelta(minutes=1)
    registration.save()

    deliveries = deliveries_create_for_events(events=[deposit, registration])

    by_type = {delivery.event_type_id: delivery.pk for delivery in deliveries}
    assert by_type["registration"] < by_type["deposit"]
    assert _claim() == [by_type["registration"]]


def test_an_endpoint_may_opt_out_for_throughput(partner, endpoint):
    endpoint.ordered_per_player = False
    endpoint.save()
    deliveries = deliveries_create_for_events(events=_events(partner, PlayerFactory(), "registration", "deposit"))

    assert _claim() == sorted(delivery.pk for delivery in deliveries)


def test_a_postback_in_its_hold_period_holds_back_only_itself(partner, endpoint):
    endpoint.hold_hours, endpoint.hold_event_types = 72, [EventType.REGISTRATION]
    endpoint.save()
    held, deposit = deliveries_create_for_events(events=_events(partner, PlayerFactory(), "registration", "deposit"))

    assert Delivery.objects.get(pk=held.pk).held_until is not None
    assert _claim() == [deposit.pk]


def test_a_reversal_waits_for_its_original_still_out(partner, endpoint):
    (original,) = deliveries_create_for_events(events=_events(partner, PlayerFactory(), "deposit"))
    assert _claim() == [original.pk]  # out with a sender

    outcome = event_reverse(event=original.event, reason="chargeback")

    (reversal,) = outcome.event.deliveries.all()
    assert reversal.order_key == Delivery.objects.get(pk=original.pk).order_key
    assert _claim(now=timezone.now() + timedelta(seconds=1)) == []


def test_the_key_is_a_keyed_digest_and_erasure_drops_it(partner, endpoint):
    player = PlayerFactory()
    (delivery,) = deliveries_create_for_events(events=_events(partner, player, "registration"))
    Delivery.objects.filter(pk=delivery.pk).update(status="delivered")

    assert Delivery.objects.get(pk=delivery.pk).order_key == player_order_key(player.pk) != player_order_key("x")
    player_erase(player_id=player.pk)
    assert Delivery.objects.get(pk=delivery.pk).order_key is None


def test_a_postback_waiting_behind_a_retry_is_neither_in_the_backlog_nor_due_in_the_admin(partner, endpoint, client):
    first, second = deliveries_create_for_events(events=_events(partner, PlayerFactory(), "registration", "deposit"))
    Delivery.objects.filter(pk=first.pk).update(status="retrying", next_attempt_at=timezone.now() + timedelta(hours=2))
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-only"))

    due = client.get("/admin/deliveries/delivery/", {"health": "due"}).context["cl"].result_list

    assert sendable_backlog().due == 0 and sendable_backlog().oldest_due_at is None
    assert list(due) == []
    Delivery.objects.filter(pk=first.pk).update(status="delivered", next_attempt_at=None)
    assert sendable_backlog().due == 1
