"""Turn an endpoint's templates and one event into the HTTP request a partner receives."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

from django.utils import timezone

from events.models import Event, EventType
from partners.models import PayoutRule, PostbackEndpoint
from partners.payouts import money, payout_for

from . import templating
from .models import Delivery

CONTENT_TYPES = {
    PostbackEndpoint.BodyFormat.JSON: "application/json",
    PostbackEndpoint.BodyFormat.FORM: "application/x-www-form-urlencoded",
}


@dataclass(frozen=True)
class RenderedRequest:
    method: str
    url: str
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def macro_values(
    *, event, event_type: str, partner_slug: str, delivery_id, payout: Decimal | None
) -> dict[str, str]:
    """Every macro's text for one delivery; missing values are empty strings."""
    occurred_at: datetime = event.occurred_at
    values = {
        "click_id": event.click_id or "",
        "event_type": event_type,
        "event_id": event.event_id,
        "player_id": event.player_id,
        "partner": partner_slug,
        "amount": _text(money(event.amount)),
        "currency": event.currency or "",
        "payout": _text(payout),
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z") if occurred_at else "",
        "timestamp": str(int(occurred_at.timestamp())) if occurred_at else "",
        "delivery_id": _text(delivery_id),
    }
    for name, value in (event.params or {}).items():
        values[f"{templating.PARAMS_PREFIX}{name}"] = _text(value)
    return values


def _text(value) -> str:
    return "" if value is None else str(value)


def render_request(*, endpoint: PostbackEndpoint, values: dict[str, str]) -> RenderedRequest:
    """The request for ``endpoint``; raises TemplateError when a template cannot be rendered."""
    headers = {name: templating.render_header(str(value), values) for name, value in (endpoint.headers or {}).items()}
    body = ""
    if endpoint.method == PostbackEndpoint.Method.POST and endpoint.body_template:
        if endpoint.body_format == PostbackEndpoint.BodyFormat.FORM:
            body = templating.render_form(endpoint.body_template, values)
        else:
            body = templating.render_json(endpoint.body_template, values)
        headers.setdefault("Content-Type", CONTENT_TYPES[endpoint.body_format])
    return RenderedRequest(
        method=endpoint.method,
        url=templating.render_url(endpoint.url_template, values),
        body=body,
        headers=headers,
    )


def event_request(
    *, endpoint: PostbackEndpoint, event, event_type: str, partner_slug: str, delivery_id, rule: PayoutRule | None
) -> RenderedRequest:
    """The request ``endpoint`` receives for ``event`` sent as ``event_type``, its payout from ``rule``.

    A reversal's ``{payout}`` is what the endpoint's partner earned for the original, to claw back.
    """
    original = reversal_original(event=event, endpoint=endpoint) if event_type == EventType.REVERSAL else None
    if original:
        rule = PayoutRule.objects.filter(partner_id=endpoint.partner_id, event_type_id=original["type"]).first()
    values = macro_values(
        event=event,
        event_type=event_type,
        partner_slug=partner_slug,
        delivery_id=delivery_id,
        payout=payout_for(rule, event.amount),
    )
    if original:
        values.update(
            original_event_id=original["event_id"], original_event_type=original["type"],
            reversal_reason=event.reversal_reason,
        )
    return render_request(endpoint=endpoint, values=values)


def reversal_original(*, event, endpoint: PostbackEndpoint) -> dict[str, str] | None:
    """The reversed event's id, and the type ``endpoint`` received it as (``first_deposit`` for a first deposit)."""
    found = (
        Delivery.objects.filter(event_id=event.reverses_id, endpoint=endpoint)
        .values_list("event__event_id", "event_type_id").first()
    )
    if found is None:
        found = Event.objects.filter(pk=event.reverses_id).values_list("event_id", "type_id").first()
    return {"event_id": found[0], "type": found[1]} if found else None


def sample_event(endpoint: PostbackEndpoint) -> SimpleNamespace:
    """A plausible event for previews when no real one is given; never stored."""
    event_type = endpoint.event_types.order_by("slug").values_list("slug", flat=True).first() or "deposit"
    return SimpleNamespace(
        event_id="sample-event-1",
        type_id=event_type,
        player_id="sample-player-1",
        click_id="sample-click-1",
        amount=Decimal("25.00"),
        currency="EUR",
        params={"sub1": "sample-sub1", "country": "DE"},
        occurred_at=timezone.now().replace(microsecond=0),
    )
