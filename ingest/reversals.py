"""Reversing a stored event: a chargeback, fraud or a cancelled transaction.

Partners that received the original get a follow-up postback of type
``reversal``; a postback of the original that has not gone out yet is
cancelled instead, so the partner never hears of a conversion that no longer
stands. The original's amount and payout stop counting in the statistics.
A qualification the original helped meet is reversed with it: the CPA it
earned no longer stands.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from deliveries.models import Delivery
from deliveries.tasks import sender_wake_on_commit
from events.models import Event, EventType
from lib.rows import rows_insert
from partners.models import Qualification
from reporting.rollup import stats_days_mark, stats_days_of_events


class ReversalError(Exception):
    """The event cannot be reversed; the message says why."""


@dataclass(frozen=True)
class Reversal:
    event: Event  # the reversal event, with its follow-up deliveries
    original: Event
    created: bool
    cancelled: int  # postbacks of the original cancelled before they went out


def event_reverse(*, event: Event, reason: str) -> Reversal:
    """Reverse ``event`` once; reversing it again returns the first reversal with ``created`` false."""
    if event.type_id == EventType.REVERSAL:
        raise ReversalError("This event is itself a reversal; reverse the original event instead.")
    try:
        with transaction.atomic():
            return _reverse_locked(original=Event.objects.select_for_update().get(pk=event.pk), reason=reason)
    except IntegrityError:
        # A concurrent request reversed it first: answer with that reversal.
        if not Event.objects.filter(reverses=event).exists():
            raise ReversalError(
                f"The reversal's id reversal-of-{event.pk} is taken by an event the platform sent; "
                "rename that event's event_id to reverse this one."
            ) from None
        return _existing(Event.objects.get(pk=event.pk))


def _reverse_locked(*, original: Event, reason: str) -> Reversal:
    if original.reversed_at is not None:
        return _existing(original)
    now = timezone.now()
    reversal = Event.objects.create(
        event_id=f"reversal-of-{original.pk}", type_id=EventType.REVERSAL, player_id=original.player_id,
        partner_id=original.partner_id, click_id=original.click_id, amount=original.amount,
        currency=original.currency, params=original.params, occurred_at=now, received_at=now,
        is_test=original.is_test, reverses=original, reversal_reason=reason,
    )
    original.reversed_at = now
    original.save(update_fields=["reversed_at"])
    cancelled = _follow_up(original=original, reversal=reversal, now=now)
    # A CPA earned with this event no longer stands either: its qualified event is reversed too.
    for qualified in _qualified_events_met_by(original):
        _reverse_locked(original=qualified, reason=reason)
    # The original's day loses its amount and payout; the reversal's day counts a reversal.
    stats_days_mark(days=stats_days_of_events(events=Event.objects.filter(pk__in=[original.pk, reversal.pk])))
    return Reversal(event=reversal, original=original, created=True, cancelled=cancelled)


def _follow_up(*, original: Event, reversal: Event, now) -> int:
    """Cancel what has not gone out; queue a reversal for each endpoint that received (or is receiving) it."""
    deliveries = list(Delivery.objects.select_for_update().filter(event=original))
    unsent = [
        item.pk for item in deliveries
        if item.status in Delivery.OPEN_STATUSES and not (item.claimed_until and item.claimed_until > now)
    ]
    Delivery.objects.filter(pk__in=unsent).update(
        status=Delivery.Status.CANCELLED, next_attempt_at=None, claimed_until=None, claimed_by="",
        last_error=f"cancelled: the event was reversed ({reversal.reversal_reason}) before it was sent",
        updated_at=now,
    )
    # A delivery in flight may reach the partner: it gets the reversal too.
    gone_nowhere = (Delivery.Status.FAILED, Delivery.Status.CANCELLED)
    reached = [item for item in deliveries if item.pk not in unsent and item.status not in gone_nowhere]
    rows_insert(
        Delivery,
        columns=["event", "endpoint", "partner", "event_type", "is_test", "order_key"],
        rows=[
            (reversal.pk, item.endpoint_id, item.partner_id, EventType.REVERSAL, item.is_test, item.order_key)
            for item in reached
        ],
        shared={"next_attempt_at": now, "created_at": now, "updated_at": now},
    )
    if reached:
        sender_wake_on_commit()
    return len(unsent)


def _qualified_events_met_by(original: Event) -> list[Event]:
    """The unreversed ``qualified`` events of the player's qualifications that ``original`` helped meet, locked."""
    if original.player_id is None or original.type_id == EventType.QUALIFIED:
        return []
    # A player has a qualification per rule at most: reading them all beats a JSON look-up SQLite lacks.
    qualifications = Qualification.objects.filter(player_id=original.player_id, event__reversed_at__isnull=True)
    met = [item.event_id for item in qualifications if original.event_id in item.met_by]
    return list(Event.objects.select_for_update().filter(pk__in=met).order_by("pk"))


def _existing(original: Event) -> Reversal:
    reversal = Event.objects.get(reverses=original)
    return Reversal(event=reversal, original=original, created=False, cancelled=0)

