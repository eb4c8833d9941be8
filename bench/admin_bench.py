"""Admin changelist benchmark: how long the console's pages take on tables of millions of rows.

    .venv/bin/python bench/admin_bench.py                 # 2,000,000 events and deliveries
    .venv/bin/python bench/admin_bench.py --rows 500000

It creates its own PostgreSQL database (``bench_admin`` on the server of
``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/postgres``),
migrates it, fills it in SQL (events spread over 14 days, one delivery each,
a tenth of them failed or retrying), then requests each admin page through
Django's request handler as a superuser and reports the first request's
time (nothing cached), the median of the next ones, the query count and the
slowest query. The database is dropped at the end,
whatever happens (unless ``--keep``). Figures go to ``bench/results/admin.json``.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
REPEATS = 5
PAGES = [
    "/admin/deliveries/delivery/",
    "/admin/deliveries/delivery/?health=failing",
    "/admin/deliveries/delivery/?health=due",
    "/admin/deliveries/delivery/?status__exact=failed",
    "/admin/deliveries/delivery/?partner__id__exact=3&recent=24h",
    "/admin/deliveries/delivery/?endpoint__id__exact=5",
    "/admin/deliveries/delivery/?event_type__slug__exact=deposit&recent=7d",
    "/admin/deliveries/delivery/?q=evt-123457",
    "/admin/deliveries/delivery/1000/change/",
    "/admin/events/event/",
    "/admin/events/event/?type__slug__exact=deposit&recent=24h",
    "/admin/events/event/?q=evt-123457",
    "/admin/events/event/?q=p-4242",
    "/admin/partners/partner/",
    "/admin/dashboard/",
]
PARTNERS, ENDPOINTS_PER_PARTNER, PLAYERS = 20, 2, 200_000

FILL_SQL = """
INSERT INTO partners_partner (slug, name, scope, is_active, notes, created_at, updated_at)
SELECT 'partner-' || g, 'Partner ' || g, 'attributed', true, '', now(), now() FROM generate_series(1, %(partners)s) g;
INSERT INTO partners_postbackendpoint (partner_id, name, url_template, method, body_format, body_template, headers,
    filters, timeout_seconds, max_attempts, success_body_contains, signing_secret, previous_signing_secret,
    circuit_failure_threshold, consecutive_failures, is_active, pause_reason, created_at, updated_at)
SELECT p.id, 'endpoint ' || e, 'https://partner.example/pb?c={click_id}', 'GET', 'json', '', '{}', '[]', 5, 10, '',
    '', '', 50, 0, true, '', now(), now()
FROM partners_partner p CROSS JOIN generate_series(1, %(per_partner)s) e;
INSERT INTO events_player (player_id, partner_id, click_id, tracking_params, created_at)
SELECT 'p-' || g, (SELECT min(id) FROM partners_partner) + g %% %(partners)s, 'click-' || g, '{}', now()
FROM generate_series(0, %(players)s - 1) g;
INSERT INTO events_event (event_id, type_id, player_id, partner_id, click_id, amount, currency, params, occurred_at,
    received_at, is_first_deposit, is_test, content_hash)
SELECT 'evt-' || g, (ARRAY['registration','deposit','game_activity','withdrawal','conversion'])[1 + g %% 5],
    'p-' || (g %% %(players)s), (SELECT min(id) FROM partners_partner) + (g %% %(players)s) %% %(partners)s,
    'click-' || (g %% %(players)s), 10, 'EUR', '{}', now() - (g %% 1209600) * interval '1 second', now(),
    false, false, md5(g::text)
FROM generate_series(1, %(rows)s) g;
INSERT INTO deliveries_delivery (event_id, endpoint_id, partner_id, event_type_id, status, is_test, attempt_count,
    retry_base, next_attempt_at, claimed_by, last_error, request_method, request_url, request_body,
    created_at, updated_at)
SELECT e.id, ep.id, e.partner_id, e.type_id,
    CASE WHEN e.id %% 20 = 0 THEN 'failed' WHEN e.id %% 20 = 1 THEN 'retrying' WHEN e.id %% 100 = 2 THEN 'pending'
         ELSE 'delivered' END,
    false, 1, 0, CASE WHEN e.id %% 20 IN (1) OR e.id %% 100 = 2 THEN now() ELSE NULL END, '',
    CASE WHEN e.id %% 20 IN (0, 1) THEN 'HTTP 503' ELSE '' END, 'GET', '', '', e.occurred_at, e.occurred_at
FROM events_event e
JOIN LATERAL (SELECT id FROM partners_postbackendpoint WHERE partner_id = e.partner_id ORDER BY id LIMIT 1) ep ON true;
ANALYZE;
"""


def main() -> None:
    args = _arguments()
    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER)
    if urlparse(server).hostname not in LOOPBACK:
        sys.exit(f"BENCH_DATABASE_URL must point at this machine, not {urlparse(server).hostname}.")
    _admin_sql(server, f'DROP DATABASE IF EXISTS "{args.database}"', f'CREATE DATABASE "{args.database}"')
    try:
        results = _run(urlunparse(urlparse(server)._replace(path=f"/{args.database}")), args.rows)
    finally:
        if not args.keep:
            _admin_sql(server, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--database", default="bench_admin", help="Created for the run and dropped after it.")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "admin.json")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards, to EXPLAIN queries in it.")
    return parser.parse_args()


def _admin_sql(server: str, *statements: str) -> None:
    connection = psycopg2.connect(server)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def _run(database_url: str, rows: int) -> dict:
    os.environ.update(DATABASE_URL=database_url, ALLOWED_HOSTS="testserver", DEBUG="false")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postback_platform.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            FILL_SQL, {"partners": PARTNERS, "per_partner": ENDPOINTS_PER_PARTNER, "players": PLAYERS, "rows": rows}
        )
    fill_seconds = time.monotonic() - started
    return {"rows": rows, "fill_seconds": round(fill_seconds, 1), "pages": [_measure(page) for page in PAGES]}


def _measure(url: str) -> dict:
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench", password=None)
    client = Client()
    client.force_login(user)
    timings, queries = [], None
    cache.clear()  # the first request finds nothing cached (the dashboard's series), the next ones what it left
    for _ in range(1 + REPEATS):
        with CaptureQueriesContext(connection) as captured:
            started = time.monotonic()
            response = client.get(url)
            timings.append((time.monotonic() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = captured.captured_queries
    slowest = max(queries, key=lambda query: float(query["time"]))
    return {
        "url": url,
        "first_ms": round(timings[0], 1),
        "median_ms": round(statistics.median(timings[1:]), 1),
        "queries": len(queries),
        "slowest_query_ms": round(float(slowest["time"]) * 1000, 1),
        "slowest_query": slowest["sql"][:160],
    }


if __name__ == "__main__":
    main()
