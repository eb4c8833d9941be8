"""The admin's erase action on players, its confirmation page, and the pages shown after an erasure."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from console.events import MAX_ERASURES_PER_ACTION
from deliveries.models import Delivery
from events.models import Event, Player, PlayerErasure
from tests.admin.conftest import member_of
from tests.factories import PlayerFactory
from tests.support.erasure import PLAYER_ID, erased_values_in, world_build

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/events/player/"


@pytest.fixture
def world(httpserver, settings):
    return world_build(httpserver, settings)


def _erase(client, *player_ids, confirmed=False):
    data = {"action": "erase", "_selected_action": list(player_ids)}
    return client.post(CHANGELIST, {**data, "confirmed": "yes"} if confirmed else data, follow=confirmed)


def test_the_action_first_asks_for_confirmation_saying_what_will_happen(world, admin_client):
    response = _erase(admin_client, PLAYER_ID)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Erasing cannot be undone" in page and "cancelled" in page and "erasure record" in page
    assert PLAYER_ID in page
    assert Player.objects.filter(player_id=PLAYER_ID).exists()


def test_confirming_erases_and_records_the_admin_user(world, admin_client):
    response = _erase(admin_client, PLAYER_ID, confirmed=True)

    assert response.status_code == 200
    assert "Erased 1 players: 3 events pseudonymised, 4 open deliveries cancelled" in response.content.decode()
    erasure = PlayerErasure.objects.get()
    assert erasure.user.username == "admin" and erasure.api_key is None
    assert erasure.requested_by == "admin user admin"
    assert not Player.objects.filter(player_id=PLAYER_ID).exists()


def test_a_manager_without_the_erase_permission_gets_no_action(world, client):
    manager = member_of("Affiliate managers")
    manager.user_permissions.add(Permission.objects.get(codename="view_player"))
    client.force_login(manager)

    page = client.get(CHANGELIST).content.decode()
    _erase(client, PLAYER_ID, confirmed=True)

    assert 'value="erase"' not in page
    assert Player.objects.filter(player_id=PLAYER_ID).exists()


def test_a_user_granted_the_erase_permission_may_erase(world, client):
    manager = member_of("Affiliate managers")
    manager.user_permissions.add(Permission.objects.get(codename="erase_player"))
    client.force_login(manager)

    _erase(client, PLAYER_ID, confirmed=True)

    assert PlayerErasure.objects.get().user == manager


def test_too_many_players_at_once_are_refused(admin_client):
    ids = [PlayerFactory().player_id for _ in range(MAX_ERASURES_PER_ACTION + 1)]

    response = _erase(admin_client, *ids, confirmed=True)

    assert f"Select at most {MAX_ERASURES_PER_ACTION} players" in response.content.decode()
    assert not PlayerErasure.objects.exists()


def test_no_admin_page_shows_an_erased_value(world, admin_client):
    _erase(admin_client, PLAYER_ID, confirmed=True)
    erasure = PlayerErasure.objects.get()
    event = Event.objects.filter(player_id=erasure.pseudonym).first()
    delivery = Delivery.objects.filter(event__player_id=erasure.pseudonym, attempt_count__gt=0).first()
    pages = [
        CHANGELIST, reverse("admin:events_player_change", args=[erasure.pseudonym]),
        "/admin/events/event/", reverse("admin:events_event_change", args=[event.pk]),
        "/admin/deliveries/delivery/", reverse("admin:deliveries_delivery_change", args=[delivery.pk]),
        "/admin/events/playererasure/", reverse("admin:events_playererasure_change", args=[erasure.pk]),
        f"/admin/events/event/?q={erasure.pseudonym}",
    ]

    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert erased_values_in(response.content.decode()) == [], url


def test_the_erasure_record_is_read_only(world, admin_client):
    _erase(admin_client, PLAYER_ID, confirmed=True)
    erasure = PlayerErasure.objects.get()

    page = admin_client.get(reverse("admin:events_playererasure_change", args=[erasure.pk])).content.decode()

    assert erasure.pseudonym in page and 'name="_save"' not in page
    assert admin_client.get(reverse("admin:events_playererasure_add")).status_code == 403
    assert admin_client.post(reverse("admin:events_playererasure_delete", args=[erasure.pk])).status_code == 403
