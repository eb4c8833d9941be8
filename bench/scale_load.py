"""Fill bench_scale with realistic volume: events, players and two deliveries per event, set-based.

    .venv/bin/python -m bench.scale_load [--events 10000000] [--max-minutes 40]

The database is dropped, created and migrated; the big tables' secondary indexes
and constraints are dropped, the rows go in with INSERT ... SELECT over
generate_series in chunks of a million, then every index and constraint is
built again from its own definition (foreign keys as NOT VALID: the generated
rows are consistent by construction, and validating 30M references would add
minutes and change no plan) and the tables are analysed. Loading stops at the
time limit with whatever chunks are done; bench/results/bench_scale-load.json says
how many rows went in and how long each step took.

On PostgreSQL's monthly partitions (``lib.partitioning``) each event gets
the id its received month gives it, its deliveries the same month, so the
rows spread over the partitions of the five months they span as a live
system's would (the past months' partitions are made first).

Shape: 50 partners (attributed, two endpoints each, CPA payout rules), one
player per five events, event types registration / first deposit / deposit /
game activity / withdrawal spread over 120 days, deliveries 93% delivered,
3% failed, 2% retrying, 2% pending, and one attempt row for each delivery of
the last 200,000 events (the attempt history pages read those).
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import psycopg2

from lib.partitioning import SEQUENCE_MASK, first_id_of, month_index

from . import env as bench_env
from .stack import database_recreate

RESULTS = Path(__file__).resolve().parent / "results"
CHUNK = 1_000_000
PARTNERS = 50
DAYS = 120
START = dt.datetime(2026, 7, 28, tzinfo=dt.timezone.utc)
# Deliveries' ids: their event's month, and below it the event's sequence number times this plus the endpoint's.
ENDPOINT_SLOTS = 64
ATTEMPT_EVENTS = 200_000
DELIVERY_TABLES = ("deliveries_delivery", "deliveries_deliveryattempt")
BIG_TABLES = ("events_event", "events_player", *DELIVERY_TABLES)


def main() -> int:
    args = _arguments()
    started = time.time()
    deadline = started + args.max_minutes * 60
    steps: dict[str, float] = {}
    if not args.deliveries_only:
        database_recreate(args.database)
        _timed(steps, "migrate", lambda: _migrate(args.database))
    connection = psycopg2.connect(bench_env.database_url(args.database))
    connection.autocommit = True
    cursor = connection.cursor()
    cursor.execute("SET synchronous_commit = off; SET maintenance_work_mem = '1GB'; SET max_parallel_maintenance_workers = 2")
    loaded = {"players": 0, "events": 0, "deliveries": 0}
    if args.deliveries_only:
        cursor.execute("TRUNCATE deliveries_deliveryattempt, deliveries_delivery")
        saved = _timed(steps, "drop indexes", lambda: _drop_indexes(cursor, DELIVERY_TABLES))
        loaded.update(players=_count(cursor, "events_player"), events=_count(cursor, "events_event"))
    else:
        _timed(steps, "configuration", _configuration)
        saved = _timed(steps, "drop indexes", lambda: _drop_indexes(cursor, BIG_TABLES))
        _timed(steps, "players", lambda: loaded.update(players=_chunks(cursor, PLAYERS_SQL, args.events // 5, deadline)))
        _timed(steps, "events", lambda: loaded.update(events=_chunks(
            cursor, EVENTS_SQL, args.events, deadline, players=loaded["players"], last_all=args.events)))
    _timed(steps, "deliveries", lambda: loaded.update(
        deliveries=_chunks(cursor, DELIVERIES_SQL.format(months=_in_months("e.id")), loaded["events"], deadline,
                           per_row=2)))
    _timed(steps, "attempts", lambda: cursor.execute(ATTEMPTS_SQL, {"since": max(0, loaded["events"] - ATTEMPT_EVENTS)}))
    _timed(steps, "rebuild indexes", lambda: _rebuild(cursor, saved))
    _timed(steps, "analyze", lambda: cursor.execute("VACUUM ANALYZE"))
    cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
    report = {"database": args.database, "requested_events": args.events, "loaded": loaded,
              "attempts": _count(cursor, "deliveries_deliveryattempt"),
              "steps_s": steps, "total_s": round(time.time() - started, 1),
              "stopped_by_time_limit": loaded["events"] < args.events}
    cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
    report["size"] = cursor.fetchone()[0]
    connection.close()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.database}-load.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--max-minutes", type=float, default=40)
    parser.add_argument("--database", default=bench_env.SCALE_DB, choices=[bench_env.SCALE_DB, bench_env.MAIN_DB])
    parser.add_argument("--deliveries-only", action="store_true",
                        help="keep the loaded events; generate the deliveries and attempts again")
    return parser.parse_args()


def _timed(steps: dict, name: str, step):
    began = time.time()
    print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
    result = step()
    steps[name] = round(time.time() - began, 1)
    return result


def _migrate(database: str) -> None:
    env = bench_env.product_env(database=database, settings_module="postback_platform.settings")
    os.environ.update({k: v for k, v in env.items() if k != "CELERY_BROKER_URL"})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connections

    from lib.partitioning import partitions_for_past_months

    partitions_for_past_months(month_index(dt.date.today()) - month_index(START.date()))

    connections.close_all()


def _configuration() -> None:
    """Partners, two endpoints each receiving every built-in type, and a CPA rule each, made through the models
    (so every column gets its current default)."""
    from events.models import EventType
    from partners.models import Partner, PayoutRule, PostbackEndpoint

    builtin = list(EventType.objects.filter(is_builtin=True))
    for number in range(1, PARTNERS + 1):
        partner = Partner.objects.create(slug=f"partner-{number}", name=f"Partner {number}")
        for endpoint_number in (1, 2):
            endpoint = PostbackEndpoint.objects.create(
                partner=partner, name=f"endpoint {endpoint_number}",
                url_template=f"https://partner{partner.pk}.example/pb?click={{click_id}}&e={{event_id}}",
            )
            endpoint.event_types.set(builtin)
        PayoutRule.objects.create(partner=partner, event_type_id="first_deposit", kind="fixed", value=50,
                                  currency="EUR")


def _drop_indexes(cursor, tables: tuple[str, ...]) -> list[str]:
    """Drop the big tables' secondary indexes and constraints; return the statements that rebuild them."""
    cursor.execute(
        """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint
        WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('u', 'f') AND conparentid = 0
        """,
        [list(tables)],
    )
    constraints = cursor.fetchall()
    cursor.execute("SELECT partrelid::regclass::text FROM pg_partitioned_table")
    partitioned = {table for (table,) in cursor.fetchall()}
    rebuild = []
    for table, name, definition, kind in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        # PostgreSQL takes no NOT VALID foreign key on a partitioned table: those are checked as they are made.
        suffix = " NOT VALID" if kind == "f" and table not in partitioned else ""
        rebuild.append((kind, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}{suffix}'))
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [list(tables)],
    )
    for name, definition in cursor.fetchall():
        cursor.execute(f'DROP INDEX "{name}"')
        # A partitioned table's index reads "ON ONLY": made that way it would cover none of the partitions.
        rebuild.append(("i", definition.replace(" ON ONLY ", " ON ", 1)))
    # Indexes first, unique constraints next, foreign keys last (they need the referenced keys).
    order = {"i": 0, "u": 1, "f": 2}
    return [statement for _, statement in sorted(rebuild, key=lambda item: order[item[0]])]


