"""Time the admin changelists and the stats API on the bench_scale database, with the plans of their queries.

    .venv/bin/python -m bench.scale_check [bench_scale [LABEL_PREFIX ...]]     (after python -m bench.scale_load)

Each page is fetched through Django's test client (logged in as a
superuser; the stats API with an admin API key) three times; the first
answer is the cold one, the figure is the slowest of the other two (a page
over five seconds is fetched once, and its statements are explained
without ANALYZE rather than run again). Every SQL
statement a page runs is captured, and the slowest ones get
EXPLAIN (ANALYZE, BUFFERS), written to bench/results/scale-plans/. The
statistics read a daily roll-up: before their pages, ``manage.py stats_rollup``
brings it up to date (all of it after a fresh load; ``stats_rollup_s``).
Results: bench/results/bench_scale-scale.json and a section bench/RESULTS.md reads.
"""

import io
import json
import os
import sys
import time
from pathlib import Path

from . import env as bench_env

RESULTS = Path(__file__).resolve().parent / "results"
PLANS = RESULTS / "scale-plans"
LIMIT_MS = 500
REPEATS = 3
PLANS_PER_PAGE = 2
SLOW_MS = 5000
STATS_PAGES = ("/admin/reporting/statistics/", "/api/v1/stats/")

PAGES = [
    ("admin: events", "/admin/events/event/"),
    ("admin: events of one partner", "/admin/events/event/?partner__id__exact=7"),
    ("admin: events of one type", "/admin/events/event/?type__slug__exact=deposit"),
    ("admin: event search by event_id", "/admin/events/event/?q=e-4242424"),
    ("admin: players", "/admin/events/player/"),
    ("admin: players of one partner", "/admin/events/player/?partner__id__exact=7"),
    ("admin: deliveries", "/admin/deliveries/delivery/"),
    ("admin: failed deliveries", "/admin/deliveries/delivery/?status__exact=failed"),
    ("admin: deliveries of one partner", "/admin/deliveries/delivery/?partner__id__exact=7"),
    ("admin: retrying deliveries of one partner", "/admin/deliveries/delivery/?status__exact=retrying&partner__id__exact=7"),
    ("admin: delivery search by event_id", "/admin/deliveries/delivery/?q=e-4242424"),
    ("admin: dashboard", "/admin/"),
    ("admin: storage (partitions and retention)", "/admin/ingest/storage/"),
    ("admin: statistics page", "/admin/reporting/statistics/"),
    ("api: stats, last 30 days", "/api/v1/stats/"),
    ("api: stats, 120 days", "/api/v1/stats/?from=2026-07-28&to=2026-11-24"),
    ("api: stats, 120 days, one partner", "/api/v1/stats/?from=2026-07-28&to=2026-11-24&partner=partner-7"),
]


def main() -> int:
    database = sys.argv[1] if len(sys.argv) > 1 else bench_env.SCALE_DB
    wanted = sys.argv[2:]  # label prefixes: measure only those pages, keep the others' last figures
    if database not in (bench_env.SCALE_DB, bench_env.MAIN_DB):
        sys.exit(f"{database}: only {bench_env.SCALE_DB} (or {bench_env.MAIN_DB} for a small trial) may be read")
    env = bench_env.product_env(database=database, settings_module="postback_platform.settings")
    env["ALLOWED_HOSTS"] = "testserver"
    os.environ.update({k: v for k, v in env.items() if k != "CELERY_BROKER_URL"})
    import django

    django.setup()
    from django.test import Client

    client, api = _clients(Client)
    PLANS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / f"{database}-scale.json"
    earlier = {page["label"]: page for page in json.loads(output.read_text())["pages"]} if output.exists() else {}
    report = {"database": database, "limit_ms": LIMIT_MS, "rows": _row_counts(), "event_partitions": _partitions(),
              "pages": []}
    if any(url.startswith(STATS_PAGES) for label, url in PAGES if not wanted or label.startswith(tuple(wanted))):
        report["stats_rollup_s"] = _stats_rollup_built()
    for label, url in PAGES:
        if wanted and not label.startswith(tuple(wanted)):
            if label in earlier:
                report["pages"].append(earlier[label])
            continue
        page = _time_page(api if url.startswith("/api/") else client, label, url)
        page["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        report["pages"].append(page)
        print(f"{page['ms']:>8.1f} ms  {page['status']}  {label}", flush=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _clients(client_class):
    from django.contrib.auth import get_user_model

    from accounts.services import api_key_create

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = client_class()
    client.force_login(user)
    key = api_key_create(name=f"bench-{int(time.time())}", role="admin").plaintext
    return client, client_class(HTTP_AUTHORIZATION=f"Bearer {key}")


def _stats_rollup_built() -> float:
    """The statistics read a daily roll-up: bring it up to date first (all of it after a fresh load)."""
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("stats_rollup", stdout=io.StringIO(), stderr=io.StringIO())
    seconds = round(time.perf_counter() - started, 1)
    print(f"statistics roll-up brought up to date in {seconds} s", flush=True)
    return seconds


def _row_counts() -> dict:
    from django.db import connection

    counts = {}
    with connection.cursor() as cursor:
        for table in ("events_event", "events_player", "deliveries_delivery", "deliveries_deliveryattempt"):
            # A partitioned table's rows are its partitions'.
            cursor.execute(
                "SELECT coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables WHERE relid IN"
                " (SELECT relid FROM pg_partition_tree(%s::regclass) UNION SELECT %s::regclass)",
                [table, table],
            )
            counts[table] = int(cursor.fetchone()[0])
    return counts


def _partitions() -> list[dict]:
    """The events table's partitions (lib.partitioning) and their rows: how the pages' rows are spread."""
    from lib.partitioning import partitions_list

    return [{"name": item.name, "period": item.period, "rows": item.rows} for item in partitions_list(["events_event"])]


def _time_page(client, label: str, url: str) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings, status, queries = [], None, []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            _ = response.content
            timings.append((time.perf_counter() - started) * 1000)
        status, queries = response.status_code, captured.captured_queries
        if timings[0] > SLOW_MS:
            break  # far over the limit: fetching it again would only keep the machine busy
    warm = max(timings[1:]) if len(timings) > 1 else timings[0]
    slowest = sorted(queries, key=lambda query: float(query["time"]), reverse=True)[:PLANS_PER_PAGE]
    plan_file = PLANS / f"{_slug(label)}.txt"
    plan_file.write_text(_plans(label, url, slowest))
    return {
        "label": label, "url": url, "status": status, "ms": round(warm, 1), "cold_ms": round(timings[0], 1),
        "queries": len(queries), "sql_ms": round(sum(float(query["time"]) for query in queries) * 1000, 1),
        "fetches": len(timings), "within_limit": warm <= LIMIT_MS, "plans": str(plan_file.relative_to(RESULTS.parent)),
    }


def _plans(label: str, url: str, queries: list[dict]) -> str:
    from django.db import connection

    parts = [f"{label}: GET {url}\n"]
    with connection.cursor() as cursor:
        for query in queries:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            # A statement that took many seconds is explained without running it again.
            analyse = "(ANALYZE, BUFFERS) " if float(query["time"]) * 1000 < SLOW_MS else ""
            cursor.execute(f"EXPLAIN {analyse}" + query["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            parts.append(f"-- {float(query['time']) * 1000:.1f} ms in the request\n{query['sql']}\n\n{plan}\n")
    return "\n".join(parts)


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in label.lower()).strip("-").replace("--", "-")


if __name__ == "__main__":
    sys.exit(main())
