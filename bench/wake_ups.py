"""What waking a sender costs the transactions that commit events: NOTIFY inside them, after them, or Redis.

    .venv/bin/python -m bench.run --only wake_ups     (on the bench's database; into RESULTS.md)

``WRITERS`` threads, each with its own connection, insert a row and commit
as fast as they can for ``SECONDS``, four ways in turn, twice over:

- ``plain``: no wake-up at all (the ceiling);
- ``notify_inside``: ``NOTIFY`` in the transaction, as PostgreSQL's outbox
  examples do: the notification is delivered exactly at commit;
- ``notify_after``: ``NOTIFY`` as a statement of its own after the commit
  (what ``deliveries.listener`` does);
- ``redis_after``: a Redis ``SET NX`` after the commit (the Celery path's
  coalescing flag, without the broker message it may lead to).

The rows go to a table of the measurement's own, in the bench's database,
dropped at the end; commits are durable (``synchronous_commit`` as the
server has it), so each waits for its WAL flush as an ingest does.
"""

import threading
import time

import psycopg2
import redis

from . import env as bench_env

WRITERS = 12
SECONDS = 4.0
ROUNDS = 2
TABLE = "bench_wake_up_probe"
CHANNEL = "bench_wake_up_probe"
WAYS = ("plain", "notify_inside", "notify_after", "redis_after")


def measure() -> dict:
    dsn = bench_env.database_url(bench_env.MAIN_DB)
    admin = psycopg2.connect(dsn)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, written_at timestamptz DEFAULT now())")
        cursor.execute(f"LISTEN {CHANNEL}")  # a listener, as the sender is: notifications are signalled to it
    try:
        rates: dict[str, list[float]] = {way: [] for way in WAYS}
        for _ in range(ROUNDS):
            for way in WAYS:
                rates[way].append(_commits_per_second(dsn, way))
                admin.poll()
                admin.notifies.clear()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        admin.close()
    best = {way: max(figures) for way, figures in rates.items()}
    return {
        "status": "measured", "writers": WRITERS, "seconds": SECONDS, "rounds": ROUNDS,
        "commits_per_second": {way: round(rate, 1) for way, rate in best.items()},
        "ratio_to_plain": {way: round(best[way] / best["plain"], 3) for way in WAYS},
        "all_rounds": {way: [round(rate, 1) for rate in figures] for way, figures in rates.items()},
    }


def _commits_per_second(dsn: str, way: str) -> float:
    counts = [0] * WRITERS
    ready = threading.Barrier(WRITERS + 1)
    stop_at = [float("inf")]

    def writer(number: int) -> None:
        conn = psycopg2.connect(dsn)
        flag = redis.Redis.from_url(bench_env.redis_url(bench_env.CACHE_DB)) if way == "redis_after" else None
        cursor = conn.cursor()
        ready.wait(timeout=30)
        while time.monotonic() < stop_at[0]:
            cursor.execute(f"INSERT INTO {TABLE} DEFAULT VALUES")
            if way == "notify_inside":
                cursor.execute(f"NOTIFY {CHANNEL}")
            conn.commit()
            if way == "notify_after":  # in autocommit, as Django's on-commit callbacks run: one round trip
                conn.autocommit = True
                cursor.execute(f"NOTIFY {CHANNEL}")
                conn.autocommit = False
            elif flag is not None:
                flag.set("bench-wake-up-probe", 1, nx=True, px=5)
            counts[number] += 1
        conn.close()

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    ready.wait(timeout=30)
    started = time.monotonic()
    stop_at[0] = started + SECONDS
    for thread in threads:
        thread.join(timeout=SECONDS + 30)
    return sum(counts) / (time.monotonic() - started)
