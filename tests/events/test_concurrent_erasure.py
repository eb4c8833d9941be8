"""An event that arrives while its player is being erased waits, then starts a new player (PostgreSQL)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from events.models import Event, Player
from ingest import erasure
from ingest.services import event_ingest
from tests.factories import PartnerFactory
from tests.support.services import require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PLAYER = "p-racing"
# Polls for the ingest to queue behind the erasure's lock (it cannot finish before the lock is released).
WAIT_POLLS, POLL_SECONDS = 400, 0.05


def _in_own_connection(work):
    def run():
        try:
            return work()
        finally:
            connection.close()

    return run


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def test_an_event_during_the_erasure_starts_a_new_player(monkeypatch, sender_asleep):
    require_postgres()
    PartnerFactory(slug="acme")
    event_ingest(data={"event_id": "reg", "type": "registration", "player_id": PLAYER, "partner": "acme",
                       "click_id": "old-click"})
    event_ingest(data={"event_id": "dep-1", "type": "deposit", "player_id": PLAYER, "amount": "5", "currency": "EUR"})
    inside, release = threading.Event(), threading.Event()
    real_mark = erasure.stats_days_mark

    def held_open(**kwargs):
        inside.set()
        assert release.wait(timeout=30)
        real_mark(**kwargs)

    monkeypatch.setattr(erasure, "stats_days_mark", held_open)
    deposit = {"event_id": "dep-2", "type": "deposit", "player_id": PLAYER, "amount": "7", "currency": "EUR"}

    with ThreadPoolExecutor(max_workers=2) as pool:
        erasing = pool.submit(_in_own_connection(lambda: erasure.player_erase(player_id=PLAYER)))
        assert inside.wait(timeout=30)
        ingesting = pool.submit(_in_own_connection(lambda: event_ingest(data=deposit)))
        queued = False
        for _ in range(WAIT_POLLS):
            queued = _waiting_for_a_lock()
            if queued:
                break
            time.sleep(POLL_SECONDS)
        release.set()
        erased, result = erasing.result(timeout=30), ingesting.result(timeout=30)

    assert queued and result.status == "created"
    new_player = Player.objects.get(player_id=PLAYER)
    assert (new_player.partner, new_player.click_id) == (None, "")
    assert Event.objects.get(event_id="dep-2").is_first_deposit
    assert Event.objects.filter(player_id=erased.pseudonym).count() == 2
    assert Event.objects.get(event_id="dep-1").is_first_deposit