def _rebuild(cursor, statements: list[str]) -> None:
    for statement in statements:
        cursor.execute(statement)


def _chunks(cursor, sql: str, total: int, deadline: float, *, per_row: int = 1, **params) -> int:
    """Run ``sql`` over [first, last] ranges of CHUNK rows until ``total`` or the deadline; return rows done."""
    done = 0
    while done < total and time.time() < deadline:
        last = min(total, done + CHUNK)
        cursor.execute(sql, {"first": done + 1, "last": last, "partners": PARTNERS, "days": DAYS,
                             "start": START, **params})
        done = last
        print(f"    {done:,} / {total:,} source rows ({done * per_row:,} inserted)", flush=True)
    return done * per_row


def _in_months(column: str) -> str:
    """Rows numbered first to last in any month of the load, as ranges of ids (each an index range scan)."""
    first, last = month_index(START.date()), month_index((START + dt.timedelta(days=DAYS)).date())
    return "(" + " OR ".join(
        f"{column} BETWEEN {first_id_of(month)} + %(first)s AND {first_id_of(month)} + %(last)s"
        for month in range(first, last + 1)
    ) + ")"


def _count(cursor, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a constant table name
    return cursor.fetchone()[0]


PLAYERS_SQL = """
INSERT INTO events_player (player_id, partner_id, click_id, tracking_params, attributed_at, registered_at,
    first_deposit_at, created_at)
SELECT 'p-' || g, 1 + g %% %(partners)s, 'click-' || g, '{"sub1": "campaign-7"}',
    ts, ts, CASE WHEN g %% 3 = 0 THEN ts + interval '1 hour' END, ts
FROM generate_series(%(first)s, %(last)s) g,
    LATERAL (SELECT %(start)s::timestamptz + (g %% (%(days)s * 86400)) * interval '1 second') AS t(ts)
"""

# g -> player 1 + g % players; the first event of each of the players it cycles through is its registration.
EVENTS_SQL = """
INSERT INTO events_event (id, event_id, type_id, player_id, partner_id, click_id, amount, currency, params,
    occurred_at, received_at, is_first_deposit, is_test, content_hash)
SELECT partition_id_at(rt, g), 'e-' || g, kind, 'p-' || player, 1 + player %% %(partners)s, 'click-' || player,
    CASE WHEN kind IN ('deposit', 'first_deposit', 'withdrawal') THEN 10 + (g %% 490) END,
    CASE WHEN kind IN ('deposit', 'first_deposit', 'withdrawal') THEN 'EUR' ELSE '' END,
    '{"sub1": "campaign-7", "country": "DE"}', ts, rt,
    kind = 'first_deposit', false, md5(g::text)
FROM generate_series(%(first)s, %(last)s) g,
    LATERAL (SELECT 1 + g %% %(players)s AS player) AS p,
    LATERAL (SELECT CASE
        WHEN g <= %(players)s THEN 'registration'
        WHEN g <= 2 * %(players)s AND (1 + g %% %(players)s) %% 3 = 0 THEN 'first_deposit'
        ELSE (ARRAY['deposit', 'game_activity', 'game_activity', 'withdrawal', 'deposit'])[1 + g %% 5]
    END AS kind) AS k,
    LATERAL (SELECT %(start)s::timestamptz + (g::float8 / %(last_all)s * %(days)s * 86400)
        * interval '1 second' AS ts) AS t,
    LATERAL (SELECT t.ts + interval '50 milliseconds' AS rt) AS r
"""

# Statuses come from a hash of (event, endpoint), so every partner has its share of each.
DELIVERIES_SQL = f"""
INSERT INTO deliveries_delivery (id, event_id, endpoint_id, partner_id, event_type_id, status, is_test, attempt_count,
    next_attempt_at, claimed_until, claimed_by, delivered_at, last_status_code, last_error, request_method,
    request_url, request_body, created_at, updated_at, retry_base)
SELECT partition_id_at(e.received_at, (e.id & {SEQUENCE_MASK}) * {ENDPOINT_SLOTS} + ep.id %% {ENDPOINT_SLOTS}),
    e.id, ep.id, e.partner_id, e.type_id, st.status, false,
    CASE WHEN st.status = 'pending' THEN 0 WHEN st.status = 'delivered' THEN 1 ELSE 3 END,
    CASE WHEN st.status IN ('pending', 'retrying') THEN e.received_at + interval '5 minutes' END,
    NULL, '', CASE WHEN st.status = 'delivered' THEN e.received_at + interval '80 milliseconds' END,
    CASE st.status WHEN 'delivered' THEN 200 WHEN 'failed' THEN 404 WHEN 'retrying' THEN 503 END,
    CASE st.status WHEN 'failed' THEN 'HTTP 404' WHEN 'retrying' THEN 'HTTP 503' ELSE '' END,
    'GET', 'https://partner' || e.partner_id || '.example/pb?click=' || e.click_id || '&e=' || e.event_id, '',
    e.received_at, e.received_at + interval '80 milliseconds', 0
FROM events_event e
JOIN partners_postbackendpoint ep ON ep.partner_id = e.partner_id,
    LATERAL (SELECT abs(hashint8(e.id * 64 + ep.id)) %% 100 AS roll) AS r,
    LATERAL (SELECT CASE WHEN r.roll < 93 THEN 'delivered' WHEN r.roll < 96 THEN 'failed'
                         WHEN r.roll < 98 THEN 'retrying' ELSE 'pending' END AS status) AS st
WHERE {{months}}
"""

ATTEMPTS_SQL = f"""
INSERT INTO deliveries_deliveryattempt (delivery_id, number, outcome, started_at, finished_at, duration_ms,
    request_method, request_url, request_headers, request_body, status_code, response_excerpt, error, error_class)
SELECT d.id, 1, CASE d.status WHEN 'delivered' THEN 'success' WHEN 'failed' THEN 'failure' ELSE 'retry' END,
    d.created_at, d.created_at + interval '80 milliseconds', 80, 'GET', d.request_url, '{{}}', '',
    d.last_status_code, 'OK', d.last_error, ''
FROM deliveries_delivery d WHERE (d.event_id & {SEQUENCE_MASK}) > %(since)s AND d.status <> 'pending'
"""

if __name__ == "__main__":
    sys.exit(main())
