"""Export benchmark: rows/s and peak memory of GET /api/v1/export/events.csv (and the stats' time).

    .venv/bin/python bench/export_bench.py                      # 10k and 1M rows
    .venv/bin/python bench/export_bench.py --rows 10000 100000  # other sizes

It creates its own PostgreSQL database (``bench_export`` on the server of
``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/postgres``),
migrates it, fills it with generated events in SQL, and for each size streams
the whole export through Django's request handler in a fresh process, so
that process's peak RSS is the export's. The database is dropped at the end,
whatever happens. Figures go to ``bench/results/export.json``.

The point it proves: memory stays flat as the row count grows, because the
file leaves in chunks (``reporting.csv_export``: 1,000 rows fetched, formatted and sent at a time).
"""

import argparse
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CHILD_TIMEOUT_SECONDS = 900


def main() -> None:
    args = _arguments()
    if args.child:
        _child(args)
        return
    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER)
    if urlparse(server).hostname not in LOOPBACK:
        sys.exit(f"BENCH_DATABASE_URL must point at this machine, not {urlparse(server).hostname}.")
    database_url = urlunparse(urlparse(server)._replace(path=f"/{args.database}"))
    # A stop request unwinds through the finally below, so the database is dropped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"stopped by signal {signum}"))
    _recreate(server, args.database)
    try:
        results = _run_sizes(database_url, sorted(args.rows))
    finally:
        _drop(server, args.database)
    _write(args.output, results)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--database", default="bench_export", help="Created for the run and dropped after it.")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "export.json")
    parser.add_argument("--child", choices=["migrate", "fill", "export"], help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


# --- The parent: database lifetime, one child process per step ---------------------


def _admin_sql(server: str, statement: str) -> None:
    connection = psycopg2.connect(server, connect_timeout=5)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def _recreate(server: str, name: str) -> None:
    _drop(server, name)
    _admin_sql(server, f'CREATE DATABASE "{name}"')


def _drop(server: str, name: str) -> None:
    _admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_sizes(database_url: str, sizes: list[int]) -> list[dict]:
    _step(database_url, "migrate")
    results = []
    for size in sizes:
        _step(database_url, "fill", size)
        results.append(json.loads(_step(database_url, "export", size)))
        print(_summary(results[-1]), file=sys.stderr)
    return results


def _step(database_url: str, step: str, count: int = 0) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-secret-key-7d1c6a2f9e40b358",
        "DEBUG": "false",  # with DEBUG on, Django would keep every query in memory
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, __file__, "--child", step, "--count", str(count)]
    finished = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=False
    )
    if finished.returncode:
        sys.exit(f"bench step {step} failed:\n{finished.stderr[-3000:]}")
    return finished.stdout


def _summary(result: dict) -> str:
    return (
        f"{result['rows']:>9,} rows  {result['rows_per_second']:>9,.0f} rows/s  "
        f"peak RSS {result['peak_rss_mib']:.1f} MiB (+{result['export_rss_growth_mib']:.1f} MiB during the export); "
        f"GET /api/v1/stats/ for a month {result['stats_seconds']:.2f} s"
    )


def _write(path: Path, results: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "GET /api/v1/export/events.csv streamed through the Django test client, PostgreSQL",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "system": platform.platform(),
            # Other work on the machine slows every figure but the memory ones: read them with this.
            "load_average_1_5_15_min": [round(load, 2) for load in os.getloadavg()],
        },
        "results": results,
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)


# --- The children: Django set up against the benchmark database ---------------------


def _child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postback_platform.settings")
    import django

    django.setup()
    {"migrate": _migrate, "fill": _fill, "export": _export}[args.child](args.count)


