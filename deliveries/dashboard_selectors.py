"""Reads of deliveries for the admin console: partner health and the dashboard.

Every query here is bounded by an index: a time range on created_at, the
open-status partial index, or the small set of endpoints.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from lib.daily_counts import counts_per_day
from partners.models import PostbackEndpoint

from .models import Delivery, DeliveryAttempt
from .selectors import BACKLOG_COUNT_CAP, Backlog, held_deliveries, paused_endpoints, sendable_backlog
from .services import TEST_PLAYER_ID

FAILING_ENDPOINTS_SHOWN = 50
LATEST_ERROR_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class DeliveryCounts:
    delivered: int = 0
    failed: int = 0
    last_error: str = ""

    @property
    def finished(self) -> int:
        return self.delivered + self.failed


def delivery_counts_by_partner(*, partner_ids: list[int], since: datetime) -> dict[int, DeliveryCounts]:
    """Real deliveries delivered / failed since ``since`` and the newest error, for a page of partners.

    One grouped pass over the (partner, created_at) index for the counts, then
    one short backward walk of it per partner for the error.
    """
    recent = Delivery.objects.filter(partner_id__in=partner_ids, created_at__gte=since, is_test=False).order_by()
    counts = recent.values("partner_id").annotate(
        delivered=Count("pk", filter=Q(status=Delivery.Status.DELIVERED)),
        failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
    )
    by_partner = {row["partner_id"]: row for row in counts}
    result = {}
    for partner_id in partner_ids:
        row = by_partner.get(partner_id, {})
        newest_error = (
            recent.filter(partner_id=partner_id).exclude(last_error="").order_by("-created_at").values_list(
                "last_error", flat=True
            ).first()
        )
        result[partner_id] = DeliveryCounts(row.get("delivered", 0), row.get("failed", 0), newest_error or "")
    return result


def deliveries_per_day_by_outcome(
    *, since: datetime, until: datetime | None = None, tzinfo
) -> dict[tuple[date, str], int]:
    """Real delivered / failed deliveries per (day, status) from ``since`` (until ``until``), days cut in ``tzinfo``."""
    deliveries = Delivery.objects.filter(is_test=False, status__in=[Delivery.Status.DELIVERED, Delivery.Status.FAILED])
    return counts_per_day(deliveries, time_field="created_at", key="status", since=since, until=until, tzinfo=tzinfo)


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
    return list(paused_endpoints().select_related("partner").order_by("partner__name", "name"))


def delivery_backlog() -> Backlog:
    """What the sender has yet to send: due now and not held; read from the partial "due" index."""
    return sendable_backlog()


def held_count() -> int:
    """How many deliveries are held, counted up to BACKLOG_COUNT_CAP + 1 (a page must stay fast)."""
    return held_deliveries().order_by().values("pk")[: BACKLOG_COUNT_CAP + 1].count()


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


def open_deliveries_count(*, by: str, ids: list[int]) -> dict[int, int]:
    """Pending and retrying deliveries per partner (``by="partner"``) or endpoint: what a pause holds or a resume sends."""
    rows = (
        Delivery.objects.filter(status__in=Delivery.OPEN_STATUSES, **{f"{by}_id__in": ids})
        .order_by()
        .values_list(f"{by}_id")
        .annotate(count=Count("id"))
    )
    return dict(rows)
