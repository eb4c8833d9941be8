"""Dropping a month by retention: how long it takes, and how long ingest waits meanwhile.

    .venv/bin/python -m bench.run --only retention     (on the bench's database; into RESULTS.md)

The bench's database holds only rows made today, so this gives the three
tables a partition for each of the two months before this one and fills
the month before last with ``EVENTS`` events, ``FANOUT`` delivered
deliveries per event and an attempt per delivery (``INSERT … SELECT``),
and lets the statistics' roll-up count them. Then retention
(``ingest.retention.retention_apply``, 30-day limits) drops that month
while a writer on its own connection commits an event and its delivery per
transaction into this month, as fast as it can, as ingest does.

Figures: retention's wall time in two parts (freeing the month's event_ids
in the key table, a batch per transaction, which blocks nothing; and the
transaction that detaches and drops the partitions), and the writer's
transactions: the longest one while retention ran, against its median.
"""

import statistics
import threading
import time

EVENTS = 200_000
FANOUT = 2
LIMIT_DAYS = 30
WRITER_MAX_SECONDS = 120
WRITER_MAX_TRANSACTIONS = 200_000
PREFIX = "bench-retention-"


def measure(*, events: int = EVENTS) -> dict:
    from django.db import connection
    from django.test.utils import override_settings

    from ingest import retention
    from lib.partitioning import is_partitioned
    from reporting.rollup import stats_rollup_refresh

    if not is_partitioned():
        return {"status": "not measured", "reason": "the tables are not partitioned (PostgreSQL only)"}
    month = _month_before_last()
    fill_seconds = _fill(month, events)
    stats_rollup_refresh(wait=True, budget_seconds=3600)
    writer = _Writer(dict(connection.get_connection_params()))
    writer.start()
    try:
        writer.wait_warm()
        with override_settings(EVENT_RETENTION_DAYS=LIMIT_DAYS, DELIVERY_RETENTION_DAYS=LIMIT_DAYS,
                               ATTEMPT_RETENTION_DAYS=LIMIT_DAYS, RETENTION_ARCHIVE_DIR=""):
            writer.mark("retention")
            started = time.perf_counter()
            done = retention.retention_apply()
            wall = time.perf_counter() - started
            writer.mark("after")
        time.sleep(1)
    finally:
        writer.stop()
        _writer_rows_delete()
    dropped = [partition.name for step in done for partition in step.partitions]
    if not any(name.endswith(f"_p{month}") for name in dropped):
        return {"status": "error", "reason": f"retention did not drop the month {month}: {dropped}"}
    during, outside = writer.durations("retention"), writer.durations("warm") + writer.durations("after")
    return {
        "status": "measured", "events": events, "deliveries": events * FANOUT, "attempts": events * FANOUT,
        "month": month, "fill_seconds": round(fill_seconds, 1), "dropped": dropped,
        "retention_ms": round(wall * 1000, 1),
        "release_ms": round(sum(step.release_ms for step in done), 1),
        "drop_ms": round(sum(step.change_ms for step in done), 1),
        "writer_transactions_during": len(during),
        "writer_max_during_ms": round(max(during) * 1000, 1) if during else None,
        "writer_p50_outside_ms": round(statistics.median(outside) * 1000, 2) if outside else None,
        "writer_max_outside_ms": round(max(outside) * 1000, 1) if outside else None,
    }


def _writer_rows_delete() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM deliveries_delivery WHERE event_id IN (SELECT id FROM events_event"
                       " WHERE event_id LIKE %s)", [PREFIX + "writer-%"])
        cursor.execute("DELETE FROM events_event WHERE event_id LIKE %s", [PREFIX + "writer-%"])


def _month_before_last() -> str:
    from django.utils import timezone

    from lib.partitioning import month_index, month_start

    this = month_index(timezone.now().date())
    return f"{month_start(this - 2):%Y_%m}"


