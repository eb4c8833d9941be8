"""Qualified players: a partner's qualification rules, evaluated as each player's events arrive.

Ingest calls ``qualifications_evaluate`` inside its own transaction, after it
stored the events and while it holds the players' rows locked, so concurrent
events of one player are judged one after the other and see each other; the
unique (rule, player) constraint backs that up. A player that meets a rule
gets a ``Qualification`` and a derived ``qualified`` event, which reaches the
partner's endpoints subscribed to ``qualified`` and earns its payout rule.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from events.models import Event, EventType, Player

from .models import Qualification, QualificationRule

DEPOSITS = (EventType.DEPOSIT, EventType.FIRST_DEPOSIT)
# Events that can change whether a player qualifies; others are not worth a look.
QUALIFYING_TYPES = (EventType.REGISTRATION, *DEPOSITS, EventType.GAME_ACTIVITY)


@dataclass(frozen=True)
class PlayerEvent:
    """What a rule reads of one of the player's events."""

    event_id: str
    type: str
    occurred_at: datetime
    amount: Decimal | None
    currency: str
    is_first_deposit: bool
    params: Mapping


def rule_met_by(rule: QualificationRule, *, player: Player, history: Iterable[PlayerEvent]) -> list[str] | None:
    """The ids of the events that meet ``rule``, or None when the player does not (yet) qualify."""
    start = player.registered_at if rule.window_start == rule.WindowStart.REGISTRATION else player.first_deposit_at
    if start is None:
        return None
    end = start + timedelta(days=rule.window_days)
    in_window = [event for event in history if start <= event.occurred_at <= end]
    deposits = [e for e in in_window if e.type in DEPOSITS and e.currency == rule.currency and e.amount is not None]
    wagers = [(e, _number(e.params.get(rule.wager_param))) for e in in_window if e.type == EventType.GAME_ACTIVITY]
    wagers = [(e, amount) for e, amount in wagers if amount is not None and e.currency in ("", rule.currency)]
    first = next((e for e in deposits if e.is_first_deposit), None)
    checks = (
        rule.min_first_deposit is None or (first is not None and first.amount >= rule.min_first_deposit),
        rule.min_deposit_count is None or len(deposits) >= rule.min_deposit_count,
        rule.min_deposit_sum is None or sum(e.amount for e in deposits) >= rule.min_deposit_sum,
        rule.min_wager_sum is None or sum(amount for _, amount in wagers) >= rule.min_wager_sum,
        not rule.allowed_countries or _country(player, in_window) in rule.allowed_countries,
    )
    if not all(checks):
        return None
    counted = set()
    if rule.min_first_deposit is not None:
        counted.add(first.event_id)
    if rule.min_deposit_count is not None or rule.min_deposit_sum is not None:
        counted |= {e.event_id for e in deposits}
    if rule.min_wager_sum is not None:
        counted |= {e.event_id for e, _ in wagers}
    return [e.event_id for e in in_window if e.event_id in counted or e.type == EventType.REGISTRATION]


def qualifications_evaluate(
    *, events: Iterable[Event], players: Mapping[str, Player], rules: Mapping[int, tuple[QualificationRule, ...]]
) -> list[Event]:
    """Qualify the players of ``events`` by their partner's active rules; returns the stored ``qualified`` events."""
    candidates = {
        (event.player_id, event.partner_id) for event in events
        if event.partner_id in rules and event.type_id in QUALIFYING_TYPES and not event.is_test
    }
    qualified = []
    for player_id, partner_id in sorted(candidates):
        qualified += _evaluate_player(players[player_id], rules[partner_id], partner_id)
    return qualified


def _evaluate_player(player: Player, rules: tuple[QualificationRule, ...], partner_id: int) -> list[Event]:
    # A player attributed elsewhere since (first touch wins) is not this partner's to qualify.
    if player.partner_id != partner_id:
        return []
    done = set(Qualification.objects.filter(player=player, rule__in=rules).values_list("rule_id", flat=True))
    open_rules = [rule for rule in rules if rule.pk not in done]
    if not open_rules:
        return []
    history = _history(player)
    qualified = []
    for rule in open_rules:
        met_by = rule_met_by(rule, player=player, history=history)
        if met_by is not None:
            qualified.append(_qualify(rule, player, met_by, history))
    return qualified


def _history(player: Player) -> list[PlayerEvent]:
    rows = (
        Event.objects.filter(player=player, type_id__in=QUALIFYING_TYPES, reversed_at__isnull=True, is_test=False)
        .order_by("occurred_at", "pk")
        .values_list("event_id", "type_id", "occurred_at", "amount", "currency", "is_first_deposit", "params")
    )
    return [PlayerEvent(*row) for row in rows]


def _qualify(rule: QualificationRule, player: Player, met_by: list[str], history: list[PlayerEvent]) -> Event:
    now = timezone.now()
    qualification = Qualification.objects.create(rule=rule, player=player, met_by=met_by, qualified_at=now)
    counted = set(met_by)
    last = max((event.occurred_at for event in history if event.event_id in counted), default=now)
    event = Event.objects.create(
        event_id=f"qualified-{qualification.pk}", type_id=EventType.QUALIFIED, player=player,
        partner_id=rule.partner_id, click_id=player.click_id, params={"rule": rule.name},
        occurred_at=last, received_at=now,
    )
    qualification.event = event
    qualification.save(update_fields=["event"])
    return event


def _number(value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _country(player: Player, events: list[PlayerEvent]) -> str:
    """The player's country: its tracking params' first, else the latest event that names one."""
    country = (player.tracking_params or {}).get("country") or next(
        (event.params["country"] for event in reversed(events) if event.params.get("country")), ""
    )
    return str(country).upper()
