"""Retention by partition (ingest.retention) on PostgreSQL's monthly partitions (lib.partitioning).

Rows made now live in this month's partitions; retention is asked what it
would do "months from now", when this month is past its limit.
"""

import csv
import datetime as dt
import gzip
import io
import threading
from decimal import Decimal

import psycopg2
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from deliveries.models import Delivery, DeliveryAttempt
from events.models import Event, EventType
from ingest import retention
from ingest.models import EventIdRelease
from ingest.retention import retention_apply, retention_plan
from ingest.services import CREATED, event_ingest
from lib.partitioning import (
    PARTITIONED,
    first_id_of,
    month_index_at,
    month_start,
    partitions_for_past_months,
    partitions_ensure,
    partitions_list,
)
from partners.models import Qualification, QualificationRule
from reporting.models import DailyCounts, RollupState
from reporting.rollup import stats_day_aggregate, stats_days_mark, stats_rollup_refresh
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory
from tests.support.processes import wait_until
from tests.support.services import require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

LIMIT_DAYS = 30
MONTHS_AHEAD = 6


@pytest.fixture(autouse=True)
def _partitioned(settings):
    require_postgres()
    settings.EVENT_RETENTION_DAYS = settings.DELIVERY_RETENTION_DAYS = settings.ATTEMPT_RETENTION_DAYS = LIMIT_DAYS
    settings.RETENTION_ARCHIVE_DIR = ""
    partitions_for_past_months(3)


def _this_month() -> int:
    return month_index_at(timezone.now())


def _name(table: str, months_ago: int) -> str:
    return f"{table}_p{month_start(_this_month() - months_ago):%Y_%m}"


# Early in this month: with a 30-day limit, the months before last are past it, last month is not.
def _early_this_month() -> dt.datetime:
    return dt.datetime.combine(month_start(_this_month()), dt.time.min, tzinfo=dt.UTC) + dt.timedelta(days=2)


def _old_event(months_ago: int, **fields) -> Event:
    return EventFactory(id=first_id_of(_this_month() - months_ago) + Event.objects.count() + 1, **fields)


def _old_delivery(event: Event, **fields) -> Delivery:
    return DeliveryFactory(id=event.pk, event=event, **fields)


@pytest.fixture
def history():
    """The month before last, settled an hour ago, with links from this month into it."""
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    acme = PartnerFactory(slug="acme")
    deposit = _old_event(
        2, event_id="old-deposit", type_id=EventType.DEPOSIT, partner=acme, amount=Decimal("10"), currency="EUR",
        occurred_at=hour_ago - dt.timedelta(days=62), received_at=hour_ago,
    )
    delivery = _old_delivery(
        deposit, endpoint__partner=acme, status=Delivery.Status.DELIVERED, next_attempt_at=None, created_at=hour_ago,
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, number=1, outcome=DeliveryAttempt.Outcome.SUCCESS, request_method="GET",
        request_url="https://acme.example/pb?x=1", status_code=200, started_at=hour_ago,
    )
    # Made this month: a reversal of the old deposit, and a qualification it met.
    Event.objects.create(
        event_id="reversal-later", type_id=EventType.REVERSAL, player=deposit.player,
        occurred_at=hour_ago, received_at=hour_ago, reverses=deposit, content_hash="x",
    )
    rule = QualificationRule.objects.create(partner=acme, name="CPA", min_deposit_count=1)
    Qualification.objects.create(rule=rule, player=deposit.player, event=deposit, qualified_at=hour_ago)
    stats_rollup_refresh()
    return deposit


def _names(step) -> list[str]:
    return [partition.name for partition in step.partitions]


def test_nothing_goes_while_retention_keeps_everything(settings, history):
    settings.EVENT_RETENTION_DAYS = settings.DELIVERY_RETENTION_DAYS = settings.ATTEMPT_RETENTION_DAYS = 0

    assert retention_plan(now=_early_this_month()) == []


def test_months_past_their_limit_are_planned_oldest_first_and_the_months_inside_it_are_not(history):
    steps = retention_plan(now=_early_this_month())

    assert [step.action for step in steps] == ["drop events and deliveries"] * 3
    assert steps[0].period == f"before {month_start(_this_month() - 3):%Y-%m}"
    assert _names(steps[2]) == [_name(table, 2) for table in reversed(PARTITIONED)]
    assert [step.waits_for for step in steps] == ["", "", ""]


def test_this_months_partitions_never_go_whatever_the_clock_says(history):
    far_ahead = timezone.now() + dt.timedelta(days=400)

    planned = {name for step in retention_plan(now=far_ahead) for name in _names(step)}

    assert _name("events_event", 1) in planned and _name("events_event", 0) not in planned


