import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from deliveries.models import Delivery
from deliveries.sender import deliveries_send_due
from deliveries.services import delivery_cancel, delivery_resend
from events.models import Event, EventType, Player
from ingest.services import event_ingest
from postback_platform.celery import app as celery_app
from reporting import rollup
from reporting.models import DailyPlayers, RollupState, StaleDay
from reporting.rollup import stats_as_of, stats_rollup_refresh
from reporting.selectors import StatsQuery, stats_rows, stats_totals
from reporting.spans import blocks_covering
from tests.deliveries.conftest import loopback_allowed, partner_url  # noqa: F401  (fixtures)
from tests.factories import (
    DeliveryFactory,
    EventFactory,
    PartnerFactory,
    PayoutRuleFactory,
    PlayerFactory,
    PostbackEndpointFactory,
)

pytestmark = pytest.mark.django_db

OLD_DAY = dt.date(2026, 10, 1)
OLD_NOON = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
NEW_NOON = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
SETTLED = timezone.now() - dt.timedelta(hours=1)
EVERYTHING = StatsQuery(dt.date(2026, 9, 1), dt.date(2026, 11, 30), group_by=("day",))


def _day(day: dt.date, **overrides) -> StatsQuery:
    return StatsQuery(day, day, **{"group_by": (), **overrides})


def _built() -> None:
    """Bring the roll-up up to date and leave nothing stale behind."""
    stats_rollup_refresh(budget_seconds=60)
    assert not StaleDay.objects.exists()


def test_beat_refreshes_the_roll_up_every_minute_through_a_task_a_worker_finds(settings):
    (entry,) = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values()
                if entry["task"] == "reporting.tasks.refresh_stats_rollup"]
    EventFactory(occurred_at=OLD_NOON)
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery finds the task

    celery_app.tasks[entry["task"]].delay()

    assert entry["schedule"] == 60.0
    assert stats_totals(_day(OLD_DAY)).events == 1
    assert stats_as_of() is not None


def test_a_late_event_for_an_old_day_is_counted_and_only_its_day_is_aggregated_again():
    # given: two days already rolled up, from events received a while ago
    EventFactory(occurred_at=OLD_NOON, received_at=SETTLED)
    EventFactory(occurred_at=NEW_NOON, received_at=SETTLED)
    _built()

    # when: an event for the old day arrives now
    EventFactory(occurred_at=OLD_NOON)
    aggregated = stats_rollup_refresh(budget_seconds=60)

    # then
    assert aggregated == 1
    assert [(row.day, row.events) for row in stats_rows(EVERYTHING)] == [(OLD_DAY, 2), (NEW_NOON.date(), 1)]
    assert stats_totals(EVERYTHING).unique_players == 3


def test_an_old_delivery_that_the_sender_delivers_moves_from_pending_to_delivered(httpserver, partner_url,
                                                                                   loopback_allowed):
    acme = PartnerFactory(slug="acme")
    PostbackEndpointFactory(partner=acme, url_template=partner_url("/pb"))
    event_ingest(data={"event_id": "r-1", "type": "registration", "player_id": "p-1", "partner": "acme",
                       "occurred_at": OLD_NOON.isoformat()})
    _built()
    assert stats_totals(_day(OLD_DAY)).deliveries_pending == 1

    httpserver.expect_request("/pb").respond_with_data("OK")
    deliveries_send_due(worker="test-worker")
    _built()

    totals = stats_totals(_day(OLD_DAY))
    assert (totals.deliveries_pending, totals.deliveries_delivered) == (0, 1)


def test_cancel_and_resend_of_an_old_delivery_are_counted():
    delivery = DeliveryFactory(event=EventFactory(occurred_at=OLD_NOON), status=Delivery.Status.RETRYING)
    _built()

    delivery_cancel(delivery=delivery)
    _built()
    cancelled = stats_totals(_day(OLD_DAY)).deliveries_pending

    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.FAILED)  # as the sender leaves it
    stats_rollup_refresh(budget_seconds=60, rebuild=True)
    failed = stats_totals(_day(OLD_DAY)).deliveries_failed
    delivery_resend(delivery=delivery)
    _built()

    assert (cancelled, failed) == (0, 1)
    totals = stats_totals(_day(OLD_DAY))
    assert (totals.deliveries_failed, totals.deliveries_pending) == (0, 1)


