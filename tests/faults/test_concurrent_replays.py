"""Many clients replaying the same events at once through real gunicorn on PostgreSQL.

Twelve clients each send the same registrations, deposits and explicit
first deposits, in their own shuffled order, released together. Exactly one
event is stored per ``event_id`` (one 201, the rest 200), exactly one first
deposit per player, and ``first_deposit`` endpoints get exactly one
delivery per player.
"""

import collections
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from deliveries.models import Delivery
from events.models import Event
from tests.factories import PartnerFactory, PostbackEndpointFactory
from tests.support.stack import gunicorn

from .clients import warm_up

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CLIENTS = 12
PLAYERS = 6


def _events() -> list[dict]:
    events = []
    for player in range(PLAYERS):
        common = {"player_id": f"p-{player}", "partner": "c", "occurred_at": "2026-11-23T10:00:00Z"}
        events.append({"event_id": f"reg-{player}", "type": "registration", "click_id": f"clk-{player}", **common})
        if player % 2:
            events.append({"event_id": f"fd-{player}", "type": "first_deposit", "amount": "5.00", "currency": "EUR",
                           **common})
        events += [{"event_id": f"dep-{player}-{n}", "type": "deposit", "amount": f"{10 + n}.00", "currency": "EUR",
                    **common} for n in range(3)]
    return events


def test_replayed_event_ids_and_first_deposits_are_stored_once(stack_env, workdir, platform_key, rng):
    partner = PartnerFactory(slug="c")
    PostbackEndpointFactory(partner=partner, url_template="https://c.example/fd?p={player_id}",
                            event_types=["first_deposit"])
    events = _events()
    orders = [rng.sample(events, len(events)) for _ in range(CLIENTS)]

    with gunicorn(stack_env, workdir, workers=3, threads=4) as base_url:
        warm_up(base_url=base_url, key=platform_key, partner="c")
        barrier = threading.Barrier(CLIENTS, timeout=30)

        def client(order):
            session, answers = requests.Session(), []
            barrier.wait()
            for body in order:
                response = session.post(f"{base_url}/api/v1/events/", json=body, timeout=30,
                                        headers={"Authorization": f"Bearer {platform_key}"})
                answers.append((body["event_id"], response.status_code))
            return answers

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            answers = [answer for result in pool.map(client, orders, timeout=120) for answer in result]

    created = collections.Counter(event_id for event_id, status in answers if status == 201)
    assert {status for _, status in answers} <= {200, 201}, collections.Counter(status for _, status in answers)
    assert created == collections.Counter({body["event_id"]: 1 for body in events})
    client_events = Event.objects.exclude(event_id__startswith="warm-up")
    assert client_events.count() == len(events)
    first_deposits = collections.Counter(
        client_events.filter(is_first_deposit=True).values_list("player__player_id", flat=True)
    )
    assert first_deposits == collections.Counter({f"p-{player}": 1 for player in range(PLAYERS)})
    assert Delivery.objects.filter(event_type_id="first_deposit").count() == PLAYERS
