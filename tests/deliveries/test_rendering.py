import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from deliveries.rendering import event_request, event_view, macro_values, render_request, sample_event
from partners.models import PayoutRule
from tests.factories import EventFactory, PayoutRuleFactory, PlayerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def _values(event, **overrides):
    defaults = {
        "event_type": event.type_id, "event_name": "sale", "partner_slug": "acme", "delivery_id": 42,
        "payout": Decimal("2.50"), "payout_currency": "USD",
    }
    return macro_values(event=event_view(event), **(defaults | overrides))


def test_every_spec_macro_has_a_value():
    event = EventFactory(
        event_id="e-1", type_id="deposit", click_id="clk", amount=Decimal("25.0000"), currency="EUR",
        params={"sub1": "c7"}, occurred_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC), is_first_deposit=True,
    )

    assert _values(event) == {
        "click_id": "clk", "event_type": "deposit", "event_name": "sale", "event_id": "e-1",
        "player_id": event.player_id, "partner": "acme", "amount": "25.00", "currency": "EUR", "payout": "2.50",
        "payout_currency": "USD", "is_first_deposit": "1", "occurred_at": "2026-11-23T10:00:00Z",
        "timestamp": "1795428000", "delivery_id": "42", "params.sub1": "c7",
    }


def test_params_fall_back_to_the_players_tracking_params_and_the_events_own_value_wins():
    player = PlayerFactory(tracking_params={"sub1": "from-registration", "sub2": "campaign-7"})
    event = EventFactory(player=player, type_id="deposit", params={"sub1": "own", "sub3": ""})

    values = _values(event)

    assert (values["params.sub1"], values["params.sub2"], values["params.sub3"]) == ("own", "campaign-7", "")


def test_event_names_map_each_type_to_the_partners_name():
    endpoint = PostbackEndpointFactory(
        url_template="https://p.example/pb?status={event_name}&t={event_type}",
        event_names={"registration": "lead", "first_deposit": "sale", "deposit": ""},
    )

    def url(event_type):
        return event_request(
            endpoint=endpoint, event=event_view(EventFactory()), event_type=event_type, partner_slug="acme",
            delivery_id=1, rule=None,
        ).url

    assert url("registration").endswith("?status=lead&t=registration")
    assert url("first_deposit").endswith("?status=sale&t=first_deposit")
    assert url("withdrawal").endswith("?status=withdrawal&t=withdrawal")
    assert url("deposit").endswith("?status=&t=deposit")


@pytest.mark.parametrize("kind, expected", [(PayoutRule.Kind.FIXED, "USD"), (PayoutRule.Kind.PERCENT, "EUR")])
def test_payout_currency_is_the_fixed_rules_own_or_the_events(kind, expected):
    endpoint = PostbackEndpointFactory(url_template="https://p.example/pb?p={payout}&c={payout_currency}")
    rule = PayoutRuleFactory(partner=endpoint.partner, kind=kind, value=Decimal("10"), currency="USD")
    event = EventFactory(type_id="deposit", amount=Decimal("50"), currency="EUR")

    request = event_request(endpoint=endpoint, event=event_view(event), event_type="deposit", partner_slug="acme",
                            delivery_id=1, rule=rule)

    assert request.url.endswith(f"&c={expected}")


def test_payout_in_cents_counts_in_the_payout_currency():
    endpoint = PostbackEndpointFactory(url_template="https://p.example/pb?p={payout|cents}")
    rule = PayoutRuleFactory(partner=endpoint.partner, value=Decimal("1500"), currency="JPY")

    request = event_request(endpoint=endpoint, event=event_view(EventFactory(currency="EUR")),
                            event_type="registration", partner_slug="acme", delivery_id=1, rule=rule)

    assert request.url.endswith("?p=1500")


def test_post_json_endpoint_renders_url_body_headers_and_content_type():
    endpoint = PostbackEndpointFactory(
        method="POST", url_template="https://p.example/pb?c={click_id}",
        body_template='{"event": "{event_type}", "payout": "{payout|number}", "sub2": "{params.sub2|omit}"}',
        headers={"X-Click": "{click_id}", "X-Token": "{params.token|omit}"},
    )
    event = EventFactory(click_id="a&b")

    request = render_request(endpoint=endpoint, values=_values(event))

    assert request.url == "https://p.example/pb?c=a%26b"
    assert json.loads(request.body) == {"event": "registration", "payout": 2.5}
    assert request.headers == {"X-Click": "a&b", "Content-Type": "application/json"}


def test_get_endpoint_sends_no_body_even_with_a_stale_template():
    endpoint = PostbackEndpointFactory(method="GET", body_template='{"a": "b"}')

    assert render_request(endpoint=endpoint, values=_values(EventFactory())).body == ""


def test_the_sample_event_previews_as_the_endpoints_first_type():
    endpoint = PostbackEndpointFactory(event_types=["first_deposit", "registration"])

    sample = sample_event(endpoint)

    assert (sample.type_id, sample.is_first_deposit) == ("first_deposit", True)