def _fill(month_name: str, events: int) -> float:
    """Partitions for the two months before this one, the first of them filled; returns the seconds it took."""
    from django.db import connection, transaction
    from django.utils import timezone

    from events.models import Player
    from lib.partitioning import PARTITIONED, first_id_of, month_index, partitions_for_past_months
    from partners.models import Partner, PostbackEndpoint

    started = time.perf_counter()
    this = month_index(timezone.now().date())
    partitions_for_past_months(2)
    first = first_id_of(this - 2)
    with transaction.atomic(), connection.cursor() as cursor:
        for table in reversed(PARTITIONED):  # what an interrupted run left
            cursor.execute(f"DELETE FROM {table}_p{month_name}")
        partner, _ = Partner.objects.get_or_create(slug=PREFIX + "partner", defaults={"name": "Retention bench"})
        endpoints = [PostbackEndpoint.objects.get_or_create(
            partner=partner, name=f"{PREFIX}{n}", defaults={"url_template": "https://example.com/pb?e={event_id}",
                                                              "is_active": False})[0] for n in range(FANOUT)]
        player, _ = Player.objects.get_or_create(player_id=PREFIX + "player", defaults={"partner": partner})
        cursor.execute(
            "INSERT INTO events_event (id, event_id, type_id, player_id, partner_id, click_id, amount, currency,"
            " params, occurred_at, received_at, is_first_deposit, is_test, content_hash, reversal_reason)"
            " SELECT %(first)s + g, %(prefix)s || g, 'deposit', %(player)s, %(partner)s, '', 10, 'EUR',"
            " '{\"sub1\": \"x\"}'::jsonb, t, t, false, false, md5(g::text), ''"
            " FROM generate_series(1, %(events)s) g,"
            " LATERAL (SELECT %(start)s::timestamptz + (g %% 28) * interval '1 day' + interval '1 hour' AS t) times",
            {"first": first, "prefix": PREFIX, "player": player.pk, "partner": partner.pk, "events": events,
             "start": f"{month_name.replace('_', '-')}-01T00:00:00Z"},
        )
        for number, endpoint in enumerate(endpoints):
            cursor.execute(
                "INSERT INTO deliveries_delivery (id, event_id, endpoint_id, partner_id, event_type_id, status,"
                " is_test, attempt_count, retry_base, claimed_by, last_error, request_method, request_url,"
                " request_body, delivered_at, last_status_code, created_at, updated_at)"
                " SELECT e.id * %(fanout)s - %(shift)s, e.id, %(endpoint)s, %(partner)s, 'deposit', 'delivered', false,"
                " 1, 0, '', '', 'GET', 'https://example.com/pb?e=' || e.event_id, '', e.received_at, 200,"
                " e.received_at, e.received_at"
                " FROM events_event e WHERE e.id > %(first)s AND e.id <= %(first)s + %(events)s",
                {"fanout": FANOUT, "shift": first * (FANOUT - 1) + number, "endpoint": endpoint.pk,
                 "partner": partner.pk, "first": first, "events": events},
            )
        cursor.execute(
            "INSERT INTO deliveries_deliveryattempt (id, delivery_id, number, outcome, started_at, finished_at,"
            " duration_ms, request_method, request_url, request_headers, request_body, status_code,"
            " response_excerpt, error, error_class)"
            " SELECT d.id, d.id, 1, 'success', d.created_at, d.created_at, 40, 'GET', d.request_url, '{}'::jsonb,"
            " '', 200, 'ok', '', '' FROM deliveries_delivery d WHERE d.id >= %(first)s AND d.id < %(end)s",
            {"first": first, "end": first_id_of(this - 1)},
        )
    with connection.cursor() as cursor:
        for table in PARTITIONED:
            cursor.execute(f"ANALYZE {table}_p{month_name}")
    return time.perf_counter() - started


class _Writer(threading.Thread):
    """Commits an event and its delivery per transaction into this month, timing each, until stopped."""

    def __init__(self, params: dict):
        super().__init__(daemon=True)
        self.params = params
        self.phase = "warm"
        self.timed: list[tuple[str, float]] = []
        self._stop_event = threading.Event()
        self._warm = threading.Event()

    def run(self):
        import psycopg2

        raw = psycopg2.connect(**self.params)
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT id FROM partners_postbackendpoint WHERE name = %s", [PREFIX + "0"])
            endpoint = cursor.fetchone()[0]
            raw.commit()
            deadline = time.monotonic() + WRITER_MAX_SECONDS
            for number in range(WRITER_MAX_TRANSACTIONS):
                if self._stop_event.is_set() or time.monotonic() > deadline:
                    break
                phase, started = self.phase, time.perf_counter()
                cursor.execute(
                    "WITH e AS (INSERT INTO events_event (event_id, type_id, player_id, click_id, currency, params,"
                    " occurred_at, received_at, is_first_deposit, is_test, content_hash, reversal_reason)"
                    " VALUES (%s, 'registration', %s, '', '', '{}', now(), now(), false, false, 'x', '') RETURNING id)"
                    " INSERT INTO deliveries_delivery (event_id, endpoint_id, partner_id, event_type_id, status,"
                    " is_test, attempt_count, retry_base, claimed_by, last_error, request_method, request_url,"
                    " request_body, created_at, updated_at)"
                    " SELECT e.id, p.id, p.partner_id, 'registration', 'cancelled', false, 0, 0, '', '', '', '', '',"
                    " now(), now() FROM e, partners_postbackendpoint p WHERE p.id = %s",
                    [f"{PREFIX}writer-{time.time_ns()}-{number}", PREFIX + "player", endpoint],
                )
                raw.commit()
                self.timed.append((phase, time.perf_counter() - started))
                if len(self.timed) >= 200:
                    self._warm.set()
        finally:
            self._warm.set()
            raw.close()

    def wait_warm(self):
        self._warm.wait(timeout=30)

    def mark(self, phase: str):
        self.phase = phase

    def stop(self):
        self._stop_event.set()
        self.join(timeout=30)

    def durations(self, phase: str) -> list[float]:
        return [seconds for name, seconds in self.timed if name == phase]