def test_a_payout_rule_change_reprices_every_past_day_of_the_partner():
    acme = PartnerFactory(slug="acme")
    rule = PayoutRuleFactory(partner=acme, event_type_id=EventType.REGISTRATION, kind="fixed", value=Decimal("2"),
                             currency="EUR")
    EventFactory(partner=acme, type_id=EventType.REGISTRATION, occurred_at=OLD_NOON)
    EventFactory(partner=acme, type_id=EventType.REGISTRATION, occurred_at=NEW_NOON)
    _built()

    rule.value = Decimal("5")
    rule.save()
    _built()

    assert [row.payout_sum for row in stats_rows(EVERYTHING)] == [{"EUR": Decimal("5.00")}] * 2


def test_deleting_an_endpoint_takes_its_deliveries_out_of_past_days():
    endpoint = PostbackEndpointFactory()
    DeliveryFactory(event=EventFactory(occurred_at=OLD_NOON), endpoint=endpoint, partner=endpoint.partner,
                    status=Delivery.Status.DELIVERED)
    _built()

    endpoint.delete()
    _built()

    assert stats_totals(_day(OLD_DAY)).deliveries_delivered == 0


def test_a_new_reporting_time_zone_rebuilds_every_day(settings):
    EventFactory(occurred_at=dt.datetime(2026, 11, 21, 2, tzinfo=dt.UTC))
    _built()

    settings.REPORTING_TIME_ZONE = "America/New_York"
    _built()

    assert [row.day for row in stats_rows(EVERYTHING)] == [dt.date(2026, 11, 20)]
    assert RollupState.objects.get().time_zone == "America/New_York"


def test_a_first_build_is_spread_over_runs_and_says_when_it_is_complete():
    for days_ago in range(3):
        EventFactory(occurred_at=NEW_NOON - dt.timedelta(days=days_ago), received_at=SETTLED)

    first = stats_rollup_refresh(budget_seconds=0)
    assert (first, StaleDay.objects.count(), stats_as_of()) == (1, 2, None)
    while StaleDay.objects.exists():
        stats_rollup_refresh(budget_seconds=0)

    assert stats_totals(StatsQuery(dt.date(2026, 11, 18), dt.date(2026, 11, 20))).events == 3
    assert stats_as_of() is not None


def test_the_command_rebuilds_everything_and_repairs_recent_days(capsys):
    EventFactory(occurred_at=OLD_NOON, received_at=SETTLED)
    EventFactory(occurred_at=timezone.now(), received_at=SETTLED)

    call_command("stats_rollup", "--all")
    built = capsys.readouterr()
    call_command("stats_rollup", "--days", "1")
    repaired = capsys.readouterr()

    every_day = (timezone.now().date() - OLD_DAY).days + 1
    assert f"{every_day} day(s) aggregated" in built.out and "2026-10-01" in built.err
    assert "1 day(s) aggregated" in repaired.out
    assert stats_totals(StatsQuery(OLD_DAY, timezone.now().date())).events == 2


# --- Distinct players -------------------------------------------------------------


def test_a_range_without_events_has_zero_players_in_every_grouping():
    _built()

    assert stats_totals(_day(OLD_DAY)).unique_players == 0
    assert stats_totals(EVERYTHING).unique_players == 0


def _players_on(day: dt.date, count: int, prefix: str, partner=None) -> None:
    players = Player.objects.bulk_create([Player(player_id=f"{prefix}-{n}") for n in range(count)])
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    Event.objects.bulk_create([
        Event(event_id=f"{prefix}-{day}-{n}", type_id=EventType.REGISTRATION, player=player, partner=partner,
              occurred_at=noon, content_hash="x")
        for n, player in enumerate(players)
    ])


