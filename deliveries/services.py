"""Writes for deliveries and their attempts: creating, resending, cancelling, previewing, test sends, retention."""

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from events.models import Event, Player, PlayerErasure
from lib.rows import rows_insert
from partners import signing
from partners.config_cache import routing_config
from partners.models import PostbackEndpoint
from partners.routing import routes_for
from partners.selectors import EndpointRoute, payout_rules_by_partner_type

from .models import Delivery, DeliveryAttempt
from .ordering import player_order_key
from .rendering import RenderedRequest, event_request, event_view, preview_type, sample_event
from .sender import deliveries_send_claimed, outbound_request
from .signals import outcomes_rewriting
from .tasks import sender_wake_on_commit

TEST_PLAYER_ID = "postback-test-player"


class DeliveryStateError(ValueError):
    """The delivery is not in a state that allows the action; the message says why."""


def deliveries_create_for_events(
    *, events: Iterable, routes: Iterable[EndpointRoute] | None = None
) -> list[Delivery]:
    """Create one pending delivery per matching endpoint for each stored event, and return them.

    Called inside the ingest transaction, so an event and its deliveries
    commit together; one sender wake-up follows the commit, however many
    deliveries the batch made. Endpoints are loaded once for the whole batch.
    """
    now = timezone.now()
    matched = _routes_matched(events, routes)
    rows = _delivery_rows(matched, now)
    ids = _deliveries_insert(rows, now)
    return [_delivery(pk, event, row, now) for pk, (event, _, _), row in zip(ids, matched, rows, strict=True)]


def deliveries_add_for_events(*, events: Iterable, routes: Iterable[EndpointRoute] | None = None) -> int:
    """``deliveries_create_for_events`` for a batch, whose answer lists no deliveries: how many, no instances."""
    now = timezone.now()
    return len(_deliveries_insert(_delivery_rows(_routes_matched(events, routes), now), now))


def _routes_matched(events: Iterable, routes: Iterable[EndpointRoute] | None) -> list[tuple]:
    routes = routing_config().routes if routes is None else routes
    # In the order the events happened, so a player's deliveries get ids (the order the sender keeps to) in
    # that order even when a batch lists them otherwise; sorted() is stable for events of the same instant.
    events = sorted(events, key=lambda event: event.occurred_at)
    return [(event, route, delivery_type) for event in events for route, delivery_type in routes_for(event, routes)]


_DELIVERY_COLUMNS = [
    "event", "endpoint", "partner", "event_type", "is_test", "order_key", "next_attempt_at", "held_until",
]
_DELIVERY_ATTNAMES = [Delivery._meta.get_field(name).attname for name in _DELIVERY_COLUMNS]


def _delivery_rows(matched: list[tuple], now) -> list[tuple]:
    """One row of ``_DELIVERY_COLUMNS`` per (event, route, delivery type); a player's order key computed once."""
    keys = {event.pk: player_order_key(event.player_id) for event, _, _ in matched}
    return [
        (event.pk, route.endpoint_id, route.partner_id, kind, event.is_test, keys[event.pk],
         *_first_attempt(event, route, kind, now))
        for event, route, kind in matched
    ]


def _deliveries_insert(rows: list[tuple], now) -> list[int]:
    if not rows:
        return []
    ids = rows_insert(Delivery, columns=_DELIVERY_COLUMNS, rows=rows, shared={"created_at": now, "updated_at": now})
    sender_wake_on_commit()
    return ids


def _first_attempt(event, route: EndpointRoute, delivery_type: str, now) -> tuple[datetime, datetime | None]:
    """When the delivery may first go out, and until when it is held (None when it is not).

    A hold period counts from when the event happened, so an event reported late is held only for what is left.
    """
    if not route.hold_seconds or delivery_type not in route.hold_types:
        return now, None
    release = event.occurred_at + timedelta(seconds=route.hold_seconds)
    return (release, release) if release > now else (now, None)


def _delivery(pk: int, event, row: tuple, now) -> Delivery:
    """The stored delivery of ``row``, without reading it back."""
    delivery = Delivery(pk=pk, **dict(zip(_DELIVERY_ATTNAMES, row, strict=True)), created_at=now, updated_at=now)
    delivery.event = event
    delivery._state.adding = False  # stored: as bulk_create leaves its objects
    return delivery


def deliveries_resend(*, queryset: QuerySet[Delivery], include_delivered: bool = True) -> int:
    """Queue the deliveries again with a fresh attempt budget; returns how many.

    Any status may be resent (a partner may have lost a delivered postback); without
    ``include_delivered`` the delivered ones are left out, as a partner that counted them
    would count them twice. One being sent right now (its lease is running), or of an erased
    player, is left alone. A resend never cuts a hold period short: a held delivery stays held
    until its release.
    """
    now = timezone.now()
    if not include_delivered:
        queryset = queryset.exclude(status=Delivery.Status.DELIVERED)
    with transaction.atomic():
        outcomes_rewriting.send(sender=Delivery, deliveries=queryset)
        count = queryset.exclude(claimed_until__gt=now).exclude(_of_erased_player()).update(
            status=Delivery.Status.PENDING,
            next_attempt_at=Greatest(Coalesce("held_until", Value(now)), Value(now)),
            claimed_until=None,
            claimed_by="",
            delivered_at=None,
            retry_base=F("attempt_count"),
            updated_at=now,
        )
    if count:
        sender_wake_on_commit()
    return count