def test_dropping_a_month_removes_its_rows_and_unlinks_the_rows_that_stay(history):
    day = timezone.localtime(history.occurred_at).date()
    counted = list(DailyCounts.objects.filter(day=day).values_list("events", flat=True))

    done = retention_apply(now=_early_this_month())

    assert len(done) == 3
    assert not Event.objects.filter(event_id="old-deposit").exists()
    assert not Delivery.objects.exists() and not DeliveryAttempt.objects.exists()
    names = {partition.name for partition in partitions_list()}
    assert _name("events_event", 2) not in names and "events_event_p_before" not in names
    assert _name("events_event", 1) in names
    assert Event.objects.get(event_id="reversal-later").reverses_id is None
    assert Qualification.objects.get().event_id is None
    # The dropped event's id may be used again: the key table forgot it.
    EventFactory(event_id="old-deposit")
    # The statistics keep the day, and aggregating it again leaves it as it was.
    stats_day_aggregate(day=day)
    assert list(DailyCounts.objects.filter(day=day).values_list("events", flat=True)) == counted != []


def test_a_resent_event_id_is_a_replay_while_its_month_is_freed_and_new_once_the_month_is_gone(history, monkeypatch,
                                                                                              admin_client):
    resent = {"event_id": "old-deposit", "type": "deposit", "player_id": history.player_id, "amount": "10",
              "currency": "EUR"}
    # The month's keys are freed, then its tables stay busy: its drop waits for the next run.
    carry_out, busy = retention._carry_out, _name("events_event", 2)
    monkeypatch.setattr(retention, "_carry_out", lambda step: step.events.name != busy and carry_out(step))
    retention_apply(now=_early_this_month())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_event_key WHERE event_id = 'old-deposit'")
        assert cursor.fetchone() == (0,)
    assert EventIdRelease.objects.filter(partition=_name("events_event", 2)).exists()

    assert event_ingest(data=resent).status != CREATED
    assert Event.objects.filter(event_id="old-deposit").count() == 1

    # The storage page says the drop is unfinished, and why ingest is slower meanwhile.
    page = admin_client.get("/admin/ingest/storage/").content.decode()
    assert f"Retention is dropping <code>{busy}</code>" in page and "ingest looks every event_id up" in page

    monkeypatch.undo()
    retention_apply(now=_early_this_month())

    assert not EventIdRelease.objects.exists()
    assert "Retention is dropping" not in admin_client.get("/admin/ingest/storage/").content.decode()
    assert event_ingest(data=resent).status == CREATED


def test_an_open_delivery_holds_its_month_and_every_later_one(history):
    _old_delivery(_old_event(3), status=Delivery.Status.RETRYING)

    steps = retention_plan(now=_early_this_month())
    done = retention_apply(now=_early_this_month())

    assert steps[1].waits_for.startswith("1 of its deliveries are still pending or retrying")
    assert steps[2].waits_for == f"the period {steps[1].period} goes first"
    assert [step.period for step in done] == [steps[0].period]
    assert Event.objects.filter(event_id="old-deposit").exists()


def test_a_month_the_statistics_have_not_counted_waits_for_the_roll_up(history):
    stats_days_mark(days=[timezone.localtime(history.occurred_at).date()])  # as a resend does
    marked = retention_plan(now=_early_this_month())
    RollupState.objects.all().delete()  # as before the roll-up's first run
    never_run = retention_plan(now=_early_this_month())

    waits = "the statistics' roll-up has not yet counted all of its rows"
    assert [step.waits_for.startswith(waits) for step in marked] == [False, False, True]
    assert never_run[0].waits_for.startswith(waits)


def test_attempts_past_their_limit_are_emptied_while_deliveries_stay(settings, history):
    settings.EVENT_RETENTION_DAYS = settings.DELIVERY_RETENTION_DAYS = 365

    done = retention_apply(now=_early_this_month())

    assert [step.action for step in done] == ["empty attempts"]
    assert not DeliveryAttempt.objects.exists()
    assert Delivery.objects.count() == 1
    # A later attempt of that delivery (a resend) still has its partition.
    DeliveryAttempt.objects.create(delivery=Delivery.objects.get(), number=2, request_method="GET", request_url="u")


def test_an_archive_holds_every_row_of_each_partition_before_it_goes(settings, tmp_path, history):
    settings.RETENTION_ARCHIVE_DIR = str(tmp_path)

    done = retention_apply(now=_early_this_month())

    archive = tmp_path / f"{_name('events_event', 2)}.csv.gz"
    assert str(archive) in done[2].archived
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(archive.read_bytes()).decode())))
    assert [row["event_id"] for row in rows] == ["old-deposit"]
    attempts = tmp_path / f"{_name('deliveries_deliveryattempt', 2)}.csv.gz"
    assert "https://acme.example/pb?x=1" in gzip.decompress(attempts.read_bytes()).decode()
    assert not list(tmp_path.glob("*.partial"))


