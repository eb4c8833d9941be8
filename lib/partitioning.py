"""Time partitions for the tables that grow with traffic: events, deliveries and delivery attempts.

On PostgreSQL the three tables are range-partitioned, a partition per
period (a month by default, ``POSTBACK_PARTITION_MONTHS``), so that old
data leaves by dropping a partition (a catalogue change) instead of a
``DELETE`` of millions of rows that bloats the table and competes with
ingest. SQLite, the embedded default, keeps plain tables.

**The partition key is the id.** An id carries the month it was made in:
``partition_id()`` puts the months since January 2020 (UTC, of the
transaction's start) in the bits above ``ID_SHIFT`` and the table's
sequence below them. So ids still grow with time, every look-up by id
(the API, the admin, a foreign key) is pruned to one partition, and the
foreign keys between the tables stay real constraints: a partitioned
table's primary key must contain the partition key, and ``id`` is all of
it. An event's deliveries are written in its transaction, so they get the
same month; attempts are partitioned by ``delivery_id``, so a delivery's
attempts live in its month however late they are made. A month's events,
deliveries and attempts therefore leave together. Ids stay below 2**53
for the next several centuries, so JavaScript clients read them exactly.

**Uniqueness the partition key cannot carry.** PostgreSQL enforces a
unique index on a partitioned table only when it contains the partition
key. Two guarantees do not, and are kept otherwise:

- an event's ``event_id`` is unique across all partitions through the
  ``events_event_key`` table, kept by statement-level triggers on events
  (``EVENT_KEY_TRIGGERS``): a second use of an id fails the insert with
  the same ``IntegrityError`` the unique index raised before;
- one first deposit per player: ingest locks the player's row before it
  decides (``ingest.services``), and one reversal per event: a reversal
  locks its original and takes the event_id ``reversal-of-<id>``
  (``ingest.reversals``). ``tests/events/test_concurrent_ingest.py``
  races both.

Deliveries of one event to one endpoint are made once, in the event's own
transaction, so that pair needs no unique index either.

Partitions are made ahead (``partitions_ensure``: by the migration that
partitions the tables and by a periodic task) and attached to their table
with ``ATTACH PARTITION``, which does not block inserts. Retention drops
old ones (``ingest.retention``).
"""

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

ID_SHIFT = 40
SEQUENCE_MASK = (1 << ID_SHIFT) - 1
EPOCH_YEAR = 2020
# Parent tables, with the column each is partitioned on; in the order their rows depend on each other.
PARTITIONED = {
    "events_event": "id",
    "deliveries_delivery": "id",
    "deliveries_deliveryattempt": "delivery_id",
}
# Room on each page for the sender's updates, so most are heap-only (HOT): a delivery is updated
# as it is claimed, counted and finished, an attempt as it finishes. Set on every partition.
FILL_FACTORS = {"deliveries_delivery": 70, "deliveries_deliveryattempt": 80}
ALLOWED_PERIODS = (1, 2, 3, 4, 6, 12)
# Partition DDL waits this long for a lock and then gives up, rather than queue ingest behind it.
LOCK_TIMEOUT = "2s"

# partition_id_at: the id of the row numbered ``low`` in the month of ``made`` (bulk loads of history use it);
# partition_id: the column default, the next number of the table's sequence in the month of the transaction.
ID_FUNCTION = f"""
CREATE OR REPLACE FUNCTION partition_id_at(made timestamptz, low bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((((extract(year FROM made AT TIME ZONE 'UTC')::int - {EPOCH_YEAR}) * 12
              + extract(month FROM made AT TIME ZONE 'UTC')::int - 1)::bigint << {ID_SHIFT})
           | (low & {SEQUENCE_MASK}))
$$;
CREATE OR REPLACE FUNCTION partition_id(sequence_name regclass) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT partition_id_at(now(), nextval(sequence_name))
$$
"""

