"""Reads of deliveries for the admin console: partner health and the dashboard.

Every query here is bounded by an index: a time range on created_at, the
open-status partial index, or the small set of endpoints.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from partners.models import PostbackEndpoint
from postback_platform.subqueries import count_subquery

from .models import Delivery, DeliveryAttempt
from .services import TEST_PLAYER_ID

BACKLOG_COUNT_CAP = 100_000
FAILING_ENDPOINTS_SHOWN = 50
LATEST_ERROR_WINDOW = timedelta(days=7)


def _deliveries_for_partner(*, since: datetime):
    return Delivery.objects.filter(partner=OuterRef("pk"), created_at__gte=since, is_test=False).order_by()


def deliveries_since_for_partner(*, since: datetime, status: str) -> Coalesce:
    """An annotation: the partner's real deliveries in ``status`` since ``since``."""
    return count_subquery(_deliveries_for_partner(since=since).filter(status=status), outer_field="partner")


def last_error_since_for_partner(*, since: datetime) -> Subquery:
    """An annotation: the error of the partner's newest delivery that has one, since ``since``."""
    newest = _deliveries_for_partner(since=since).exclude(last_error="").order_by("-created_at").values("last_error")
    return Subquery(newest[:1])


def deliveries_per_day_by_outcome(*, since: datetime, tzinfo) -> dict[tuple[date, str], int]:
    """Real delivered / failed deliveries per (day, status) from ``since``, days cut in ``tzinfo``."""
    rows = (
        Delivery.objects.filter(
            created_at__gte=since,
            is_test=False,
            status__in=[Delivery.Status.DELIVERED, Delivery.Status.FAILED],
        )
        .annotate(day=TruncDate("created_at", tzinfo=tzinfo))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["day"], row["status"]): row["n"] for row in rows}


def endpoints_failing_now(*, limit: int = FAILING_ENDPOINTS_SHOWN) -> list[PostbackEndpoint]:
    """Active endpoints whose latest attempts fail, or that have deliveries waiting for a retry.

    Each carries ``retrying`` (deliveries waiting for a retry) and
    ``latest_error`` (the newest of their errors). The retrying deliveries
    are counted in one pass over the (status, created_at) index; they are few
    next to history. The errors are one short index walk per endpoint shown.
    """
    retrying = dict(
        Delivery.objects.filter(status=Delivery.Status.RETRYING)
        .order_by()
        .values_list("endpoint")
        .annotate(n=Count("pk"))
    )
    endpoints = list(
        PostbackEndpoint.objects.filter(is_active=True)
        .filter(Q(consecutive_failures__gt=0) | Q(pk__in=list(retrying)))
        .select_related("partner")
    )
    for endpoint in endpoints:
        endpoint.retrying = retrying.get(endpoint.pk, 0)
    endpoints.sort(key=lambda endpoint: (-endpoint.consecutive_failures, -endpoint.retrying))
    for endpoint in endpoints[:limit]:
        endpoint.latest_error = _latest_error(endpoint)
    return endpoints[:limit]


def _latest_error(endpoint: PostbackEndpoint) -> str:
    """The newest error of the endpoint's recent deliveries: a bounded walk down its (endpoint, created_at) index."""
    newest = (
        Delivery.objects.filter(endpoint=endpoint, created_at__gte=timezone.now() - LATEST_ERROR_WINDOW)
        .exclude(last_error="")
        .order_by("-created_at")
        .values_list("last_error", flat=True)
        .first()
    )
    return newest or ""


def endpoints_paused() -> list[PostbackEndpoint]:
    """Endpoints that hold their deliveries: paused themselves, or their partner is."""
    endpoints = PostbackEndpoint.objects.filter(Q(is_active=False) | Q(partner__is_active=False))
    return list(endpoints.select_related("partner").order_by("partner__name", "name"))


@dataclass(frozen=True)
class Backlog:
    due: int  # capped at BACKLOG_COUNT_CAP + 1
    oldest_due_at: datetime | None

    @property
    def is_capped(self) -> bool:
        return self.due > BACKLOG_COUNT_CAP


def delivery_backlog() -> Backlog:
    """Open deliveries whose next attempt is due now; read from the partial "due" index."""
    due = Delivery.objects.filter(status__in=Delivery.OPEN_STATUSES, next_attempt_at__lte=timezone.now()).order_by()
    oldest = due.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    return Backlog(due=due.values("pk")[: BACKLOG_COUNT_CAP + 1].count(), oldest_due_at=oldest)


def endpoint_recent_event(endpoint: PostbackEndpoint):
    """The event of the endpoint's newest real delivery, for previews; None when it has had none.

    One step down the (endpoint, created_at) index.
    """
    newest = (
        Delivery.objects.filter(endpoint=endpoint, is_test=False)
        .select_related("event")
        .order_by("-created_at")
        .first()
    )
    return newest.event if newest else None


def endpoint_test_attempts(endpoint: PostbackEndpoint, *, limit: int = 5) -> list[DeliveryAttempt]:
    """The endpoint's latest test postbacks, newest first, each as its (single) attempt.

    Test events all belong to one player, so the (player, occurred_at) index
    finds them without walking the endpoint's real history.
    """
    attempts = DeliveryAttempt.objects.filter(
        delivery__endpoint=endpoint, delivery__event__player_id=TEST_PLAYER_ID, delivery__is_test=True
    )
    return list(attempts.order_by("-delivery__event__occurred_at", "-number")[:limit])
