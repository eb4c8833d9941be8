"""How the sender's tables are stored and read on PostgreSQL: room for heap-only updates, claims in index order."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from deliveries.models import Delivery
from deliveries.sender import deliveries_claim_due
from lib.partitioning import FILL_FACTORS, partitions_ensure, partitions_list
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db


def _reloptions(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [table])
        return cursor.fetchone()[0] or []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="fill factors are a PostgreSQL storage parameter")
def test_delivery_and_attempt_pages_keep_room_for_the_senders_updates_in_every_partition():
    partitions = partitions_list(["deliveries_delivery", "deliveries_deliveryattempt"])
    partitions_made_later = partitions_ensure(ahead_months=settings.POSTBACK_PARTITIONS_AHEAD_MONTHS + 2)

    assert partitions and len(partitions_made_later) == 3 * 2
    for partition in partitions_list(["deliveries_delivery", "deliveries_deliveryattempt"]):
        assert f"fillfactor={FILL_FACTORS[partition.table]}" in _reloptions(partition.name), partition.name


def test_a_claim_takes_the_longest_due_first_and_leaves_sorting_on_for_the_rest_of_the_transaction():
    now = timezone.now()
    oldest, middle, newest = (DeliveryFactory(next_attempt_at=now - timedelta(minutes=m)) for m in (30, 20, 10))

    claimed = deliveries_claim_due(worker="a", limit=2)

    assert sorted(claimed) == sorted([oldest.pk, middle.pk])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_sort")
            assert cursor.fetchone() == ("on",)
    assert Delivery.objects.get(pk=newest.pk).claimed_by == ""
