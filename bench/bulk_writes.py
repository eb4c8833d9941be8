"""The hand-written bulk writes against Django's: ``rows_insert`` / ``bulk_create``, ``rows_update`` / ``bulk_update``.

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

ROUNDS = 7
EVENTS = 1000
LOOPBACK = ("127.0.0.1", "localhost", "::1")
EVENT_COLUMNS = [
    "event_id", "type", "player", "partner", "click_id", "amount", "currency", "params", "occurred_at",
    "is_first_deposit", "content_hash",
]
DELIVERY_COLUMNS = ["event", "endpoint", "partner", "event_type", "is_test", "order_key", "next_attempt_at"]
OUTCOME_FIELDS = ("status", "last_status_code", "last_error", "updated_at")


class _RolledBack(Exception):
    pass


def main() -> None:
    if urlparse(os.environ.get("DATABASE_URL", "")).hostname not in LOOPBACK:
        sys.exit("DATABASE_URL must name a migrated PostgreSQL database on this machine.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postback_platform.settings")
    django.setup()
    from django.db import transaction

    setup = _setup()
    timings: dict[str, list[tuple[float, float]]] = {}
    for number in range(ROUNDS):
        for style, writes in (("hand-written", _hand_written), ("Django", _django)):
            try:
                with transaction.atomic():
                    for name, wall, cpu in writes(setup, f"{number}-{style}"):
                        timings.setdefault(f"{name}, {style}", []).append((wall, cpu))
                    raise _RolledBack
            except _RolledBack:
                pass
    print(f"median of {ROUNDS - 1} rounds: wall ms / Python CPU ms")
    for name, figures in timings.items():
        kept = figures[1:]
        print(f"{name:48s} {statistics.median(w for w, _ in kept):8.1f} / {statistics.median(c for _, c in kept):8.1f}")


def _setup():
    from events.models import Player
    from partners.models import Partner, PostbackEndpoint

    partner, _ = Partner.objects.get_or_create(slug="bench-bulk-writes", defaults={"name": "Bench bulk writes"})
    endpoints = [
        PostbackEndpoint.objects.get_or_create(
            partner=partner, name=f"bench {number}", defaults={"url_template": "https://partner.example/?c={click_id}"}
        )[0]
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

    from lib.rows import db_datetime, rows_insert, rows_update
    from deliveries.models import Delivery
    from events.models import Event

    partner, endpoints = setup
    events, now = _events(tag), timezone.now()
    rows = [(e.event_id, e.type_id, e.player_id, partner.pk, e.click_id, e.amount, e.currency, e.params,
             e.occurred_at, e.is_first_deposit, e.content_hash) for e in events]
    ids, wall, cpu = _timed(lambda: rows_insert(Event, columns=EVENT_COLUMNS, rows=rows, shared={"received_at": now}))
    yield "1,000 events inserted", wall, cpu
    deliveries, wall, cpu = _timed(lambda: rows_insert(Delivery, columns=DELIVERY_COLUMNS, rows=[
        (pk, endpoint.pk, partner.pk, "deposit", False, 1, now) for pk in ids for endpoint in endpoints
    ], shared={"created_at": now, "updated_at": now}))
    yield "2,000 deliveries inserted", wall, cpu
    stamp = db_datetime(timezone.now())
    _, wall, cpu = _timed(lambda: rows_update(Delivery, ("id",), OUTCOME_FIELDS, [
        (pk, "delivered", 200, "", stamp) for pk in deliveries
    ]))
    yield "2,000 deliveries' status updated", wall, cpu


def _django(setup, tag: str):
    from django.utils import timezone

    from deliveries.models import Delivery
    from events.models import Event

    partner, endpoints = setup
    events, now = _events(tag), timezone.now()
    for event in events:
        event.partner_id = partner.pk
    stored, wall, cpu = _timed(Event.objects.bulk_create, events)
    yield "1,000 events inserted", wall, cpu
    deliveries, wall, cpu = _timed(Delivery.objects.bulk_create, [
        Delivery(event_id=event.pk, endpoint_id=endpoint.pk, partner_id=partner.pk, event_type_id="deposit",
                 is_test=False, order_key=1, next_attempt_at=now, created_at=now, updated_at=now)
        for event in stored for endpoint in endpoints
    ])
    yield "2,000 deliveries inserted", wall, cpu
    now = timezone.now()
    changed = [Delivery(pk=d.pk, status="delivered", last_status_code=200, last_error="", updated_at=now)
               for d in deliveries]
    _, wall, cpu = _timed(Delivery.objects.bulk_update, changed, OUTCOME_FIELDS)
    yield "2,000 deliveries' status updated", wall, cpu


if __name__ == "__main__":
    main()
