"""Which endpoints an event goes to, and as which event type.

A player's first deposit reaches endpoints subscribed to ``first_deposit``
(once per player, ever) besides those subscribed to ``deposit``; an explicit
``first_deposit`` event is a deposit too.
"""

from events.models import EventType

from .filters import filters_match
from .selectors import EndpointRoute


def delivery_type_for(route: EndpointRoute, event) -> str | None:
    """The type the endpoint receives this event as, or None when it does not want it."""
    if not route.receives_all_events and route.partner_id != event.partner_id:
        return None
    chosen = type_delivered_as(event, route.event_types)
    return chosen if chosen is not None and filters_match(route.filters, event) else None


def type_delivered_as(event, wanted) -> str | None:
    """The type an endpoint wanting the event types ``wanted`` receives ``event`` as; None when none of them."""
    if event.is_first_deposit and EventType.FIRST_DEPOSIT in wanted:
        return EventType.FIRST_DEPOSIT
    if event.type_id in wanted and event.type_id != EventType.FIRST_DEPOSIT:
        return event.type_id
    if event.type_id == EventType.FIRST_DEPOSIT and EventType.DEPOSIT in wanted:
        return EventType.DEPOSIT
    return None


def routes_for(event, routes: list[EndpointRoute]) -> list[tuple[EndpointRoute, str]]:
    matched = []
    for route in routes:
        delivery_type = delivery_type_for(route, event)
        if delivery_type is not None:
            matched.append((route, delivery_type))
    return matched
