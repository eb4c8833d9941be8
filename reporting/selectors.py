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


@dataclass
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
    rows: dict[tuple, StatsRow] = {}

    def row_for(values: dict) -> StatsRow:
        key = _key(values, query.group_by)
        if key not in rows:
            rows[key] = StatsRow(**dict(zip(query.group_by, key, strict=True)))
        return rows[key]

    counts = _grouped(_in_range(DailyCounts, query), _keys(query.group_by), **{name: Sum(name) for name in COUNTS})
    for values in counts:
        row = row_for(values)
        for name in COUNTS:
            setattr(row, name, values[name] or 0)
    for values in _money_sums(query):
        row = row_for(values)
        _add(row.deposit_sum, values["currency"], values["deposits"])
        _add(row.payout_sum, values["payout_currency"], values["payouts"])
    for key, players in _unique_players(query).items():
        if key in rows:
            rows[key].unique_players = players
    _fill_conversion_rates(query, rows.values(), counts)
    return sorted(rows.values(), key=_row_order)


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


def _grouped(queryset: QuerySet, keys: dict, extra_keys: tuple[str, ...] = (), **measures) -> list[dict]:
    """``GROUP BY keys`` with ``measures``; one aggregate row when there is nothing to group by."""
    names = (*keys, *extra_keys)
    if not names:
        return [queryset.aggregate(**measures)]
    return list(queryset.annotate(**keys).values(*names).annotate(**measures).order_by())


def _money_sums(query: StatsQuery) -> list[dict]:
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
    if "day" in query.group_by or query.date_from == query.date_to:
        return {_key(values, query.group_by): values["players"] or 0
                for values in _grouped(rows.filter(span=1), keys, players=Sum("players"))}
    blocks = Q()
    for span, start in blocks_covering(query.date_from, query.date_to):
        blocks |= Q(span=span, day=start)
    merged: dict[tuple, Sketch] = defaultdict(Sketch)
    for values in rows.filter(blocks).annotate(**keys).values(*keys, "sketch").order_by():
        merged[_key(values, query.group_by)].add(Sketch.loads(values["sketch"]))
    return {key: sketch.count() for key, sketch in merged.items()}


def _key(values: dict, group_by: Iterable[str]) -> tuple:
    return tuple(values[f"k_{name}"] for name in group_by)


def _fill_conversion_rates(query: StatsQuery, rows: Iterable[StatsRow], counts: list[dict]) -> None:
    spans = tuple(name for name in query.group_by if name != "event_type")
    if query.event_type:
        # The rate ignores the type filter, so count again over every type.
        counts = _grouped(
            _in_range(DailyCounts, query, by_type=False),
            _keys(spans),
            registrations=Sum("registrations"),
            first_deposits=Sum("first_deposits"),
        )
    # Registrations and first deposits add up across types and partners' rows of one span.
    registrations, first_deposits = Counter(), Counter()
    for values in counts:
        span = _key(values, spans)
        registrations[span] += values["registrations"] or 0
        first_deposits[span] += values["first_deposits"] or 0
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
    return {_key(values, spans): Cohort(values["registered"] or 0, values["deposited"] or 0) for values in grouped}
