"""Rows inserted from plain tuples read back as the ORM would have stored them."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection

from events.models import Event, Player
from lib.rows import rows_insert

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
