"""Query-string filters for delivery lists and exports (see ``events.filter_params``)."""

from collections.abc import Mapping

from events.filter_params import choice_param, event_type_slugs, id_param, slug_param, time_range

from .models import Delivery


def delivery_filters(query: Mapping[str, str]) -> dict:
    """Keyword arguments for ``delivery_list`` from status, partner, endpoint, event_type, from and to."""
    created_from, created_to = time_range(query)
    return {
        "status": choice_param(query, "status", lambda: Delivery.Status.values),
        "partner": slug_param(query, "partner"),
        "endpoint": id_param(query, "endpoint"),
        "event_type": choice_param(query, "event_type", event_type_slugs),
        "created_from": created_from,
        "created_to": created_to,
    }
