import pytest
from django.db import IntegrityError

from events.models import Event
from ingest import services
from ingest.services import event_ingest
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_a_round_that_loses_an_insert_race_is_rolled_back_and_worked_out_again(monkeypatch):
    real_players_locked = services._players_locked
    rounds = []

    def players_locked_while_another_request_inserts(*, player_ids, **kwargs):
        rounds.append(player_ids)
        if len(rounds) == 1:
            # What a concurrent request would do between our read of stored event_ids and our insert.
            EventFactory(event_id="r-1", player__player_id="someone-else")
        return real_players_locked(player_ids=player_ids, **kwargs)

    monkeypatch.setattr(services, "_players_locked", players_locked_while_another_request_inserts)

    result = event_ingest(data={"event_id": "r-1", "type": "registration", "player_id": "p-1"})

    assert len(rounds) == 2
    assert result.status == "created"
    assert Event.objects.get(event_id="r-1").player_id == "p-1"


def test_a_race_lost_every_round_is_raised_not_swallowed(monkeypatch):
    def always_conflicting(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(services, "_store_once", always_conflicting)

    with pytest.raises(IntegrityError):
        event_ingest(data={"event_id": "r-1", "type": "registration", "player_id": "p-1"})
