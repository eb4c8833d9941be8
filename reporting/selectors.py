"""Statistics per day × partner × event type, read from the daily roll-up.

``reporting.rollup`` aggregates each day of ``Event`` and ``Delivery`` into
``DailyCounts``, ``DailyMoney`` and ``DailyPlayers``, keyed on the event's
``occurred_at`` cut into days in ``settings.REPORTING_TIME_ZONE``; a beat task
refreshes the days touched since its last run, so an event that arrives late
counts in the day it happened from the next refresh on. Reads sum those rows
and join the partner's slug (slugs may be renamed). Test postbacks
(``is_test``) are left out everywhere.

Definitions (docs/admin.md, "Statistics and exports", repeats them):

- ``events``, ``unique_players``: events of the group and distinct players among them.
  Distinct players are exact for a row of one day (grouped by day, or a one-day
  range). Over several days they come from the sketches of the few aligned blocks
  of days that tile the range, merged (``reporting.sketch``): exact while a group
  holds at most 512 players, else an estimate with a standard error of 1.6 %;
- ``registrations``: events of type ``registration``;
- ``first_deposits``: events that are a player's first deposit (``is_first_deposit``),
  whether reported as ``deposit`` or ``first_deposit``;
- ``qualified``: players that met one of their partner's qualification rules
  (``partners.QualificationRule``), counted on the day of the event that completed
  the rule: registrations → first deposits → qualified is the CPA funnel;
- ``deposit_sum``: amounts of ``deposit`` and ``first_deposit`` events, per currency;
- ``payout_sum``: what the group's partner earns, per currency. An event earns the
  payout rule of (its partner, its type); a first deposit earns the partner's
  ``first_deposit`` rule if there is one, else its ``deposit`` rule; any other
  ``first_deposit`` or ``deposit`` event earns the ``deposit`` rule. A fixed rule pays
  its value in its currency; a percent rule pays that share of the event's amount
  in the event's currency, rounded half-up to cents per event, exactly like the
  ``{payout}`` macro (``partners.payouts``). A reversed event (chargeback, fraud,
  cancelled) counts as an event but no longer adds to ``deposit_sum`` or ``payout_sum``
  in the day it happened; its ``reversal`` event counts in the day it was reversed;
- ``deliveries_*``: postbacks counted for the partner that receives them and the
  type the endpoint receives the event as, in the day the event occurred:
  ``delivered``, ``failed``, and ``pending`` (pending or retrying);
- ``conversion_rate``: first deposits / registrations of the row's partner over the
  row's date span (its day, or the whole range when not grouped by day), over
  all event types whatever the event-type filter; empty when there were no
  registrations. It compares activity in the same span, not a registration cohort;
- the admin page's conversion (``cohort_conversions``) is a cohort's instead: of the
  players who registered in the row's span, those who have made a first deposit so
  far. It is read from the players table, not the roll-up, and never exceeds 100 %.
"""

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from events.models import Player

from partners.payouts import money

from .models import DailyCounts, DailyMoney, DailyPlayers
from .sketch import Sketch
from .spans import blocks_covering

GROUP_BY_FIELDS = ("day", "partner", "event_type")
MONEY_PLACES = Decimal("0.0001")
COUNTS = ("events", "registrations", "first_deposits", "qualified", "deliveries_delivered", "deliveries_failed",
          "deliveries_pending")


@dataclass(frozen=True)
class StatsQuery:
    """What to aggregate: an inclusive range of reporting days, optional filters, the grouping."""

    date_from: dt.date
    date_to: dt.date
    partner: str | None = None
    event_type: str | None = None
    group_by: tuple[str, ...] = GROUP_BY_FIELDS


@dataclass(slots=True)
class StatsRow:
    day: dt.date | None = None
    partner: str | None = None
    event_type: str | None = None
    events: int = 0
    unique_players: int = 0
    registrations: int = 0
    first_deposits: int = 0
    qualified: int = 0
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
    group_by, width = query.group_by, len(query.group_by)
    rows: dict[tuple, StatsRow] = {}

    def row_for(key: tuple) -> StatsRow:
        row = rows.get(key)
        if row is None:
            row = rows[key] = StatsRow(**dict(zip(group_by, key, strict=True)))
        return row

    # Every read below is a list of tuples, its group's key first: a 120-day range
    # is thousands of groups, and a dict per row and group cost more than the SQL.
    counts = _grouped(_in_range(DailyCounts, query), _keys(group_by), **{name: Sum(name) for name in COUNTS})
    for values in counts:
        row = row_for(values[:width])
        for name, value in zip(COUNTS, values[width:], strict=True):
            setattr(row, name, value or 0)
    for *key, currency, payout_currency, deposits, payouts in _money_sums(query):
        row = row_for(tuple(key))
        _add(row.deposit_sum, currency, deposits)
        _add(row.payout_sum, payout_currency, payouts)
    for key, players in _unique_players(query).items():
        if key in rows:
            rows[key].unique_players = players
    ordered = sorted(rows.values(), key=_row_order)
    _fill_conversion_rates(query, ordered)
    return ordered


def stats_totals(query: StatsQuery) -> StatsRow:
    """The same measures over the whole filtered range, as one row."""
    return (stats_rows(replace(query, group_by=())) or [StatsRow()])[0]


def _row_order(row: StatsRow) -> tuple:
    return (row.day or dt.date.min, row.partner is None, row.partner or "", row.event_type or "")


def exact_money(amount) -> Decimal | None:
    # The quantize drops float noise that SQLite's arithmetic may leave.
    return None if amount is None else Decimal(amount).quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN)


