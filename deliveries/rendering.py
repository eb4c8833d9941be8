"""Turn an endpoint's templates and one event into the HTTP request a partner receives.

``event_request`` is the one path from an event to a request: the sender, the
preview and the test postback all go through it with an ``EventView``, so what
a manager previews is what the partner gets.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from events.models import Event, EventType
from events.params import params_merged
from partners import json_templates, templating
from partners.models import PayoutRule, PostbackEndpoint
from partners.payouts import money, payout_currency_for, payout_for
from partners.routing import type_delivered_as

from .auth import Secrets, authorization
from .models import Delivery

CONTENT_TYPES = {
    PostbackEndpoint.BodyFormat.JSON: "application/json",
    PostbackEndpoint.BodyFormat.FORM: "application/x-www-form-urlencoded",
}


@dataclass(frozen=True, slots=True)
class EventView:
    """What templates read of one event: its own fields and its player's tracking params."""

    event_id: str
    type_id: str
    player_id: str
    click_id: str
    amount: Decimal | None
    currency: str
    params: dict
    occurred_at: datetime
    is_first_deposit: bool
    tracking_params: dict
    # On a reversal: the reversed event and why (reversal_original reads the rest).
    reverses_id: int | None = None
    reversal_reason: str = ""


_LOOKUPS = {"tracking_params": "event__player__tracking_params", "reverses_id": "event__reverses"}
# Each of EventView's fields and its lookup from a delivery: the sender reads them with its claim.
EVENT_LOOKUPS = {name: _LOOKUPS.get(name, f"event__{name}") for name in EventView.__dataclass_fields__}


def event_view(event: Event) -> EventView:
    """A stored event as templates read it (one query for its player unless it is loaded)."""
    return EventView(
        event_id=event.event_id, type_id=event.type_id, player_id=event.player_id, click_id=event.click_id,
        amount=event.amount, currency=event.currency, params=event.params, occurred_at=event.occurred_at,
        is_first_deposit=event.is_first_deposit, tracking_params=event.player.tracking_params,
        reverses_id=event.reverses_id, reversal_reason=event.reversal_reason,
    )


@dataclass(frozen=True)
class RenderedRequest:
    """The request as it goes out: every part already in the form no HTTP client encodes again (ASCII)."""

    method: str
    url: str
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def macro_values(
    *, event: EventView, event_type: str, event_name: str, partner_slug: str, delivery_id,
    payout: Decimal | None, payout_currency: str,
) -> dict[str, str]:
    """Every macro's text for one delivery; missing values are empty strings."""
    occurred_at = event.occurred_at
    values = {
        "click_id": event.click_id or "",
        "event_type": event_type,
        "event_name": event_name,
        "event_id": event.event_id,
        "player_id": event.player_id,
        "partner": partner_slug,
        "amount": _text(money(event.amount)),
        "currency": event.currency or "",
        "payout": _text(payout),
        "payout_currency": payout_currency,
        "is_first_deposit": "1" if event.is_first_deposit else "0",
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z") if occurred_at else "",
        "timestamp": str(int(occurred_at.timestamp())) if occurred_at else "",
        "delivery_id": _text(delivery_id),
    }
    for name, value in params_merged(params=event.params, tracking_params=event.tracking_params).items():
        values[f"{templating.PARAMS_PREFIX}{name}"] = _text(value)
    return values


def _text(value) -> str:
    return "" if value is None else str(value)


def secret_values(endpoint: PostbackEndpoint, secrets: Secrets | None) -> dict[str, str]:
    """``{secret.NAME}`` for each credential: its value for the partner, the mask for every other reader."""
    return {
        f"{templating.SECRET_PREFIX}{name}": templating.MASKED if secrets is None else secrets.credentials.get(name, "")
        for name in (endpoint.credentials or {})
    }


