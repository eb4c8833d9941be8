"""Rows inserted and updated from plain tuples read back as the ORM would have stored them."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection

from events.models import Event, Player
from lib.rows import rows_insert, rows_update
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=2)))


def test_rows_come_back_with_their_ids_in_order_and_defaults_filled():
    Player.objects.create(player_id="p-1")
    columns = ["event_id", "type", "player", "amount", "currency", "params", "occurred_at", "content_hash"]
    rows = [(f"e-{n}", "deposit", "p-1", Decimal("25.50"), "EUR", {"sub1": n}, AT, "h") for n in range(3)]

    ids = rows_insert(Event, columns=columns, rows=rows, shared={"received_at": AT})

    stored = list(Event.objects.filter(pk__in=ids).order_by("pk"))
    assert [event.event_id for event in stored] == ["e-0", "e-1", "e-2"]
    assert [event.pk for event in stored] == ids
    first = stored[0]
    assert (first.amount, first.params, first.occurred_at, first.received_at) == (Decimal("25.5"), {"sub1": 0}, AT, AT)
    assert (first.click_id, first.is_first_deposit, first.is_test, first.partner_id) == ("", False, False, None)


def test_more_rows_than_one_statement_may_bind_are_split(monkeypatch):
    monkeypatch.setattr(connection.features, "max_query_params", 20)  # 2 rows of 8 columns per statement
    rows = [(f"p-{n}", "") for n in range(5)]

    keys = rows_insert(Player, columns=["player_id", "click_id"], rows=rows)

    assert keys == [f"p-{n}" for n in range(5)]
    assert Player.objects.count() == 5


def test_rows_update_prepares_json_times_and_null_keys_by_their_fields():
    # given a player attributed to a partner, and one that is not
    partner = PartnerFactory()
    Player.objects.create(player_id="p-1", partner=partner, tracking_params={"old": 1})
    Player.objects.create(player_id="p-2")

    # when one loses its partner and the other gains one, each with new tracking params and a time
    rows_update(Player, ("player_id",), ("partner", "tracking_params", "first_deposit_at"), [
        ("p-1", None, {"sub1": "=x", "n": [1, 2.5]}, AT), ("p-2", partner.pk, {}, None),
    ])

    # then both read back as the ORM would have stored them
    first, second = Player.objects.order_by("player_id")
    assert (first.partner_id, first.tracking_params, first.first_deposit_at) == (None, {"sub1": "=x", "n": [1, 2.5]}, AT)
    assert (second.partner_id, second.tracking_params, second.first_deposit_at) == (partner.pk, {}, None)
