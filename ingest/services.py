"""Event ingestion: validate, deduplicate, attribute, store, fan out to deliveries.

A single event is a batch of one; both go through ``events_ingest``, which
stores with set-based statements whatever the batch size:

    event types, partners, routes none while this process's copy is current (partners.config_cache)
    already stored event_ids      1 read of the key table on PostgreSQL (ingest.event_keys), then of the
                                  events only when it holds some of them; 1 read of the events elsewhere
    existing players              1 SELECT … FOR UPDATE
    earlier first deposits        1 read, only for known players with no first deposit yet
    players                       1 INSERT of the new ones, 1 UPDATE of known ones that changed (rows_update)
    events                        1 INSERT
    deliveries                    1 INSERT when any endpoint matched

Idempotency does not rest on the read of stored event_ids: the uniqueness
of ``event_id`` does (a unique index; over PostgreSQL's monthly partitions,
the primary key of the key table in ``lib.partitioning``). When a concurrent
request stores the same event_id or the same new player between that read
and the insert, the insert fails, the transaction is rolled back and the batch is
worked out again, now seeing the other request's rows. Known players are
locked in key order, so two requests for one player take turns: attribution
and the first deposit are decided by whoever comes first, and concurrent
batches cannot deadlock.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from django.db import IntegrityError, transaction
from django.utils import timezone

from deliveries.models import Delivery
from deliveries.services import deliveries_add_for_events, deliveries_create_for_events
from events.models import Event, EventType, Player
from events.pseudonyms import content_hash_erased
from lib.rows import rows_insert, rows_update
from monitoring import observe
from partners.config_cache import RoutingConfig, routing_config
from partners.models import Partner
from partners.qualification import qualifications_evaluate

from .event_keys import event_ids_maybe_stored
from .validation import Catalog, EventInput, differing_fields, validate_event

CREATED, DUPLICATE, CONFLICT, ERROR = "created", "duplicate", "conflict", "error"
INGEST_STATUSES = (CREATED, DUPLICATE, CONFLICT, ERROR)
# A retry only follows a concurrent insert of the same event_id, which the
# retry then sees; a handful of rounds covers any realistic pile-up.
MAX_STORE_ROUNDS = 5
FIRST_DEPOSIT_TYPES = (EventType.DEPOSIT, EventType.FIRST_DEPOSIT)
_PLAYER_FIELDS = ["partner", "click_id", "tracking_params", "attributed_at", "registered_at", "first_deposit_at"]


@dataclass
class IngestResult:
    """What became of one submitted event."""

    status: str
    event: Event | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    detail: str = ""
    warnings: list[str] = field(default_factory=list)
    event_id: str | None = None
    deliveries: list[Delivery] | None = field(default=None, repr=False)


def event_ingest(*, data) -> IngestResult:
    return events_ingest(items=[data], with_deliveries=True)[0]


def events_ingest(*, items: list, with_deliveries: bool = False) -> list[IngestResult]:
    """Store every valid, new event of ``items``; return one result per item, in order.

    ``with_deliveries`` puts a new event's deliveries in its result (a
    single event's answer lists them; a batch's does not, and skips making
    an object per delivery).
    """
    config = routing_config()
    catalog = catalog_load(config=config)
    outcomes = [validate_event(raw, catalog) for raw in items]
    inputs = _first_occurrences(outcome for outcome in outcomes if isinstance(outcome, EventInput))
    stored = _store(inputs=inputs, config=config, with_deliveries=with_deliveries) if inputs else {}
    results = [_result_for(raw, outcome, stored, inputs) for raw, outcome in zip(items, outcomes, strict=True)]
    observe.events_stored(events=[result.event for result in results if result.status == CREATED])
    return results


def catalog_load(*, config: RoutingConfig) -> Catalog:
    return Catalog(amount_required=config.amount_required, partners=config.partners)


def _first_occurrences(inputs: Iterable[EventInput]) -> dict[str, EventInput]:
    """One input per event_id; a repeat within the batch is judged against what gets stored."""
    first: dict[str, EventInput] = {}
    for event_input in inputs:
        first.setdefault(event_input.event_id, event_input)
    return first


@dataclass
class _Stored:
    event: Event
    created: bool
    warnings: list[str]
    deliveries: list[Delivery] | None = None


def _result_for(raw, outcome, stored: dict[str, _Stored], inputs: dict[str, EventInput]) -> IngestResult:
    if not isinstance(outcome, EventInput):
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        return IngestResult(status=ERROR, errors=outcome, event_id=event_id if isinstance(event_id, str) else None)
    entry = stored[outcome.event_id]
    if entry.event.content_hash != outcome.content_hash and not _replays_erased(entry.event, outcome):
        return _conflict(outcome, entry.event)
    # A repeat inside one batch is a duplicate of its first occurrence.
    is_first_occurrence = inputs[outcome.event_id] is outcome
    created = entry.created and is_first_occurrence
    warnings = _attribution_warnings(outcome, entry.event) + (entry.warnings if created else [])
    return IngestResult(
        status=CREATED if created else DUPLICATE,
        event=entry.event,
        warnings=warnings,
        event_id=outcome.event_id,
        deliveries=entry.deliveries if created else None,
    )


def _replays_erased(event: Event, event_input: EventInput) -> bool:
    """The same content sent again for an event whose player was erased (``ingest.erasure`` keyed its digest)."""
    return event.content_hash == content_hash_erased(event_input.content_hash)


def _conflict(event_input: EventInput, event: Event) -> IngestResult:
    fields = differing_fields(event_input, event)
    which = f"differs in: {', '.join(fields)}" if fields else "differs in fields sent one time and left out the other"
    detail = (
        f"event_id {event_input.event_id!r} is already used by event {event.pk} with different content ({which}). "
        "Resend the original content, or use a new event_id for a new event."
    )
    return IngestResult(
        status=CONFLICT, event=event, detail=detail, errors={"event_id": [detail]}, event_id=event_input.event_id
    )


def _attribution_warnings(event_input: EventInput, event: Event) -> list[str]:
    if not event_input.partner or event.partner is None or event.partner.slug == event_input.partner:
        return []
    return [
        f"partner {event_input.partner!r} was not applied: player {event.player_id!r} is attributed to "
        f"{event.partner.slug!r} (first touch wins); the event is attributed to {event.partner.slug!r}."
    ]


def _store(**kwargs) -> dict[str, _Stored]:
    for _ in range(MAX_STORE_ROUNDS - 1):
        try:
            with transaction.atomic():
                return _store_once(**kwargs)
        except IntegrityError:
            # A concurrent request stored one of these event_ids (or a first
            # deposit) first; the next round sees its rows.
            continue
    with transaction.atomic():
        return _store_once(**kwargs)


def _store_once(
    *, inputs: dict[str, EventInput], config: RoutingConfig, with_deliveries: bool
) -> dict[str, _Stored]:
    partners = config.partners
    now = timezone.now()
    maybe_stored = event_ids_maybe_stored(list(inputs))
    found = list(Event.objects.filter(event_id__in=maybe_stored)) if maybe_stored else []
    stored_events = _with_partners(found, config)
    existing = {event.event_id: _Stored(event=event, created=False, warnings=[]) for event in stored_events}
    new_inputs = [event_input for event_id, event_input in inputs.items() if event_id not in existing]
    if not new_inputs:
        return existing
    player_ids = {event_input.player_id for event_input in new_inputs}
    players = _players_locked(player_ids=player_ids, config=config)
    new_players = {pid: Player(player_id=pid, created_at=now) for pid in sorted(player_ids - set(players))}
    has_first_deposit = _players_with_first_deposit(players=players, inputs=new_inputs)
    players |= new_players
    changed: dict[str, Player] = {}
    built = [
        _event_for(event_input, players[event_input.player_id], has_first_deposit, changed, partners, now)
        for event_input in new_inputs
    ]
    _players_save(new=new_players, changed=changed, now=now)
    # A fixed insert order keeps two batches with common event_ids from deadlocking.
    _events_insert(sorted((stored.event for stored in built), key=lambda event: event.event_id), now)
    events = [stored.event for stored in built]
    if with_deliveries:
        _attach_deliveries(built, deliveries_create_for_events(events=events, routes=config.routes), config)
    else:
        deliveries_add_for_events(events=events, routes=config.routes)
    if config.qualification_rules:
        qualified = qualifications_evaluate(events=events, players=players, rules=config.qualification_rules)
        deliveries_add_for_events(events=qualified, routes=config.routes)
    return existing | {stored.event.event_id: stored for stored in built}


_EVENT_COLUMNS = [
    "event_id", "type", "player", "partner", "click_id", "amount", "currency", "params", "occurred_at",
    "is_first_deposit", "content_hash",
]


def _events_insert(events: list[Event], now) -> None:
    rows = (
        (event.event_id, event.type_id, event.player_id, event.partner_id, event.click_id, event.amount,
         event.currency, event.params, event.occurred_at, event.is_first_deposit, event.content_hash)
        for event in events
    )
    ids = rows_insert(Event, columns=_EVENT_COLUMNS, rows=rows, shared={"received_at": now})
    for event, pk in zip(events, ids, strict=True):
        event.pk = pk
        event._state.adding = False  # stored: as bulk_create leaves its objects


def _attach_deliveries(built: list[_Stored], deliveries: list[Delivery], config: RoutingConfig) -> None:
    """Keep each new event's deliveries, with their partners, so the answer needs no read-back."""
    by_event: dict[int, list[Delivery]] = {stored.event.pk: [] for stored in built}
    for delivery in _with_partners(deliveries, config):
        by_event[delivery.event_id].append(delivery)
    for stored in built:
        stored.deliveries = by_event[stored.event.pk]


