"""The preview is the request the partner receives: one code path, equal for every stored event."""

import json
from decimal import Decimal

import pytest
from werkzeug import Response

from deliveries.sender import deliveries_send_due
from deliveries.services import endpoint_send_test, template_preview
from events.models import Event
from tests.factories import PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

EVENTS = [
    {"event_id": "r-1", "type": "registration", "player_id": "p-1", "partner": "acme", "click_id": "clk-1",
     "params": {"sub1": "campaign-7", "sub2": "é|x"}},
    {"event_id": "d-1", "type": "deposit", "player_id": "p-1", "amount": "120.00", "currency": "EUR"},
    {"event_id": "d-2", "type": "deposit", "player_id": "p-1", "amount": "30.50", "currency": "EUR",
     "params": {"sub1": "own"}},
    {"event_id": "f-1", "type": "first_deposit", "player_id": "p-2", "partner": "acme", "amount": "15",
     "currency": "JPY"},
]


@pytest.fixture
def received(httpserver):
    requests = []

    def record(request):
        requests.append(request)
        return Response("OK")

    httpserver.expect_request("/pb").respond_with_handler(record)
    return requests


def test_preview_equals_the_request_received_for_every_stored_event(
    platform_client, admin_client_api, partner_url, received
):
    partner = PartnerFactory(slug="acme")
    endpoint = PostbackEndpointFactory(
        partner=partner, method="POST", event_types=["registration", "deposit", "first_deposit"],
        url_template=partner_url("/pb?e={event_id}&et={event_type}&name={event_name}&payout={payout}&s1={params.sub1}"
                                 "&s2={params.sub2|omit}&fd={is_first_deposit}"),
        body_template='{"value": "{amount|number}", "cents": "{amount|cents|number}", "cur": "{payout_currency}"}',
        event_names={"first_deposit": "sale", "registration": "lead"},
    )
    PayoutRuleFactory(partner=partner, event_type_id="first_deposit", value=Decimal("120"), currency="USD")
    PayoutRuleFactory(partner=partner, event_type_id="deposit", kind="percent", value=Decimal("10"))
    for event in EVENTS:
        assert platform_client.post("/api/v1/events/", event, format="json").status_code == 201

    deliveries_send_due(worker="test-worker")

    by_event_id = {request.args["e"]: request for request in received}
    assert len(by_event_id) == len(EVENTS)
    for event in Event.objects.all():
        preview = admin_client_api.post(
            f"/api/v1/partners/acme/endpoints/{endpoint.pk}/preview/", {"event": event.pk}, format="json"
        ).json()
        request = by_event_id[event.event_id]
        assert preview["url"].endswith(request.environ["REQUEST_URI"])
        assert preview["body"] == request.get_data(as_text=True)
    assert [by_event_id[event_id].args["s1"] for event_id in ("r-1", "d-1", "d-2")] == ["campaign-7", "campaign-7", "own"]
    assert (by_event_id["f-1"].args["name"], by_event_id["f-1"].args["fd"]) == ("sale", "1")
    assert json.loads(by_event_id["f-1"].get_data()) == {"value": 15, "cents": 15, "cur": "USD"}


def test_a_first_deposit_previews_as_the_first_deposit_the_partner_receives(
    platform_client, admin_client_api, partner_url, received
):
    partner = PartnerFactory(slug="acme")
    endpoint = PostbackEndpointFactory(
        partner=partner, event_types=["deposit", "first_deposit"],
        url_template=partner_url("/pb?et={event_type}&payout={payout}&s1={params.sub1}"),
    )
    PayoutRuleFactory(partner=partner, event_type_id="first_deposit", value=Decimal("120"))
    platform_client.post("/api/v1/events/", EVENTS[0], format="json")
    platform_client.post("/api/v1/events/", EVENTS[1], format="json")
    deposit = Event.objects.get(event_id="d-1")

    preview = admin_client_api.post(
        f"/api/v1/partners/acme/endpoints/{endpoint.pk}/preview/", {"event": deposit.pk}, format="json"
    ).json()

    assert preview["url"].endswith("/pb?et=first_deposit&payout=120.00&s1=campaign-7")
    deliveries_send_due(worker="test-worker")
    assert [request.environ["REQUEST_URI"] for request in received][-1] == (
        "/pb?et=first_deposit&payout=120.00&s1=campaign-7"
    )


def test_a_test_postback_sends_what_the_sample_preview_shows(partner_url, received):
    endpoint = PostbackEndpointFactory(
        partner=PartnerFactory(slug="acme"), event_types=["deposit"],
        url_template=partner_url("/pb?c={click_id}&t={event_type}&s1={params.sub1}&s2={params.sub2}&a={amount}"),
    )

    preview = template_preview(endpoint=endpoint)
    endpoint_send_test(endpoint=endpoint)

    (request,) = received
    assert preview.url.endswith(request.environ["REQUEST_URI"])
    assert request.args["s2"] == "sample-sub2"
