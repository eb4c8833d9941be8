from decimal import Decimal
from types import SimpleNamespace

import pytest

from partners.filters import FilterError, filters_match, validate_filters


def _event(**fields):
    defaults = dict(type_id="deposit", amount=Decimal("25.00"), currency="EUR", click_id="c1",
                    player_id="p1", partner_id=None, partner=None, params={"country": "DE", "sub1": 7},
                    is_first_deposit=False, player=SimpleNamespace(tracking_params={}))
    return SimpleNamespace(**{**defaults, **fields})


@pytest.mark.parametrize(
    "condition, expected",
    [
        ({"field": "params.country", "op": "in", "value": ["DE", "AT"]}, True),
        ({"field": "params.country", "op": "not_in", "value": ["DE"]}, False),
        ({"field": "amount", "op": "gte", "value": "25"}, True),
        ({"field": "amount", "op": "gt", "value": 25}, False),
        ({"field": "amount", "op": "lt", "value": "100.5"}, True),
        ({"field": "currency", "op": "eq", "value": "EUR"}, True),
        ({"field": "currency", "op": "ne", "value": "EUR"}, False),
        ({"field": "params.sub1", "op": "eq", "value": "7"}, True),
        ({"field": "params.missing", "op": "missing"}, True),
        ({"field": "click_id", "op": "exists"}, True),
    ],
)
def test_conditions(condition, expected):
    assert validate_filters([condition]) == [condition]
    assert filters_match([condition], _event()) is expected


def test_amount_comparison_is_false_when_the_event_has_no_amount():
    assert not filters_match([{"field": "amount", "op": "gte", "value": "0"}], _event(amount=None))


def test_all_conditions_must_hold():
    filters = [{"field": "currency", "op": "eq", "value": "EUR"}, {"field": "amount", "op": "gte", "value": 100}]
    assert not filters_match(filters, _event())


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"field": "amount"}, "must be a list"),
        ([{"field": "colour", "op": "eq", "value": "x"}], "unknown field 'colour'"),
        ([{"field": "amount", "op": "between", "value": 1}], "unknown op 'between'"),
        ([{"field": "currency", "op": "gte", "value": "A"}], "compares amounts only"),
        ([{"field": "amount", "op": "gte", "value": "lots"}], "is not a number"),
        ([{"field": "params.country", "op": "in", "value": "DE"}], "non-empty list"),
        ([{"field": "currency", "op": "eq", "value": "EUR", "extra": 1}], "must be an object"),
    ],
)
def test_malformed_filters_are_refused_with_the_reason(filters, message):
    with pytest.raises(FilterError, match=message):
        validate_filters(filters)


def test_params_fall_back_to_the_players_tracking_params_and_the_events_own_value_wins():
    event = _event(params={"sub1": "own"}, player=SimpleNamespace(tracking_params={"sub1": "first", "sub2": "kept"}))

    assert filters_match([{"field": "params.sub2", "op": "eq", "value": "kept"}], event)
    assert filters_match([{"field": "params.sub1", "op": "eq", "value": "own"}], event)


@pytest.mark.parametrize("value", [True, "true", "1", "TRUE"])
def test_is_first_deposit_is_a_yes_no_field(value):
    condition = {"field": "is_first_deposit", "op": "eq", "value": value}

    assert validate_filters([condition]) == [condition]
    assert filters_match([condition], _event(is_first_deposit=True))
    assert not filters_match([condition], _event(is_first_deposit=False))


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "is_first_deposit", "op": "eq", "value": "maybe"},
        {"field": "is_first_deposit", "op": "in", "value": [True]},
        {"field": "is_first_deposit", "op": "eq", "value": 2},
    ],
)
def test_is_first_deposit_takes_only_true_or_false(condition):
    with pytest.raises(FilterError, match="is_first_deposit takes op eq or ne"):
        validate_filters([condition])