def _of_erased_player() -> Exists:
    """An erased player's postbacks would reach partners with its values gone: they are not sent again."""
    return Exists(PlayerErasure.objects.filter(pseudonym=OuterRef("event__player_id")))


def delivery_resend(*, delivery: Delivery) -> Delivery:
    if Delivery.objects.filter(pk=delivery.pk).filter(_of_erased_player()).exists():
        raise DeliveryStateError("The player of this delivery was erased; its postbacks are not sent again.")
    if not deliveries_resend(queryset=Delivery.objects.filter(pk=delivery.pk)):
        raise DeliveryStateError("This delivery is being sent right now; resend it once the attempt has finished.")
    delivery.refresh_from_db()
    return delivery


def deliveries_cancel(*, queryset: QuerySet[Delivery]) -> int:
    """Stop the pending and retrying ones among ``queryset`` for good; returns how many (the rest are left as they are)."""
    cancelling = queryset.filter(status__in=Delivery.OPEN_STATUSES)
    with transaction.atomic():
        outcomes_rewriting.send(sender=Delivery, deliveries=cancelling)
        count = cancelling.update(
            status=Delivery.Status.CANCELLED, next_attempt_at=None, claimed_until=None, claimed_by="",
            updated_at=timezone.now(),
        )
    return count


def delivery_cancel(*, delivery: Delivery) -> Delivery:
    """Stop a pending or retrying delivery for good (it stays on record, and can be resent)."""
    if not deliveries_cancel(queryset=Delivery.objects.filter(pk=delivery.pk)):
        raise DeliveryStateError(
            f"Only pending or retrying deliveries can be cancelled; this one is {delivery.status}."
        )
    delivery.refresh_from_db()
    return delivery


def template_preview(
    *, endpoint: PostbackEndpoint, event: Event | None = None, event_types: list[str] | None = None
) -> RenderedRequest:
    """The request the endpoint would receive for ``event`` (a sample when None), signature masked; nothing is sent.

    Built by the sender's own ``event_request``, with the type the event is delivered as (a first deposit is
    ``first_deposit`` to an endpoint that wants those) and that type's payout rule, as the sender does.
    ``event_types`` (slugs) replace the endpoint's saved ones, for a form not saved yet; ``endpoint`` itself
    need not be saved.
    """
    view = sample_event(endpoint, event_types=event_types) if event is None else event_view(event)
    event_type = preview_type(endpoint, view, event_types=event_types)
    rule = payout_rules_by_partner_type([endpoint.partner_id]).get((endpoint.partner_id, event_type))
    rendered = event_request(
        endpoint=endpoint,
        event=view,
        event_type=event_type,
        partner_slug=endpoint.partner.slug,
        delivery_id="preview",
        rule=rule,
    )
    signed = outbound_request(endpoint=endpoint, rendered=rendered, msg_id="preview")
    return replace(rendered, headers=signing.headers_for_record(signed.headers))


def endpoint_send_test(*, endpoint: PostbackEndpoint, event_type: str | None = None) -> DeliveryAttempt:
    """Send a test postback to the endpoint now, paused or not, and return its attempt.

    The test event and delivery are stored (``is_test``, left out of
    statistics) so the attempt is on record like any other.
    """
    sample = sample_event(endpoint)
    with transaction.atomic():
        # The sample's tracking params go on the test player, so {params.NAME} falls back as in the preview.
        player, _ = Player.objects.update_or_create(
            player_id=TEST_PLAYER_ID, defaults={"tracking_params": sample.tracking_params}
        )
        event = Event.objects.create(
            event_id=f"test-{uuid.uuid4().hex}", type_id=event_type or sample.type_id, player=player,
            click_id=sample.click_id, amount=sample.amount, currency=sample.currency, params=sample.params,
            occurred_at=timezone.now(), is_test=True, content_hash="test",
        )
        worker = f"test-send:{uuid.uuid4().hex[:8]}"
        delivery = Delivery.objects.create(
            event=event, endpoint=endpoint, partner_id=endpoint.partner_id, event_type_id=event.type_id,
            is_test=True, next_attempt_at=None, claimed_by=worker,
            claimed_until=timezone.now() + timedelta(seconds=settings.POSTBACK_LEASE_SECONDS),
        )
    # A one-off check (the sender never retries a test, nor counts it in the endpoint's failure run).
    deliveries_send_claimed(ids=[delivery.pk], worker=worker)
    return delivery.attempts.order_by("-number").first()
