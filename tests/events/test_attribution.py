import pytest

from deliveries.models import Delivery
from events.models import Event, Player
from ingest.services import event_ingest, events_ingest
from tests.factories import PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def event(event_id: str, type_: str = "registration", player_id: str = "p-1", **fields):
    body = {"event_id": event_id, "type": type_, "player_id": player_id, **fields}
    if type_ in ("deposit", "first_deposit", "withdrawal"):
        body.setdefault("amount", "10.00")
        body.setdefault("currency", "EUR")
    return body


def test_the_first_event_with_a_partner_binds_the_player():
    acme = PartnerFactory(slug="acme")

    event_ingest(data=event("r-1", partner="acme", click_id="c-1", params={"sub1": "x"},
                            occurred_at="2026-11-23T10:00:00Z"))

    player = Player.objects.get()
    assert player.partner == acme
    assert player.click_id == "c-1"
    assert player.tracking_params == {"sub1": "x"}
    assert player.registered_at.isoformat() == "2026-11-23T10:00:00+00:00"
    assert player.attributed_at == player.registered_at


def test_later_events_inherit_the_partner_and_click_id():
    acme = PartnerFactory(slug="acme")
    event_ingest(data=event("r-1", partner="acme", click_id="c-1"))

    result = event_ingest(data=event("d-1", "deposit"))

    assert result.event.partner == acme
    assert result.event.click_id == "c-1"


def test_an_event_before_any_partner_is_unattributed_and_a_later_partner_still_binds():
    PartnerFactory(slug="acme")
    early = event_ingest(data=event("g-1", "game_activity", click_id="loose"))

    later = event_ingest(data=event("r-1", partner="acme", click_id="c-1"))

    assert early.event.partner is None
    assert early.event.click_id == "loose"
    assert later.event.partner.slug == "acme"


def test_first_touch_wins_and_the_answer_says_so():
    PartnerFactory(slug="acme")
    PartnerFactory(slug="rival")
    event_ingest(data=event("r-1", partner="acme", click_id="c-1"))

    result = event_ingest(data=event("d-1", "deposit", partner="rival", click_id="c-2"))

    assert result.status == "created"
    assert result.event.partner.slug == "acme"
    assert result.event.click_id == "c-1"
    assert result.warnings == [
        "partner 'rival' was not applied: player 'p-1' is attributed to 'acme' (first touch wins); "
        "the event is attributed to 'acme'."
    ]
    assert Player.objects.get().partner.slug == "acme"


def test_the_first_deposit_of_a_player_is_its_ftd_and_only_once():
    first = event_ingest(data=event("d-1", "deposit", occurred_at="2026-11-23T10:00:00Z"))
    second = event_ingest(data=event("d-2", "deposit"))
    explicit = event_ingest(data=event("f-1", "first_deposit"))

    assert first.event.is_first_deposit is True
    assert second.event.is_first_deposit is False
    assert explicit.event.is_first_deposit is False
    assert explicit.warnings == [
        "player 'p-1' already made a first deposit; this event is stored as a plain deposit."
    ]
    assert Player.objects.get().first_deposit_at.isoformat() == "2026-11-23T10:00:00+00:00"


def test_an_explicit_first_deposit_counts_as_the_ftd():
    result = event_ingest(data=event("f-1", "first_deposit"))
    later = event_ingest(data=event("d-1", "deposit"))

    assert result.event.is_first_deposit is True
    assert later.event.is_first_deposit is False


def test_two_deposits_of_a_new_player_in_one_batch_make_one_ftd_at_the_same_instant():
    at = "2026-11-23T10:00:00Z"

    results = events_ingest(items=[event("d-1", "deposit", occurred_at=at), event("d-2", "deposit", occurred_at=at)])

    assert [result.event.is_first_deposit for result in results] == [True, False]
    assert Event.objects.filter(is_first_deposit=True).count() == 1


def test_a_player_whose_ftd_exists_without_first_deposit_at_gets_no_second_one():
    event_ingest(data=event("d-1", "deposit"))
    Player.objects.update(first_deposit_at=None)

    result = event_ingest(data=event("d-2", "deposit"))

    assert result.event.is_first_deposit is False


def test_ftd_endpoint_gets_the_first_deposit_and_the_deposit_endpoint_both():
    acme = PartnerFactory(slug="acme")
    ftd = PostbackEndpointFactory(partner=acme, event_types=["first_deposit"])
    deposits = PostbackEndpointFactory(partner=acme, event_types=["deposit"])
    event_ingest(data=event("r-1", partner="acme"))

    event_ingest(data=event("d-1", "deposit"))
    event_ingest(data=event("d-2", "deposit"))

    assert sorted(Delivery.objects.values_list("event__event_id", "endpoint_id", "event_type_id")) == [
        ("d-1", ftd.pk, "first_deposit"),
        ("d-1", deposits.pk, "deposit"),
        ("d-2", deposits.pk, "deposit"),
    ]


def test_a_replay_of_a_later_partner_event_still_carries_the_warning():
    PartnerFactory(slug="acme")
    PartnerFactory(slug="rival")
    event_ingest(data=event("r-1", partner="acme"))
    event_ingest(data=event("d-1", "deposit", partner="rival"))

    replay = event_ingest(data=event("d-1", "deposit", partner="rival"))

    assert replay.status == "duplicate"
    assert "first touch wins" in replay.warnings[0]
