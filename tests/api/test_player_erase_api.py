"""POST /api/v1/players/{player_id}/erase/: admin keys erase; what the API and exports show afterwards."""

import pytest

from deliveries.models import Delivery
from events.models import Event, PlayerErasure
from tests.factories import PlayerFactory
from tests.support.erasure import PLAYER_ID, erased_values_in, world_build

pytestmark = pytest.mark.django_db

ERASE = f"/api/v1/players/{PLAYER_ID}/erase/"


@pytest.fixture
def world(httpserver, settings):
    return world_build(httpserver, settings)


def test_an_admin_key_erases_the_player_and_gets_the_record(world, admin_client_api):
    response = admin_client_api.post(ERASE)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "erased" and body["pseudonym"].startswith("erased-")
    assert body["changed"] == {"players": 1, "events": 3, "deliveries": 4, "deliveries_cancelled": 4, "attempts": 4,
                               "statistics_days": 1}
    assert body["requested_by"] == f"API key {admin_client_api.api_key}"
    assert PlayerErasure.objects.get(pk=body["id"]).api_key == admin_client_api.api_key
    assert not erased_values_in(response.content.decode())


def test_a_second_call_answers_already_erased_with_the_same_pseudonym(world, admin_client_api):
    first = admin_client_api.post(ERASE).json()

    response = admin_client_api.post(ERASE)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["pseudonym"]) == ("already_erased", first["pseudonym"])
    assert set(body["changed"].values()) == {0}


def test_an_unknown_player_is_404(admin_client_api):
    response = admin_client_api.post("/api/v1/players/nobody/erase/")

    assert response.status_code == 404
    assert response.json()["detail"] == "No player with this id, and none was erased under it."


def test_a_platform_key_is_refused_and_nothing_changes(world, platform_client):
    response = platform_client.post(ERASE)

    assert response.status_code == 403
    assert Event.objects.filter(player_id=PLAYER_ID).count() == 3
    assert not PlayerErasure.objects.exists()


def test_without_a_key_it_is_401(anonymous_client):
    assert anonymous_client.post(ERASE).status_code == 401


def test_a_player_id_with_a_slash_is_found(admin_client_api):
    PlayerFactory(player_id="casino/p-7")

    response = admin_client_api.post("/api/v1/players/casino%2Fp-7/erase/")

    assert response.status_code == 200


def test_event_and_delivery_answers_hold_no_erased_value(world, admin_client_api, platform_client):
    pseudonym = admin_client_api.post(ERASE).json()["pseudonym"]
    event = Event.objects.filter(player_id=pseudonym).first()
    delivery = Delivery.objects.filter(event__player_id=pseudonym, attempt_count__gt=0).first()

    answers = {
        url: platform_client.get(url)
        for url in ("/api/v1/events/", f"/api/v1/events/{event.pk}/", f"/api/v1/events/?player_id={pseudonym}",
                    "/api/v1/deliveries/", f"/api/v1/deliveries/{delivery.pk}/")
    }

    for url, response in answers.items():
        assert response.status_code == 200, url
        assert erased_values_in(response.content.decode()) == [], url
    assert len(answers[f"/api/v1/events/?player_id={pseudonym}"].json()["results"]) == 3
    assert platform_client.get(f"/api/v1/events/?player_id={PLAYER_ID}").json()["results"] == []


@pytest.mark.parametrize("export", ["events.csv", "deliveries.csv"])
def test_exports_made_afterwards_hold_no_erased_value(world, admin_client_api, platform_client, export):
    pseudonym = admin_client_api.post(ERASE).json()["pseudonym"]

    response = platform_client.get(f"/api/v1/export/{export}")

    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert erased_values_in(text) == []
    # The erased player's rows are still there, under what replaced its values.
    assert {"events.csv": pseudonym, "deliveries.csv": "cancelled,false,0"}[export] in text


def test_the_route_is_documented_with_its_answers(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/players/{player_id}/erase/"]["post"]

    assert operation["responses"]["200"]["content"]["application/json"]["examples"]
    assert {"200", "401", "403", "404", "429"} <= set(operation["responses"])


@pytest.mark.parametrize("player_id", ["a%00b", "x" * 300, "%E2%80%AE%0A"])
def test_an_id_no_player_can_have_is_404(admin_client_api, player_id):
    response = admin_client_api.post(f"/api/v1/players/{player_id}/erase/")

    assert response.status_code == 404


def test_an_id_erased_more_often_than_pseudonyms_are_kept_is_refused(admin_client_api, monkeypatch):
    monkeypatch.setattr("ingest.erasure.player_pseudonyms", lambda player_id: ["erased-only"])
    PlayerFactory(player_id="erased-only")
    PlayerFactory(player_id="comes-back")

    response = admin_client_api.post("/api/v1/players/comes-back/erase/")

    assert response.status_code == 409
    assert "erased 100 times" in response.json()["detail"]