def render_request(
    *, endpoint: PostbackEndpoint, values: dict[str, str], secrets: Secrets | None = None
) -> RenderedRequest:
    """The request for ``endpoint``; raises TemplateError when a template cannot be rendered.

    Without ``secrets`` (previews, records, anything shown) every credential renders as the mask: masking is
    a second rendering, never a search for secret values in the first.
    """
    values = values | secret_values(endpoint, secrets)
    headers = {}
    for name, template in (endpoint.headers or {}).items():
        if (value := templating.render_header(str(template), values)) is not None:
            headers[name] = value
    body = ""
    if endpoint.method == PostbackEndpoint.Method.POST and endpoint.body_template:
        if endpoint.body_format == PostbackEndpoint.BodyFormat.FORM:
            body = templating.render_form(endpoint.body_template, values)
        else:
            body = json_templates.render_json(endpoint.body_template, values)
        headers.setdefault("Content-Type", CONTENT_TYPES[endpoint.body_format])
    headers |= authorization(endpoint, secrets)
    return RenderedRequest(
        method=endpoint.method,
        url=templating.render_url(endpoint.url_template, values),
        body=body,
        headers=headers,
    )


def event_request(
    *, endpoint: PostbackEndpoint, event: EventView, event_type: str, partner_slug: str, delivery_id,
    rule: PayoutRule | None, secrets: Secrets | None = None,
) -> RenderedRequest:
    """The request ``endpoint`` receives for ``event`` sent as ``event_type``, its payout from ``rule``.

    A reversal's ``{payout}`` is what the endpoint's partner earned for the original, to claw back.
    Credentials are masked unless ``secrets`` are given (only the sender gives them).
    """
    original = reversal_original(event=event, endpoint=endpoint) if event_type == EventType.REVERSAL else None
    if original:
        rule = PayoutRule.objects.filter(partner_id=endpoint.partner_id, event_type_id=original["type"]).first()
    values = macro_values(
        event=event,
        event_type=event_type,
        event_name=(endpoint.event_names or {}).get(event_type, event_type),
        partner_slug=partner_slug,
        delivery_id=delivery_id,
        payout=payout_for(rule, event.amount),
        payout_currency=payout_currency_for(rule, event.currency or ""),
    )
    if original:
        values.update(
            original_event_id=original["event_id"], original_event_type=original["type"],
            reversal_reason=event.reversal_reason,
        )
    return render_request(endpoint=endpoint, values=values, secrets=secrets)


def reversal_original(*, event, endpoint: PostbackEndpoint) -> dict[str, str] | None:
    """The reversed event's id, and the type ``endpoint`` received it as (``first_deposit`` for a first deposit)."""
    found = (
        Delivery.objects.filter(event_id=event.reverses_id, endpoint=endpoint)
        .values_list("event__event_id", "event_type_id").first()
    )
    if found is None:
        found = Event.objects.filter(pk=event.reverses_id).values_list("event_id", "type_id").first()
    return {"event_id": found[0], "type": found[1]} if found else None


def _wanted_types(endpoint: PostbackEndpoint, event_types: list[str] | None) -> list[str]:
    """``event_types`` when given (a form not saved yet), else the endpoint's saved ones, sorted."""
    if event_types is None:
        return list(endpoint.event_types.order_by("slug").values_list("slug", flat=True))
    return sorted(event_types)


def preview_type(endpoint: PostbackEndpoint, event: EventView, *, event_types: list[str] | None = None) -> str:
    """The type ``endpoint`` receives ``event`` as (a first deposit as ``first_deposit`` where it wants those)."""
    wanted = set(_wanted_types(endpoint, event_types))
    return type_delivered_as(event, wanted) or event.type_id


def sample_event(endpoint: PostbackEndpoint, *, event_types: list[str] | None = None) -> EventView:
    """A plausible event for previews when no real one is given; never stored.

    ``event_types`` stands for the endpoint's own where they are not saved yet (the add page's preview).
    """
    event_type = next(iter(_wanted_types(endpoint, event_types)), EventType.DEPOSIT)
    return EventView(
        event_id="sample-event-1",
        type_id=event_type,
        player_id="sample-player-1",
        click_id="sample-click-1",
        amount=Decimal("25.00"),
        currency="EUR",
        params={"sub1": "sample-sub1", "country": "DE"},
        occurred_at=timezone.now().replace(microsecond=0),
        is_first_deposit=event_type == EventType.FIRST_DEPOSIT,
        tracking_params={"sub2": "sample-sub2"},
    )
