"""The hot tables keep one index per look-up path, and every foreign key still leads one."""

import pytest
from django.db import connection

from deliveries.models import Delivery, DeliveryAttempt
from events.models import Event, Player
from tests.support.services import require_postgres

HOT_MODELS = (Event, Player, Delivery, DeliveryAttempt)


def _indexes(model) -> list[dict]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [c for c in constraints.values() if c["index"] or c["unique"] or c["primary_key"]]


@pytest.mark.django_db
@pytest.mark.parametrize("model", HOT_MODELS, ids=lambda model: model.__name__)
def test_every_foreign_key_leads_an_index(model):
    # Cascades, PROTECT checks and per-parent look-ups read the child table by this column.
    leading = {index["columns"][0] for index in _indexes(model) if index["columns"]}
    for field in model._meta.concrete_fields:
        if field.is_relation:
            assert field.column in leading, f"{model.__name__}.{field.name} leads no index"


@pytest.mark.django_db
@pytest.mark.parametrize("model", HOT_MODELS, ids=lambda model: model.__name__)
def test_no_index_is_the_prefix_of_another(model):
    # Every index costs each insert; one whose columns begin another serves nothing the longer one does not
    # (partial indexes and unique constraints aside: they say something else).
    plain = [tuple(index["columns"]) for index in _indexes(model)
             if not index["unique"] and not index["primary_key"] and index["type"] != "partial"]
    longer = [tuple(index["columns"]) for index in _indexes(model)]
    for columns in plain:
        covering = [other for other in longer if other != columns and other[: len(columns)] == columns]
        assert not covering, f"{model.__name__}: index on {columns} is covered by {covering}"


# The only LIKE-capable (varchar_pattern_ops) indexes on the hot tables: the prefix searches on event and player ids.
PREFIX_SEARCHED = {("events_event", "event_id"), ("events_player", "player_id")}


@pytest.mark.django_db
def test_the_hot_tables_keep_a_pattern_ops_index_only_where_ids_are_searched_by_prefix():
    # Django gives every text column with an index a LIKE-capable twin on PostgreSQL; each one costs every insert.
    require_postgres()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.relname, a.attname FROM pg_index x"
            " JOIN pg_class t ON t.oid = x.indrelid"
            " JOIN pg_opclass o ON o.oid = x.indclass[0] JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]"
            " WHERE o.opcname LIKE '%%pattern_ops' AND t.relname = ANY(%s)",
            [[model._meta.db_table for model in HOT_MODELS]],
        )
        assert set(cursor.fetchall()) == PREFIX_SEARCHED
