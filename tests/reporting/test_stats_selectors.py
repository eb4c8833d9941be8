import datetime as dt
import random
from decimal import Decimal

import pytest

from deliveries.models import Delivery
from events.models import EventType
from partners.models import PayoutRule
from reporting.rollup import stats_rollup_refresh
from reporting.selectors import StatsQuery, stats_rows, stats_totals
from tests.factories import (
    DeliveryFactory,
    EventFactory,
    PartnerFactory,
    PayoutRuleFactory,
    PlayerFactory,
    PostbackEndpointFactory,
)
from tests.reporting.reference import reference_stats

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 20)
NOON = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
GROUPINGS = [("day", "partner", "event_type"), ("day",), ("partner",), ("event_type", "partner"), ()]


def _query(**overrides) -> StatsQuery:
    return StatsQuery(**{"date_from": DAY, "date_to": DAY, **overrides})


def _only_row(query: StatsQuery):
    rows = stats_rows(query)
    assert len(rows) == 1, rows
    return rows[0]


def test_counts_events_players_registrations_and_first_deposits_per_partner_and_type():
    # given
    acme = PartnerFactory(slug="acme")
    player = PlayerFactory()
    EventFactory(partner=acme, player=player, type_id=EventType.REGISTRATION, occurred_at=NOON)
    EventFactory(partner=acme, player=player, type_id=EventType.DEPOSIT, amount=Decimal("20"), currency="EUR",
                 is_first_deposit=True, occurred_at=NOON)
    EventFactory(partner=acme, player=player, type_id=EventType.DEPOSIT, amount=Decimal("5.5"), currency="EUR",
                 occurred_at=NOON)
    EventFactory(partner=acme, type_id=EventType.DEPOSIT, amount=Decimal("7"), currency="USD", occurred_at=NOON)

    # when
    stats_rollup_refresh()
    rows = stats_rows(_query())

    # then
    deposit, registration = rows  # types in alphabetical order
    assert (registration.partner, registration.event_type, registration.registrations) == ("acme", "registration", 1)
    assert (deposit.events, deposit.unique_players, deposit.first_deposits) == (3, 2, 1)
    assert deposit.deposit_sum == {"EUR": Decimal("25.50"), "USD": Decimal("7.00")}
    assert registration.conversion_rate == deposit.conversion_rate == Decimal("1.0000")


def test_test_postbacks_are_left_out():
    EventFactory(type_id=EventType.REGISTRATION, occurred_at=NOON, is_test=True)
    DeliveryFactory(event=EventFactory(occurred_at=NOON), is_test=True)

    stats_rollup_refresh()
    totals = stats_totals(_query())

    assert totals.events == 1  # the delivery's own (non-test) event
    assert totals.deliveries_pending == 0


def test_days_are_cut_in_the_reporting_time_zone(settings):
    settings.REPORTING_TIME_ZONE = "America/New_York"
    # 02:00 UTC on the 21st is still the 20th in New York.
    EventFactory(occurred_at=dt.datetime(2026, 11, 21, 2, tzinfo=dt.UTC))

    stats_rollup_refresh()
    rows = stats_rows(_query(date_to=DAY + dt.timedelta(days=1), group_by=("day",)))

    assert [(row.day, row.events) for row in rows] == [(DAY, 1)]


def test_an_event_that_arrives_late_is_counted_in_the_day_it_occurred():
    EventFactory(occurred_at=NOON + dt.timedelta(days=1))
    stats_rollup_refresh()
    before = stats_rows(_query(date_to=DAY + dt.timedelta(days=1), group_by=("day",)))

    # Reported two days after it happened, after a later event was already counted.
    EventFactory(occurred_at=NOON, received_at=NOON + dt.timedelta(days=2))
    stats_rollup_refresh()
    after = stats_rows(_query(date_to=DAY + dt.timedelta(days=1), group_by=("day",)))

    assert [(row.day, row.events) for row in before] == [(DAY + dt.timedelta(days=1), 1)]
    assert [(row.day, row.events) for row in after] == [(DAY, 1), (DAY + dt.timedelta(days=1), 1)]


