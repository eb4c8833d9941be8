"""Writes for deliveries and their attempts."""

from collections.abc import Iterable

from django.utils import timezone

from partners.routing import routes_for
from partners.selectors import EndpointRoute, endpoint_routes

from .models import Delivery, Heartbeat


def deliveries_create_for_events(*, events: Iterable, routes: list[EndpointRoute] | None = None) -> list[Delivery]:
    """Create one pending delivery per matching endpoint for each stored event.

    Called inside the ingest transaction, so an event and its deliveries
    commit together. Endpoints are loaded once for the whole batch.
    """
    routes = endpoint_routes() if routes is None else routes
    now = timezone.now()
    deliveries = [
        Delivery(
            event=event,
            endpoint_id=route.endpoint_id,
            partner_id=route.partner_id,
            event_type_id=delivery_type,
            is_test=event.is_test,
            next_attempt_at=now,
            created_at=now,
        )
        for event in events
        for route, delivery_type in routes_for(event, routes)
    ]
    return Delivery.objects.bulk_create(deliveries, batch_size=1000) if deliveries else []


def heartbeat_record(*, name: str) -> Heartbeat:
    heartbeat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"last_seen_at": timezone.now()})
    return heartbeat
