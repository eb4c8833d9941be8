"""Erasure of a player (GDPR Art. 17): its personal values replaced or removed everywhere, in one transaction.

For the player's rows:

    player       moves to a keyed pseudonym (``events.pseudonyms``), its admin history with it; click id
                 and tracking params go; partner, attribution, registration and first-deposit times stay
    events       the pseudonym as player id; click id and params emptied; the content digest keyed
    deliveries   rendered URL and body and the last error emptied; pending and retrying ones cancelled
    attempts     request URL, headers and body, response excerpt and error emptied

What statistics count stays: event ids, types, times, amounts, currencies, partners, first-deposit
flags, delivery statuses, status codes, durations and error classes. The days of the player's events
are marked for the roll-up's next refresh, which counts the cancelled deliveries and puts the
pseudonym's hash in place of the player id's in the distinct-player counts.

An event that arrives later for the same id finds no player under it and starts a new one.
"""

from celery import signature
from django.contrib.admin.models import LogEntry
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiKey
from deliveries.models import Delivery, DeliveryAttempt
from events.models import CONTROL_CHARACTERS, ID_MAX_LENGTH, Event, Player, PlayerErasure
from events.pseudonyms import MAX_GENERATIONS, content_hash_erased, player_pseudonyms
from lib.queue import enqueue_on_commit
from lib.rows import rows_update
from partners.models import Qualification
from reporting.rollup import attempt_look_back_seconds, stats_days_mark, stats_days_of_events

CANCEL_REASON = "player erased"
NOT_FOUND = "No player with this id, and none was erased under it."
SETTLE_TASK = "ingest.tasks.settle_player_erasure"
# A sender recording an attempt locks the attempt, then its delivery; the erasure takes them the other
# way round, so the two can deadlock. PostgreSQL then aborts one of them, and an aborted erasure runs again.
DEADLOCK_DETECTED = "40P01"
MAX_ROUNDS = 3
# Content digests re-keyed per statement: one VALUES list of this many rows.
EVENT_CHUNK = 1000


class PlayerNotFound(LookupError):
    """No player has this id, and none was erased under it."""


class PlayerErasureLimit(RuntimeError):
    """The id has been erased and come back as a new player more times than pseudonyms are kept for."""


def player_erase(
    *, player_id: str, api_key: ApiKey | None = None, user: AbstractBaseUser | None = None
) -> PlayerErasure:
    """Erase the player's personal values and record who asked.

    Asking again for an erased player (by its id or its pseudonym) answers
    with the same pseudonym and clears only what was written since, if anything.
    """
    if not _storable(player_id):
        raise PlayerNotFound(NOT_FOUND)
    for _ in range(MAX_ROUNDS - 1):
        try:
            return _erase(player_id, api_key, user)
        except OperationalError as exc:
            if getattr(exc.__cause__, "pgcode", None) != DEADLOCK_DETECTED:
                raise
    return _erase(player_id, api_key, user)


def _erase(player_id: str, api_key: ApiKey | None, user: AbstractBaseUser | None) -> PlayerErasure:
    with transaction.atomic():
        erasure = PlayerErasure(api_key=api_key, user=user, requested_by=_requester(api_key, user))
        # Locked: an ingest for this player waits, then finds no row and starts a new player.
        player = Player.objects.select_for_update().filter(pk=player_id).first()
        if player is not None and not PlayerErasure.objects.filter(pseudonym=player_id).exists():
            erasure.pseudonym = _pseudonym_free(player_id)
            erasure.players, erasure.events = 1, _player_move(player, erasure.pseudonym)
        else:
            erasure.pseudonym = player_id if player is not None else _pseudonym_taken(player_id)
            erasure.already_erased = True
        in_flight = _scrub(erasure, events_moved=erasure.events)
        erasure.save()
        if in_flight:
            _settle_later(erasure)
    return erasure


def player_erasure_settle(*, erasure_id: int) -> PlayerErasure:
    """Clear what senders wrote after the erasure, for attempts that were in flight then; add it to the record."""
    with transaction.atomic():
        erasure = PlayerErasure.objects.select_for_update().get(pk=erasure_id)
        _scrub(erasure, events_moved=0)
        erasure.save()
    return erasure


def _storable(player_id: str) -> bool:
    """Whether ingest could have stored the id: anything else names no player (and may not even reach a query)."""
    return len(player_id) <= ID_MAX_LENGTH and not CONTROL_CHARACTERS.search(player_id)


def _requester(api_key: ApiKey | None, user: AbstractBaseUser | None) -> str:
    if api_key is not None:
        return f"API key {api_key}"
    return f"admin user {user.get_username()}" if user is not None else "system"


