"""Reads about partners and endpoints that services, views and the admin share."""

from dataclasses import dataclass

from .models import Partner, PayoutRule, PostbackEndpoint


@dataclass(frozen=True)
class EndpointRoute:
    """What matching needs to know of an endpoint, loaded once per ingest call."""

    endpoint_id: int
    partner_id: int
    receives_all_events: bool
    event_types: frozenset[str]
    filters: tuple
    hold_seconds: int = 0  # the endpoint's hold period, for the event types in hold_types
    hold_types: frozenset[str] = frozenset()


def endpoint_routes() -> list[EndpointRoute]:
    """Every endpoint, paused or not: a paused one still gets (held) deliveries."""
    endpoints = PostbackEndpoint.objects.select_related("partner").prefetch_related("event_types")
    return [
        EndpointRoute(
            endpoint_id=endpoint.pk,
            partner_id=endpoint.partner_id,
            receives_all_events=endpoint.partner.scope == Partner.Scope.ALL,
            event_types=frozenset(event_type.slug for event_type in endpoint.event_types.all()),
            filters=tuple(endpoint.filters or ()),
            hold_seconds=endpoint.hold_hours * 3600,
            hold_types=frozenset(endpoint.hold_event_types or ()),
        )
        for endpoint in endpoints
    ]


def payout_rules_by_partner_type(partner_ids) -> dict[tuple[int, str], PayoutRule]:
    """Payout rules keyed by (partner id, event type), loaded once for a batch of deliveries."""
    rules = PayoutRule.objects.filter(partner_id__in=set(partner_ids))
    return {(rule.partner_id, rule.event_type_id): rule for rule in rules}
