"""The statistics' daily roll-up: which days changed, and aggregating a day again.

A refresh first finds the days touched since the previous one and marks
them stale (``StaleDay``), then aggregates the stale days again, longest
marked first (newest day first among equals), each in its own transaction,
within a time budget. Touched days are
found without a write on the ingest or send path:

- new events and deliveries: ids above the last run's mark. The mark only
  passes rows received more than ``SETTLE_SECONDS`` ago, so a transaction
  that committed late with a lower id is still seen;
- status changes by the sender: attempts started since the last run, less
  how long a batch may take to record them (``attempt_look_back_seconds``:
  its rounds at the longest endpoint timeout, the lease and
  ``SETTLE_SECONDS``; 450 s with the default 64 deliveries on 32 threads);
- resends, cancels, payout-rule changes, deleted endpoints: the code that
  makes them marks the days (``stats_days_mark``, ``reporting.signals``);
- a changed ``REPORTING_TIME_ZONE``: everything is built again.

Definitions of every measure: ``reporting.selectors``.
"""

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    F,
    FilteredRelation,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Round, TruncDate
from django.utils import timezone

from deliveries.models import Delivery
from events.models import Event, EventType
from partners.models import ENDPOINT_TIMEOUT_MAX_SECONDS, PayoutRule

from .models import DailyCounts, DailyMoney, DailyPlayers, FinalDays, RollupState, StaleDay
from .selectors import exact_money, reporting_time_zone
from .sketch import Sketch, player_hash
from .spans import MAX_SPAN, block_start

DEPOSIT_TYPES = (EventType.DEPOSIT, EventType.FIRST_DEPOSIT)
# Multiplying by 0.01 rather than dividing by 100 keeps SQLite from integer division.
PERCENT = Decimal("0.01")
# Longer than any ingest transaction: a row received this long ago has committed.
SETTLE_SECONDS = 300
# Any constant, the same in every process: the refreshers' advisory lock.
LOCK_KEY = 7_210_451
GROUPING_SETS = ((True, True), (True, False), (False, True), (False, False))


def stats_rollup_refresh(*, budget_seconds: float | None = None, wait: bool = False, rebuild: bool = False,
                         progress: Callable[[dt.date, int], object] | None = None) -> int | None:
    """Mark the touched days stale and aggregate stale days until the budget is spent; returns how many.

    The first day is always done, so every run makes progress; None when
    another refresher holds the lock (and ``wait`` is false). ``rebuild``
    forgets the roll-up first, so every day is built again.
    """
    budget = settings.STATS_ROLLUP_TIME_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    with _refresher_lock(wait=wait) as locked:
        if not locked:
            return None
        if rebuild:
            _forget()
        started, deadline = timezone.now(), time.monotonic() + budget
        state = _touched_days_mark(now=started)
        done = 0
        for day in list(StaleDay.objects.order_by("marked_at", "-day").values_list("day", flat=True)):
            if done and time.monotonic() >= deadline:
                break
            stats_day_aggregate(day=day)
            done += 1
            if progress:
                progress(day, done)
        if not StaleDay.objects.exists():
            RollupState.objects.filter(pk=state.pk).update(as_of=started)
        return done


def _forget() -> None:
    """Drop the roll-up, except the final days': their rows can no longer be built again."""
    final = stats_final_before()
    with transaction.atomic():
        for model in (DailyCounts, DailyMoney, DailyPlayers):
            rows = model.objects.all()
            (rows.filter(day__gte=final) if final else rows).delete()
        for model in (StaleDay, RollupState):
            model.objects.all().delete()


def stats_final_before() -> dt.date | None:
    """The first reporting day the roll-up may still aggregate; the days before it are final."""
    return FinalDays.objects.values_list("before", flat=True).first()


