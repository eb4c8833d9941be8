"""Retention by partition: old events, deliveries and attempts leave a whole period at a time.

On PostgreSQL the three tables are partitioned by the month a row was made
in (``lib.partitioning``). Once every row of a period is older than its
limit, the period's partition is detached and dropped: a change to the
catalogue, not millions of deletes.

- ``ATTEMPT_RETENTION_DAYS``: the period's attempts are emptied (the
  partition stays, so an attempt made later for one of its deliveries
  still has a place);
- ``DELIVERY_RETENTION_DAYS``: its deliveries go, with their attempts;
- ``EVENT_RETENTION_DAYS``: its events go (their deliveries have gone by
  then: a delivery cannot outlive its event).

A period waits while any of its deliveries is still pending or retrying,
and while the statistics' roll-up has not counted all of its rows; the
periods after it wait with it, so the roll-up's days are made final in
order. Days before the newest dropped period's end keep their roll-up
rows for good (``reporting.rollup.stats_days_finalise``): the statistics
still show them. With ``RETENTION_ARCHIVE_DIR`` set, each partition is
written there as gzip-compressed CSV first, and a failed archive keeps it.

The dropping transaction holds the lock that blocks ingest only for the
catalogue change itself, and waits at most ``LOCK_WAIT`` for it (retrying
a few times) instead of queueing ingest behind a long transaction.
"""

import datetime as dt
import gzip
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from deliveries.models import Delivery
from lib.partitioning import EVENT_KEY_TABLE, Partition, month_index_at, partitions_list
from reporting.rollup import stats_days_finalise, stats_rollup_settled
from reporting.selectors import reporting_time_zone

from .models import EventIdRelease

logger = logging.getLogger(__name__)

EVENTS, DELIVERIES, ATTEMPTS = "events_event", "deliveries_delivery", "deliveries_deliveryattempt"
LOCK_WAIT = "500ms"
LOCK_TRIES = 5
RELEASE_BATCH = 10_000


@dataclass
class Step:
    """What retention does with one period: empty its attempts, or drop its deliveries, or its events too."""

    events: Partition | None
    deliveries: Partition | None
    attempts: Partition | None
    action: str  # "empty attempts", "drop deliveries", "drop events and deliveries", "drop events"
    waits_for: str = ""  # why it cannot go yet; empty when it can
    archived: list[str] = field(default_factory=list)
    release_ms: float = 0.0  # freeing the event_ids (no lock that blocks ingest)
    change_ms: float = 0.0  # the transaction that drops or empties the partitions

    @property
    def partitions(self) -> list[Partition]:
        return [item for item in (self.attempts, self.deliveries, self.events) if item is not None]

    @property
    def period(self) -> str:
        return self.partitions[0].period

    @property
    def drops(self) -> bool:
        return self.action != "empty attempts"


def retention_limits() -> dict[str, int]:
    return {
        EVENTS: settings.EVENT_RETENTION_DAYS,
        DELIVERIES: settings.DELIVERY_RETENTION_DAYS,
        ATTEMPTS: settings.ATTEMPT_RETENTION_DAYS,
    }


def retention_plan(*, now: dt.datetime | None = None) -> list[Step]:
    """What retention would do now, oldest period first; a step that cannot go says why, and the rest wait."""
    now = now or timezone.now()
    limits = retention_limits()
    current = _database_month()
    by_period: dict[int, dict[str, Partition]] = {}
    for partition in partitions_list():
        # Never the month new rows go to, whatever this process's clock says: ids take the database's.
        if partition.end_month <= current:
            by_period.setdefault(partition.end_month, {})[partition.table] = partition
    steps = []
    for end_month in sorted(by_period):
        tables = by_period[end_month]
        due = {table for table, days in limits.items()
               if days and table in tables and _made_before(tables[table], now - dt.timedelta(days=days))}
        step = _step(tables, due)
        if step is None:
            continue
        waiting = next((earlier for earlier in steps if earlier.waits_for), None)
        step.waits_for = f"the period {waiting.period} goes first" if waiting else _waits_for(step)
        steps.append(step)
    return steps


def _database_month() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return month_index_at(cursor.fetchone()[0])


def _made_before(partition: Partition, cutoff: dt.datetime) -> bool:
    ends = dt.datetime.combine(partition.ends, dt.time.min, tzinfo=dt.timezone.utc)
    return ends <= cutoff


def _step(tables: dict[str, Partition], due: set[str]) -> Step | None:
    events, deliveries, attempts = tables.get(EVENTS), tables.get(DELIVERIES), tables.get(ATTEMPTS)
    if EVENTS in due and DELIVERIES in due:
        return Step(events, deliveries, attempts, "drop events and deliveries")
    if EVENTS in due and deliveries is None:
        return Step(events, None, None, "drop events")
    if DELIVERIES in due:
        return Step(None, deliveries, attempts, "drop deliveries")
    if ATTEMPTS in due and attempts is not None and _has_rows(attempts):
        return Step(None, None, attempts, "empty attempts")
    return None


def _has_rows(partition: Partition) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {partition.name})")
        return cursor.fetchone()[0]


def _waits_for(step: Step) -> str:
    period = step.deliveries or step.attempts
    if period is not None:
        low = -(1 << 62) if period.first_id is None else period.first_id
        open_count = Delivery.objects.filter(
            id__gte=low, id__lt=period.end_id, status__in=Delivery.OPEN_STATUSES
        ).count()
        if open_count:
            return (f"{open_count} of its deliveries are still pending or retrying; the period goes once they are "
                    "delivered, failed or cancelled")
    if step.drops:
        end_id = step.partitions[0].end_id
        if not stats_rollup_settled(events_below=end_id, deliveries_below=end_id, days_before=_final_day(step)):
            return "the statistics' roll-up has not yet counted all of its rows (it runs every minute)"
    return ""


