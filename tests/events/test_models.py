import pytest
from django.db import IntegrityError, transaction

from events.models import Event, EventType
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_builtin_event_types_are_seeded():
    assert set(EventType.objects.filter(is_builtin=True).values_list("slug", flat=True)) == set(EventType.BUILTIN)
    assert set(EventType.objects.filter(requires_amount=True).values_list("slug", flat=True)) == set(
        EventType.MONETARY
    )


def test_platform_event_id_is_unique():
    EventFactory(event_id="same")

    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(event_id="same")


def test_platform_event_id_is_unique_within_one_statement_and_across_months():
    """Two rows of one insert may not share an id, nor a row of an older month's partition (lib.partitioning)."""
    old = EventFactory(id=5, event_id="old-month")  # an id of no month: the partition of rows from before
    twins = [EventFactory.build(event_id="twice", player=old.player) for _ in range(2)]

    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.bulk_create(twins)
    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(event_id="old-month")
    assert not Event.objects.filter(event_id="twice").exists()


def test_an_event_id_freed_by_a_rename_or_a_delete_can_be_taken_again():
    renamed = EventFactory(event_id="first-name")
    deleted = EventFactory(event_id="deleted")

    renamed.event_id = "second-name"
    renamed.save(update_fields=["event_id"])
    deleted.delete()

    EventFactory(event_id="first-name")
    EventFactory(event_id="deleted")
    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(event_id="second-name")
