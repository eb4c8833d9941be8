"""Reads of deliveries that the status API, the admin, exports and monitoring share."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from events.models import Event
from partners.models import Partner, PostbackEndpoint

from .models import Delivery


def delivery_list(
    *,
    status: str | None = None,
    partner: str | None = None,
    endpoint: int | None = None,
    event_type: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> QuerySet[Delivery]:
    """Deliveries matching every filter given, newest first; ``partner`` is a slug, ``endpoint`` an id."""
    deliveries = Delivery.objects.select_related("partner", "event", "endpoint").order_by("-id")
    conditions = {
        "status": status,
        "partner__slug": partner,
        "endpoint_id": endpoint,
        "event_type_id": event_type,
        "created_at__gte": created_from,
        "created_at__lt": created_to,
    }
    return deliveries.filter(**{lookup: value for lookup, value in conditions.items() if value is not None})


def events_with_deliveries(events: QuerySet[Event]) -> QuerySet[Event]:
    """The events with their deliveries loaded in one more query, for the status API."""
    deliveries = Delivery.objects.select_related("partner", "endpoint").order_by("id")
    return events.prefetch_related(Prefetch("deliveries", queryset=deliveries))


def event_get(*, pk: int) -> Event | None:
    return events_with_deliveries(Event.objects.select_related("partner", "player")).filter(pk=pk).first()


def held(now: datetime | None = None) -> Q:
    """An open delivery waiting on purpose: for a paused endpoint or partner, an open circuit, or a hold period.

    The paused and open-circuit endpoints and partners are looked up first (a handful of rows), so the
    condition on deliveries is plain column matches, and the hold period has its own partial index.
    """
    stopped = PostbackEndpoint.objects.filter(Q(is_active=False) | Q(circuit_opened_at__isnull=False))
    paused_partners = Partner.objects.filter(is_active=False)
    return (
        Q(endpoint_id__in=list(stopped.values_list("pk", flat=True)))
        | Q(partner_id__in=list(paused_partners.values_list("pk", flat=True)))
        | Q(held_until__gt=now or timezone.now())
    )


def held_deliveries() -> QuerySet[Delivery]:
    return Delivery.objects.filter(status__in=Delivery.OPEN_STATUSES).filter(held())


def behind_an_earlier_one(now: datetime) -> Q:
    """An open delivery of an endpoint ordered per player that waits for an earlier open one of its player there.

    The sender's claim (``_DUE`` in ``deliveries.sender``) holds such a delivery back until the earlier one
    is done, so it is not due yet, whatever its own time says; the earlier one's time counts instead.
    """
    earlier_open = Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"), order_key=OuterRef("order_key"), id__lt=OuterRef("id"),
        status__in=Delivery.OPEN_STATUSES,
    ).filter(Q(held_until__isnull=True) | Q(held_until__lte=now))
    return Q(endpoint__ordered_per_player=True, order_key__isnull=False) & Q(Exists(earlier_open))


def delivery_get(*, pk: int) -> Delivery | None:
    """One delivery with its attempts, oldest attempt first."""
    return (
        Delivery.objects.select_related("partner", "event", "endpoint")
        .prefetch_related("attempts")
        .filter(pk=pk)
        .first()
    )



@dataclass(frozen=True)
class EndpointShare:
    """What a selection of deliveries holds for one endpoint: the figures a confirmation page states."""

    endpoint_id: int
    partner: str
    endpoint: str
    total: int
    delivered: int
    open: int


def selection_by_endpoint(queryset: QuerySet[Delivery]) -> list[EndpointShare]:
    """The selected deliveries counted per endpoint (by partner and endpoint name), in one grouped query."""
    rows = (
        queryset.order_by()
        .values("endpoint_id", "partner__name", "endpoint__name")
        .annotate(
            total=Count("id"),
            delivered=Count("id", filter=Q(status=Delivery.Status.DELIVERED)),
            open=Count("id", filter=Q(status__in=Delivery.OPEN_STATUSES)),
        )
        .order_by("partner__name", "endpoint__name")
    )
    return [
        EndpointShare(row["endpoint_id"], row["partner__name"], row["endpoint__name"], row["total"],
                      row["delivered"], row["open"])
        for row in rows
    ]


# Counting stops here, so a huge backlog costs a bounded scan at every scrape.
BACKLOG_COUNT_CAP = 100_000


@dataclass(frozen=True)
class Backlog:
    """Deliveries due now: how many (counted up to the cap) and when the oldest became due."""

    due: int  # capped at BACKLOG_COUNT_CAP + 1
    oldest_due_at: datetime | None

    @property
    def is_capped(self) -> bool:
        return self.due > BACKLOG_COUNT_CAP

    def oldest_age_seconds(self, now: datetime) -> float:
        return max((now - self.oldest_due_at).total_seconds(), 0.0) if self.oldest_due_at else 0.0


def backlog_of(due: QuerySet) -> Backlog:
    due = due.order_by()
    oldest = due.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    return Backlog(due=due.values("pk")[: BACKLOG_COUNT_CAP + 1].count(), oldest_due_at=oldest)


def sendable_backlog(*, now: datetime | None = None) -> Backlog:
    """What the sender has yet to send. Held deliveries (a paused endpoint, an open circuit) wait on purpose
    and are left out, as are those waiting behind an earlier postback of their player (not due before it is).

    The partial ``delivery_due`` index serves both the count and the oldest, as it does the sender's claim.
    """
    now = now or timezone.now()
    return backlog_of(
        Delivery.objects.filter(
            status__in=Delivery.OPEN_STATUSES,
            next_attempt_at__lte=now,
            endpoint__is_active=True,
            endpoint__circuit_opened_at__isnull=True,
            partner__is_active=True,
        ).exclude(behind_an_earlier_one(now))
    )


def paused_endpoints() -> QuerySet:
    """Endpoints holding their deliveries: paused themselves or through their partner."""
    return PostbackEndpoint.objects.filter(Q(is_active=False) | Q(partner__is_active=False))


def paused_endpoint_count() -> int:
    return paused_endpoints().count()


def open_circuits() -> list[PostbackEndpoint]:
    """Endpoints whose circuit is open (a small set: only partners failing right now)."""
    return list(PostbackEndpoint.objects.filter(circuit_opened_at__isnull=False).select_related("partner"))
