"""Disk per stored row, and per million events, as the bench's own runs left the tables.

    .venv/bin/python -m bench.run --only sizing     (after a full run: it reads what the run stored)

For events, players, deliveries and attempts: the table's whole size on
disk (heap, TOAST and every index: ``pg_total_relation_size``) over its
row count. The rows are the bench's: events with two short params,
GET postbacks with URLs of about a hundred characters, response excerpts of
a few bytes; deliveries and attempts carry the dead versions their updates
left until autovacuum, as a live system's do. A million events then costs
one event row, the players it brings, ``fan-out`` deliveries and as many
attempts (one each: every postback delivered at the first try).
"""

from . import env as bench_env

TABLES = {"event": "events_event", "player": "events_player", "delivery": "deliveries_delivery",
          "attempt": "deliveries_deliveryattempt"}
MILLION = 1_000_000


def measure(*, fanout: int = 2) -> dict:
    from django.db import connection

    rows: dict[str, dict] = {}
    with connection.cursor() as cursor:
        for kind, table in TABLES.items():
            cursor.execute(f"SELECT count(*), pg_total_relation_size(%s), pg_relation_size(%s) FROM {table}",  # noqa: S608 - our own table names
                           [table, table])
            count, total, heap = cursor.fetchone()
            rows[kind] = {"rows": count, "bytes": total, "heap_bytes": heap,
                          "bytes_per_row": round(total / count, 1) if count else None}
    if not all(figures["rows"] for figures in rows.values()):
        return {"status": "not measured", "reason": f"a table of {bench_env.MAIN_DB} is empty: run the full bench first"}
    players_per_event = rows["player"]["rows"] / rows["event"]["rows"]
    per_million = (
        rows["event"]["bytes_per_row"] + players_per_event * rows["player"]["bytes_per_row"]
        + fanout * (rows["delivery"]["bytes_per_row"] + rows["attempt"]["bytes_per_row"])
    ) * MILLION
    return {
        "status": "measured", "tables": rows, "fanout": fanout, "players_per_event": round(players_per_event, 3),
        "gib_per_million_events": round(per_million / 2**30, 2),
    }
