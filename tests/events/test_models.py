import pytest
from django.db import IntegrityError, transaction

from events.models import EventType
from tests.factories import EventFactory, PlayerFactory

pytestmark = pytest.mark.django_db


def test_builtin_event_types_are_seeded():
    assert set(EventType.objects.filter(is_builtin=True).values_list("slug", flat=True)) == set(EventType.BUILTIN)
    assert set(EventType.objects.filter(requires_amount=True).values_list("slug", flat=True)) == set(
        EventType.MONETARY
    )


def test_a_player_has_at_most_one_first_deposit():
    player = PlayerFactory()
    EventFactory(player=player, type_id="deposit", is_first_deposit=True, amount="10", currency="EUR")

    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(player=player, type_id="deposit", is_first_deposit=True, amount="20", currency="EUR")

    EventFactory(player=player, type_id="deposit", is_first_deposit=False, amount="20", currency="EUR")


def test_platform_event_id_is_unique():
    EventFactory(event_id="same")

    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(event_id="same")