def test_an_archive_that_cannot_be_written_keeps_the_partition(settings, tmp_path, history):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    settings.RETENTION_ARCHIVE_DIR = str(blocked)

    assert retention_apply(now=_early_this_month()) == []
    assert Event.objects.filter(event_id="old-deposit").exists()


def test_the_command_lists_partitions_and_what_retention_drops_next(history):
    out = io.StringIO()

    call_command("partitions", stdout=out)

    text = out.getvalue()
    assert _name("events_event", 2) in text and "drop events and deliveries" in text
    assert "Retention: events 30 days, deliveries 30 days, attempts 30 days" in text


def test_partitions_made_after_a_change_of_period_start_where_the_last_one_ends(settings):
    settings.POSTBACK_PARTITION_MONTHS = 12
    last = max(item.end_month for item in partitions_list(["events_event"]))

    made = partitions_ensure(ahead_months=MONTHS_AHEAD + 12)

    added = [item for item in partitions_list(["events_event"]) if item.first_month is not None
             and item.first_month >= last]
    assert added[0].first_month == last and added[0].end_month % 12 == 0
    assert all(item.end_month - item.first_month == 12 for item in added[1:])
    assert len(made) == 3 * len(added)
    assert partitions_ensure(ahead_months=MONTHS_AHEAD + 12) == []


def test_the_storage_page_shows_partitions_and_the_plan_to_superusers_only(admin_client, client, django_user_model,
                                                                           history):
    page = admin_client.get("/admin/ingest/storage/")

    assert page.status_code == 200
    text = page.content.decode()
    assert _name("events_event", 2) in text and "Events: 30 days" in text and "goes at the next run" in text
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/ingest/storage/").status_code == 403


def test_an_id_names_its_month():
    event = EventFactory()

    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM events_event WHERE id = %s", [event.pk])
        assert cursor.fetchone()[0] == f"events_event_p{timezone.now().astimezone(dt.UTC):%Y_%m}"
    assert event.pk >> 40 == _this_month()


@pytest.mark.django_db(transaction=True)
def test_a_drop_while_ingest_commits_takes_its_locks_in_ingests_order_and_deadlocks_with_no_one():
    """Detaching a partition also locks the table its foreign key points to: retention must lock as ingest does."""
    partner = PartnerFactory(slug="busy")
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    endpoint_id = DeliveryFactory(
        event=_old_event(2, received_at=hour_ago), endpoint__partner=partner, status=Delivery.Status.DELIVERED,
        next_attempt_at=None, created_at=hour_ago, id=first_id_of(_this_month() - 2) + 99,
    ).endpoint_id
    stats_rollup_refresh()
    errors, committed, stop = [], [], threading.Event()

    def ingest_like_writer():
        with psycopg2.connect(**connection.get_connection_params()) as raw, raw.cursor() as cursor:
            for number in range(5_000):
                if stop.is_set():
                    break
                try:
                    cursor.execute(
                        "WITH e AS (INSERT INTO events_event (event_id, type_id, player_id, click_id, currency, params,"
                        " occurred_at, received_at, is_first_deposit, is_test, content_hash, reversal_reason)"
                        " SELECT %s, 'registration', player_id, '', '', '{}', now(), now(), false, false, 'x', ''"
                        " FROM events_player LIMIT 1 RETURNING id)"
                        " INSERT INTO deliveries_delivery (event_id, endpoint_id, partner_id, event_type_id, status,"
                        " is_test, attempt_count, retry_base, claimed_by, last_error, request_method, request_url,"
                        " request_body, created_at, updated_at)"
                        " SELECT e.id, %s, %s, 'registration', 'cancelled', false, 0, 0, '', '', '', '', '', now(),"
                        " now() FROM e", [f"writer-{number}", endpoint_id, partner.pk],
                    )
                    raw.commit()
                    committed.append(number)
                except psycopg2.Error as error:
                    errors.append(error)
                    raw.rollback()

    writer = threading.Thread(target=ingest_like_writer, daemon=True)
    writer.start()
    try:
        wait_until(lambda: len(committed) > 20, timeout=10, message="the writer committing")
        done = retention_apply(now=_early_this_month())
    finally:
        stop.set()
        writer.join(timeout=10)
        partitions_for_past_months(3)  # put back what the committed drops took, for the tests after this one

    assert [step.period for step in done][-1] == month_start(_this_month() - 2).strftime("%Y-%m")
    assert errors == []