EVENT_KEY_TABLE = "events_event_key"
# EXCEPT ALL, not EXCEPT: one statement giving two rows the same event_id must fail, not insert it once.
EVENT_KEY_TRIGGERS = """
CREATE TABLE IF NOT EXISTS events_event_key (event_id varchar({length}) PRIMARY KEY);
INSERT INTO events_event_key (event_id) SELECT event_id FROM events_event;

CREATE OR REPLACE FUNCTION events_event_key_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events_event_key (event_id) SELECT event_id FROM new_rows;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION events_event_key_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events_event_key WHERE event_id IN (
        SELECT event_id FROM old_rows EXCEPT ALL SELECT event_id FROM new_rows);
    INSERT INTO events_event_key (event_id)
        SELECT event_id FROM new_rows EXCEPT ALL SELECT event_id FROM old_rows;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION events_event_key_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events_event_key WHERE event_id IN (SELECT event_id FROM old_rows);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION events_event_key_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE events_event_key;
    RETURN NULL;
END $$;

CREATE TRIGGER events_event_key_inserted AFTER INSERT ON events_event
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_event_key_inserted();
CREATE TRIGGER events_event_key_updated AFTER UPDATE ON events_event
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION events_event_key_updated();
CREATE TRIGGER events_event_key_deleted AFTER DELETE ON events_event
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION events_event_key_deleted();
CREATE TRIGGER events_event_key_truncated AFTER TRUNCATE ON events_event
    FOR EACH STATEMENT EXECUTE FUNCTION events_event_key_truncated();
"""


# --- Periods ------------------------------------------------------------------


def month_index(day: dt.date) -> int:
    """Months since January of ``EPOCH_YEAR``: the number an id carries above ``ID_SHIFT``."""
    return (day.year - EPOCH_YEAR) * 12 + day.month - 1


def month_index_at(moment: dt.datetime) -> int:
    """The month (``month_index``) of a moment, in UTC as ids take it."""
    return month_index(moment.astimezone(dt.timezone.utc).date())


def month_start(index: int) -> dt.date:
    return dt.date(EPOCH_YEAR + index // 12, index % 12 + 1, 1)


def month_of_id(pk: int) -> dt.date:
    """The first day of the month (UTC) the row with this id was made in."""
    return month_start(pk >> ID_SHIFT)


def first_id_of(month: int) -> int:
    return month << ID_SHIFT


def period_months() -> int:
    return settings.POSTBACK_PARTITION_MONTHS


def period_start(month: int, months: int | None = None) -> int:
    """The first month of the period holding ``month``: periods start in January and divide the year."""
    months = months or period_months()
    return month - month % months


def partition_name(table: str, first_month: int | None) -> str:
    return f"{table}_p_before" if first_month is None else f"{table}_p{month_start(first_month):%Y_%m}"


# --- What is there ------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    first_month: int | None  # None: everything before partitioning began
    end_month: int  # exclusive
    rows: int | None  # PostgreSQL's estimate; None before the partition was first analysed
    bytes: int

    @property
    def starts(self) -> dt.date | None:
        return None if self.first_month is None else month_start(self.first_month)

    @property
    def ends(self) -> dt.date:
        """The first day after the partition's period (exclusive)."""
        return month_start(self.end_month)

    @property
    def period(self) -> str:
        """The months it holds, as people read them: "2026-11", "2026-01 to 2026-03", "before 2026-12"."""
        if self.first_month is None:
            return f"before {self.ends:%Y-%m}"
        if self.first_month == self.end_month - 1:
            return f"{self.starts:%Y-%m}"
        return f"{self.starts:%Y-%m} to {month_start(self.end_month - 1):%Y-%m}"

    @property
    def first_id(self) -> int | None:
        return None if self.first_month is None else first_id_of(self.first_month)

    @property
    def end_id(self) -> int:
        return first_id_of(self.end_month)


_BOUND = re.compile(r"FROM \((?P<low>[^)]+)\) TO \((?P<high>[^)]+)\)")


def is_partitioned(table: str = "events_event") -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [table])
        return cursor.fetchone() is not None


