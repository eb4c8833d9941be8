"""The listening sender: woken by PostgreSQL's NOTIFY the moment an ingest has committed.

A Celery worker's sender is woken by a broker message published after the
commit: a Redis round trip for the coalescing flag, the message, and a
prefork child taking it. A ``manage.py send_postbacks`` process instead
keeps one connection listening on ``CHANNEL``, and a transaction that made
due deliveries sends ``NOTIFY`` once it has committed, so the sender that
wakes sees the rows and a rolled-back ingest wakes no one.

The NOTIFY is its own statement after the commit, not part of the
transaction: PostgreSQL queues a transaction's notifications under one lock
that it holds until the commit is flushed (to keep them in commit order), so
ingest requests committing side by side would take turns, each waiting for
the WAL flush of the one before. ``bench/wake_ups.py`` measures this: twelve
writers commit 2.7 times less often with NOTIFY inside their transactions.
A process that dies between its commit and the NOTIFY costs only the
wake-up, as a lost broker message does.

Ingest chooses NOTIFY over the Celery wake-up only while a listening sender
advertises itself: a key in the shared cache, written every
``ADVERTISE_EVERY_SECONDS`` with a TTL of ``ADVERTISEMENT_TTL_SECONDS``
while its listening connection is up. An API request reads that key in the
round trip its authentication already makes (``lib.shared_reads``), so the
choice costs nothing. If the process dies, its advertisement lapses within
the TTL and ingest goes back to Celery wake-ups; a commit in between is sent
by beat's claim every ``POSTBACK_SCHEDULER_INTERVAL_SECONDS``, as any lost
wake-up is. On SQLite or without a shared cache nothing is advertised, and
the process looks for due work every ``IDLE_SECONDS``.
"""

import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, close_old_connections, connection, transaction

from lib.shared_reads import NOT_READ, prefetched, shared_read_register

from .sender import IDLE_POLL_SECONDS, deliveries_send_due, seconds_until_next_due

logger = logging.getLogger(__name__)

CHANNEL = "postback_due"
ADVERTISEMENT_KEY = "postback-sender-listening"
ADVERTISEMENT_TTL_SECONDS = 5
ADVERTISE_EVERY_SECONDS = 1.0
# With nothing due, how long to wait for a notification before looking anyway: retries fall due by
# time, not by a commit.
IDLE_SECONDS = 1.0
# One run of the sender's pipeline before it comes back here, so a stop is honoured within this
# (and what is still out); the next run starts at once when work is due.
RUN_SECONDS = 2.0
# After the listening connection broke or could not be opened, how soon to try again.
REOPEN_EVERY_SECONDS = 1.0

# Read in the round trip an API request's authentication makes: choosing NOTIFY costs ingest nothing.
shared_read_register(ADVERTISEMENT_KEY)


def listener_advertised() -> bool:
    """Whether a listening sender on this database says it is up (then NOTIFY wakes it)."""
    return listening_sender() is not None


