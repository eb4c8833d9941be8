"""Idempotency, first deposits and reversals under real concurrency: threads, each with its own PostgreSQL connection.

On PostgreSQL no unique index guards a first deposit or a reversal (a unique index cannot span the
monthly partitions, lib.partitioning): these races prove the row locks that do.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from events.models import Event
from tests.support.services import require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CLIENTS = 8
URL = "/api/v1/events/"


def _post_all_at_once(api_key: str, bodies: list[dict], url: str = URL) -> list[tuple[int, dict]]:
    """POST every body from its own thread and connection, released together by a barrier."""
    barrier = threading.Barrier(len(bodies), timeout=10)

    def post(body):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
        try:
            barrier.wait()
            response = client.post(url, body, format="json")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies, timeout=30))


@pytest.fixture
def api_key(platform_client) -> str:
    require_postgres()
    return platform_client._credentials["HTTP_AUTHORIZATION"].removeprefix("Bearer ")


def deposit(event_id: str, player_id: str = "p-1") -> dict:
    return {"event_id": event_id, "type": "deposit", "player_id": player_id, "amount": "10.00", "currency": "EUR",
            "occurred_at": "2026-11-23T10:00:00Z"}


def test_the_same_event_from_many_clients_at_once_is_stored_once(api_key):
    results = _post_all_at_once(api_key, [deposit("same")] * CLIENTS)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (CLIENTS - 1) + [201]
    assert len({body["id"] for _, body in results}) == 1
    assert Event.objects.filter(event_id="same").count() == 1


def test_one_event_id_for_different_players_at_once_stores_one_and_refuses_the_rest(api_key):
    results = _post_all_at_once(api_key, [deposit("same", player_id=f"p-{n}") for n in range(CLIENTS)])

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (CLIENTS - 1)
    assert Event.objects.filter(event_id="same").count() == 1


def test_deposits_of_a_new_player_at_the_same_instant_make_exactly_one_first_deposit(api_key):
    results = _post_all_at_once(api_key, [deposit(f"dep-{n}") for n in range(CLIENTS)])

    assert sorted(status for status, _ in results) == [201] * CLIENTS
    assert [body["is_first_deposit"] for _, body in results].count(True) == 1
    assert Event.objects.filter(player_id="p-1", is_first_deposit=True).count() == 1
    assert Event.objects.filter(player_id="p-1").count() == CLIENTS


def test_deposits_of_a_registered_player_at_the_same_instant_make_exactly_one_first_deposit(api_key):
    registered = _post_all_at_once(api_key, [{**deposit("reg"), "type": "registration", "amount": None}])
    assert registered[0][0] == 201, registered

    results = _post_all_at_once(api_key, [deposit(f"dep-{n}") for n in range(CLIENTS)])

    assert sorted(status for status, _ in results) == [201] * CLIENTS
    assert [body["is_first_deposit"] for _, body in results].count(True) == 1
    assert Event.objects.filter(player_id="p-1", is_first_deposit=True).count() == 1


def test_one_event_reversed_by_many_clients_at_once_has_exactly_one_reversal(api_key):
    stored = _post_all_at_once(api_key, [deposit("to-reverse")])
    assert stored[0][0] == 201, stored

    results = _post_all_at_once(
        api_key, [{"event_id": "to-reverse", "reason": "chargeback"}] * CLIENTS, url=URL + "reverse/"
    )

    assert {status for status, _ in results} <= {200, 201}, results
    assert [status for status, _ in results].count(201) == 1
    original = Event.objects.get(event_id="to-reverse")
    assert Event.objects.filter(reverses=original).count() == 1
    assert original.reversed_at is not None