def stats_days_finalise(*, before: dt.date) -> None:
    """Keep the roll-up of every day before ``before`` as it is from now on (retention drops their rows)."""
    final = stats_final_before()
    if final is None:
        FinalDays.objects.create(before=before)
    elif before > final:
        FinalDays.objects.update(before=before)


def stats_rollup_settled(*, events_below: int, deliveries_below: int, days_before: dt.date) -> bool:
    """Whether the roll-up has counted every event and delivery with an id below these, for good.

    True once its mark has passed them and no day before ``days_before``
    waits to be aggregated again.
    """
    state = RollupState.objects.first()
    if state is None or state.as_of is None:
        return False
    unseen = (Event.objects.filter(id__gt=state.events_seen, id__lt=events_below).exists()
              or Delivery.objects.filter(id__gt=state.deliveries_seen, id__lt=deliveries_below).exists())
    return not unseen and not StaleDay.objects.filter(day__lt=days_before).exists()


def stats_days_of(*, deliveries: QuerySet[Delivery]) -> set[dt.date]:
    """The reporting days of these deliveries' events, to mark once they have changed."""
    days = deliveries.order_by().values_list(_event_day("event__occurred_at"), flat=True).distinct()
    return set(days)


def stats_days_of_events(*, events: QuerySet[Event]) -> set[dt.date]:
    """The reporting days of these events, to mark once they (or their deliveries) have changed."""
    return set(events.order_by().values_list(_event_day("occurred_at"), flat=True).distinct())


def stats_days_mark(*, days: Iterable[dt.date]) -> None:
    """Have the next refresh aggregate these days again; call it after the change (or in its transaction)."""
    now = timezone.now()
    StaleDay.objects.bulk_create([StaleDay(day=day, marked_at=now) for day in set(days)], ignore_conflicts=True)


def stats_partner_days_mark(*, partner_id: int) -> None:
    """All of a partner's days: its payouts are recomputed from the current rules."""
    stats_days_mark(days=DailyCounts.objects.filter(partner_id=partner_id).values_list("day", flat=True).distinct())


def stats_as_of() -> dt.datetime | None:
    return RollupState.objects.values_list("as_of", flat=True).first()


# --- Finding touched days --------------------------------------------------------


def attempt_look_back_seconds() -> float:
    """How long after its attempt started a sender may still write a delivery's outcome.

    Each transfer is cut off at its endpoint's timeout and its outcome is
    written as soon as it ends; the lease covers claiming and preparing,
    SETTLE_SECONDS the commit.
    """
    return SETTLE_SECONDS + settings.POSTBACK_LEASE_SECONDS + ENDPOINT_TIMEOUT_MAX_SECONDS


def _touched_days_mark(*, now: dt.datetime) -> RollupState:
    state = RollupState.objects.first()
    if state is not None and state.time_zone != settings.REPORTING_TIME_ZONE:
        _forget()
        state = None
    with transaction.atomic():
        if state is None:
            return _first_run(now)
        settled = now - dt.timedelta(seconds=SETTLE_SECONDS)
        new_events = Event.objects.filter(id__gt=state.events_seen)
        new_deliveries = Delivery.objects.filter(id__gt=state.deliveries_seen)
        attempts_since = state.attempts_checked_at - dt.timedelta(seconds=attempt_look_back_seconds())
        attempted = Delivery.objects.filter(attempts__started_at__gte=attempts_since)
        stats_days_mark(days={
            *new_events.values_list(_event_day("occurred_at"), flat=True).distinct(),
            *stats_days_of(deliveries=new_deliveries),
            *stats_days_of(deliveries=attempted),
        })
        state.events_seen = _settled_id(new_events, settled, "received_at", state.events_seen)
        state.deliveries_seen = _settled_id(new_deliveries, settled, "created_at", state.deliveries_seen)
        state.attempts_checked_at = now
        state.save(update_fields=["events_seen", "deliveries_seen", "attempts_checked_at"])
        return state