def _with_partners(objs: list, config: RoutingConfig) -> list:
    """Set each object's partner from the routing configuration, instead of joining partners into every read."""
    known = config.partners_by_id
    missing = {obj.partner_id for obj in objs if obj.partner_id is not None} - known.keys()
    if missing:  # partners newer than this process's configuration
        known = {**known, **Partner.objects.in_bulk(missing)}
    for obj in objs:
        if obj.partner_id is not None:
            obj.partner = known[obj.partner_id]
    return objs


def _players_locked(*, player_ids: set[str], config: RoutingConfig) -> dict[str, Player]:
    """The players that exist already, locked in key order so concurrent requests take turns without deadlock."""
    locked = Player.objects.select_for_update().filter(player_id__in=sorted(player_ids)).order_by("player_id")
    return {player.player_id: player for player in _with_partners(list(locked), config)}


def _players_save(*, new: dict[str, Player], changed: dict[str, Player], now) -> None:
    """Insert new players with their final attribution; update the existing ones that changed.

    A plain INSERT, not ON CONFLICT DO NOTHING: when a concurrent request
    created one of these players first, the insert fails and the whole round
    runs again with that player locked, instead of silently losing this
    round's attribution.
    """
    rows_insert(
        Player,
        columns=["player_id", "partner", "click_id", "tracking_params", "attributed_at", "registered_at",
                 "first_deposit_at"],
        rows=[(player.player_id, player.partner_id, player.click_id, player.tracking_params, player.attributed_at,
               player.registered_at, player.first_deposit_at) for player in new.values()],
        shared={"created_at": now},
    )
    updated = [player for player_id, player in changed.items() if player_id not in new]
    attributes = attrgetter("player_id", *(Player._meta.get_field(name).attname for name in _PLAYER_FIELDS))
    rows_update(Player, ("player_id",), _PLAYER_FIELDS, [attributes(player) for player in updated])


