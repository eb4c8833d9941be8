"""Hold periods: an endpoint's postbacks of chosen types wait out a chargeback window, and a reversal cancels them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from werkzeug import Response

from deliveries.models import Delivery
from deliveries.sender import deliveries_claim_due, deliveries_send_due
from deliveries.services import deliveries_create_for_events, deliveries_resend
from events.models import Event, EventType
from ingest.reversals import event_reverse
from partners.models import QualificationRule
from tests.factories import EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

HOLD_HOURS = 72


@pytest.fixture
def partner(db):
    return PartnerFactory(slug="acme")


@pytest.fixture
def endpoint(partner, partner_url):
    return PostbackEndpointFactory(
        partner=partner, url_template=partner_url("/pb?t={event_type}&c={click_id}"),
        event_types=[EventType.REGISTRATION, EventType.FIRST_DEPOSIT],
        hold_hours=HOLD_HOURS, hold_event_types=[EventType.FIRST_DEPOSIT],
    )


def _first_deposit(partner, *, occurred_at=None):
    return EventFactory(
        partner=partner, type_id=EventType.DEPOSIT, is_first_deposit=True, amount=Decimal("50.00"), currency="EUR",
        occurred_at=occurred_at or timezone.now(),
    )


def test_a_held_type_waits_for_the_hold_period_from_when_its_event_happened(partner, endpoint):
    happened = timezone.now() - timedelta(hours=2)

    (delivery,) = deliveries_create_for_events(events=[_first_deposit(partner, occurred_at=happened)])

    delivery.refresh_from_db()
    release = happened + timedelta(hours=HOLD_HOURS)
    assert (delivery.status, delivery.held_until, delivery.next_attempt_at) == ("pending", release, release)
    assert "hold period" in delivery.held_reason
    assert deliveries_claim_due(worker="now", limit=10) == []
    assert deliveries_claim_due(worker="later", limit=10, now=release + timedelta(seconds=1)) == [delivery.pk]


def test_other_types_and_events_reported_after_their_window_go_out_at_once(partner, endpoint):
    registration = EventFactory(partner=partner, type_id=EventType.REGISTRATION)
    late = _first_deposit(partner, occurred_at=timezone.now() - timedelta(hours=HOLD_HOURS + 1))

    deliveries = deliveries_create_for_events(events=[registration, late])

    assert [delivery.held_until for delivery in deliveries] == [None, None]
    assert sorted(deliveries_claim_due(worker="now", limit=10)) == sorted(delivery.pk for delivery in deliveries)


def test_a_reversal_during_the_hold_cancels_the_postback_and_sends_no_reversal(httpserver, partner, endpoint):
    # given: a first deposit held by the endpoint
    first_deposit = _first_deposit(partner)
    (held,) = deliveries_create_for_events(events=[first_deposit])

    # when: it is charged back inside the window, and the sender runs
    outcome = event_reverse(event=first_deposit, reason="chargeback")
    deliveries_send_due(worker="test")

    # then: nothing reached the partner; the held postback is cancelled, saying why
    held.refresh_from_db()
    assert outcome.cancelled == 1
    assert (held.status, held.next_attempt_at) == ("cancelled", None)
    assert "reversed (chargeback) before it was sent" in held.last_error
    assert not Delivery.objects.filter(event=outcome.event).exists()
    assert httpserver.log == []


def test_an_unreversed_postback_goes_out_when_its_hold_ends(httpserver, partner, endpoint):
    httpserver.expect_request("/pb").respond_with_response(Response("ok"))
    (delivery,) = deliveries_create_for_events(events=[_first_deposit(partner)])
    Delivery.objects.filter(pk=delivery.pk).update(
        held_until=timezone.now() - timedelta(seconds=1), next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    deliveries_send_due(worker="test")

    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.held_reason == ""
    assert len(httpserver.log) == 1


def test_an_open_circuit_never_probes_with_a_postback_still_in_its_hold(partner, endpoint):
    (held,) = deliveries_create_for_events(events=[_first_deposit(partner)])
    registration = EventFactory(partner=partner, type_id=EventType.REGISTRATION)
    (waiting,) = deliveries_create_for_events(events=[registration])
    Delivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    endpoint.circuit_opened_at = endpoint.circuit_next_probe_at = timezone.now() - timedelta(seconds=1)
    endpoint.save()

    assert deliveries_claim_due(worker="probe", limit=10) == [waiting.pk]
    assert held.pk not in deliveries_claim_due(worker="again", limit=10, now=timezone.now() + timedelta(hours=1))


def test_a_resend_keeps_the_hold(partner, endpoint):
    (delivery,) = deliveries_create_for_events(events=[_first_deposit(partner)])
    held_until = Delivery.objects.get(pk=delivery.pk).held_until

    deliveries_resend(queryset=Delivery.objects.filter(pk=delivery.pk))

    delivery.refresh_from_db()
    assert delivery.next_attempt_at == held_until


def test_the_status_api_shows_a_held_postback_with_its_release(platform_client, partner, endpoint):
    (delivery,) = deliveries_create_for_events(events=[_first_deposit(partner)])

    body = platform_client.get(f"/api/v1/deliveries/{delivery.pk}/").json()
    listed = platform_client.get(f"/api/v1/events/{delivery.event_id}/").json()["deliveries"][0]

    assert body["status"] == "pending" and body["held_until"] == listed["held_until"] is not None
    assert "hold period" in body["held_reason"]


def test_ingest_through_the_api_holds_what_the_endpoint_configured(platform_client, admin_client_api, partner):
    # given: an endpoint saved through the configuration API with a hold on first deposits
    created = admin_client_api.post("/api/v1/partners/acme/endpoints/", {
        "name": "CPA", "url_template": "https://partner.example/pb?c={click_id}",
        "event_types": ["registration", "first_deposit"], "hold_hours": 24, "hold_event_types": ["first_deposit"],
    }, format="json")
    assert created.status_code == 201, created.json()

    # when
    response = platform_client.post("/api/v1/events/", {
        "event_id": "dep-1", "type": "first_deposit", "player_id": "p-1", "partner": "acme", "amount": "25.00", "currency": "EUR",
    }, format="json")

    # then
    assert response.status_code == 201, response.json()
    (delivery,) = Delivery.objects.filter(event__event_id="dep-1")
    assert delivery.held_until is not None and delivery.held_until > timezone.now() + timedelta(hours=23)


@pytest.mark.parametrize("hold_types, message", [
    (["withdrawal"], "withdrawal is not among the event types this endpoint receives"),
    ("first_deposit", "must be a list of event types"),
])
def test_holding_a_type_the_endpoint_does_not_receive_is_refused_saying_which(admin_client_api, partner,
                                                                               hold_types, message):
    response = admin_client_api.post("/api/v1/partners/acme/endpoints/", {
        "name": "CPA", "url_template": "https://partner.example/pb", "event_types": ["first_deposit"],
        "hold_hours": 24, "hold_event_types": hold_types,
    }, format="json")

    assert response.status_code == 400
    assert message in str(response.json())


def test_a_charged_back_qualifying_deposit_reverses_the_held_cpa_too(platform_client, partner, endpoint):
    # given: a CPA rule met by a first deposit, and the endpoint holding its qualified postbacks
    QualificationRule.objects.create(partner=partner, name="CPA 20", currency="EUR",
                                     min_first_deposit=Decimal("20.00"))
    endpoint.event_types.add(EventType.objects.get(slug=EventType.QUALIFIED))
    endpoint.hold_event_types = [EventType.QUALIFIED]
    endpoint.save()
    for event in ({"event_id": "reg-7", "type": "registration"},
                  {"event_id": "dep-7", "type": "first_deposit", "amount": "25.00", "currency": "EUR"}):
        response = platform_client.post("/api/v1/events/", {**event, "player_id": "p-7", "partner": "acme"},
                                        format="json")
        assert response.status_code == 201, response.json()
    (qualified,) = Event.objects.filter(type_id=EventType.QUALIFIED, player_id="p-7")
    (held,) = qualified.deliveries.all()
    assert held.held_until is not None

    # when: the deposit is charged back inside the hold
    response = platform_client.post("/api/v1/events/reverse/", {"event_id": "dep-7", "reason": "chargeback"},
                                    format="json")

    # then: the qualification's event is reversed with it, and its held postback never goes out
    assert response.status_code == 201, response.json()
    qualified.refresh_from_db()
    held.refresh_from_db()
    assert qualified.reversed_at is not None
    assert Event.objects.get(reverses=qualified).reversal_reason == "chargeback"
    assert held.status == "cancelled"
    assert not Delivery.objects.filter(event__reverses=qualified).exists()