def listening_sender() -> str | None:
    """The name a listening sender advertised itself with (host:pid), or None when none is up or it cannot be."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        return None
    value = prefetched(ADVERTISEMENT_KEY)
    if value is NOT_READ:
        try:
            value = cache.get(ADVERTISEMENT_KEY)
        except Exception:  # noqa: BLE001 - the cache is down: the Celery wake-up, which degrades on its own
            return None
    return None if value is None else str(value)


def listeners_notify_on_commit() -> None:
    """Wake the listening senders once the current transaction has committed (at once outside one)."""
    transaction.on_commit(_notify)


def _notify() -> None:
    try:
        with connection.cursor() as cursor:  # in autocommit, after the commit: a transaction of its own
            cursor.execute(f"NOTIFY {CHANNEL}")
    except DatabaseError:
        logger.warning("could not wake the listening sender; it looks for due work within %g s anyway",
                       IDLE_SECONDS, exc_info=True)


class Stop:
    """A stop request that also ends a wait on the listening connection at once."""

    def __init__(self):
        self.event = threading.Event()
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)

    def set(self) -> None:
        self.event.set()
        try:
            self.writer.send(b"x")
        except OSError:  # the pair is full: a wait is ending anyway
            pass

    def is_set(self) -> bool:
        return self.event.is_set()


class _Channel:
    """The listening connection: its own, outside Django's, so no transaction of ours delays a notification."""

    def __init__(self, stop: Stop, *, wanted: bool):
        self.stop = stop
        self.wanted = wanted  # False on SQLite: nothing to listen to, so every wait is a plain sleep
        self.conn = None
        self.opened_at = -REOPEN_EVERY_SECONDS

    @property
    def listening(self) -> bool:
        return self.conn is not None

    def open(self) -> None:
        """Listen, if wanted and not already: at most once every ``REOPEN_EVERY_SECONDS``."""
        if not self.wanted or self.conn is not None or self._reopen_in() > 0:
            return
        self.opened_at = time.monotonic()
        try:
            conn = connection.get_new_connection(connection.get_connection_params())
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
        except connection.Database.Error:
            logger.warning("could not listen for new deliveries; looking for due work every %g s meanwhile",
                           IDLE_SECONDS, exc_info=True)
            return
        self.conn = conn

    def _reopen_in(self) -> float:
        return self.opened_at + REOPEN_EVERY_SECONDS - time.monotonic()

    def wait(self, seconds: float) -> None:
        """Wait up to ``seconds``; return early on a notification (consumed here) or a stop request.

        A connection that broke (here or during a run) is replaced first; while it cannot be, the wait
        ends when the next try is allowed, so a sender never sleeps a long idle wait deaf.
        """
        self.open()
        if self.wanted and self.conn is None:
            seconds = min(seconds, max(self._reopen_in(), 0.0))
        watched = [self.stop.reader] + ([self.conn] if self.conn is not None else [])
        readable, _, _ = select.select(watched, [], [], max(seconds, 0.0))
        if self.stop.reader in readable:
            self._drain_stop()
        if self.conn is not None and (self.conn in readable or self.conn.notifies):
            self.consume()

    def consume(self) -> None:
        """Take what has arrived: a notification is only ever a reason to look, and the caller is about to."""
        if self.conn is None:
            return
        try:
            self.conn.poll()
            self.conn.notifies.clear()
        except connection.Database.Error:
            logger.warning("the listening connection broke; listening again shortly", exc_info=True)
            self.close()

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except connection.Database.Error:
                pass
            self.conn = None

    def _drain_stop(self) -> None:
        try:
            while self.stop.reader.recv(64):
                pass
        except (BlockingIOError, OSError):
            pass


def listener_serve(
    *, stop: Stop, worker: str | None = None, on_more_due: Callable[[], object] | None = None
) -> None:
    """Send what is due, then wait for a notification or the next due time; until ``stop`` is set.

    ``on_more_due()`` is called when a run finds more due than this one process can take at once (a
    burst, a backlog after an outage): the command wakes the Celery workers' senders with it, so they
    join now rather than at beat's next pass.
    """
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:listener"
    channel = _Channel(stop, wanted=connection.vendor == "postgresql")
    advertiser = None
    if channel.wanted and settings.REDIS_URL:
        advertiser = threading.Thread(target=_advertise, args=(channel, stop, worker), daemon=True)
        advertiser.start()
    try:
        while not stop.is_set():
            channel.open()
            channel.consume()  # what arrived while sending: the run below looks anyway
            channel.wait(_serve_once(worker, channel, on_more_due))
    finally:
        stop.set()
        if advertiser is not None:
            advertiser.join(timeout=ADVERTISE_EVERY_SECONDS + 1)
        channel.close()
        connection.close()


def _serve_once(worker: str, channel: _Channel, on_more_due: Callable[[], object] | None) -> float:
    """One run of the pipeline; returns how long to wait before the next."""
    close_old_connections()  # a long-lived process: honour CONN_MAX_AGE and health checks as a request would
    try:
        attempted = deliveries_send_due(
            worker=worker, budget_seconds=RUN_SECONDS, wait=channel.wait, on_more_due=on_more_due
        )
        if attempted:  # the run ended on its budget, or just ran dry: look again at once
            return 0.0
        due_in = seconds_until_next_due()
    except DatabaseError:
        logger.warning("could not send due deliveries; trying again in %g s", IDLE_SECONDS, exc_info=True)
        connection.close()  # a broken connection is replaced on the next query
        return IDLE_SECONDS
    if due_in is None:
        return IDLE_SECONDS
    # Due now but not claimable (every slot of its endpoint is out, a rate limit): look again shortly.
    return min(max(due_in, IDLE_POLL_SECONDS), IDLE_SECONDS)


def _advertise(channel: _Channel, stop: Stop, worker: str) -> None:
    """Keep the advertisement fresh while the connection listens; withdraw it on the way out."""
    while not stop.is_set():
        if channel.listening:
            try:
                cache.set(ADVERTISEMENT_KEY, worker, timeout=ADVERTISEMENT_TTL_SECONDS)
            except Exception:  # noqa: BLE001 - the cache is down: ingest falls back to Celery wake-ups
                logger.warning("could not advertise the listening sender", exc_info=True)
        stop.event.wait(ADVERTISE_EVERY_SECONDS)
    try:
        # Ingest goes back to Celery wake-ups at once; another listening sender re-advertises within a second.
        cache.delete(ADVERTISEMENT_KEY)
    except Exception:  # noqa: BLE001 - the key lapses with its TTL
        pass
