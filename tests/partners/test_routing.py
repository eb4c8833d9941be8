import pytest

from deliveries.services import deliveries_create_for_events
from partners.models import Partner
from tests.factories import EventFactory, PartnerFactory, PlayerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def _deliveries_for(event):
    return {(d.endpoint_id, d.event_type_id) for d in deliveries_create_for_events(events=[event])}


def test_affiliate_endpoint_gets_only_its_own_players_events():
    mine, other = PartnerFactory(slug="mine"), PartnerFactory(slug="other")
    endpoint = PostbackEndpointFactory(partner=mine, event_types=["registration"])
    own_event = EventFactory(partner=mine, type_id="registration")
    foreign_event = EventFactory(partner=other, type_id="registration")
    unattributed = EventFactory(partner=None, type_id="registration")

    assert _deliveries_for(own_event) == {(endpoint.pk, "registration")}
    assert _deliveries_for(foreign_event) == set()
    assert _deliveries_for(unattributed) == set()


def test_global_endpoint_gets_every_event_including_unattributed():
    analytics = PartnerFactory(slug="analytics", scope=Partner.Scope.ALL)
    endpoint = PostbackEndpointFactory(partner=analytics, event_types=["registration"])

    assert _deliveries_for(EventFactory(partner=None)) == {(endpoint.pk, "registration")}


def test_first_deposit_goes_to_ftd_and_deposit_subscribers_with_their_own_type():
    partner = PartnerFactory()
    ftd = PostbackEndpointFactory(partner=partner, event_types=["first_deposit"])
    deposits = PostbackEndpointFactory(partner=partner, event_types=["deposit"])
    both = PostbackEndpointFactory(partner=partner, event_types=["deposit", "first_deposit"])
    player = PlayerFactory(partner=partner)
    first = EventFactory(player=player, partner=partner, type_id="deposit", is_first_deposit=True, amount=10)
    second = EventFactory(player=player, partner=partner, type_id="deposit", amount=10)

    assert _deliveries_for(first) == {
        (ftd.pk, "first_deposit"), (deposits.pk, "deposit"), (both.pk, "first_deposit")
    }
    assert _deliveries_for(second) == {(deposits.pk, "deposit"), (both.pk, "deposit")}


def test_explicit_first_deposit_event_also_reaches_deposit_subscribers():
    partner = PartnerFactory()
    deposits = PostbackEndpointFactory(partner=partner, event_types=["deposit"])
    event = EventFactory(partner=partner, type_id="first_deposit", is_first_deposit=True, amount=10)

    assert _deliveries_for(event) == {(deposits.pk, "deposit")}


def test_repeated_explicit_first_deposit_is_not_a_first_deposit_again():
    partner = PartnerFactory()
    ftd = PostbackEndpointFactory(partner=partner, event_types=["first_deposit"])
    repeat = EventFactory(partner=partner, type_id="first_deposit", is_first_deposit=False, amount=10)

    assert (ftd.pk, "first_deposit") not in _deliveries_for(repeat)


def test_filters_narrow_what_an_endpoint_receives():
    partner = PartnerFactory()
    endpoint = PostbackEndpointFactory(
        partner=partner,
        event_types=["deposit"],
        filters=[{"field": "params.country", "op": "in", "value": ["DE"]}],
    )
    german = EventFactory(partner=partner, type_id="deposit", amount=5, params={"country": "DE"})
    french = EventFactory(partner=partner, type_id="deposit", amount=5, params={"country": "FR"})

    assert _deliveries_for(german) == {(endpoint.pk, "deposit")}
    assert _deliveries_for(french) == set()


def test_paused_endpoint_still_gets_a_held_delivery():
    partner = PartnerFactory(is_active=False)
    endpoint = PostbackEndpointFactory(partner=partner, event_types=["registration"], is_active=False)

    (delivery,) = deliveries_create_for_events(events=[EventFactory(partner=partner)])

    assert delivery.endpoint_id == endpoint.pk
    assert delivery.status == "pending"


def test_filters_see_the_params_a_deposit_inherits_from_its_registration(platform_client):
    acme = PartnerFactory(slug="acme")
    wanted = PostbackEndpointFactory(
        partner=acme, event_types=["deposit"], filters=[{"field": "params.sub1", "op": "eq", "value": "campaign-7"}]
    )
    base = {"player_id": "p-1", "occurred_at": "2026-11-23T10:00:00Z"}
    platform_client.post("/api/v1/events/", {**base, "event_id": "r-1", "type": "registration", "partner": "acme",
                                             "params": {"sub1": "campaign-7"}}, format="json")

    deposit = platform_client.post(
        "/api/v1/events/", {**base, "event_id": "d-1", "type": "deposit", "amount": "10", "currency": "EUR"},
        format="json",
    ).json()

    assert [delivery["endpoint"] for delivery in deposit["deliveries"]] == [wanted.pk]


def test_an_endpoint_can_take_only_deposits_that_are_not_first_deposits(platform_client):
    acme = PartnerFactory(slug="acme")
    repeat_only = PostbackEndpointFactory(
        partner=acme, event_types=["deposit"], filters=[{"field": "is_first_deposit", "op": "eq", "value": False}]
    )
    base = {"player_id": "p-1", "type": "deposit", "amount": "10", "currency": "EUR", "partner": "acme"}

    first = platform_client.post("/api/v1/events/", {**base, "event_id": "d-1"}, format="json").json()
    second = platform_client.post("/api/v1/events/", {**base, "event_id": "d-2"}, format="json").json()

    assert first["is_first_deposit"] and first["deliveries"] == []
    assert [delivery["endpoint"] for delivery in second["deliveries"]] == [repeat_only.pk]
