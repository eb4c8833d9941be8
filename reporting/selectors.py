"""Statistics per day × partner × event type, aggregated from the source tables.

Every number is computed on request from ``Event`` and ``Delivery`` keyed on
the event's ``occurred_at``, cut into days in ``settings.REPORTING_TIME_ZONE``.
An event that arrives late or out of order is therefore counted in the day it
happened as soon as it is stored: there is no rollup that could fall out of
step. Test postbacks (``is_test``) are left out everywhere.

Definitions (the README's "Statistics and exports" repeats them):

- ``events``, ``unique_players``: events of the group and distinct players among them;
- ``registrations``: events of type ``registration``;
- ``first_deposits``: events that are a player's first deposit (``is_first_deposit``),
  whether reported as ``deposit`` or ``first_deposit``;
- ``deposit_sum``: amounts of ``deposit`` and ``first_deposit`` events, per currency;
- ``payout_sum``: what the group's partner earns, per currency. An event earns the
  payout rule of (its partner, its type); a first deposit earns the partner's
  ``first_deposit`` rule if there is one, else its ``deposit`` rule; any other
  ``first_deposit`` or ``deposit`` event earns the ``deposit`` rule. A fixed rule pays
  its value in its currency; a percent rule pays that share of the event's amount
  in the event's currency, rounded half-up to cents per event, exactly like the
  ``{payout}`` macro (``partners.payouts``);
- ``deliveries_*``: postbacks counted for the partner that receives them and the
  type the endpoint receives the event as, in the day the event occurred:
  ``delivered``, ``failed``, and ``pending`` (pending or retrying);
- ``conversion_rate``: first deposits / registrations of the row's partner over the
  row's date span (its day, or the whole range when not grouped by day), over
  all event types whatever the event-type filter; empty when there were no
  registrations. It compares activity in the same span, not a registration cohort.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    F,
    FilteredRelation,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Round, TruncDate

from deliveries.models import Delivery
from events.models import Event, EventType
from partners.models import PayoutRule
from partners.payouts import money

GROUP_BY_FIELDS = ("day", "partner", "event_type")
MONEY_PLACES = Decimal("0.0001")
DEPOSIT_TYPES = (EventType.DEPOSIT, EventType.FIRST_DEPOSIT)
# Multiplying by 0.01 rather than dividing by 100 keeps SQLite from integer division.
PERCENT = Decimal("0.01")


@dataclass(frozen=True)
class StatsQuery:
    """What to aggregate: an inclusive range of reporting days, optional filters, the grouping."""

    date_from: dt.date
    date_to: dt.date
    partner: str | None = None
    event_type: str | None = None
    group_by: tuple[str, ...] = GROUP_BY_FIELDS


@dataclass
class StatsRow:
    day: dt.date | None = None
    partner: str | None = None
    event_type: str | None = None
    events: int = 0
    unique_players: int = 0
    registrations: int = 0
    first_deposits: int = 0
    deposit_sum: dict[str, Decimal] = field(default_factory=dict)
    payout_sum: dict[str, Decimal] = field(default_factory=dict)
    deliveries_delivered: int = 0
    deliveries_failed: int = 0
    deliveries_pending: int = 0
    conversion_rate: Decimal | None = None


def reporting_time_zone() -> ZoneInfo:
    return ZoneInfo(settings.REPORTING_TIME_ZONE)


def reporting_today() -> dt.date:
    return dt.datetime.now(reporting_time_zone()).date()


def stats_rows(query: StatsQuery) -> list[StatsRow]:
    """One row per group present in the data, ordered by day, partner (unattributed last), type."""
    rows: dict[tuple, StatsRow] = {}

    def row_for(values: dict) -> StatsRow:
        key = tuple(values[f"k_{name}"] for name in query.group_by)
        if key not in rows:
            rows[key] = StatsRow(**dict(zip(query.group_by, key, strict=True)))
        return rows[key]

    event_counts = _event_counts(query)
    for values in event_counts:
        row = row_for(values)
        for name in ("events", "unique_players", "registrations", "first_deposits"):
            setattr(row, name, values[name])
    for values in _money_sums(query):
        row = row_for(values)
        _add(row.deposit_sum, values["currency"], values["deposits"])
        _add(row.payout_sum, values["payout_currency"], values["payouts"])
    for values in _delivery_counts(query):
        row = row_for(values)
        row.deliveries_delivered, row.deliveries_failed = values["delivered"], values["failed"]
        row.deliveries_pending = values["pending"]
    _fill_conversion_rates(query, rows.values(), event_counts)
    return sorted(rows.values(), key=_row_order)


def stats_totals(query: StatsQuery) -> StatsRow:
    """The same measures over the whole filtered range, as one row."""
    return (stats_rows(replace(query, group_by=())) or [StatsRow()])[0]


def _row_order(row: StatsRow) -> tuple:
    return (row.day or dt.date.min, row.partner is None, row.partner or "", row.event_type or "")


def _add(sums: dict[str, Decimal], currency: str, amount: Decimal | None) -> None:
    if amount is not None:
        # The quantize drops float noise that SQLite's arithmetic may leave.
        total = sums.get(currency, 0) + Decimal(amount).quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN)
        sums[currency] = money(total)


# --- Querysets ------------------------------------------------------------------


def _day_bounds(query: StatsQuery) -> tuple[dt.datetime, dt.datetime]:
    zone = reporting_time_zone()
    start = dt.datetime.combine(query.date_from, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(query.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _events(query: StatsQuery, *, by_type: bool = True) -> QuerySet:
    start, end = _day_bounds(query)
    events = Event.objects.filter(is_test=False, occurred_at__gte=start, occurred_at__lt=end)
    if query.partner:
        events = events.filter(partner__slug=query.partner)
    if query.event_type and by_type:
        events = events.filter(type_id=query.event_type)
    return events


def _deliveries(query: StatsQuery) -> QuerySet:
    start, end = _day_bounds(query)
    deliveries = Delivery.objects.filter(
        is_test=False, event__is_test=False, event__occurred_at__gte=start, event__occurred_at__lt=end
    )
    if query.partner:
        deliveries = deliveries.filter(partner__slug=query.partner)
    if query.event_type:
        deliveries = deliveries.filter(event_type_id=query.event_type)
    return deliveries


def _group_keys(group_by: Iterable[str], *, occurred_at: str, event_type: str) -> dict:
    expressions = {
        "day": TruncDate(occurred_at, tzinfo=reporting_time_zone()),
        "partner": F("partner__slug"),
        "event_type": F(event_type),
    }
    return {f"k_{name}": expressions[name] for name in group_by}


def _grouped(queryset: QuerySet, keys: dict, extra_keys: tuple[str, ...] = (), **measures) -> list[dict]:
    """``GROUP BY keys`` with ``measures``; one aggregate row when there is nothing to group by."""
    names = (*keys, *extra_keys)
    if not names:
        return [queryset.aggregate(**measures)]
    return list(queryset.annotate(**keys).values(*names).annotate(**measures).order_by())


def _event_keys(query: StatsQuery, group_by: Iterable[str] | None = None) -> dict:
    names = query.group_by if group_by is None else group_by
    return _group_keys(names, occurred_at="occurred_at", event_type="type_id")


def _event_counts(query: StatsQuery) -> list[dict]:
    return _grouped(
        _events(query),
        _event_keys(query),
        events=Count("id"),
        unique_players=Count("player_id", distinct=True),
        registrations=Count("id", filter=Q(type_id=EventType.REGISTRATION)),
        first_deposits=Count("id", filter=Q(is_first_deposit=True)),
    )


def _money_sums(query: StatsQuery) -> list[dict]:
    """Deposit sums per event currency and payout sums per payout currency, in one pass."""
    earning_or_deposit = Q(partner__isnull=False) | Q(type_id__in=DEPOSIT_TYPES, amount__isnull=False)
    return _grouped(
        _with_payout(_events(query).filter(earning_or_deposit)),
        _event_keys(query),
        ("currency", "payout_currency"),
        deposits=Sum("amount", filter=Q(type_id__in=DEPOSIT_TYPES)),
        payouts=Sum("payout"),
    )


def _with_payout(events: QuerySet) -> QuerySet:
    """Annotate ``payout`` and ``payout_currency`` from the partner's rule (see the module docstring).

    The candidate rules are joined (the unique (partner, event type) index
    serves each join) rather than looked up per row, which keeps a month of
    a million events in seconds.
    """
    joined = events.annotate(
        own_rule=_rule_of_type(F("type_id")),
        deposit_rule=_rule_of_type(Value(EventType.DEPOSIT)),
        first_deposit_rule=_rule_of_type(Value(EventType.FIRST_DEPOSIT)),
    )
    kind, value, currency = (_applicable(attribute) for attribute in ("kind", "value", "currency"))
    return joined.alias(rule_kind=kind, rule_value=value, rule_currency=currency).annotate(
        payout=Case(
            When(rule_kind=PayoutRule.Kind.FIXED, then=F("rule_value")),
            When(
                rule_kind=PayoutRule.Kind.PERCENT,
                amount__isnull=False,
                then=Round(F("amount") * F("rule_value") * Value(PERCENT), precision=2),
            ),
            output_field=DecimalField(max_digits=30, decimal_places=4),
        ),
        payout_currency=Case(
            When(rule_kind=PayoutRule.Kind.FIXED, then=F("rule_currency")),
            default=F("currency"),
            output_field=CharField(),
        ),
    )


def _rule_of_type(event_type) -> FilteredRelation:
    return FilteredRelation("partner__payout_rules", condition=Q(partner__payout_rules__event_type_id=event_type))


def _applicable(attribute: str) -> Case:
    """The rule's ``attribute``: a first deposit's own rule if any, else deposits' rule, else the type's rule."""
    return Case(
        When(is_first_deposit=True, first_deposit_rule__id__isnull=False, then=F(f"first_deposit_rule__{attribute}")),
        When(Q(is_first_deposit=True) | Q(type_id__in=DEPOSIT_TYPES), then=F(f"deposit_rule__{attribute}")),
        default=F(f"own_rule__{attribute}"),
    )


def _delivery_counts(query: StatsQuery) -> list[dict]:
    keys = _group_keys(query.group_by, occurred_at="event__occurred_at", event_type="event_type_id")
    return _grouped(
        _deliveries(query),
        keys,
        delivered=Count("id", filter=Q(status=Delivery.Status.DELIVERED)),
        failed=Count("id", filter=Q(status=Delivery.Status.FAILED)),
        pending=Count("id", filter=Q(status__in=Delivery.OPEN_STATUSES)),
    )


def _fill_conversion_rates(query: StatsQuery, rows: Iterable[StatsRow], event_counts: list[dict]) -> None:
    spans = tuple(name for name in query.group_by if name != "event_type")
    if query.event_type:
        # The rate ignores the type filter, so count again over every type.
        event_counts = _grouped(
            _events(query, by_type=False),
            _event_keys(query, spans),
            registrations=Count("id", filter=Q(type_id=EventType.REGISTRATION)),
            first_deposits=Count("id", filter=Q(is_first_deposit=True)),
        )
    # Registrations and first deposits add up across types and partners' rows of one span.
    registrations, first_deposits = Counter(), Counter()
    for values in event_counts:
        span = tuple(values[f"k_{name}"] for name in spans)
        registrations[span] += values["registrations"]
        first_deposits[span] += values["first_deposits"]
    for row in rows:
        span = tuple(getattr(row, name) for name in spans)
        row.conversion_rate = _rate(first_deposits[span], registrations[span])


def _rate(first_deposits: int, registrations: int) -> Decimal | None:
    if not registrations:
        return None
    return (Decimal(first_deposits) / Decimal(registrations)).quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN)