def _pseudonym_free(player_id: str) -> str:
    candidates = player_pseudonyms(player_id)
    taken = set(Player.objects.filter(pk__in=candidates).values_list("pk", flat=True))
    free = [pseudonym for pseudonym in candidates if pseudonym not in taken]
    if not free:
        raise PlayerErasureLimit(f"This player id has been erased {MAX_GENERATIONS} times already.")
    return free[0]


def _pseudonym_taken(player_id: str) -> str:
    """The pseudonym of the id's latest erasure."""
    candidates = player_pseudonyms(player_id)
    taken = set(Player.objects.filter(pk__in=candidates).values_list("pk", flat=True))
    used = [pseudonym for pseudonym in candidates if pseudonym in taken]
    if not used:
        raise PlayerNotFound(NOT_FOUND)
    return used[-1]


def _player_move(player: Player, pseudonym: str) -> int:
    """Re-create the player under its pseudonym without its personal values, move its events; returns how many."""
    Player.objects.create(
        player_id=pseudonym, partner_id=player.partner_id, attributed_at=player.attributed_at,
        registered_at=player.registered_at, first_deposit_at=player.first_deposit_at, created_at=player.created_at,
    )
    moved = Event.objects.filter(player_id=player.pk).update(player_id=pseudonym, click_id="", params={})
    # Its qualifications stay with it: a partner's CPA was earned and stays counted once.
    Qualification.objects.filter(player_id=player.pk).update(player_id=pseudonym)
    # The admin's history of changes to the player names it by id: it follows the player.
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Player), object_id=player.pk).update(
        object_id=pseudonym, object_repr=pseudonym
    )
    Player.objects.filter(pk=player.pk).delete()
    events, after = Event.objects.filter(player_id=pseudonym).order_by("pk").values_list("pk", "content_hash"), 0
    # Pages by id, not a cursor over rows being written: each round starts past the last, so it ends.
    while chunk := list(events.filter(pk__gt=after)[:EVENT_CHUNK]):
        rows_update(Event, ("id",), ("content_hash",), [(pk, content_hash_erased(digest)) for pk, digest in chunk])
        after = chunk[-1][0]
    return moved


def _scrub(erasure: PlayerErasure, *, events_moved: int) -> bool:
    """Empty the personal columns of the pseudonym's deliveries and attempts, cancel its open deliveries; count.

    Deliveries go first: a sender that claimed one of them before the erasure holds its row until its
    attempt rows are written, so the update waits for them and the attempts' update then sees them.
    True when some attempt is still in flight: its sender writes the response when it ends, after this.
    """
    now = timezone.now()
    deliveries = Delivery.objects.filter(event__player_id=erasure.pseudonym)
    attempts = DeliveryAttempt.objects.filter(delivery__event__player_id=erasure.pseudonym)
    erasure.deliveries += deliveries.filter(
        ~Q(request_url="") | ~Q(request_body="") | ~Q(last_error__in=["", CANCEL_REASON])
    ).update(request_url="", request_body="", last_error="", updated_at=now)
    cancelled = deliveries.filter(status__in=Delivery.OPEN_STATUSES).update(
        status=Delivery.Status.CANCELLED, next_attempt_at=None, claimed_until=None, claimed_by="",
        last_error=CANCEL_REASON, updated_at=now,
    )
    erasure.deliveries_cancelled += cancelled
    # The ordering key is a keyed digest of the erased id: nothing needs it once nothing is open.
    deliveries.exclude(order_key=None).update(order_key=None)
    erasure.attempts += attempts.filter(
        ~Q(request_url="") | ~Q(request_body="") | ~Q(request_headers={}) | ~Q(response_excerpt="") | ~Q(error="")
    ).update(request_url="", request_headers={}, request_body="", response_excerpt="", error="")
    if events_moved or cancelled:
        days = stats_days_of_events(events=Event.objects.filter(player_id=erasure.pseudonym, is_test=False))
        stats_days_mark(days=days)
        erasure.statistics_days += len(days)
    return attempts.filter(outcome=DeliveryAttempt.Outcome.IN_FLIGHT).exists()


def _settle_later(erasure: PlayerErasure) -> None:
    """Clear the in-flight attempts' responses once every sender must have written them.

    Published by name: ``ingest.tasks`` imports this module, and workers know the task.
    """
    settle = signature(SETTLE_TASK, args=(erasure.pk,), countdown=attempt_look_back_seconds())
    enqueue_on_commit(settle)