def _players_with_first_deposit(*, players: dict[str, Player], inputs: list[EventInput]) -> set[str]:
    """Existing players that already have a first deposit, so a deposit now is a plain one."""
    done = {player_id for player_id, player in players.items() if player.first_deposit_at is not None}
    depositing = {event_input.player_id for event_input in inputs if event_input.type in FIRST_DEPOSIT_TYPES}
    candidates = depositing & players.keys() - done
    if candidates:
        done |= set(
            Event.objects.filter(player_id__in=candidates, is_first_deposit=True).values_list("player_id", flat=True)
        )
    return done


def _event_for(event_input, player, has_first_deposit, changed, partners, now) -> _Stored:
    occurred_at = event_input.occurred_at or now
    _attribute(player, event_input, partners, occurred_at, changed)
    warnings = []
    is_first_deposit = event_input.type in FIRST_DEPOSIT_TYPES and player.player_id not in has_first_deposit
    if is_first_deposit:
        has_first_deposit.add(player.player_id)
        player.first_deposit_at = occurred_at
        changed[player.player_id] = player
    elif event_input.type == EventType.FIRST_DEPOSIT:
        warnings.append(
            f"player {player.player_id!r} already made a first deposit; this event is stored as a plain deposit."
        )
    if event_input.type == EventType.REGISTRATION and player.registered_at is None:
        player.registered_at = occurred_at
        changed[player.player_id] = player
    event = Event(
        event_id=event_input.event_id,
        type_id=event_input.type,
        player=player,
        partner=player.partner,
        click_id=player.click_id if player.partner_id else event_input.click_id,
        amount=event_input.amount,
        currency=event_input.currency,
        params=event_input.params,
        occurred_at=occurred_at,
        received_at=now,
        is_first_deposit=is_first_deposit,
        content_hash=event_input.content_hash,
    )
    return _Stored(event=event, created=True, warnings=warnings)


def _attribute(player, event_input, partners, occurred_at, changed) -> None:
    """Bind an unattributed player to the first partner an event names; later events inherit it."""
    if not event_input.partner or player.partner_id is not None:
        return
    player.partner = partners[event_input.partner]
    player.click_id = event_input.click_id
    player.tracking_params = event_input.params
    player.attributed_at = occurred_at
    changed[player.player_id] = player
