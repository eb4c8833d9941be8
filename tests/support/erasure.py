"""A player with everything erasure must reach: attributed events, sent, retrying and pending postbacks.

Its values are rendered into URLs, JSON bodies and headers, and the partner's test server echoes each
request back, so they reach the attempts' response excerpts too.
"""

import ipaddress
import json
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.db import models
from werkzeug import Response

from deliveries.models import Delivery
from deliveries.sender import deliveries_send_due
from events.models import EventType, Player
from ingest.services import event_ingest
from partners.models import Partner
from tests.factories import PartnerFactory, PayoutRuleFactory, PostbackEndpointFactory

PLAYER_ID = "pl4yer-zeta-1001"
CLICK_ID = "cl1ck-omega-77"
EMAIL = "erin.erasable@example.org"
PHONE = "+4915550199423"
# Substrings that any copy of the values holds, URL-encoded, JSON-escaped or not.
ERASED_VALUES = ("pl4yer-zeta", "cl1ck-omega", "erin.erasable", "4915550199423")
BYSTANDER_ID = "keep-me-42"
ACME_URL = "/pb?click={click_id}&player={player_id}&email={params.email}&phone={params.phone}"
LENS_BODY = '{"player": "{player_id}", "click": "{click_id}", "email": "{params.email}"}'


@dataclass
class World:
    acme: Partner
    lens: Partner


def echo(request) -> Response:
    """The partner answers with what it received, as many do in their error pages."""
    text = f"{request.full_path} {request.get_data(as_text=True)} {dict(request.headers)}"
    return Response(text, status=503 if request.path == "/lens" else 200)


def world_build(httpserver, settings) -> World:
    """The player: registered through acme, two deposits; acme answers 200, the analytics partner 503."""
    settings.POSTBACK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    base = f"http://127.0.0.1:{httpserver.port}"
    httpserver.expect_request("/pb").respond_with_handler(echo)
    httpserver.expect_request("/lens").respond_with_handler(echo)
    acme = PartnerFactory(slug="acme")
    lens = PartnerFactory(slug="lens", scope=Partner.Scope.ALL)
    PayoutRuleFactory(partner=acme, event_type_id=EventType.DEPOSIT, kind="percent", value=Decimal("25"))
    PostbackEndpointFactory(partner=acme, url_template=base + ACME_URL, headers={"X-Player": "{player_id}"})
    # Unordered, so each of the player's postbacks to the failing partner is attempted (and retrying).
    PostbackEndpointFactory(partner=lens, url_template=base + "/lens", method="POST", body_template=LENS_BODY,
                            ordered_per_player=False)
    ingest(event_id="reg-1", type="registration", partner="acme", click_id=CLICK_ID,
           params={"email": EMAIL, "phone": PHONE, "sub1": "campaign-7"})
    ingest(event_id="dep-1", type="deposit", amount="40.00", currency="EUR", params={"phone": PHONE})
    ingest(event_id="reg-b", type="registration", player_id=BYSTANDER_ID, partner="acme", click_id="bystander-click")
    deliveries_send_due(worker="test-worker")
    # Arrives after the send: its postbacks are still pending when the player is erased.
    ingest(event_id="dep-2", type="deposit", amount="10.00", currency="EUR", params={"email": EMAIL})
    return World(acme=acme, lens=lens)


def ingest(*, player_id: str = PLAYER_ID, **fields):
    result = event_ingest(data={"player_id": player_id, "occurred_at": "2026-11-20T12:00:00Z", **fields})
    assert result.status in ("created", "duplicate"), result.errors
    return result.event


def statuses(player_id: str) -> list[str]:
    return sorted(Delivery.objects.filter(event__player_id=player_id).values_list("status", flat=True))


def stored_texts():
    """(model, field, text) for every text and JSON value stored in every table."""
    for model in apps.get_models():
        fields = [
            field for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
        ]
        if not fields or not model._meta.managed:
            continue
        for row in model.objects.values_list(*(field.attname for field in fields)):
            for field, value in zip(fields, row, strict=True):
                if value not in (None, "", {}, []):
                    yield model, field.name, value if isinstance(value, str) else json.dumps(value)


def erased_values_in(text: str) -> list[str]:
    return [value for value in ERASED_VALUES if value in text]


def erased_player() -> Player:
    return Player.objects.get(player_id__startswith="erased-")
