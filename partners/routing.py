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
    wanted = route.event_types
    if event.is_first_deposit and EventType.FIRST_DEPOSIT in wanted:
        chosen = EventType.FIRST_DEPOSIT
    elif event.type_id in wanted and event.type_id != EventType.FIRST_DEPOSIT:
        chosen = event.type_id
    elif event.type_id == EventType.FIRST_DEPOSIT and EventType.DEPOSIT in wanted:
        chosen = EventType.DEPOSIT
    else:
        return None
    return chosen if filters_match(route.filters, event) else None


def routes_for(event, routes: list[EndpointRoute]) -> list[tuple[EndpointRoute, str]]:
    matched = []
    for route in routes:
        delivery_type = delivery_type_for(route, event)
        if delivery_type is not None:
            matched.append((route, delivery_type))
    return matched
