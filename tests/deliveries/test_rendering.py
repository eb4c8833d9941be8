import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from deliveries.rendering import macro_values, render_request
from tests.factories import EventFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def _values(event, **overrides):
    defaults = {"event_type": event.type_id, "partner_slug": "acme", "delivery_id": 42, "payout": Decimal("2.50")}
    return macro_values(event=event, **(defaults | overrides))


def test_every_spec_macro_has_a_value():
    event = EventFactory(
        event_id="e-1", type_id="deposit", click_id="clk", amount=Decimal("25.0000"), currency="EUR",
        params={"sub1": "c7"}, occurred_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    )

    assert _values(event) == {
        "click_id": "clk", "event_type": "deposit", "event_id": "e-1", "player_id": event.player_id,
        "partner": "acme", "amount": "25.00", "currency": "EUR", "payout": "2.50",
        "occurred_at": "2026-11-23T10:00:00Z", "timestamp": "1795428000", "delivery_id": "42",
        "params.sub1": "c7",
    }


def test_post_json_endpoint_renders_url_body_headers_and_content_type():
    endpoint = PostbackEndpointFactory(
        method="POST", url_template="https://p.example/pb?c={click_id}",
        body_template='{"event": "{event_type}", "payout": "{payout}"}',
        headers={"X-Click": "{click_id}"},
    )
    event = EventFactory(click_id="a&b")

    request = render_request(endpoint=endpoint, values=_values(event))

    assert request.url == "https://p.example/pb?c=a%26b"
    assert json.loads(request.body) == {"event": "registration", "payout": "2.50"}
    assert request.headers == {"X-Click": "a&b", "Content-Type": "application/json"}


def test_get_endpoint_sends_no_body_even_with_a_stale_template():
    endpoint = PostbackEndpointFactory(method="GET", body_template='{"a": "b"}')

    assert render_request(endpoint=endpoint, values=_values(EventFactory())).body == ""
