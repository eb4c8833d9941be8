"""A from-scratch, pure-Python statistics aggregate: the oracle the SQL is compared with."""

from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from deliveries.models import Delivery
from events.models import Event, EventType
from partners.models import PayoutRule
from partners.payouts import payout_for

DEPOSITS = (EventType.DEPOSIT, EventType.FIRST_DEPOSIT)


def reference_stats(*, time_zone: str, group_by: tuple[str, ...]) -> dict[tuple, dict]:
    zone = ZoneInfo(time_zone)
    rules = {(rule.partner_id, rule.event_type_id): rule for rule in PayoutRule.objects.all()}
    rows: dict[tuple, dict] = defaultdict(_empty)

    def key(day, partner, event_type):
        values = {"day": day, "partner": partner, "event_type": event_type}
        return tuple(values[name] for name in group_by)

    for event in Event.objects.filter(is_test=False).select_related("partner"):
        row = rows[key(event.occurred_at.astimezone(zone).date(), _slug(event.partner), event.type_id)]
        row["events"] += 1
        row["players"].add(event.player_id)
        row["registrations"] += event.type_id == EventType.REGISTRATION
        row["first_deposits"] += event.is_first_deposit
        row["qualified"] += event.type_id == EventType.QUALIFIED
        if event.reversed_at is not None or event.type_id == EventType.REVERSAL:
            continue  # a reversed event no longer earns; a reversal earns nothing itself
        if event.type_id in DEPOSITS and event.amount is not None:
            row["deposit_sum"][event.currency] += event.amount
        _add_payout(row, event, rules)
    deliveries = Delivery.objects.filter(is_test=False, event__is_test=False).select_related("event", "partner")
    for delivery in deliveries:
        day = delivery.event.occurred_at.astimezone(zone).date()
        row = rows[key(day, delivery.partner.slug, delivery.event_type_id)]
        row[delivery.status] += 1
    return dict(rows)


def _empty() -> dict:
    return {
        "events": 0,
        "players": set(),
        "registrations": 0,
        "first_deposits": 0,
        "qualified": 0,
        "deposit_sum": defaultdict(Decimal),
        "payout_sum": defaultdict(Decimal),
        **{status: 0 for status in Delivery.Status.values},
    }


def _slug(partner):
    return partner.slug if partner else None


def _add_payout(row: dict, event, rules: dict) -> None:
    if event.partner_id is None:
        return
    rule_type = event.type_id
    if event.is_first_deposit:
        has_ftd_rule = (event.partner_id, EventType.FIRST_DEPOSIT) in rules
        rule_type = EventType.FIRST_DEPOSIT if has_ftd_rule else EventType.DEPOSIT
    elif event.type_id in DEPOSITS:
        rule_type = EventType.DEPOSIT
    rule = rules.get((event.partner_id, rule_type))
    payout = payout_for(rule, event.amount)
    if payout is not None:
        currency = rule.currency if rule.kind == PayoutRule.Kind.FIXED else event.currency
        row["payout_sum"][currency] += payout