def test_first_deposit_earns_the_first_deposit_rule_and_other_deposits_the_deposit_rule():
    acme = PartnerFactory(slug="acme")
    PayoutRuleFactory(partner=acme, event_type_id=EventType.FIRST_DEPOSIT, kind="fixed", value=Decimal("50"),
                      currency="USD")
    PayoutRuleFactory(partner=acme, event_type_id=EventType.DEPOSIT, kind="percent", value=Decimal("10"),
                      currency="USD")
    EventFactory(partner=acme, type_id=EventType.DEPOSIT, is_first_deposit=True, amount=Decimal("100"),
                 currency="EUR", occurred_at=NOON)
    EventFactory(partner=acme, type_id=EventType.DEPOSIT, amount=Decimal("0.05"), currency="EUR", occurred_at=NOON)

    stats_rollup_refresh()
    row = _only_row(_query())

    # 10 % of 0.05 is 0.005, rounded half-up to a cent like the {payout} macro.
    assert row.payout_sum == {"USD": Decimal("50.00"), "EUR": Decimal("0.01")}


def test_first_deposit_falls_back_to_the_deposit_rule():
    acme = PartnerFactory(slug="acme")
    PayoutRuleFactory(partner=acme, event_type_id=EventType.DEPOSIT, kind="fixed", value=Decimal("3"))
    EventFactory(partner=acme, type_id=EventType.FIRST_DEPOSIT, is_first_deposit=True, amount=Decimal("9"),
                 currency="EUR", occurred_at=NOON)

    stats_rollup_refresh()
    assert _only_row(_query()).payout_sum == {"EUR": Decimal("3.00")}


def test_deliveries_count_for_the_receiving_partner_as_the_type_it_receives():
    analytics = PostbackEndpointFactory(partner=PartnerFactory(slug="analytics"))
    event = EventFactory(partner=PartnerFactory(slug="acme"), type_id=EventType.DEPOSIT, is_first_deposit=True,
                         amount=Decimal("1"), currency="EUR", occurred_at=NOON)
    for status in ("delivered", "failed", "pending", "retrying", "cancelled"):
        DeliveryFactory(event=event, endpoint=PostbackEndpointFactory(partner=analytics.partner), status=status,
                        event_type_id=EventType.FIRST_DEPOSIT)

    stats_rollup_refresh()
    rows = {(row.partner, row.event_type): row for row in stats_rows(_query())}

    received = rows[("analytics", "first_deposit")]
    assert (received.events, received.deliveries_delivered, received.deliveries_failed) == (0, 1, 1)
    assert received.deliveries_pending == 2
    assert rows[("acme", "deposit")].events == 1


def test_conversion_rate_is_empty_without_registrations_and_ignores_the_type_filter():
    acme = PartnerFactory(slug="acme")
    EventFactory(partner=acme, type_id=EventType.REGISTRATION, occurred_at=NOON)
    EventFactory(partner=acme, type_id=EventType.REGISTRATION, occurred_at=NOON)
    EventFactory(partner=acme, type_id=EventType.DEPOSIT, is_first_deposit=True, amount=1, currency="EUR",
                 occurred_at=NOON)
    EventFactory(partner=PartnerFactory(slug="solo"), type_id=EventType.DEPOSIT, is_first_deposit=True, amount=1,
                 currency="EUR", occurred_at=NOON)

    stats_rollup_refresh()
    rows = {row.partner: row for row in stats_rows(_query(event_type="deposit", group_by=("partner",)))}

    assert rows["acme"].conversion_rate == Decimal("0.5000")
    assert rows["solo"].conversion_rate is None


def test_partner_filter_keeps_only_that_partner():
    EventFactory(partner=PartnerFactory(slug="acme"), occurred_at=NOON)
    EventFactory(partner=PartnerFactory(slug="other"), occurred_at=NOON)
    EventFactory(occurred_at=NOON)

    stats_rollup_refresh()
    assert [row.partner for row in stats_rows(_query(partner="acme"))] == ["acme"]
    assert [row.partner for row in stats_rows(_query(group_by=("partner",)))] == ["acme", "other", None]


