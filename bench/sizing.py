"""Disk per stored row, and per million events, as the bench's own runs left the tables.

    .venv/bin/python -m bench.run --only sizing     (after a full run: it reads what the run stored)

For events, players, deliveries and attempts: the table's whole size on
disk (heap, TOAST and every index: ``pg_total_relation_size``, summed over
its partitions on PostgreSQL, and for events with the key table that keeps
``event_id`` unique across them) over its row count. The rows are the bench's: events with two short params,
GET postbacks with URLs of about a hundred characters, response excerpts of
a few bytes; deliveries and attempts carry the dead versions their updates
left until autovacuum, as a live system's do. A million events then costs
one event row, the players it brings, ``fan-out`` deliveries and as many
attempts (one each: every postback delivered at the first try).
"""

from . import env as bench_env

TABLES = {"event": "events_event", "player": "events_player", "delivery": "deliveries_delivery",
          "attempt": "deliveries_deliveryattempt"}
# Tables whose rows are one-to-one with a table's and exist only for it.
COMPANIONS = {"events_event": ["events_event_key"]}
MILLION = 1_000_000


def measure(*, fanout: int = 2) -> dict:
    from django.db import connection

    rows: dict[str, dict] = {}
    with connection.cursor() as cursor:
        for kind, table in TABLES.items():
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - our own table names
            (count,) = cursor.fetchone()
            total = heap = 0
            for part_of in [table, *COMPANIONS.get(table, [])]:
                # The table and, when partitioned, its partitions (whose sizes the parent's own leaves out).
                cursor.execute(
                    "SELECT coalesce(sum(pg_total_relation_size(relid)), 0), coalesce(sum(pg_relation_size(relid)), 0)"
                    " FROM (SELECT relid FROM pg_partition_tree(%s::regclass) UNION SELECT %s::regclass) tree",
                    [part_of, part_of],
                )
                more_total, more_heap = cursor.fetchone()
                total, heap = total + int(more_total), heap + int(more_heap)
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