def _first_run(now: dt.datetime) -> RollupState:
    """Mark every day from the first event to the last stale; the refreshes then build them."""
    settled = now - dt.timedelta(seconds=SETTLE_SECONDS)
    span = Event.objects.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    if span["first"] is not None:
        zone = reporting_time_zone()
        first, last = span["first"].astimezone(zone).date(), span["last"].astimezone(zone).date()
        stats_days_mark(days=(first + dt.timedelta(days=n) for n in range((last - first).days + 1)))
    return RollupState.objects.create(
        time_zone=settings.REPORTING_TIME_ZONE,
        events_seen=_settled_id(Event.objects.all(), settled, "received_at", 0),
        deliveries_seen=_settled_id(Delivery.objects.all(), settled, "created_at", 0),
        attempts_checked_at=now,
    )


def _settled_id(rows: QuerySet, settled: dt.datetime, stamp: str, default: int) -> int:
    """The highest id of a row stamped before ``settled``: every lower id has committed by now."""
    newest = rows.filter(**{f"{stamp}__lt": settled}).order_by("-id").values_list("id", flat=True).first()
    return default if newest is None else newest


def _event_day(occurred_at: str) -> TruncDate:
    return TruncDate(occurred_at, tzinfo=reporting_time_zone())


@contextmanager
def _refresher_lock(*, wait: bool):
    """One refresher at a time, across processes; SQLite already runs one write transaction at a time."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)" if wait else "SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        locked = wait or cursor.fetchone()[0]
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


# --- Aggregating one day ----------------------------------------------------------


def stats_day_aggregate(*, day: dt.date) -> None:
    """Replace the day's roll-up rows with a fresh aggregate of its events and deliveries.

    The stale mark goes first in the same transaction: a change committed
    after it marks the day again, and every later query sees what committed
    before it.
    """
    with transaction.atomic():
        StaleDay.objects.filter(day=day).delete()
        final = stats_final_before()
        if final is not None and day < final:
            return  # retention dropped rows of this day: what is left would count less
        start = dt.datetime.combine(day, dt.time.min, tzinfo=reporting_time_zone())
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=reporting_time_zone())
        events = Event.objects.filter(is_test=False, occurred_at__gte=start, occurred_at__lt=end)
        deliveries = Delivery.objects.filter(
            is_test=False, event__is_test=False, event__occurred_at__gte=start, event__occurred_at__lt=end
        )
        counts = _counts(day, events, deliveries)
        money, players = _money(day, events), _players(day, events)
        for model in (DailyCounts, DailyMoney):
            model.objects.filter(day=day).delete()
        DailyPlayers.objects.filter(day=day, span=1).delete()
        DailyCounts.objects.bulk_create(counts, batch_size=1000)
        DailyMoney.objects.bulk_create(money, batch_size=1000)
        DailyPlayers.objects.bulk_create(players, batch_size=1000)
        _blocks_aggregate(day)


def _counts(day: dt.date, events: QuerySet, deliveries: QuerySet) -> list[DailyCounts]:
    rows: dict[tuple, DailyCounts] = {}

    def row(partner_id, event_type) -> DailyCounts:
        key = (partner_id, event_type)
        if key not in rows:
            rows[key] = DailyCounts(day=day, partner_id=partner_id, event_type=event_type)
        return rows[key]

    for values in events.values("partner_id", "type_id").annotate(
        events=Count("id"),
        registrations=Count("id", filter=Q(type_id=EventType.REGISTRATION)),
        first_deposits=Count("id", filter=Q(is_first_deposit=True)),
        qualified=Count("id", filter=Q(type_id=EventType.QUALIFIED)),
    ).order_by():
        counted = row(values["partner_id"], values["type_id"])
        counted.events, counted.registrations = values["events"], values["registrations"]
        counted.first_deposits, counted.qualified = values["first_deposits"], values["qualified"]
    for values in deliveries.values("partner_id", "event_type_id").annotate(
        delivered=Count("id", filter=Q(status=Delivery.Status.DELIVERED)),
        failed=Count("id", filter=Q(status=Delivery.Status.FAILED)),
        pending=Count("id", filter=Q(status__in=Delivery.OPEN_STATUSES)),
    ).order_by():
        counted = row(values["partner_id"], values["event_type_id"])
        counted.deliveries_delivered, counted.deliveries_failed = values["delivered"], values["failed"]
        counted.deliveries_pending = values["pending"]
    return list(rows.values())


def _money(day: dt.date, events: QuerySet) -> list[DailyMoney]:
    """Deposit sums per event currency and payout sums per payout currency, in one pass."""
    earning_or_deposit = Q(partner__isnull=False) | Q(type_id__in=DEPOSIT_TYPES, amount__isnull=False)
    # A reversed event's amount and payout no longer stand; a reversal earns nothing itself.
    standing = events.filter(earning_or_deposit, reversed_at__isnull=True).exclude(type_id=EventType.REVERSAL)
    sums = _with_payout(standing).values(
        "partner_id", "type_id", "currency", "payout_currency"
    ).annotate(deposits=Sum("amount", filter=Q(type_id__in=DEPOSIT_TYPES)), payouts=Sum("payout")).order_by()
    return [
        DailyMoney(
            day=day, partner_id=values["partner_id"], event_type=values["type_id"], currency=values["currency"],
            payout_currency=values["payout_currency"] or "",
            deposit_sum=exact_money(values["deposits"]), payout_sum=exact_money(values["payouts"]),
        )
        for values in sums
    ]


def _players(day: dt.date, events: QuerySet) -> list[DailyPlayers]:
    """Exact distinct players of the day for each grouping set of {partner, type}, with their sketches."""
    groups: dict[tuple, set[int]] = defaultdict(set)
    hashes: dict[str, int] = {}
    for partner_id, event_type, player_id in events.values_list("partner_id", "type_id", "player_id").distinct():
        hashed = hashes.get(player_id)
        if hashed is None:
            hashed = hashes[player_id] = player_hash(player_id)
        for by_partner, by_type in GROUPING_SETS:
            key = (by_partner, by_type, partner_id if by_partner else None, event_type if by_type else "")
            groups[key].add(hashed)
    return [
        DailyPlayers(
            day=day, by_partner=by_partner, by_type=by_type, partner_id=partner_id, event_type=event_type,
            players=len(members), sketch=Sketch(members).dumps(),
        )
        for (by_partner, by_type, partner_id, event_type), members in groups.items()
    ]


def _blocks_aggregate(day: dt.date) -> None:
    """Merge again the blocks of 2, 4, … days that hold ``day``, each from its two halves."""
    span = 2
    while span <= MAX_SPAN:
        start = block_start(day, span)
        halves = DailyPlayers.objects.filter(span=span // 2, day__in=[start, start + dt.timedelta(days=span // 2)])
        merged: dict[tuple, Sketch] = defaultdict(Sketch)
        for by_partner, by_type, partner_id, event_type, sketch in halves.values_list(
            "by_partner", "by_type", "partner_id", "event_type", "sketch"
        ):
            merged[(by_partner, by_type, partner_id, event_type)].add(Sketch.loads(sketch))
        DailyPlayers.objects.filter(span=span, day=start).delete()
        DailyPlayers.objects.bulk_create([
            DailyPlayers(day=start, span=span, by_partner=by_partner, by_type=by_type, partner_id=partner_id,
                         event_type=event_type, players=sketch.count(), sketch=sketch.dumps())
            for (by_partner, by_type, partner_id, event_type), sketch in merged.items()
        ], batch_size=1000)
        span *= 2


def _with_payout(events: QuerySet) -> QuerySet:
    """Annotate ``payout`` and ``payout_currency`` from the partner's rule (see ``reporting.selectors``).

    The candidate rules are joined (the unique (partner, event type) index
    serves each join) rather than looked up per row.
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