def partitions_list(tables=None) -> list[Partition]:
    """The partitions of the partitioned tables, oldest first per table; empty where tables are plain."""
    if connection.vendor != "postgresql":
        return []
    tables = list(tables or PARTITIONED)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT parent.relname, child.relname, pg_get_expr(child.relpartbound, child.oid),
                   child.reltuples, pg_total_relation_size(child.oid)
            FROM pg_inherits
            JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
            JOIN pg_class child ON child.oid = pg_inherits.inhrelid
            WHERE parent.relname = ANY(%s) AND parent.relnamespace = 'public'::regnamespace
            """,
            [tables],
        )
        found = [_partition(*row) for row in cursor.fetchall()]
    order = {table: position for position, table in enumerate(tables)}
    return sorted(found, key=lambda item: (order[item.table], item.end_month))


def _partition(table, name, bound, reltuples, size) -> Partition:
    match = _BOUND.search(bound)
    low, high = match["low"].strip("'"), match["high"].strip("'")
    return Partition(
        table=table, name=name,
        first_month=None if low == "MINVALUE" else int(low) >> ID_SHIFT,
        end_month=int(high) >> ID_SHIFT,
        rows=None if reltuples < 0 else int(reltuples),
        bytes=size,
    )


def months_ahead(*, now: dt.datetime | None = None) -> int | None:
    """Whole months after the current one that every table has a partition for; None where tables are plain."""
    ends: dict[str, int] = {}
    for item in partitions_list():
        ends[item.table] = max(ends.get(item.table, 0), item.end_month)
    if not ends:
        return None
    current = month_index_at(now or timezone.now())
    return min(ends.values()) - current - 1


# --- Making them ----------------------------------------------------------------------


def partitions_ensure(*, ahead_months: int | None = None, now: dt.datetime | None = None) -> list[str]:
    """Make the partitions that hold this month and the next ``ahead_months``; returns the names made.

    A new partition starts where the table's newest one ends, so a change of
    ``POSTBACK_PARTITION_MONTHS`` never overlaps what exists: the first
    partition after it is cut short to the next period boundary.
    """
    if not is_partitioned():
        return []
    ahead = settings.POSTBACK_PARTITIONS_AHEAD_MONTHS if ahead_months is None else ahead_months
    current = month_index_at(now or timezone.now())
    wanted_end = current + ahead + 1
    made = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        existing = partitions_list()
        for table in PARTITIONED:
            ends = [item.end_month for item in existing if item.table == table]
            start = max(ends) if ends else period_start(current)
            while start < wanted_end:
                end = period_start(start) + period_months()
                made.append(partition_attach(cursor, table, first_month=start, end_month=end))
                start = end
    return made


def partition_attach(cursor, table: str, *, first_month: int | None, end_month: int) -> str:
    """Make an empty table shaped like ``table`` and attach it as the partition for these months."""
    name = partition_name(table, first_month)
    low = "MINVALUE" if first_month is None else str(first_id_of(first_month))
    storage = f" WITH (fillfactor = {FILL_FACTORS[table]})" if table in FILL_FACTORS else ""
    # LIKE + ATTACH rather than CREATE TABLE ... PARTITION OF: attaching takes a lock that
    # lets inserts into the table go on, creating a partition in place takes one that does not.
    cursor.execute(
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){storage}"
    )
    cursor.execute(
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({first_id_of(end_month)})"
    )
    return name


# --- Partitioning the tables (once, by migration) -----------------------------------------


def tables_partition(schema_editor, models, *, referencing=()) -> None:
    """Turn the plain tables of ``models`` into partitioned ones, keeping every row, index and key.

    ``models`` are the migration's models of ``PARTITIONED``'s tables, in
    its order; ``referencing`` the foreign keys of other models that point
    at them. The rows there are go to one partition, ``<table>_p_before``,
    that ends where the current period starts; new rows go to the periods'
    partitions from then on. Runs in the migration's transaction: until it
    commits, the tables are locked.
    """
    execute = schema_editor.execute
    current = period_start(month_index_at(timezone.now()))
    execute(ID_FUNCTION)
    for model in models:
        table = model._meta.db_table
        old = f"{table}_unpartitioned"
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
            (next_id,) = cursor.fetchone()
        execute(f"ALTER TABLE {table} ALTER COLUMN id DROP IDENTITY IF EXISTS")
        execute(f"ALTER TABLE {table} RENAME TO {old}")
        execute(
            f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            f" PARTITION BY RANGE ({PARTITIONED[table]})"
        )
        execute(f"CREATE SEQUENCE {table}_id_seq START WITH {next_id} OWNED BY {table}.id")
        execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT partition_id('{table}_id_seq')")
        with schema_editor.connection.cursor() as cursor:
            partition_attach(cursor, table, first_month=None, end_month=current)
        execute(f"INSERT INTO {table} SELECT * FROM {old}")
    for model in reversed(models):
        execute(f"DROP TABLE {model._meta.db_table}_unpartitioned CASCADE")
    for model in models:
        _keys_and_indexes(schema_editor, model)
    for model, field in referencing:
        execute(schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s"))
    event_id = next(model for model in models if model._meta.db_table == "events_event")._meta.get_field("event_id")
    execute(EVENT_KEY_TRIGGERS.format(length=event_id.max_length))
    partitions_ensure()


def _keys_and_indexes(schema_editor, model) -> None:
    """What the model declares, made on the partitioned table (and so on each partition)."""
    table = model._meta.db_table
    key = ", ".join(dict.fromkeys(["id", PARTITIONED[table]]))
    schema_editor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key})")
    for field in model._meta.local_fields:
        if field.primary_key:
            continue
        if field.unique:  # cannot hold across partitions (see the module's docstring): an index for look-ups
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))
            like = schema_editor._create_like_index_sql(model, field)
            if like is not None:
                schema_editor.execute(like)
        else:
            for sql in schema_editor._field_indexes_sql(model, field):
                schema_editor.execute(sql)
        if field.remote_field and field.db_constraint:
            schema_editor.execute(schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s"))
    for constraint in model._meta.constraints:
        schema_editor.add_constraint(model, constraint)
    for index in model._meta.indexes:
        schema_editor.add_index(model, index)


def partitions_for_past_months(count: int) -> list[str]:
    """Give each table a partition for each of the ``count`` months before this one; returns the names made.

    For loading history that keeps its own months (and for the tests and the
    bench, which stage old months). The months are cut from the end of
    ``<table>_p_before``, which is detached and attached again with the
    shorter range: PostgreSQL checks as it attaches that all its rows are
    older. Months that already have partitions are left as they are.
    """
    current = month_index_at(timezone.now())
    boundary = current - count
    made = []
    with transaction.atomic(), connection.cursor() as cursor:
        existing = {item.name: item for item in partitions_list()}
        before = {table: existing.get(partition_name(table, None)) for table in PARTITIONED}
        longer = [table for table, item in before.items() if item is not None and item.end_month > boundary]
        for table in reversed(longer):  # attempts first: their foreign key points at deliveries, theirs at events
            cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {partition_name(table, None)}")
        for table in longer:
            cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {partition_name(table, None)}"
                           f" FOR VALUES FROM (MINVALUE) TO ({first_id_of(boundary)})")
        for table in PARTITIONED:
            if partition_name(table, None) not in existing:  # retention dropped it: an empty one before the rest
                starts = [item.first_month for item in existing.values() if item.table == table and item.first_month]
                made.append(partition_attach(cursor, table, first_month=None, end_month=min([boundary, *starts])))
            for month in range(boundary, current):
                if partition_name(table, month) not in existing:
                    made.append(partition_attach(cursor, table, first_month=month, end_month=month + 1))
    return made