def _add(sums: dict[str, Decimal], currency: str, amount: Decimal | None) -> None:
    if amount is not None:
        sums[currency] = money(sums.get(currency, 0) + exact_money(amount))


# --- Reads of the roll-up ------------------------------------------------------------


def _in_range(model, query: StatsQuery, *, by_type: bool = True) -> QuerySet:
    rows = model.objects.filter(day__gte=query.date_from, day__lte=query.date_to)
    if query.partner:
        rows = rows.filter(partner__slug=query.partner)
    if query.event_type and by_type:
        rows = rows.filter(event_type=query.event_type)
    return rows


def _keys(group_by: Iterable[str]) -> dict:
    expressions = {"day": F("day"), "partner": F("partner__slug"), "event_type": F("event_type")}
    return {f"k_{name}": expressions[name] for name in group_by}


def _grouped(queryset: QuerySet, keys: dict, extra_keys: tuple[str, ...] = (), **measures) -> list[tuple]:
    """``GROUP BY keys`` with ``measures``, as tuples: the keys, the extra keys, then the measures, in order.

    One aggregate row when there is nothing to group by.
    """
    names = (*keys, *extra_keys)
    if not names:
        return [tuple(queryset.aggregate(**measures).values())]
    grouped = queryset.annotate(**keys).values(*names).annotate(**measures)
    return list(grouped.values_list(*names, *measures).order_by())


def _money_sums(query: StatsQuery) -> list[tuple]:
    return _grouped(
        _in_range(DailyMoney, query),
        _keys(query.group_by),
        ("currency", "payout_currency"),
        deposits=Sum("deposit_sum"),
        payouts=Sum("payout_sum"),
    )


def _unique_players(query: StatsQuery) -> dict[tuple, int]:
    """Distinct players per group: the day rows of the grouping set that the grouping and the filters need.

    A group within one day sums exact counts (one row each); a group over
    several days merges the days' sketches.
    """
    by_partner = "partner" in query.group_by or bool(query.partner)
    by_type = "event_type" in query.group_by or bool(query.event_type)
    rows = _in_range(DailyPlayers, query).filter(by_partner=by_partner, by_type=by_type)
    keys = _keys(query.group_by)
    width = len(query.group_by)
    if "day" in query.group_by or query.date_from == query.date_to:
        days = _grouped(rows.filter(span=1), keys, players=Sum("players"))
        return {values[:width]: values[width] or 0 for values in days}
    blocks = Q()
    for span, start in blocks_covering(query.date_from, query.date_to):
        blocks |= Q(span=span, day=start)
    merged: dict[tuple, Sketch] = defaultdict(Sketch)
    for *key, sketch in rows.filter(blocks).annotate(**keys).values_list(*keys, "sketch").order_by():
        merged[tuple(key)].add(Sketch.loads(sketch))
    return {key: sketch.count() for key, sketch in merged.items()}


def _fill_conversion_rates(query: StatsQuery, rows: list[StatsRow]) -> None:
    spans = tuple(name for name in query.group_by if name != "event_type")
    registrations, first_deposits = Counter(), Counter()
    if query.event_type:
        # The rate ignores the type filter, so count again over every type.
        width = len(spans)
        counts = _grouped(
            _in_range(DailyCounts, query, by_type=False),
            _keys(spans),
            registrations=Sum("registrations"),
            first_deposits=Sum("first_deposits"),
        )
        for values in counts:
            registrations[values[:width]] += values[width] or 0
            first_deposits[values[:width]] += values[width + 1] or 0
    else:
        # Registrations and first deposits add up across types' and partners' rows of one span.
        for row in rows:
            span = tuple(getattr(row, name) for name in spans)
            registrations[span] += row.registrations
            first_deposits[span] += row.first_deposits
    for row in rows:
        span = tuple(getattr(row, name) for name in spans)
        row.conversion_rate = _rate(first_deposits[span], registrations[span])


def _rate(first_deposits: int, registrations: int) -> Decimal | None:
    if not registrations:
        return None
    return (Decimal(first_deposits) / Decimal(registrations)).quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Cohort:
    """Players who registered in a span, and how many of them have made a first deposit so far."""

    registered: int
    deposited: int

    @property
    def share(self) -> Decimal | None:
        return None if not self.registered else Decimal(self.deposited) / Decimal(self.registered)


def cohort_conversions(query: StatsQuery) -> dict[tuple, Cohort]:
    """Registration cohorts per row span of ``query`` (its day and partner groups; event types share them).

    Keyed like ``stats_rows``' groups without ``event_type``: ``(day, partner)``,
    ``(partner,)``, ``(day,)`` or ``()``. The partner filter applies; the type filter does not.
    """
    spans = tuple(name for name in query.group_by if name != "event_type")
    zone = reporting_time_zone()
    start = dt.datetime.combine(query.date_from, dt.time.min, zone)
    end = dt.datetime.combine(query.date_to + dt.timedelta(days=1), dt.time.min, zone)
    # The players table's (partner, registered_at) index serves a partner's range.
    players = Player.objects.filter(registered_at__gte=start, registered_at__lt=end)
    if query.partner:
        players = players.filter(partner__slug=query.partner)
    keys = {"day": TruncDate("registered_at", tzinfo=zone), "partner": F("partner__slug")}
    measures = {"registered": Count("pk"), "deposited": Count("pk", filter=Q(first_deposit_at__isnull=False))}
    grouped = _grouped(players, {f"k_{name}": keys[name] for name in spans}, **measures)
    width = len(spans)
    return {values[:width]: Cohort(values[width] or 0, values[width + 1] or 0) for values in grouped}
