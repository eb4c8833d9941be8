from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from werkzeug import Response

from deliveries.models import Delivery
from deliveries.sender import deliveries_send_due
from deliveries.services import deliveries_create_for_events
from events.models import Event, EventType
from ingest.reversals import ReversalError, event_reverse
from reporting.models import DailyMoney
from reporting.rollup import stats_rollup_refresh
from tests.factories import EventFactory, PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

REVERSAL_URL = (
    "/pb?type={event_type}&of={original_event_id}&was={original_event_type}&why={reversal_reason}"
    "&claw={payout}&click={click_id}"
)


@pytest.fixture
def partner(db):
    return PartnerFactory(slug="acme")


@pytest.fixture
def endpoint(partner, partner_url):
    return PostbackEndpointFactory(
        partner=partner, url_template=partner_url(REVERSAL_URL), event_types=[EventType.FIRST_DEPOSIT],
    )


@pytest.fixture
def first_deposit(partner):
    return EventFactory(
        partner=partner, type_id=EventType.DEPOSIT, is_first_deposit=True, click_id="clk-9",
        amount=Decimal("40.00"), currency="EUR",
    )


def _received(httpserver) -> list[dict]:
    return [{key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}
            for request, _ in httpserver.log]


def test_a_delivered_first_deposit_is_followed_by_a_reversal_with_its_payout_to_claw_back(
    httpserver, partner, endpoint, first_deposit
):
    # given: the partner earned 120.00 for the first deposit and received it
    PayoutRuleFactory(partner=partner, event_type_id=EventType.FIRST_DEPOSIT, value=Decimal("120.00"))
    httpserver.expect_request("/pb").respond_with_response(Response("ok"))
    deliveries_create_for_events(events=[first_deposit])
    deliveries_send_due(worker="test")

    # when
    reversal = event_reverse(event=first_deposit, reason="chargeback")
    deliveries_send_due(worker="test")

    # then
    assert reversal.created and reversal.cancelled == 0
    original, follow_up = _received(httpserver)
    assert original["type"] == "first_deposit" and "of" not in original
    assert follow_up == {
        "type": "reversal", "of": first_deposit.event_id, "was": "first_deposit", "why": "chargeback",
        "claw": "120.00", "click": "clk-9",
    }
    assert Delivery.objects.get(event=reversal.event).status == Delivery.Status.DELIVERED


def test_a_postback_not_yet_sent_is_cancelled_instead_of_followed(endpoint, first_deposit):
    # given
    (pending,) = deliveries_create_for_events(events=[first_deposit])

    # when
    reversal = event_reverse(event=first_deposit, reason="fraud")

    # then
    pending.refresh_from_db()
    assert pending.status == Delivery.Status.CANCELLED
    assert "reversed (fraud)" in pending.last_error
    assert reversal.cancelled == 1
    assert not Delivery.objects.filter(event=reversal.event).exists()


def test_a_postback_being_sent_right_now_gets_the_reversal_too(endpoint, first_deposit):
    # given: a sender holds the original's delivery
    (in_flight,) = deliveries_create_for_events(events=[first_deposit])
    Delivery.objects.filter(pk=in_flight.pk).update(claimed_until=timezone.now() + timedelta(seconds=30))

    # when
    reversal = event_reverse(event=first_deposit, reason="chargeback")

    # then
    in_flight.refresh_from_db()
    assert in_flight.status == Delivery.Status.PENDING
    assert Delivery.objects.get(event=reversal.event).event_type_id == EventType.REVERSAL


def test_reversing_twice_returns_the_first_reversal_and_adds_nothing(endpoint, first_deposit):
    # given
    first = event_reverse(event=first_deposit, reason="chargeback")

    # when
    again = event_reverse(event=first_deposit, reason="fraud")

    # then
    assert not again.created
    assert again.event.pk == first.event.pk and again.event.reversal_reason == "chargeback"
    assert Event.objects.filter(reverses=first_deposit).count() == 1


def test_a_reversal_cannot_be_reversed(first_deposit):
    reversal = event_reverse(event=first_deposit, reason="cancelled")

    with pytest.raises(ReversalError, match="itself a reversal"):
        event_reverse(event=reversal.event, reason="cancelled")


def test_statistics_stop_counting_a_reversed_deposit_and_its_payout(partner, first_deposit):
    # given
    PayoutRuleFactory(partner=partner, event_type_id=EventType.FIRST_DEPOSIT, value=Decimal("120.00"))
    EventFactory(partner=partner, type_id=EventType.DEPOSIT, amount=Decimal("10.00"), currency="EUR")
    stats_rollup_refresh(rebuild=True)
    assert _deposit_sum() == Decimal("50.00")

    # when
    event_reverse(event=first_deposit, reason="chargeback")
    stats_rollup_refresh(wait=True)

    # then
    assert _deposit_sum() == Decimal("10.00")
    assert not DailyMoney.objects.filter(payout_sum__gt=0).exists()


def _deposit_sum() -> Decimal:
    return sum((row.deposit_sum for row in DailyMoney.objects.filter(currency="EUR")), Decimal(0))


def test_a_reversal_id_taken_by_a_platform_event_is_refused_with_the_reason(first_deposit):
    EventFactory(event_id=f"reversal-of-{first_deposit.pk}")

    with pytest.raises(ReversalError, match="taken by an event the platform sent"):
        event_reverse(event=first_deposit, reason="fraud")

    first_deposit.refresh_from_db()
    assert first_deposit.reversed_at is None