def _migrate(count: int) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _fill(count: int) -> None:
    """Grow the events table to ``count`` rows: one template row made by the ORM, the rest cloned in SQL.

    Cloning every column of a real row keeps this working when models gain fields.
    """
    from django.db import connection

    from events.models import Event, Player
    from partners.models import Partner, PayoutRule

    partner, _ = Partner.objects.get_or_create(slug="bench", defaults={"name": "Bench partner"})
    # Payout rules, so the statistics' timing includes working out payouts.
    for event_type, kind, value in (("registration", "fixed", 5), ("deposit", "percent", 25)):
        PayoutRule.objects.get_or_create(
            partner=partner, event_type_id=event_type, defaults={"kind": kind, "value": value, "currency": "EUR"}
        )
    template = Event.objects.filter(event_id="bench-1").first() or _template_event(partner)
    have = Event.objects.count()
    players = max(count // 5, 1)
    with connection.cursor() as cursor:
        _clone(cursor, Player, template.player_id, range(Player.objects.count() + 1, players + 1), {
            "player_id": "'bench-p-' || g",
        })
        _clone(cursor, Event, template.pk, range(have + 1, count + 1), {
            "event_id": "'bench-' || g",
            "player_id": f"'bench-p-' || (1 + g % {players})",
            "type_id": "(ARRAY['registration', 'deposit', 'game_activity'])[1 + g % 3]",
            "amount": "(g % 500) + 0.25",
            "click_id": "CASE WHEN g % 100 = 0 THEN '=HYPERLINK(\"x\")' ELSE 'click-' || g END",
            "occurred_at": "timestamptz '2026-11-01 00:00:00+00' + g * interval '2 seconds'",
            "content_hash": "md5(g::text)",
        })
        cursor.execute("ANALYZE")


def _template_event(partner):
    from django.utils import timezone

    from events.models import Event, Player

    player = Player.objects.create(player_id="bench-p-1", partner=partner, click_id="click-1")
    return Event.objects.create(
        event_id="bench-1", type_id="deposit", player=player, partner=partner, click_id="click-1",
        amount="25.00", currency="EUR", params={"sub1": "campaign-7", "country": "DE"},
        occurred_at=timezone.now(), content_hash="0" * 64,
    )


def _clone(cursor, model, template_pk, numbers: range, overrides: dict[str, str]) -> None:
    if not numbers:
        return
    meta = model._meta
    columns = [field.column for field in meta.concrete_fields if not (field.primary_key and field.column == "id")]
    targets = ", ".join(f'"{column}"' for column in columns)
    # The expressions use SQL's modulo, which the driver would read as a placeholder.
    values = ", ".join(overrides.get(column, f't."{column}"').replace("%", "%%") for column in columns)
    cursor.execute(
        f'INSERT INTO "{meta.db_table}" ({targets}) SELECT {values} FROM "{meta.db_table}" t, '
        f'generate_series(%s, %s) AS g WHERE t."{meta.pk.column}" = %s',
        [numbers.start, numbers.stop - 1, template_pk],
    )


def _export(count: int) -> None:
    from django.test import Client

    from accounts.services import api_key_create
    from bench import cpu

    key = api_key_create(name="bench", role="admin").plaintext
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    # Warm up on one row (imports, connection, query plans), so the growth
    # measured next is the export's own.
    _stream(client, {"event_id": "bench-1"})
    baseline = _peak_rss_mib()
    backend = _backend_pid()
    cpu_before = time.process_time(), cpu.own_seconds(backend)
    started = time.perf_counter()
    lines, size = _stream(client, {})
    seconds = time.perf_counter() - started
    cpu_after = time.process_time(), cpu.own_seconds(backend)
    peak = _peak_rss_mib()
    stats_seconds = _timed_stats(client)
    print(json.dumps({
        "rows": lines - 1,
        "bytes": size,
        "seconds": round(seconds, 3),
        "rows_per_second": round((lines - 1) / seconds),
        "peak_rss_mib": round(peak, 1),
        "export_rss_growth_mib": round(peak - baseline, 1),
        "stats_seconds": stats_seconds,
        "cpu_seconds": _cpu_spent(cpu_before, cpu_after, same_backend=backend == _backend_pid()),
    }))


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _cpu_spent(before: tuple, after: tuple, *, same_backend: bool) -> dict:
    """This process (Django's handler, the CSV writer and the reading client) and the one backend serving it."""
    postgres = after[1] - before[1] if same_backend and None not in (before[1], after[1]) else None
    return {"web": round(after[0] - before[0], 3), "postgres": None if postgres is None else round(postgres, 3)}


def _timed_stats(client) -> float:
    """How long a month by day × partner × type takes to read, once the daily roll-up holds these rows."""
    from django.core.management import call_command

    call_command("stats_rollup", stdout=sys.stderr, stderr=sys.stderr)
    started = time.perf_counter()
    response = client.get("/api/v1/stats/", {"from": "2026-11-01", "to": "2026-11-30"})
    assert response.status_code == 200, response.status_code
    return round(time.perf_counter() - started, 3)


def _stream(client, params: dict) -> tuple[int, int]:
    response = client.get("/api/v1/export/events.csv", params)
    assert response.status_code == 200, response.status_code
    lines = size = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\r\n")
        size += len(chunk)
    response.close()
    return lines, size


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


if __name__ == "__main__":
    main()