# --- Against a from-scratch aggregate over random data ----------------------------


def _random_world(seed: int) -> None:
    """Partners with rules, players, events stored in shuffled order, deliveries in every status."""
    rng = random.Random(seed)
    partners = [PartnerFactory(slug=f"p{seed}-{n}") for n in range(3)]
    for partner in partners:
        for event_type in rng.sample(EventType.BUILTIN, 3):
            kind = rng.choice(PayoutRule.Kind.values)
            # Whole percentages of whole amounts: exact in cents on every database.
            PayoutRuleFactory(partner=partner, event_type_id=event_type, kind=kind,
                              value=Decimal(rng.randint(1, 60)), currency=rng.choice(["EUR", "USD"]))
    endpoints = [PostbackEndpointFactory(partner=partner) for partner in partners]
    players = [PlayerFactory(player_id=f"s{seed}-{n}") for n in range(12)]
    start = dt.datetime(2026, 11, 19, tzinfo=dt.UTC)
    specs = []
    for player in players:
        partner = rng.choice([*partners, None])
        first_deposit_done = False
        for _ in range(rng.randint(1, 6)):
            event_type = rng.choice(EventType.BUILTIN)
            is_first = event_type in ("deposit", "first_deposit") and not first_deposit_done and rng.random() < 0.6
            first_deposit_done |= is_first
            monetary = event_type in EventType.MONETARY
            specs.append(dict(
                player=player, partner=partner, type_id=event_type, is_first_deposit=is_first,
                is_test=rng.random() < 0.1, occurred_at=start + dt.timedelta(minutes=rng.randint(0, 3 * 24 * 60)),
                amount=Decimal(rng.randint(1, 300)) if monetary else None,
                currency=rng.choice(["EUR", "USD", "BRL"]) if monetary else "",
            ))
    rng.shuffle(specs)  # stored out of order, as late arrivals would be
    for spec in specs:
        event = EventFactory(**spec)
        for endpoint in rng.sample(endpoints, rng.randint(0, 2)):
            DeliveryFactory(event=event, endpoint=endpoint, status=rng.choice(Delivery.Status.values),
                            is_test=event.is_test, event_type_id=rng.choice(EventType.BUILTIN))


def _as_reference(row) -> dict:
    return {
        "events": row.events,
        "players": row.unique_players,
        "registrations": row.registrations,
        "first_deposits": row.first_deposits,
        "qualified": row.qualified,
        "deposit_sum": row.deposit_sum,
        "payout_sum": row.payout_sum,
        "delivered": row.deliveries_delivered,
        "failed": row.deliveries_failed,
        "pending": row.deliveries_pending,
    }


def _reference_summary(values: dict) -> dict:
    return {
        "events": values["events"],
        "players": len(values["players"]),
        "registrations": values["registrations"],
        "first_deposits": values["first_deposits"],
        "qualified": values["qualified"],
        "deposit_sum": dict(values["deposit_sum"]),
        "payout_sum": dict(values["payout_sum"]),
        "delivered": values["delivered"],
        "failed": values["failed"],
        "pending": values["pending"] + values["retrying"],
    }


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Kolkata"])
def test_statistics_equal_a_from_scratch_aggregate_over_random_data(seed, time_zone, settings):
    settings.REPORTING_TIME_ZONE = time_zone
    _random_world(seed)
    query_range = {"date_from": dt.date(2026, 11, 18), "date_to": dt.date(2026, 11, 23)}
    stats_rollup_refresh()

    for group_by in GROUPINGS:
        expected = reference_stats(time_zone=time_zone, group_by=group_by)
        rows = stats_rows(StatsQuery(**query_range, group_by=group_by))

        actual = {tuple(getattr(row, name) for name in group_by): _as_reference(row) for row in rows}
        assert actual == {key: _reference_summary(values) for key, values in expected.items()}, group_by