def _final_day(step: Step) -> dt.date:
    """The first reporting day after the period: the days before it are final once the period is dropped."""
    ends = dt.datetime.combine(step.partitions[0].ends, dt.time.min, tzinfo=dt.timezone.utc)
    return ends.astimezone(reporting_time_zone()).date()


def retention_apply(*, now: dt.datetime | None = None) -> list[Step]:
    """Carry out the plan's steps that can go, oldest first, stopping at the first that cannot; returns those done."""
    done = []
    for step in retention_plan(now=now):
        if step.waits_for:
            logger.info("retention: %s of %s waits: %s", step.action, step.period, step.waits_for)
            break
        try:
            _archive(step)
        except OSError as exc:
            step.waits_for = f"archiving it to {settings.RETENTION_ARCHIVE_DIR} failed: {exc}"
            logger.error("retention: %s of %s not done: %s", step.action, step.period, step.waits_for)
            break
        started = time.perf_counter()
        if step.events is not None:
            _event_ids_release(step.events)
        released = time.perf_counter()
        changed = _carry_out(step)
        step.release_ms, step.change_ms = (released - started) * 1000, (time.perf_counter() - released) * 1000
        if not changed:
            step.waits_for = f"its tables stayed busy for {LOCK_TRIES} tries of {LOCK_WAIT}; the next run tries again"
            logger.warning("retention: %s of %s not done: %s", step.action, step.period, step.waits_for)
            break
        logger.info("retention: %s of %s done (event ids freed in %.0f ms, partitions changed in %.0f ms)",
                    step.action, step.period, step.release_ms, step.change_ms)
        done.append(step)
    return done


def _carry_out(step: Step) -> bool:
    for attempt in range(LOCK_TRIES):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
                # Foreign keys checked as each statement ends: a table with checks pending cannot be altered.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                if step.drops:
                    _drop(cursor, step)
                else:
                    cursor.execute(f"TRUNCATE {step.attempts.name}")
            return True
        except OperationalError as exc:
            if "lock timeout" not in str(exc):
                raise
            time.sleep(0.2 * (attempt + 1))
    return False


def _event_ids_release(partition: Partition) -> None:
    """Free the period's event_ids in the key table, a batch per transaction, before its events go.

    Done ahead of the drop, not in its transaction, so the drop stays a short
    catalogue change whatever the month's size. Meanwhile a resent id still
    finds its stored event, so it is answered as a replay, not stored twice:
    the period's ``EventIdRelease``, written (and committed) before the first
    key goes, sends ingest to the events themselves until the drop's
    transaction deletes it.
    """
    EventIdRelease.objects.get_or_create(partition=partition.name)
    last = -(1 << 62)
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"WITH batch AS (SELECT id, event_id FROM {partition.name} WHERE id > %s ORDER BY id LIMIT %s),"
                f" released AS (DELETE FROM {EVENT_KEY_TABLE} USING batch"
                f" WHERE {EVENT_KEY_TABLE}.event_id = batch.event_id)"
                " SELECT max(id) FROM batch",
                [last, RELEASE_BATCH],
            )
            (last,) = cursor.fetchone()
        if last is None:
            return


def _drop(cursor, step: Step) -> None:
    """Unlink the period's rows from those that stay, then detach and drop its partitions (in one transaction)."""
    if step.events is not None:
        low = step.events.first_id
        where = f"BETWEEN {low} AND {step.events.end_id - 1}" if low is not None else f"< {step.events.end_id}"
        # Reversals and qualifications made later keep their rows, without the link to what went.
        cursor.execute(f"UPDATE events_event SET reverses_id = NULL WHERE reverses_id {where}")
        cursor.execute(f"UPDATE partners_qualification SET event_id = NULL WHERE event_id {where}")
    # Last, so the locks that block ingest are held only from here to the commit. Taken at once and in
    # the order ingest and the sender take theirs (events, deliveries, attempts): detaching a partition
    # also locks the table its foreign key points to, and in any other order the two deadlock.
    cursor.execute(f"LOCK TABLE {EVENTS}, {DELIVERIES}, {ATTEMPTS} IN ACCESS EXCLUSIVE MODE")
    for partition in step.partitions:
        cursor.execute(f"ALTER TABLE {partition.table} DETACH PARTITION {partition.name}")
        cursor.execute(f"DROP TABLE {partition.name}")
    if step.events is not None:
        EventIdRelease.objects.filter(partition=step.events.name).delete()
    stats_days_finalise(before=_final_day(step))


def _archive(step: Step) -> None:
    """Write each partition the step removes as ``<partition>.csv.gz`` in the archive directory, if one is set."""
    if not settings.RETENTION_ARCHIVE_DIR:
        return
    directory = Path(settings.RETENTION_ARCHIVE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    for partition in step.partitions:
        target = directory / f"{partition.name}.csv.gz"
        partial = target.with_name(target.name + ".partial")
        with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as archive:
            with connection.cursor() as cursor:
                cursor.cursor.copy_expert(f"COPY (SELECT * FROM {partition.name}) TO STDOUT WITH CSV HEADER", archive)
            archive.flush()
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        partial.replace(target)
        step.archived.append(str(target))
