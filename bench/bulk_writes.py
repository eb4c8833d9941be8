"""The hand-written bulk writes against Django's: ``rows_insert`` / ``bulk_create``, ``rows_update`` / ``bulk_update``.

    .venv/bin/python -m bench.run --only bulk_writes     (on the bench's database; into RESULTS.md)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a migrated database> .venv/bin/python -m bench.bulk_writes

One round is the writes of a batch ingest of 1,000 events with two endpoints
and of its postbacks' outcomes: 1,000 event rows, 2,000 delivery rows, then
2,000 deliveries' status set. Each round runs in a transaction that is rolled
back, so the database is left as it was. Prints the median over the rounds
(the first is dropped) of the wall time and of this process's CPU time.
"""

import hashlib
import os
import statistics
import sys
import time
from decimal import Decimal
from urllib.parse import urlparse

import django

ROUNDS = 5
EVENTS = 1000
LOOPBACK = ("127.0.0.1", "localhost", "::1")
EVENT_COLUMNS = [
    "event_id", "type", "player", "partner", "click_id", "amount", "currency", "params", "occurred_at",
    "is_first_deposit", "content_hash",
]
DELIVERY_COLUMNS = ["event", "endpoint", "partner", "event_type", "is_test", "order_key", "next_attempt_at"]
OUTCOME_FIELDS = ("status", "last_status_code", "last_error", "updated_at")
# What each timed write does, and the rows it writes.
WRITES = {"events_insert": ("1,000 events inserted", EVENTS), "deliveries_insert": ("2,000 deliveries inserted", 2 * EVENTS),
          "deliveries_update": ("2,000 deliveries' status updated", 2 * EVENTS)}


class _RolledBack(Exception):
    pass


def main() -> None:
    if urlparse(os.environ.get("DATABASE_URL", "")).hostname not in LOOPBACK:
        sys.exit("DATABASE_URL must name a migrated PostgreSQL database on this machine.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postback_platform.settings")
    django.setup()
    result = measure()
    print(f"median of {result['rounds']} rounds: wall ms / Python CPU ms")
    for name, figures in result["writes"].items():
        for style in ("hand_written", "django"):
            label = f"{WRITES[name][0]}, {style.replace('_', '-')}"
            print(f"{label:48s} {figures[style]['wall_ms']:8.1f} / {figures[style]['cpu_ms']:8.1f}")


def measure(*, rounds: int = ROUNDS) -> dict:
    """Both styles' writes, ``rounds`` times, each round in its own rolled-back transaction.

    The first round of each is dropped (connection, statement and import warm-up); the median of the rest is kept.
    """
    from django.db import transaction

    timings: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for number in range(rounds):
        for style, writes in (("hand_written", _hand_written), ("django", _django)):
            try:
                with transaction.atomic():
                    for name, wall, cpu in writes(_setup(), f"{number}-{style}"):
                        timings.setdefault(name, {}).setdefault(style, []).append((wall, cpu))
                    raise _RolledBack
            except _RolledBack:
                pass
    writes = {
        name: {style: {"wall_ms": round(statistics.median(w for w, _ in figures[1:]), 2),
                       "cpu_ms": round(statistics.median(c for _, c in figures[1:]), 2)}
               for style, figures in styles.items()} | {"rows": WRITES[name][1]}
        for name, styles in timings.items()
    }
    return {"status": "measured", "rounds": rounds - 1, "writes": writes}


def _setup():
    """A partner with two endpoints, made inside the round's transaction so the rollback takes them too."""
    from events.models import Player
    from partners.models import Partner, PostbackEndpoint

    partner = Partner.objects.create(slug="bench-bulk-writes", name="Bench bulk writes")
    endpoints = [
        PostbackEndpoint.objects.create(
            partner=partner, name=f"bench {number}", url_template="https://partner.example/?c={click_id}"
        )
        for number in range(2)
    ]
    Player.objects.get_or_create(player_id="bench-bulk-writes")
    return partner, endpoints


def _events(tag: str):
    from django.utils import timezone

    from events.models import Event

    now = timezone.now()
    return [
        Event(event_id=f"bulk-{tag}-{n}", type_id="deposit", player_id="bench-bulk-writes", click_id="abc",
              amount=Decimal("25.50"), currency="EUR", params={"sub1": n}, occurred_at=now, is_first_deposit=False,
              content_hash=hashlib.sha256(str(n).encode()).hexdigest(), received_at=now)
        for n in range(EVENTS)
    ]


def _timed(write, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = write(*args)
    return result, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _hand_written(setup, tag: str):
    from django.utils import timezone

    from lib.rows import rows_insert, rows_update
    from deliveries.models import Delivery
    from events.models import Event

    partner, endpoints = setup
    events, now = _events(tag), timezone.now()
    rows = [(e.event_id, e.type_id, e.player_id, partner.pk, e.click_id, e.amount, e.currency, e.params,
             e.occurred_at, e.is_first_deposit, e.content_hash) for e in events]
    ids, wall, cpu = _timed(lambda: rows_insert(Event, columns=EVENT_COLUMNS, rows=rows, shared={"received_at": now}))
    yield "events_insert", wall, cpu
    deliveries, wall, cpu = _timed(lambda: rows_insert(Delivery, columns=DELIVERY_COLUMNS, rows=[
        (pk, endpoint.pk, partner.pk, "deposit", False, 1, now) for pk in ids for endpoint in endpoints
    ], shared={"created_at": now, "updated_at": now}))
    yield "deliveries_insert", wall, cpu
    stamp = timezone.now()
    _, wall, cpu = _timed(lambda: rows_update(Delivery, ("id",), OUTCOME_FIELDS, [
        (pk, "delivered", 200, "", stamp) for pk in deliveries
    ]))
    yield "deliveries_update", wall, cpu


def _django(setup, tag: str):
    from django.utils import timezone

    from deliveries.models import Delivery
    from events.models import Event

    partner, endpoints = setup
    events, now = _events(tag), timezone.now()
    for event in events:
        event.partner_id = partner.pk
    stored, wall, cpu = _timed(Event.objects.bulk_create, events)
    yield "events_insert", wall, cpu
    deliveries, wall, cpu = _timed(Delivery.objects.bulk_create, [
        Delivery(event_id=event.pk, endpoint_id=endpoint.pk, partner_id=partner.pk, event_type_id="deposit",
                 is_test=False, order_key=1, next_attempt_at=now, created_at=now, updated_at=now)
        for event in stored for endpoint in endpoints
    ])
    yield "deliveries_insert", wall, cpu
    now = timezone.now()
    changed = [Delivery(pk=d.pk, status="delivered", last_status_code=200, last_error="", updated_at=now)
               for d in deliveries]
    _, wall, cpu = _timed(Delivery.objects.bulk_update, changed, OUTCOME_FIELDS)
    yield "deliveries_update", wall, cpu


if __name__ == "__main__":
    main()