def test_players_of_a_day_are_exact_and_a_span_of_days_is_estimated_within_bounds():
    # 700 players on one day, 700 others and 300 of the first day's on the next
    _players_on(dt.date(2026, 11, 1), 700, "a")
    _players_on(dt.date(2026, 11, 2), 700, "b")
    Event.objects.bulk_create([
        Event(event_id=f"again-{n}", type_id=EventType.REGISTRATION, player_id=f"a-{n}", content_hash="x",
              occurred_at=dt.datetime(2026, 11, 2, 13, tzinfo=dt.UTC))
        for n in range(300)
    ])
    _built()
    span = StatsQuery(dt.date(2026, 11, 1), dt.date(2026, 11, 2))

    per_day = [row.unique_players for row in stats_rows(StatsQuery(**{**span.__dict__, "group_by": ("day",)}))]
    total = stats_totals(span).unique_players

    assert per_day == [700, 1000]
    assert abs(total - 1400) <= 1400 * 0.05  # 3 standard errors of a 4096-register HyperLogLog


def test_small_groups_merge_exactly_across_days():
    acme = PartnerFactory(slug="acme")
    for day in range(1, 11):
        _players_on(dt.date(2026, 11, day), 40, f"d{day}", partner=acme)
    _built()

    row, = stats_rows(StatsQuery(dt.date(2026, 11, 1), dt.date(2026, 11, 10), group_by=("partner",)))

    assert row.unique_players == 400
    assert DailyPlayers.objects.filter(by_partner=True, by_type=False, span=1).count() == 10


@pytest.mark.parametrize(("first", "last"), [(dt.date(2026, 7, 28), dt.date(2026, 11, 24)),
                                             (dt.date(2025, 1, 1), dt.date(2026, 12, 31)),
                                             (dt.date(2026, 11, 3), dt.date(2026, 11, 3))])
def test_a_range_is_tiled_by_few_aligned_blocks(first, last):
    blocks = blocks_covering(first, last)

    days = [start + dt.timedelta(days=n) for span, start in blocks for n in range(span)]
    assert days == [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    assert all(start.toordinal() % span == 0 for span, start in blocks)
    assert len(blocks) <= 2 * (last - first).days.bit_length() + 1


# --- Concurrency (PostgreSQL) ----------------------------------------------------------


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks and concurrent transactions need PostgreSQL")


@pytest.mark.django_db(transaction=True)
def test_an_event_stored_while_its_day_is_aggregated_is_counted_by_the_next_refresh(postgresql, monkeypatch):
    EventFactory(player=PlayerFactory(player_id="first"), occurred_at=OLD_NOON)
    _built()
    EventFactory(player=PlayerFactory(player_id="second"), occurred_at=OLD_NOON)
    aggregate_money = rollup._money

    def money_while_an_event_arrives(day, events):
        # Counts are read; the new event commits from another connection before the day's rows are written.
        arrival = threading.Thread(target=_ingest_in_own_connection, args=("during",))
        arrival.start()
        arrival.join(timeout=20)
        return aggregate_money(day, events)

    monkeypatch.setattr(rollup, "_money", money_while_an_event_arrives)
    stats_rollup_refresh(budget_seconds=60)
    monkeypatch.setattr(rollup, "_money", aggregate_money)
    _built()

    assert stats_totals(_day(OLD_DAY)).events == Event.objects.count() == 3


def _ingest_in_own_connection(player_id: str) -> None:
    try:
        event_ingest(data={"event_id": f"late-{player_id}", "type": "registration", "player_id": player_id,
                           "occurred_at": OLD_NOON.isoformat()})
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_second_refresher_steps_aside_while_one_holds_the_lock(postgresql):
    EventFactory(occurred_at=OLD_NOON)
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with rollup._refresher_lock(wait=True):
                holding.set()
                release.wait(timeout=20)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert holding.wait(timeout=20)
        assert stats_rollup_refresh(budget_seconds=60) is None
    finally:
        release.set()
        holder.join(timeout=20)
    assert stats_rollup_refresh(budget_seconds=60) == 1


def test_outcomes_are_looked_for_as_long_as_one_transfer_may_take_to_write_them(settings):
    # Each outcome is written as its transfer ends: the lease, the longest endpoint timeout (60 s) and the settling.
    settings.POSTBACK_LEASE_SECONDS = 30

    assert rollup.attempt_look_back_seconds() == rollup.SETTLE_SECONDS + 30 + 60
