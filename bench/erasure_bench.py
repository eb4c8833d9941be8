"""Erasing a player with a long history: how long its rows stay locked, and what it costs.

    .venv/bin/python -m bench.run --only erasure     (on the bench's database; into RESULTS.md)

One round stores a player with ``EVENTS`` events, two deliveries per event
(two endpoints) and one finished attempt per delivery, then erases it with
``ingest.erasure.player_erase``, as the API and the admin action do. Each
round runs in a transaction that is rolled back, so the database is left as
it was; the erasure's own transaction is a savepoint inside it, so the
figure leaves out one commit's WAL flush. The player's rows are locked from
the erasure's first statement to its end: that wall time is how long an
ingest for this player waits. Other players' ingests do not wait for it.
"""

import hashlib
import statistics
import time

ROUNDS = 3
EVENTS = 10_000
ENDPOINTS = 2
EVENT_COLUMNS = [
    "event_id", "type", "player", "partner", "click_id", "amount", "currency", "params", "occurred_at",
    "is_first_deposit", "content_hash",
]
DELIVERY_COLUMNS = ["event", "endpoint", "partner", "event_type", "is_test", "status", "attempt_count",
                    "request_method", "request_url"]
ATTEMPT_COLUMNS = ["delivery", "number", "outcome", "request_method", "request_url", "request_headers",
                   "status_code", "response_excerpt"]


class _RolledBack(Exception):
    pass


def measure(*, rounds: int = ROUNDS, events: int = EVENTS) -> dict:
    from django.db import transaction

    timings = []
    for number in range(rounds):
        try:
            with transaction.atomic():
                player_id, counts = _history(f"bench-erasure-{number}-{time.time_ns()}", events)
                wall, cpu = time.perf_counter(), time.process_time()
                erasure = _erase(player_id)
                timings.append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
                if (erasure.events, erasure.deliveries, erasure.attempts) != counts:
                    raise RuntimeError(f"the erasure changed {erasure.events} events, {erasure.deliveries} "
                                       f"deliveries and {erasure.attempts} attempts, not {counts}")
                raise _RolledBack
        except _RolledBack:
            pass
    return {
        "status": "measured", "rounds": rounds, "events": events, "deliveries": events * ENDPOINTS,
        "attempts": events * ENDPOINTS,
        "wall_ms": round(statistics.median(wall for wall, _ in timings), 1),
        "cpu_ms": round(statistics.median(cpu for _, cpu in timings), 1),
        "all_wall_ms": [round(wall, 1) for wall, _ in timings],
    }


def _erase(player_id: str):
    from ingest.erasure import player_erase

    return player_erase(player_id=player_id)


def _history(player_id: str, events: int) -> tuple[str, tuple[int, int, int]]:
    """A player with ``events`` events, each sent to every endpoint once; stored as ingest stores them."""
    from django.utils import timezone

    from deliveries.models import Delivery, DeliveryAttempt
    from events.models import Event, Player
    from lib.rows import rows_insert
    from partners.models import Partner, PostbackEndpoint

    now = timezone.now()
    partner = Partner.objects.create(slug=f"bench-erasure-{time.time_ns()}", name="Bench erasure")
    endpoints = [
        PostbackEndpoint.objects.create(partner=partner, name=f"bench {n}", url_template="https://partner.example/?c={click_id}")
        for n in range(ENDPOINTS)
    ]
    Player.objects.create(player_id=player_id, partner=partner, click_id="clk-bench", tracking_params={"sub1": "x"},
                          registered_at=now)
    event_ids = rows_insert(Event, columns=EVENT_COLUMNS, rows=[
        (f"{player_id}-e{n}", "deposit", player_id, partner.pk, "clk-bench", "10.00", "EUR",
         {"email_sha256": hashlib.sha256(f"{player_id}{n}".encode()).hexdigest()}, now, False,
         hashlib.sha256(str(n).encode()).hexdigest())
        for n in range(events)
    ], shared={"received_at": now})
    delivery_ids = rows_insert(Delivery, columns=DELIVERY_COLUMNS, rows=[
        (event_id, endpoint.pk, partner.pk, "deposit", False, "delivered", 1, "GET",
         f"https://partner.example/?c=clk-bench&e={event_id}")
        for event_id in event_ids for endpoint in endpoints
    ], shared={"created_at": now, "updated_at": now, "next_attempt_at": None, "delivered_at": now})
    rows_insert(DeliveryAttempt, columns=ATTEMPT_COLUMNS, rows=[
        (delivery_id, 1, "success", "GET", "https://partner.example/?c=clk-bench", {}, 200, "ok")
        for delivery_id in delivery_ids
    ], shared={"started_at": now, "finished_at": now})
    return player_id, (len(event_ids), len(delivery_ids), len(delivery_ids))
